"""Buggy RPC clerk: a retry timer left over from an earlier request resends the current one, so
every request adds one more timer and the clerk resends faster and faster."""

from labs.rpc import node as reference
from labs.rpc.node import Retry

KVServer = reference.KVServer


class KVClerk(reference.KVClerk):
    @reference.on_timer(Retry)
    def handle_retry(self, timer: Retry) -> None:
        if self.request is not None and timer.seq <= self.seq:
            self.try_once()
