"""Buggy view service: it notices a server only by its silence, not by a ping from a new life, so
a primary that crashed and restarted at once stays primary with an empty store."""

from labs.primary_backup import node as reference
from labs.primary_backup.node import Ping


class ViewServer(reference.ViewServer):
    @reference.on(Ping)
    def handle_ping(self, msg: Ping, sender: str) -> None:
        super().handle_ping(Ping(msg.viewnum, 0.0), sender)


PBServer = reference.PBServer
PBClerk = reference.PBClerk
PBNode = reference.by_name("PBNode", {reference.VIEW_SERVICE: ViewServer}, default=PBServer)
