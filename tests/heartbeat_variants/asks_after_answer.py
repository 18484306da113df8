"""Buggy clerk: its reminder asks again while the clerk waits *or* while the question is still
the last one asked, so it goes on asking a question already answered."""

from labs.heartbeat import node as reference
from labs.heartbeat.node import AskAgain, WhoIsDown

HeartbeatNode = reference.HeartbeatNode


class HeartbeatClerk(reference.HeartbeatClerk):
    @reference.on_timer(AskAgain)
    def handle_ask_again(self, timer: AskAgain) -> None:
        if self.waiting or timer.seq == self.seq:
            self.send(reference.MONITOR, WhoIsDown(self.client, self.seq))
            self.set_timer(reference.RETRY, AskAgain(self.seq))
