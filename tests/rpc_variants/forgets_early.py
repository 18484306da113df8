"""Buggy RPC server: it forgets a client 20 ms after hearing from it, before its retries arrive."""

from labs.rpc import node as reference
from labs.rpc.node import Sweep


class KVServer(reference.KVServer):
    @reference.on_timer(Sweep)
    def handle_sweep(self, timer: Sweep) -> None:
        now = self.now()
        for client, (_seq, _kind, _ok, last_seen) in list(self.clients.items()):
            if now - last_seen > 0.02:
                del self.clients[client]
                del self.storage[f"client/{client}"]
        self.set_timer(0.01, Sweep())


KVClerk = reference.KVClerk
