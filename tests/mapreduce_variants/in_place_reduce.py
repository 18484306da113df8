"""Buggy MapReduce worker: its map publishes whole files, but its reduce writes the output file
straight under its final name (no temporary file, no rename)."""

from collections import defaultdict

from labs.mapreduce import node as reference
from labs.mapreduce.mr import decode_pairs, format_output, intermediate_name, load_app, output_name
from labs.mapreduce.node import MAP, REDUCE, Coordinator, Finished, JobClient, Task, on, run_map
from labs.runtime.files import Work
from labs.runtime.roles import by_name


def run_reduce(work: Work, task: Task) -> Finished:
    app = load_app(task.app)
    groups: dict[str, list[str]] = defaultdict(list)
    for m in range(task.maps):
        for key, value in decode_pairs(work.files.read(intermediate_name(m, task.number))):
            groups[key].append(value)
    results = [(key, app.reduce(work, key, groups[key])) for key in sorted(groups)]
    work.files.write(output_name(task.number), format_output(results))  # the bug: in place
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
