"""Buggy Raft (part D): the snapshot is ignored and the log is never cut, so memory and disk
grow with every entry ever committed."""

from labs.raft import node as reference


class RaftNode(reference.RaftNode):
    def snapshot(self, index: int, data: str) -> None:
        pass


RaftClerk = reference.RaftClerk
