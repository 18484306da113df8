"""Buggy monitor: it suspects every member it has not heard from yet, so a monitor that just
restarted calls the whole cluster dead."""

from labs.heartbeat import node as reference
from labs.runtime.roles import by_name


class Monitor(reference.Monitor):
    def on_start(self) -> None:
        self.heard = {member: -1e9 for member in self.peers}


HeartbeatNode = by_name("HeartbeatNode", {reference.MONITOR: Monitor}, default=reference.Member)
HeartbeatClerk = reference.HeartbeatClerk
