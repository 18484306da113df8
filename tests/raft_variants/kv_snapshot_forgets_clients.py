"""Buggy key-value service (part E): its snapshots hold the store but not what it knew of each
client, so after installing one a server executes a retried append again."""

from labs.raft import node as reference


class KVServer(reference.KVServer):
    def service_state(self) -> object:
        return {"store": self.store, "last": {}}


RaftNode = reference.RaftNode
RaftClerk = reference.RaftClerk
KVClerk = reference.KVClerk
