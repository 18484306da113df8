"""Buggy primary: it never sends a new backup the state, taking it as ready at once, so when it
fails the backup takes over with an empty or partial store."""

from labs.primary_backup import node as reference


class PBServer(reference.PBServer):
    def transfer(self) -> None:
        if self.primary() and self.view.backup:
            self.synced = self.view.backup

    def adopt(self, view: reference.View) -> None:
        became_backup = view.backup == self.id and self.view.backup != self.id and view.viewnum > self.view.viewnum
        super().adopt(view)
        if became_backup:
            self.ready = True


ViewServer = reference.ViewServer
PBClerk = reference.PBClerk
PBNode = reference.by_name("PBNode", {reference.VIEW_SERVICE: ViewServer}, default=PBServer)
