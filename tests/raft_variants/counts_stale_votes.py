"""Buggy Raft: a candidate counts every granted vote that is not of a higher term, so a vote
granted to it in an earlier election, delivered late, counts in the election it runs now: it can
become leader without a majority of this term's votes."""

from labs.raft import node as reference
from labs.raft.node import RequestVoteReply


class RaftNode(reference.RaftNode):
    @reference.on(RequestVoteReply)
    def handle_request_vote_reply(self, msg: RequestVoteReply, sender: str) -> None:
        if msg.term > self.current_term:
            self.become_follower(msg.term)
            return
        if self.role_name != "candidate" or not msg.vote_granted:
            return
        self.votes.add(sender)
        self.count_votes()


RaftClerk = reference.RaftClerk
