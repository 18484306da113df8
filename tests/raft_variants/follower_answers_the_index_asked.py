"""Buggy Raft: a follower whose entry at the index before a request's entries is of another term
answers with that index itself, not with the first index it holds of that term. A leader that
holds no entry of that term can only go back by what the follower answers: one entry per round
trip across a long run of entries of a term no other server ever saw."""

from labs.raft import node as reference
from labs.raft.node import AppendEntries, AppendEntriesReply


class RaftNode(reference.RaftNode):
    @reference.on(AppendEntries)
    def handle_append_entries(self, msg: AppendEntries, sender: str) -> None:
        prev = msg.prev_log_index
        if (msg.term >= self.current_term and self.snap_index <= prev <= self.last_index()
                and self.term_at(prev) != msg.prev_log_term):
            if msg.term > self.current_term or self.role_name != "follower":
                self.become_follower(msg.term)
            self.leader_id = msg.leader
            self.reset_election_deadline()
            self.send(sender, AppendEntriesReply(self.current_term, False, 0, prev, self.term_at(prev)))
            return
        super().handle_append_entries(msg, sender)


RaftClerk = reference.RaftClerk
