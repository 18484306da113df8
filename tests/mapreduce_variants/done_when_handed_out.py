"""Buggy MapReduce coordinator: it takes the job for finished once no reduce task waits to be
handed out, so it tells the client the job is done while reduce tasks are still running."""

from labs.mapreduce import node as reference
from labs.mapreduce.node import MAP, JobClient, Worker
from labs.runtime.roles import by_name


class Coordinator(reference.Coordinator):
    def finished(self, kind: str) -> bool:
        if kind == MAP:
            return super().finished(kind)
        # the bug: a reduce task handed out ("running") is not a reduce task done
        return self.job is not None and all(s != "idle" for (k, _), s in self.state.items() if k == kind)


MapReduceNode = by_name("MapReduceNode", {"n1": Coordinator}, default=Worker)
__all__ = ["JobClient", "MapReduceNode"]
