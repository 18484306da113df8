"""Buggy Raft: the term is on disk but not the vote, so a node that crashes and restarts within
a term can vote a second time in it."""

from labs.raft import node as reference


class RaftNode(reference.RaftNode):
    def on_start(self) -> None:
        super().on_start()
        self.voted_for = None

    def persist_vote(self, term: int, voted_for: str | None) -> None:
        self.current_term, self.voted_for = term, voted_for
        self.storage["vote"] = [term, None]


RaftClerk = reference.RaftClerk
