"""Buggy Raft: the leader sends heartbeats every 10 ms, ten times more often than allowed."""

from labs.raft import node as reference
from labs.raft.node import HeartbeatTimer


class RaftNode(reference.RaftNode):
    @reference.on_timer(HeartbeatTimer)
    def handle_heartbeat(self, timer: HeartbeatTimer) -> None:
        if self.role_name != "leader" or timer.term != self.current_term:
            return
        for peer in self.peers:
            self.send_append_entries(peer)
        self.set_timer(0.01, HeartbeatTimer(self.current_term))


RaftClerk = reference.RaftClerk
