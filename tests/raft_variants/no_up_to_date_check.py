"""Buggy Raft: votes are granted without checking that the candidate's log is at least as up to
date as the voter's, so a leader may be elected without committed entries."""

from labs.raft import node as reference
from labs.raft.node import RequestVote, RequestVoteReply


class RaftNode(reference.RaftNode):
    @reference.on(RequestVote)
    def handle_request_vote(self, msg: RequestVote, sender: str) -> None:
        if msg.term > self.current_term:
            self.become_follower(msg.term)
        granted = msg.term == self.current_term and self.voted_for in (None, msg.candidate)
        if granted:
            if self.voted_for is None:
                self.persist_vote(self.current_term, msg.candidate)
            self.reset_election_deadline()
        self.send(sender, RequestVoteReply(self.current_term, granted))


RaftClerk = reference.RaftClerk
