"""Buggy key-value service (part E): every applied command is executed, a retried one too, so
an append whose reply was lost, sent again, is appended twice."""

from labs.raft import node as reference
from labs.raft.kv import decode


class KVServer(reference.KVServer):
    def service_apply(self, index: int, term: int, command: str) -> None:
        self.last.pop(decode(command).client, None)  # forget the client: nothing is a duplicate
        super().service_apply(index, term, command)


RaftNode = reference.RaftNode
RaftClerk = reference.RaftClerk
KVClerk = reference.KVClerk
