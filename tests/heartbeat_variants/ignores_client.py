"""Buggy clerk: it matches an answer by its question number only, so a late answer meant for the
clerk it replaced (which numbered its questions from 1 too) completes this one."""

from labs.heartbeat import node as reference
from labs.heartbeat.node import Suspects

HeartbeatNode = reference.HeartbeatNode


class HeartbeatClerk(reference.HeartbeatClerk):
    @reference.on(Suspects)
    def handle_suspects(self, msg: Suspects, sender: str) -> None:
        if self.waiting and msg.seq == self.seq:
            self.waiting = False
            self.complete(msg.members)
