"""Buggy Raft (part D): the snapshot is kept in memory only while the log entries it replaces
are removed from disk, so a server that restarts has lost the start of its log."""

from labs.raft import node as reference
from labs.raft.node import Entry


class RaftNode(reference.RaftNode):
    def save_snapshot(self, index: int, term: int, data: str, rest: list[Entry]) -> None:
        old_start, old_last = self.snap_index + 1, self.last_index()
        for i in range(old_start, old_last + 1):
            if i <= index or i > index + len(rest):
                del self.storage[f"log/{i}"]
        self.snap_index, self.snap_data = index, data
        self.entries = [Entry(term, ""), *rest]
        self.storage["log_len"] = self.last_index()


RaftClerk = reference.RaftClerk
