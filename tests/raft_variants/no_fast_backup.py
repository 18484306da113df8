"""Buggy Raft: after a rejected AppendEntries the leader backs up one entry at a time, so a
follower with many conflicting entries takes one round trip per entry to catch up."""

from labs.raft import node as reference
from labs.raft.node import AppendEntriesReply


class RaftNode(reference.RaftNode):
    @reference.on(AppendEntriesReply)
    def handle_append_entries_reply(self, msg: AppendEntriesReply, sender: str) -> None:
        if (not msg.success and msg.term == self.current_term and self.role_name == "leader"
                and self.next_index[sender] > self.match_index[sender] + 1):
            self.next_index[sender] -= 1
            self.send_append_entries(sender)
            return
        super().handle_append_entries_reply(msg, sender)


RaftClerk = reference.RaftClerk
