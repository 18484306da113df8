"""Buggy Raft: a follower cuts its log after the entries of every AppendEntries, so a stale,
reordered request deletes entries it has already acknowledged (some of them committed)."""

from labs.raft import node as reference
from labs.raft.node import AppendEntries


class RaftNode(reference.RaftNode):
    @reference.on(AppendEntries)
    def handle_append_entries(self, msg: AppendEntries, sender: str) -> None:
        if (msg.term >= self.current_term and msg.prev_log_index < len(self.entries)
                and self.entries[msg.prev_log_index].term == msg.prev_log_term):
            self.append_entries_to_log(msg.prev_log_index + 1, list(msg.entries))
        super().handle_append_entries(msg, sender)


RaftClerk = reference.RaftClerk
