"""Buggy Raft: the vote is on disk, but the term it was cast in is not: a server that restarts
begins again at term 0 (and may vote again in a term it already voted in)."""

from labs.raft import node as reference


class RaftNode(reference.RaftNode):
    def persist_vote(self, term: int, voted_for: str | None) -> None:
        self.current_term, self.voted_for = term, voted_for
        self.storage["vote"] = [0, voted_for]


RaftClerk = reference.RaftClerk
