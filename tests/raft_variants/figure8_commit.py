"""Buggy Raft: the leader commits any entry a majority holds, an earlier term's included (the
Figure 8 bug): such an entry can still be overwritten by a later leader."""

from labs.raft import node as reference


class RaftNode(reference.RaftNode):
    def advance_commit(self) -> None:
        held = sorted([len(self.entries) - 1, *self.match_index.values()], reverse=True)
        n = held[self.majority() - 1]
        if n > self.commit_index:
            self.commit_index = n
            self.apply_committed()


RaftClerk = reference.RaftClerk
