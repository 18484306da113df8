"""Buggy monitor: a member it once suspected stays suspected, even when its heartbeats resume."""

from labs.heartbeat import node as reference
from labs.heartbeat.node import TIMEOUT, Heartbeat, Suspects, WhoIsDown
from labs.runtime.roles import by_name


class Monitor(reference.Monitor):
    def on_start(self) -> None:
        super().on_start()
        self.condemned: set[str] = set()

    @reference.on(Heartbeat)
    def handle_heartbeat(self, msg: Heartbeat, sender: str) -> None:
        self.heard[sender] = self.now()

    @reference.on(WhoIsDown)
    def handle_who_is_down(self, msg: WhoIsDown, sender: str) -> None:
        now = self.now()
        self.condemned |= {m for m, last in self.heard.items() if now - last > TIMEOUT}
        self.send(sender, Suspects(msg.client, msg.seq, sorted(self.condemned)))


HeartbeatNode = by_name("HeartbeatNode", {reference.MONITOR: Monitor}, default=reference.Member)
HeartbeatClerk = reference.HeartbeatClerk
