"""Buggy clerk: it never moves its question number on, so every question is question 0."""

from labs.heartbeat import node as reference
from labs.runtime.node import Op

HeartbeatNode = reference.HeartbeatNode


class HeartbeatClerk(reference.HeartbeatClerk):
    def on_invoke(self, op: Op) -> None:
        self.waiting = True
        self.handle_ask_again(reference.AskAgain(self.seq))
