"""Buggy view service: it does nothing at all, so it breaks no rule about views; it must earn
nothing for them."""

from labs.primary_backup import node as reference
from labs.primary_backup.node import GetView, Ping, Tick


class ViewServer(reference.ViewServer):
    def on_start(self) -> None:
        pass

    @reference.on(Ping)
    def handle_ping(self, msg: Ping, sender: str) -> None:
        pass

    @reference.on(GetView)
    def handle_get_view(self, msg: GetView, sender: str) -> None:
        pass

    @reference.on_timer(Tick)
    def handle_tick(self, timer: Tick) -> None:
        pass


PBServer = reference.PBServer
PBClerk = reference.PBClerk
PBNode = reference.by_name("PBNode", {reference.VIEW_SERVICE: ViewServer}, default=PBServer)
