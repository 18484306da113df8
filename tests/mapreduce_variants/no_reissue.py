"""Buggy MapReduce coordinator: it never takes a task back from a worker that went silent."""

from labs.mapreduce import node as reference
from labs.mapreduce.node import JobClient, Sweep, Worker, on_timer
from labs.runtime.roles import by_name


class Coordinator(reference.Coordinator):
    @on_timer(Sweep)
    def handle_sweep(self, timer: Sweep) -> None:
        pass  # no timeout: a task handed out stays with its worker, crashed or crawling


MapReduceNode = by_name("MapReduceNode", {"n1": Coordinator}, default=Worker)
__all__ = ["JobClient", "MapReduceNode"]
