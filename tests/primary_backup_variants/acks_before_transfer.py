"""Buggy primary: it acknowledges a view at once, before its new backup holds the state, so the
view service may promote a backup that never got it."""

from labs.primary_backup import node as reference
from labs.primary_backup.node import VIEW_SERVICE, Ping


class PBServer(reference.PBServer):
    def ping(self) -> None:
        self.send(VIEW_SERVICE, Ping(self.view.viewnum, self.started))


ViewServer = reference.ViewServer
PBClerk = reference.PBClerk
PBNode = reference.by_name("PBNode", {reference.VIEW_SERVICE: ViewServer}, default=PBServer)
