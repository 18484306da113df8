"""Buggy Raft (part D): a follower installs every InstallSnapshot it gets, even one older than
what it has already applied (a duplicated or delayed message), taking its state machine back."""

from labs.raft import node as reference
from labs.raft.node import InstallSnapshot, InstallSnapshotReply


class RaftNode(reference.RaftNode):
    @reference.on(InstallSnapshot)
    def handle_install_snapshot(self, msg: InstallSnapshot, sender: str) -> None:
        if msg.term < self.current_term:
            self.send(sender, InstallSnapshotReply(self.current_term, 0))
            return
        if msg.term > self.current_term or self.role_name != "follower":
            self.become_follower(msg.term)
        self.leader_id = msg.leader
        self.reset_election_deadline()
        index = msg.last_included_index
        self.save_snapshot(index, msg.last_included_term, msg.data, [])
        self.commit_index = self.last_applied = index
        self.install(index, msg.last_included_term, msg.data)
        self.send(sender, InstallSnapshotReply(self.current_term, index))


RaftClerk = reference.RaftClerk
