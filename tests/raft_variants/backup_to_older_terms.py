"""Buggy Raft: after a rejected AppendEntries the leader looks in its log for the last entry of
a term *older than* the follower's conflicting term instead of that term itself. Where the
follower holds an entry of a newer term than the leader's at the same index (an entry of a
leader that was cut off before it could replicate it), the leader goes back to the same index
again and again: the follower never catches up."""

from labs.raft import node as reference
from labs.raft.node import AppendEntriesReply


class RaftNode(reference.RaftNode):
    @reference.on(AppendEntriesReply)
    def handle_append_entries_reply(self, msg: AppendEntriesReply, sender: str) -> None:
        if (not msg.success and msg.conflict_term > 0 and msg.term == self.current_term
                and self.role_name == "leader"):
            target = msg.conflict_index
            older = [i for i in range(self.last_index(), self.snap_index, -1)
                     if self.term_at(i) < msg.conflict_term]
            if older:
                target = older[0] + 1
            self.next_index[sender] = max(self.match_index[sender] + 1, min(target, self.last_index() + 1))
            if self.next_index[sender] <= self.last_index():
                self.send_append_entries(sender)
            return
        super().handle_append_entries_reply(msg, sender)


RaftClerk = reference.RaftClerk
