"""Buggy RPC clerk: it completes a put with a list (whether it took effect, and its number), not True or False."""

from labs.rpc import node as reference
from labs.rpc.node import PutReply

KVServer = reference.KVServer


class KVClerk(reference.KVClerk):
    @reference.on(PutReply)
    def handle_put_reply(self, msg: PutReply, sender: str) -> None:
        if self.mine(msg):
            self.request = None
            self.complete([msg.ok, msg.seq])
