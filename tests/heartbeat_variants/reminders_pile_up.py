"""Buggy clerk: a reminder set for an earlier question asks the current one, so every question
adds one more reminder and the clerk asks faster and faster."""

from labs.heartbeat import node as reference
from labs.heartbeat.node import AskAgain, WhoIsDown

HeartbeatNode = reference.HeartbeatNode


class HeartbeatClerk(reference.HeartbeatClerk):
    @reference.on_timer(AskAgain)
    def handle_ask_again(self, timer: AskAgain) -> None:
        if self.waiting and timer.seq <= self.seq:
            self.send(reference.MONITOR, WhoIsDown(self.client, self.seq))
            self.set_timer(reference.RETRY, AskAgain(self.seq))
