"""Buggy Raft: a node grants its vote to every up-to-date candidate of its term, not just the
first one it voted for, so two candidates can win the same term."""

from labs.raft import node as reference
from labs.raft.node import RequestVote, RequestVoteReply


class RaftNode(reference.RaftNode):
    @reference.on(RequestVote)
    def handle_request_vote(self, msg: RequestVote, sender: str) -> None:
        if msg.term > self.current_term:
            self.become_follower(msg.term)
        last_index, last_term = self.last_log()
        granted = msg.term == self.current_term and (msg.last_log_term, msg.last_log_index) >= (last_term, last_index)
        if granted:
            self.persist_vote(self.current_term, msg.candidate)
            self.reset_election_deadline()
        self.send(sender, RequestVoteReply(self.current_term, granted))


RaftClerk = reference.RaftClerk
