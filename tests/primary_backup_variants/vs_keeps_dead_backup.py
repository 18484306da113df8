"""Buggy view service: it replaces a dead primary and fills an empty backup slot, but never drops
a backup that stopped pinging: the primary waits for a dead server for ever."""

from labs.primary_backup import node as reference
from labs.primary_backup.node import View


class ViewServer(reference.ViewServer):
    def maybe_change(self) -> None:
        if not self.acked:
            return
        v = self.view
        if not self.alive(v.primary):
            if v.backup and self.alive(v.backup):
                self.change(View(v.viewnum + 1, v.backup, self.idle()))
        elif not v.backup and self.idle():
            self.change(View(v.viewnum + 1, v.primary, self.idle()))


PBServer = reference.PBServer
PBClerk = reference.PBClerk
PBNode = reference.by_name("PBNode", {reference.VIEW_SERVICE: ViewServer}, default=PBServer)
