"""Buggy clerk: it takes an answer to any question up to the current one, so a late or duplicated
answer to the previous question completes this one."""

from labs.heartbeat import node as reference
from labs.heartbeat.node import Suspects

HeartbeatNode = reference.HeartbeatNode


class HeartbeatClerk(reference.HeartbeatClerk):
    @reference.on(Suspects)
    def handle_suspects(self, msg: Suspects, sender: str) -> None:
        if self.waiting and msg.client == self.client and msg.seq <= self.seq:
            self.waiting = False
            self.complete(msg.members)
