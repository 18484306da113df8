"""Buggy Raft: the term and vote are on disk but the log is not, so a restarted node forgets
entries it acknowledged and committed entries can be lost."""

from labs.raft import node as reference
from labs.raft.node import Entry


class RaftNode(reference.RaftNode):
    def append_entries_to_log(self, index: int, entries: list[Entry]) -> None:
        del self.entries[index:]
        self.entries.extend(entries)


RaftClerk = reference.RaftClerk
