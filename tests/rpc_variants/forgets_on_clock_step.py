"""Buggy server: it measures a client's silence as the distance between now and when it last
heard from it, either way, so a clock stepped back makes every active client look long silent and
forgotten, and a retried request then executes twice."""

from labs.rpc import node as reference
from labs.rpc.node import FORGET_AFTER, Sweep

KVClerk = reference.KVClerk


class KVServer(reference.KVServer):
    @reference.on_timer(Sweep)
    def handle_sweep(self, timer: Sweep) -> None:
        now = self.now()
        for client, (_seq, _kind, _ok, last_seen) in list(self.clients.items()):
            if abs(now - last_seen) > FORGET_AFTER:
                del self.clients[client]
                del self.storage[f"client/{client}"]
        self.set_timer(reference.SWEEP, Sweep())
