"""The MapReduce lab: a coordinator that hands out tasks, and workers that run them.

Read the handout first (``site/labs/mapreduce.md``, or the course site). In short:

* :class:`Coordinator` (node ``n1``) receives a job (:class:`~labs.mapreduce.client.SubmitJob`),
  hands out one map task per input file, then, once every map task is done, ``reduces`` reduce
  tasks. A task given to a worker that has not reported it done after ``TIMEOUT`` seconds goes to
  the next worker that asks (the first may have crashed, or may be crawling). When every reduce
  task is done it tells the client (:class:`~labs.mapreduce.client.JobDone`), and it tells every
  worker that asks from then on to exit.
* :class:`Worker` (every other node) asks for a task, runs it as a *work* (it takes time; the
  worker keeps handling messages meanwhile), reports it done, and asks again, until told to exit.
* :func:`run_map` and :func:`run_reduce` are the works: they read their inputs from the shared
  files, call the application's ``map`` or ``reduce``, and publish their output files whole
  (write under a temporary name, then rename), so that no reader ever sees half a file.

The messages and timers below are the protocol; keep their names and fields (the tests and the
pictures read them). Write your code where it says ``raise NotImplementedError``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from labs.mapreduce.client import COORDINATOR, JobClient, JobDone, SubmitJob
from labs.mapreduce.mr import (
    decode_pairs,
    encode_pairs,
    format_output,
    ihash,
    intermediate_name,
    load_app,
    output_name,
)
from labs.runtime.files import Work
from labs.runtime.node import Node, SharedFiles, on, on_timer
from labs.runtime.roles import by_name

__all__ = ["Coordinator", "JobClient", "MapReduceNode", "Worker"]

TIMEOUT = 2.0
"""Seconds after which the coordinator gives a task that was not reported done to another worker."""
SWEEP = 0.25
"""How often the coordinator looks for tasks that went over ``TIMEOUT``."""
ASK_EVERY = 0.1
"""How often an idle worker asks for a task (again, if the answer was "wait" or got lost)."""

MAP, REDUCE, WAIT, EXIT = "map", "reduce", "wait", "exit"


# -- the protocol -------------------------------------------------------------------------


@dataclass(frozen=True)
class GetTask:
    """A worker asks for something to do."""


@dataclass(frozen=True)
class Task:
    """The coordinator's answer. ``kind`` is ``map`` (read ``input``, write ``reduces``
    intermediate files), ``reduce`` (read the ``maps`` intermediate files of partition
    ``number``), ``wait`` (nothing to do now: ask again soon) or ``exit`` (the job is over)."""

    kind: str
    number: int = 0
    app: str = ""
    input: str = ""
    maps: int = 0
    reduces: int = 0


@dataclass(frozen=True)
class TaskDone:
    """A worker ran task ``number`` of phase ``kind`` and its output files are published."""

    kind: str
    number: int


@dataclass(frozen=True)
class Finished:
    """What a worker's work returns to the worker when its task is done."""

    kind: str
    number: int


@dataclass(frozen=True)
class Sweep:
    """The coordinator's reminder to look for tasks that went over ``TIMEOUT``."""


@dataclass(frozen=True)
class AskAgain:
    """A worker's reminder to ask for a task again."""


# -- the coordinator ----------------------------------------------------------------------


class Coordinator(Node):
    """Hands out map tasks, then reduce tasks; re-issues silent ones; knows when the job is done."""

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        self.job: SubmitJob | None = None
        self.client = ""
        # Per task, (kind, number) -> its state: "idle", "running" or "done", and when it was
        # handed out (for the timeout).
        self.state: dict[tuple[str, int], str] = {}
        self.since: dict[tuple[str, int], float] = {}
        self.set_timer(SWEEP, Sweep())
        ### END SOLUTION

    @on(SubmitJob)
    def handle_submit(self, msg: SubmitJob, sender: str) -> None:
        ### BEGIN SOLUTION
        if self.job is None:
            self.job, self.client = msg, sender
            self.state = {(MAP, m): "idle" for m in range(len(msg.inputs))}
            self.state.update({(REDUCE, r): "idle" for r in range(msg.reduces)})
        if self.finished(REDUCE):
            self.send(sender, JobDone())
        ### END SOLUTION

    @on(GetTask)
    def handle_get_task(self, msg: GetTask, sender: str) -> None:
        ### BEGIN SOLUTION
        self.send(sender, self.next_task())
        ### END SOLUTION

    @on(TaskDone)
    def handle_task_done(self, msg: TaskDone, sender: str) -> None:
        ### BEGIN SOLUTION
        key = (msg.kind, msg.number)
        if self.state.get(key) in (None, "done"):
            return  # a second report, from a worker the task was taken from
        self.state[key] = "done"
        if self.finished(REDUCE):
            self.send(self.client, JobDone())
        ### END SOLUTION

    @on_timer(Sweep)
    def handle_sweep(self, timer: Sweep) -> None:
        ### BEGIN SOLUTION
        now = self.now()
        for key, state in self.state.items():
            if state == "running" and now - self.since[key] > TIMEOUT:
                self.state[key] = "idle"  # the next worker that asks gets it
        self.set_timer(SWEEP, Sweep())
        ### END SOLUTION

    ### BEGIN SOLUTION
    def finished(self, kind: str) -> bool:
        return self.job is not None and all(s == "done" for (k, _), s in self.state.items() if k == kind)

    def next_task(self) -> Task:
        if self.job is None:
            return Task(WAIT)
        if self.finished(REDUCE):
            return Task(EXIT)
        kind = REDUCE if self.finished(MAP) else MAP  # no reduce before every map is done
        for (k, n), state in sorted(self.state.items()):
            if k == kind and state == "idle":
                self.state[(k, n)] = "running"
                self.since[(k, n)] = self.now()
                job = self.job
                if kind == MAP:
                    return Task(MAP, n, job.app, job.inputs[n], len(job.inputs), job.reduces)
                return Task(REDUCE, n, job.app, "", len(job.inputs), job.reduces)
        return Task(WAIT)
    ### END SOLUTION


# -- the workers --------------------------------------------------------------------------


class Worker(SharedFiles, Node):
    """Asks for tasks and runs them, one at a time, until the coordinator says the job is over."""

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        self.busy = False
        self.over = False
        self.reminder: int | None = None
        self.ask()
        ### END SOLUTION

    @on(Task)
    def handle_task(self, msg: Task, sender: str) -> None:
        ### BEGIN SOLUTION
        if msg.kind == EXIT:
            self.over = True
        elif msg.kind in (MAP, REDUCE) and not self.busy:
            self.busy = True
            self.start_work(run_map if msg.kind == MAP else run_reduce, msg)
        # WAIT: the reminder set by ask() asks again.
        ### END SOLUTION

    @on(Finished)
    def handle_finished(self, msg: Finished, sender: str) -> None:
        ### BEGIN SOLUTION
        self.busy = False
        self.send(COORDINATOR, TaskDone(msg.kind, msg.number))
        self.ask()
        ### END SOLUTION

    @on_timer(AskAgain)
    def handle_ask_again(self, timer: AskAgain) -> None:
        ### BEGIN SOLUTION
        self.reminder = None
        if not self.busy and not self.over:
            self.ask()
        ### END SOLUTION

    ### BEGIN SOLUTION
    def ask(self) -> None:
        if self.reminder is not None:
            self.cancel_timer(self.reminder)
        self.send(COORDINATOR, GetTask())
        self.reminder = self.set_timer(ASK_EVERY, AskAgain())
    ### END SOLUTION


# -- the works ----------------------------------------------------------------------------


def run_map(work: Work, task: Task) -> Finished:
    """Map task ``task.number``: read its input, map it, and publish one intermediate file per
    reduce task (``intermediate_name(task.number, r)``), holding the pairs whose key has
    ``ihash(key) % task.reduces == r`` (``encode_pairs`` gives the file's text)."""
    ### BEGIN SOLUTION
    app = load_app(task.app)
    pairs = app.map(work, task.input, work.files.read(task.input))
    buckets: list[list[tuple[str, str]]] = [[] for _ in range(task.reduces)]
    for key, value in pairs:
        buckets[ihash(key) % task.reduces].append((key, value))
    for r, bucket in enumerate(buckets):
        publish(work, intermediate_name(task.number, r), encode_pairs(bucket))
    return Finished(MAP, task.number)
    ### END SOLUTION


def run_reduce(work: Work, task: Task) -> Finished:
    """Reduce task ``task.number``: read its intermediate file from every map task, group the
    values by key, reduce each key (in sorted order) and publish ``output_name(task.number)``
    (``format_output`` gives the file's text)."""
    ### BEGIN SOLUTION
    app = load_app(task.app)
    groups: dict[str, list[str]] = defaultdict(list)
    for m in range(task.maps):
        for key, value in decode_pairs(work.files.read(intermediate_name(m, task.number))):
            groups[key].append(value)
    results = [(key, app.reduce(work, key, groups[key])) for key in sorted(groups)]
    publish(work, output_name(task.number), format_output(results))
    return Finished(REDUCE, task.number)
    ### END SOLUTION


def publish(work: Work, name: str, text: str) -> None:
    """Make file ``name`` hold ``text``, so that no reader ever sees it half-written."""
    ### BEGIN SOLUTION
    # Two attempts at one task may run at once (a re-issued straggler): each writes its own
    # temporary file, and the last rename wins with a complete file either way.
    tmp = f"tmp/{name}.{work.node}.{work.random.getrandbits(32):08x}"
    work.files.write(tmp, text)
    work.files.rename(tmp, name)
    ### END SOLUTION


MapReduceNode = by_name("MapReduceNode", {COORDINATOR: Coordinator}, default=Worker)
"""The lab's node class: ``n1`` runs the :class:`Coordinator`, every other node a :class:`Worker`."""

