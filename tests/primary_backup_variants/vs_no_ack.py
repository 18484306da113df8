"""Buggy view service: it changes views without waiting for the primary to acknowledge the
current one, so a primary may be replaced before it knew it was primary, or twice in a row."""

from labs.primary_backup import node as reference


class ViewServer(reference.ViewServer):
    def maybe_change(self) -> None:
        self.acked = True
        super().maybe_change()


PBServer = reference.PBServer
PBClerk = reference.PBClerk
PBNode = reference.by_name("PBNode", {reference.VIEW_SERVICE: ViewServer}, default=PBServer)
