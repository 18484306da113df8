"""Buggy RPC server: it remembers every client forever."""

from labs.rpc import node as reference
from labs.rpc.node import SWEEP, Sweep


class KVServer(reference.KVServer):
    @reference.on_timer(Sweep)
    def handle_sweep(self, timer: Sweep) -> None:
        self.set_timer(SWEEP, Sweep())


KVClerk = reference.KVClerk
