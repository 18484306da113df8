"""Buggy Raft: the leader advances its commit index only when a follower's reply comes in. In a
cluster of one there are no followers: the leader appends every command and never commits any."""

from labs.raft import node as reference


class RaftNode(reference.RaftNode):
    def start(self, command: str) -> tuple[int, int, bool]:
        if self.role_name != "leader":
            return -1, self.current_term, False
        index = self.last_index() + 1
        self.append_entries_to_log(index, [reference.Entry(self.current_term, command)])
        if not self.replicate_pending:
            self.replicate_pending = True
            self.set_timer(reference.BATCH_DELAY, reference.ReplicateTimer(self.current_term))
        return index, self.current_term, True


RaftClerk = reference.RaftClerk
