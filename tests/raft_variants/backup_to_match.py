"""Buggy Raft: after a rejected AppendEntries the leader sets the follower's next index just past
the last index it knows the follower matches, ignoring the conflict the follower answered. For a
new leader that knows nothing of the follower yet, that is index 1: a follower that applied
hundreds of entries before it fell out is sent them all again. The logs still converge, at the
cost of resending what the follower holds."""

from labs.raft import node as reference
from labs.raft.node import AppendEntriesReply


class RaftNode(reference.RaftNode):
    @reference.on(AppendEntriesReply)
    def handle_append_entries_reply(self, msg: AppendEntriesReply, sender: str) -> None:
        if not msg.success and msg.term == self.current_term and self.role_name == "leader":
            self.next_index[sender] = self.match_index[sender] + 1
            if self.next_index[sender] <= self.last_index():
                self.send_append_entries(sender)
            return
        super().handle_append_entries_reply(msg, sender)


RaftClerk = reference.RaftClerk
