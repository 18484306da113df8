"""Buggy MapReduce coordinator: it hands out a task only when no other task is running."""

from labs.mapreduce import node as reference
from labs.mapreduce.node import JobClient, Task, Worker
from labs.runtime.roles import by_name


class Coordinator(reference.Coordinator):
    def next_task(self) -> Task:
        if any(s == "running" for s in self.state.values()):
            return Task("wait")
        return super().next_task()


MapReduceNode = by_name("MapReduceNode", {"n1": Coordinator}, default=Worker)
__all__ = ["JobClient", "MapReduceNode"]
