"""Buggy Raft (part D): after a rejected AppendEntries the leader takes the first index of its
own entries of the follower's conflicting term without checking it has any: when that term is
only in its snapshot (an old leader's term, long compacted), it looks past the end of a list."""

from labs.raft import node as reference
from labs.raft.node import AppendEntriesReply


class RaftNode(reference.RaftNode):
    @reference.on(AppendEntriesReply)
    def handle_append_entries_reply(self, msg: AppendEntriesReply, sender: str) -> None:
        if (not msg.success and msg.conflict_term > 0 and msg.term == self.current_term
                and self.role_name == "leader"):
            mine = [i for i in range(self.last_index(), self.snap_index, -1)
                    if self.term_at(i) == msg.conflict_term]
            target = mine[0] + 1  # no entry of that term here: IndexError
            self.next_index[sender] = max(self.match_index[sender] + 1, min(target, self.last_index() + 1))
            if self.next_index[sender] <= self.last_index():
                self.send_append_entries(sender)
            return
        super().handle_append_entries_reply(msg, sender)


RaftClerk = reference.RaftClerk
