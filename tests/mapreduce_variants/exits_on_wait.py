"""Buggy MapReduce worker: told to wait, it takes the job for done and stops asking."""

from labs.mapreduce import node as reference
from labs.mapreduce.node import (
    MAP,
    REDUCE,
    WAIT,
    Coordinator,
    JobClient,
    Task,
    on,
    run_map,
    run_reduce,
)
from labs.runtime.roles import by_name


class Worker(reference.Worker):
    @on(Task)
    def handle_task(self, msg: Task, sender: str) -> None:
        if msg.kind in ("exit", WAIT):
            self.over = True
        elif msg.kind in (MAP, REDUCE) and not self.busy:
            self.busy = True
            self.start_work(run_map if msg.kind == MAP else run_reduce, msg)


MapReduceNode = by_name("MapReduceNode", {"n1": Coordinator}, default=Worker)
__all__ = ["JobClient", "MapReduceNode"]
