"""Buggy member: it says it is alive once, when it starts, and never again."""

from labs.heartbeat import node as reference
from labs.heartbeat.node import Beat
from labs.runtime.roles import by_name


class Member(reference.Member):
    @reference.on_timer(Beat)
    def handle_beat(self, timer: Beat) -> None:
        self.send(reference.MONITOR, reference.Heartbeat())


HeartbeatNode = by_name("HeartbeatNode", {reference.MONITOR: reference.Monitor}, default=Member)
HeartbeatClerk = reference.HeartbeatClerk
