"""Buggy view service: when the primary is dead and the backup is not there to take over, it
makes an idle server primary, though that server holds none of the data."""

from labs.primary_backup import node as reference
from labs.primary_backup.node import View


class ViewServer(reference.ViewServer):
    def maybe_change(self) -> None:
        v = self.view
        if self.acked and not self.alive(v.primary) and not (v.backup and self.alive(v.backup)) and self.idle():
            self.change(View(v.viewnum + 1, self.idle(), ""))
            return
        super().maybe_change()


PBServer = reference.PBServer
PBClerk = reference.PBClerk
PBNode = reference.by_name("PBNode", {reference.VIEW_SERVICE: ViewServer}, default=PBServer)
