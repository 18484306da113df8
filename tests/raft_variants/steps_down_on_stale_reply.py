"""Buggy Raft: a vote reply of any other term than the node's own, an older one too, makes it
a follower: a leader hearing, late, a vote from an election it ran in a past term steps down."""

from labs.raft import node as reference
from labs.raft.node import RequestVoteReply


class RaftNode(reference.RaftNode):
    @reference.on(RequestVoteReply)
    def handle_request_vote_reply(self, msg: RequestVoteReply, sender: str) -> None:
        if msg.term != self.current_term:
            self.become_follower(msg.term)
            return
        super().handle_request_vote_reply(msg, sender)


RaftClerk = reference.RaftClerk
