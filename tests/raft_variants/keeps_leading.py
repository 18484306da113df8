"""Buggy Raft: a leader that hears of a higher term takes the term but goes on leading, until
its next election timeout, instead of stepping down at once."""

from labs.raft import node as reference


class RaftNode(reference.RaftNode):
    def become_follower(self, term: int) -> None:
        if term > self.current_term:
            self.persist_vote(term, None)
        if self.role_name == "candidate":
            self.role_name = "follower"
            self.reset_election_deadline()


RaftClerk = reference.RaftClerk
