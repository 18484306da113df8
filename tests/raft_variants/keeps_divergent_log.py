"""Buggy Raft (part D): a follower ignores an InstallSnapshot whose last index its own log
already reaches ("I have those entries already"), without checking that its entry there has the
snapshot's term: an old leader's divergent entries are never thrown away, and it never catches up."""

from labs.raft import node as reference
from labs.raft.node import InstallSnapshot, InstallSnapshotReply


class RaftNode(reference.RaftNode):
    @reference.on(InstallSnapshot)
    def handle_install_snapshot(self, msg: InstallSnapshot, sender: str) -> None:
        if msg.term >= self.current_term and msg.last_included_index <= self.last_index():
            if msg.term > self.current_term or self.role_name != "follower":
                self.become_follower(msg.term)
            self.leader_id = msg.leader
            self.reset_election_deadline()
            self.send(sender, InstallSnapshotReply(self.current_term, msg.last_included_index))
            return
        super().handle_install_snapshot(msg, sender)


RaftClerk = reference.RaftClerk
