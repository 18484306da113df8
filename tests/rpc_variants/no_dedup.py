"""Buggy RPC server: no duplicate detection, so a retried put or append executes again."""

from labs.rpc import node as reference
from labs.rpc.node import AppendRequest, PutRequest


class KVServer(reference.KVServer):
    def answer_again(self, msg: PutRequest | AppendRequest, sender: str) -> bool:
        return False


KVClerk = reference.KVClerk
