"""Buggy monitor: it answers that nobody is down, whatever it heard."""

from labs.heartbeat import node as reference
from labs.heartbeat.node import Suspects, WhoIsDown
from labs.runtime.roles import by_name


class Monitor(reference.Monitor):
    @reference.on(WhoIsDown)
    def handle_who_is_down(self, msg: WhoIsDown, sender: str) -> None:
        self.send(sender, Suspects(msg.client, msg.seq, []))


HeartbeatNode = by_name("HeartbeatNode", {reference.MONITOR: Monitor}, default=reference.Member)
HeartbeatClerk = reference.HeartbeatClerk
