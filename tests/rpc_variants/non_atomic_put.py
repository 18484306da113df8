"""Buggy RPC server: a conditional put compares the version now but writes a moment later,
so two puts for the same version can both succeed."""

from dataclasses import dataclass

from labs.rpc import node as reference
from labs.rpc.node import PutReply, PutRequest
from labs.runtime.node import on, on_timer


@dataclass(frozen=True)
class WriteLater:
    key: str
    value: str
    version: int


class KVServer(reference.KVServer):
    @on(PutRequest)
    def handle_put(self, msg: PutRequest, sender: str) -> None:
        if self.answer_again(msg, sender):
            return
        _, version = self.data.get(msg.key, ("", 0))
        ok = msg.version == version
        if ok:
            self.set_timer(0.005, WriteLater(msg.key, msg.value, version + 1))
        self.remember(msg.client, msg.seq, "put", ok)
        self.send(sender, PutReply(msg.client, msg.seq, ok))

    @on_timer(WriteLater)
    def handle_write_later(self, timer: WriteLater) -> None:
        self.write(timer.key, timer.value, timer.version)


KVClerk = reference.KVClerk
