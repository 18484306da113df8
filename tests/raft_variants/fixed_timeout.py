"""Buggy Raft: every node waits the same election timeout, so candidates stand at the same
moments and split the vote, again and again."""

from labs.raft import node as reference


class RaftNode(reference.RaftNode):
    def reset_election_deadline(self) -> None:
        self.election_deadline = self.now() + 0.3


RaftClerk = reference.RaftClerk
