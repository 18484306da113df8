"""Buggy primary: it answers a get from its own store without forwarding it to the backup, so a
primary cut off from the others, not yet told it was replaced, serves stale reads (split brain)."""

from labs.primary_backup import node as reference
from labs.primary_backup.node import Reply, Request


class PBServer(reference.PBServer):
    @reference.on(Request)
    def handle_request(self, msg: Request, sender: str) -> None:
        if msg.op == "get" and self.primary():
            self.send(sender, Reply(msg.client, msg.seq, "", self.store.get(msg.key, "")))
            return
        super().handle_request(msg, sender)


ViewServer = reference.ViewServer
PBClerk = reference.PBClerk
PBNode = reference.by_name("PBNode", {reference.VIEW_SERVICE: ViewServer}, default=PBServer)
