"""Buggy Raft: a follower takes a leader's entries as soon as it has an entry at
prev_log_index, whatever that entry's term; it keeps an old leader's entry there and puts the
new leader's after it, so its log shares an entry with the leader's but not what comes before."""

import dataclasses

from labs.raft import node as reference
from labs.raft.node import AppendEntries


class RaftNode(reference.RaftNode):
    @reference.on(AppendEntries)
    def handle_append_entries(self, msg: AppendEntries, sender: str) -> None:
        if msg.term >= self.current_term and self.snap_index < msg.prev_log_index <= self.last_index():
            msg = dataclasses.replace(msg, prev_log_term=self.term_at(msg.prev_log_index))
        super().handle_append_entries(msg, sender)


RaftClerk = reference.RaftClerk
KVServer = reference.KVServer
KVClerk = reference.KVClerk
