"""Buggy monitor: it suspects a member after two heartbeats are missing, not TIMEOUT: one lost
message too many and a living member is called dead."""

from labs.heartbeat import node as reference
from labs.heartbeat.node import INTERVAL, Suspects, WhoIsDown
from labs.runtime.roles import by_name


class Monitor(reference.Monitor):
    @reference.on(WhoIsDown)
    def handle_who_is_down(self, msg: WhoIsDown, sender: str) -> None:
        now = self.now()
        silent = sorted(m for m, last in self.heard.items() if now - last > 2 * INTERVAL)
        self.send(sender, Suspects(msg.client, msg.seq, silent))


HeartbeatNode = by_name("HeartbeatNode", {reference.MONITOR: Monitor}, default=reference.Member)
HeartbeatClerk = reference.HeartbeatClerk
