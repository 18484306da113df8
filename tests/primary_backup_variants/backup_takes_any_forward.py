"""Buggy backup: it executes every forward it is sent, whatever view the sender is primary of, so
an old primary cut off with its clients keeps getting its writes accepted (split brain)."""

from labs.primary_backup import node as reference
from labs.primary_backup.node import Forward, ForwardReply


class PBServer(reference.PBServer):
    @reference.on(Forward)
    def handle_forward(self, msg: Forward, sender: str) -> None:
        self.adopt(msg.view)
        self.execute(msg.request)
        self.send(sender, ForwardReply(msg.view.viewnum, msg.request.client, msg.request.seq, True))


ViewServer = reference.ViewServer
PBClerk = reference.PBClerk
PBNode = reference.by_name("PBNode", {reference.VIEW_SERVICE: ViewServer}, default=PBServer)
