"""Buggy MapReduce worker: told to exit, it never notes that the job is over, so its reminder
goes on asking the coordinator for a task every ASK_EVERY seconds until the run ends."""

from labs.mapreduce import node as reference
from labs.mapreduce.node import (
    EXIT,
    MAP,
    REDUCE,
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
        if msg.kind == EXIT:
            pass  # meant to be self.over = True
        elif msg.kind in (MAP, REDUCE) and not self.busy:
            self.busy = True
            self.start_work(run_map if msg.kind == MAP else run_reduce, msg)


MapReduceNode = by_name("MapReduceNode", {"n1": Coordinator}, default=Worker)
__all__ = ["JobClient", "MapReduceNode"]
