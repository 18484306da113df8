"""Buggy RPC clerk: it sends each request once and waits forever for the answer."""

from labs.rpc import node as reference
from labs.rpc.node import Retry

KVServer = reference.KVServer


class KVClerk(reference.KVClerk):
    @reference.on_timer(Retry)
    def handle_retry(self, timer: Retry) -> None:
        pass
