"""Buggy clerk: it asks once and waits for the answer forever."""

from labs.heartbeat import node as reference
from labs.heartbeat.node import AskAgain, WhoIsDown

HeartbeatNode = reference.HeartbeatNode


class HeartbeatClerk(reference.HeartbeatClerk):
    @reference.on_timer(AskAgain)
    def handle_ask_again(self, timer: AskAgain) -> None:
        if self.waiting and timer.seq == self.seq and timer.seq not in getattr(self, "asked", set()):
            self.asked = {*getattr(self, "asked", set()), timer.seq}
            self.send(reference.MONITOR, WhoIsDown(self.client, self.seq))
