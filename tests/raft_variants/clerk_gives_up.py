"""Buggy key-value clerk (part E): it asks the next server when one says it does not lead, but
never asks again when no answer comes, so a lost request or reply leaves its operation waiting
until it times out."""

from labs.raft import node as reference
from labs.raft.node import ClerkRetry


class KVClerk(reference.KVClerk):
    @reference.on_timer(ClerkRetry)
    def handle_clerk_retry(self, timer: ClerkRetry) -> None:
        if timer.move:
            return  # the wait for an answer ran out: but it never asks again
        super().handle_clerk_retry(timer)


RaftNode = reference.RaftNode
RaftClerk = reference.RaftClerk
KVServer = reference.KVServer
