"""Buggy RPC clerk: it numbers a get with the number of the operation before it, so the server
answers the get from what it remembers of that operation."""

from labs.rpc import node as reference
from labs.runtime.node import Op

KVServer = reference.KVServer


class KVClerk(reference.KVClerk):
    def on_invoke(self, op: Op) -> None:
        if op.f == "get" and self.seq > 0:
            self.seq -= 1  # the reference adds one back
        super().on_invoke(op)
