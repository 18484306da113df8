"""Buggy RPC clerk: it matches a reply by sequence number only, so a late reply meant for the
clerk it replaced on the same node (which numbered its requests from 1 too) completes this one."""

from labs.rpc import node as reference

KVServer = reference.KVServer


class KVClerk(reference.KVClerk):
    def mine(self, reply: reference.Reply) -> bool:
        return self.request is not None and reply.seq == self.seq
