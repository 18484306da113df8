"""A server that answers nothing: every request is dropped on the floor. No operation ever
completes, so no history can be wrong; the suite must still give it nothing."""

from labs.rpc import node as reference
from labs.rpc.node import AppendRequest, GetRequest, PutRequest
from labs.runtime.node import on


class KVServer(reference.KVServer):
    @on(GetRequest)
    def handle_get(self, msg: GetRequest, sender: str) -> None:
        pass

    @on(PutRequest)
    def handle_put(self, msg: PutRequest, sender: str) -> None:
        pass

    @on(AppendRequest)
    def handle_append(self, msg: AppendRequest, sender: str) -> None:
        pass


KVClerk = reference.KVClerk
