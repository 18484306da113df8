"""Buggy key-value service (part E): a server that believes it leads answers gets from its own
store, without the log; a leader cut off from the others still believes it, and reads stale
values while a new leader takes writes."""

from labs.raft import node as reference
from labs.raft.kv import KVReply, KVRequest
from labs.runtime.node import on


class KVServer(reference.KVServer):
    @on(KVRequest)
    def handle_kv_request(self, msg: KVRequest, sender: str) -> None:
        if msg.op == "get" and self.role_name == "leader":
            self.send(sender, KVReply(msg.client, msg.seq, True, self.store.get(msg.key, "")))
            return
        super().handle_kv_request(msg, sender)


RaftNode = reference.RaftNode
RaftClerk = reference.RaftClerk
KVClerk = reference.KVClerk
