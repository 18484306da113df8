"""Buggy primary: it never sends a lost transfer or forward again, so one lost message stalls
the service for good (safe, but it answers nothing more)."""

from labs.primary_backup import node as reference


class PBServer(reference.PBServer):
    @reference.on_timer(reference.Retry)
    def handle_retry(self, timer):
        return  # never sends a lost transfer or forward again


ViewServer = reference.ViewServer
PBClerk = reference.PBClerk
PBNode = reference.by_name("PBNode", {reference.VIEW_SERVICE: ViewServer}, default=PBServer)
