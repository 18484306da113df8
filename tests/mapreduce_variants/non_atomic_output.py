"""Buggy MapReduce worker: it writes its files straight under their final names (no rename)."""

from labs.mapreduce import node as reference
from labs.mapreduce.mr import (
    decode_pairs,
    encode_pairs,
    format_output,
    ihash,
    intermediate_name,
    load_app,
    output_name,
)
from labs.mapreduce.node import MAP, REDUCE, Coordinator, Finished, JobClient, Task, on
from labs.runtime.files import Work
from labs.runtime.roles import by_name


def run_map(work: Work, task: Task) -> Finished:
    app = load_app(task.app)
    pairs = app.map(work, task.input, work.files.read(task.input))
    for r in range(task.reduces):
        bucket = [(k, v) for k, v in pairs if ihash(k) % task.reduces == r]
        work.files.write(intermediate_name(task.number, r), encode_pairs(bucket))  # in place
    return Finished(MAP, task.number)


def run_reduce(work: Work, task: Task) -> Finished:
    app = load_app(task.app)
    groups: dict[str, list[str]] = {}
    for m in range(task.maps):
        for k, v in decode_pairs(work.files.read(intermediate_name(m, task.number))):
            groups.setdefault(k, []).append(v)
    results = [(k, app.reduce(work, k, groups[k])) for k in sorted(groups)]
    work.files.write(output_name(task.number), format_output(results))  # in place
    return Finished(REDUCE, task.number)


class Worker(reference.Worker):
    @on(Task)
    def handle_task(self, msg: Task, sender: str) -> None:
        if msg.kind == "exit":
            self.over = True
        elif msg.kind in (MAP, REDUCE) and not self.busy:
            self.busy = True
            self.start_work(run_map if msg.kind == MAP else run_reduce, msg)


MapReduceNode = by_name("MapReduceNode", {"n1": Coordinator}, default=Worker)
__all__ = ["JobClient", "MapReduceNode"]
