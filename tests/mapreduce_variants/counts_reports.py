"""Buggy MapReduce coordinator: it counts the reports of each phase, not the tasks reported done,
so a late original's report and its re-executed copy's count as two tasks done."""

from labs.mapreduce import node as reference
from labs.mapreduce.client import JobDone
from labs.mapreduce.node import REDUCE, JobClient, TaskDone, Worker, on
from labs.runtime.roles import by_name


class Coordinator(reference.Coordinator):
    def on_start(self) -> None:
        super().on_start()
        self.reported: dict[str, int] = {}

    @on(TaskDone)
    def handle_task_done(self, msg: TaskDone, sender: str) -> None:
        key = (msg.kind, msg.number)
        if key not in self.state:
            return
        self.state[key] = "done"
        self.reported[msg.kind] = self.reported.get(msg.kind, 0) + 1  # the bug: every report counts
        if self.finished(REDUCE):
            self.send(self.client, JobDone())

    def finished(self, kind: str) -> bool:
        tasks = sum(1 for k, _ in self.state if k == kind)
        return self.job is not None and self.reported.get(kind, 0) >= tasks


MapReduceNode = by_name("MapReduceNode", {"n1": Coordinator}, default=Worker)
__all__ = ["JobClient", "MapReduceNode"]
