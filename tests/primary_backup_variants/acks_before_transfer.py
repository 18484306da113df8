"""Buggy primary: it acknowledges a view at once, before its new backup holds the state, and a
server made primary serves whatever it holds: the view service may promote a backup that never
got the state, and it serves an empty store."""

from labs.primary_backup import node as reference
from labs.primary_backup.node import VIEW_SERVICE, Ping, View


class PBServer(reference.PBServer):
    def ping(self) -> None:
        self.send(VIEW_SERVICE, Ping(self.view.viewnum, self.started))

    def adopt(self, view: View) -> None:
        promoted = view.primary == self.id and view.viewnum > self.view.viewnum
        super().adopt(view)
        if promoted:
            self.ready = True


ViewServer = reference.ViewServer
PBClerk = reference.PBClerk
PBNode = reference.by_name("PBNode", {reference.VIEW_SERVICE: ViewServer}, default=PBServer)
