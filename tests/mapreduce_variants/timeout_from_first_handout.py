"""Buggy MapReduce coordinator: it notes when a task was first handed out and never again, so a
task given to a second worker after a timeout is timed from the first hand-out: at the next
sweep it looks overdue already and goes to a third worker, and so on, each after a quarter of a
second instead of TIMEOUT."""

from labs.mapreduce import node as reference
from labs.mapreduce.node import MAP, REDUCE, WAIT, JobClient, Task, Worker
from labs.runtime.roles import by_name


class Coordinator(reference.Coordinator):
    def next_task(self) -> Task:
        if self.job is None:
            return Task(WAIT)
        if self.finished(REDUCE):
            return Task(reference.EXIT)
        kind = REDUCE if self.finished(MAP) else MAP
        for (k, n), state in sorted(self.state.items()):
            if k == kind and state == "idle":
                self.state[(k, n)] = "running"
                self.since.setdefault((k, n), self.now())  # the bug: only the first hand-out counts
                job = self.job
                if kind == MAP:
                    return Task(MAP, n, job.app, job.inputs[n], len(job.inputs), job.reduces)
                return Task(REDUCE, n, job.app, "", len(job.inputs), job.reduces)
        return Task(WAIT)


MapReduceNode = by_name("MapReduceNode", {"n1": Coordinator}, default=Worker)
__all__ = ["JobClient", "MapReduceNode"]
