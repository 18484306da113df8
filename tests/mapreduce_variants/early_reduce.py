"""Buggy MapReduce coordinator: it starts reduce tasks once every map task is handed out, not done."""

from labs.mapreduce import node as reference
from labs.mapreduce.node import MAP, REDUCE, JobClient, Task, Worker
from labs.runtime.roles import by_name


class Coordinator(reference.Coordinator):
    def next_task(self) -> Task:
        if self.job is None:
            return Task("wait")
        if self.finished(REDUCE):
            return Task("exit")
        maps_left = any(k == MAP and s == "idle" for (k, _), s in self.state.items())
        kind = MAP if maps_left else REDUCE  # the bug: running maps are not waited for
        for (k, n), state in sorted(self.state.items()):
            if k == kind and state == "idle":
                self.state[(k, n)] = "running"
                self.since[(k, n)] = self.now()
                job = self.job
                if kind == MAP:
                    return Task(MAP, n, job.app, job.inputs[n], len(job.inputs), job.reduces)
                return Task(REDUCE, n, job.app, "", len(job.inputs), job.reduces)
        return Task("wait")


MapReduceNode = by_name("MapReduceNode", {"n1": Coordinator}, default=Worker)
__all__ = ["JobClient", "MapReduceNode"]
