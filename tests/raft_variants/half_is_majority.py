"""Buggy Raft: half of the servers counts as a majority, so two halves of a split cluster can
each elect a leader and commit entries."""

from labs.raft import node as reference


class RaftNode(reference.RaftNode):
    def majority(self) -> int:
        return max(1, len(self.nodes) // 2)


RaftClerk = reference.RaftClerk
