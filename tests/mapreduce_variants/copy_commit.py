"""Buggy MapReduce worker: it writes each file under a temporary name, but commits it by copying
the temporary file into place (read it, write its text under the final name), not by renaming."""

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


def publish(work: Work, name: str, text: str) -> None:
    tmp = f"tmp/{name}.{work.node}.{work.random.getrandbits(32):08x}"
    work.files.write(tmp, text)
    work.files.write(name, work.files.read(tmp))  # the bug: a copy is not atomic
    work.files.remove(tmp)


def run_map(work: Work, task: Task) -> Finished:
    app = load_app(task.app)
    pairs = app.map(work, task.input, work.files.read(task.input))
    buckets: list[list[tuple[str, str]]] = [[] for _ in range(task.reduces)]
    for key, value in pairs:
        buckets[ihash(key) % task.reduces].append((key, value))
    for r, bucket in enumerate(buckets):
        publish(work, intermediate_name(task.number, r), encode_pairs(bucket))
    return Finished(MAP, task.number)


def run_reduce(work: Work, task: Task) -> Finished:
    app = load_app(task.app)
    groups: dict[str, list[str]] = {}
    for m in range(task.maps):
        for key, value in decode_pairs(work.files.read(intermediate_name(m, task.number))):
            groups.setdefault(key, []).append(value)
    results = [(key, app.reduce(work, key, groups[key])) for key in sorted(groups)]
    publish(work, output_name(task.number), format_output(results))
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
