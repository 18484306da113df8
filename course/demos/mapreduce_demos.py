"""Chapter 1's live demos: a small MapReduce of the chapter's own, on the lab runtime.

It speaks the MapReduce lab's protocol (``labs.mapreduce``: the job client, the ``Task`` and
``TaskDone`` messages, the applications and the corpus), so that the lab's picture of who ran which
task draws it, but it is *not* the lab's solution: it is written for showing, with each choice the
chapter discusses as a switch.

* :func:`lab` builds a cluster: a coordinator (``n1``) and ``workers`` workers, running ``app``
  over ``corpus``. The coordinator gives a silent task to another worker after ``timeout`` seconds
  (``None``: never), may hand out **backup** copies of the last running tasks to idle workers
  (``backups``), and decides which tasks are overdue with ``overdue`` (the exercises plug theirs in).
  Workers publish files whole (write, then rename) or in place (``atomic=False``).
* :func:`crash_workers` and :func:`clean` are schedules; :func:`job_time`, :func:`task_table`,
  :func:`shuffle_bytes` and :func:`torn_files` read a finished run.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable

from labs.mapreduce.attempts import attempts
from labs.mapreduce.checks import no_torn_files, output_correct
from labs.mapreduce.client import COORDINATOR, JobClient, JobDone, SubmitJob
from labs.mapreduce.mr import decode_pairs, encode_pairs, format_output, ihash, load_app

# The lab's messages (dataclasses only), so that its picture and checks read these runs too.
from labs.mapreduce.node import AskAgain, Finished, GetTask, Sweep, Task, TaskDone
from labs.mapreduce.workloads import job
from labs.runtime.files import Work
from labs.runtime.lab import Lab, RunResult, Workload
from labs.runtime.node import Node, on, on_timer
from labs.runtime.roles import by_name
from labs.runtime.schedule import Schedule, builder

Overdue = Callable[[dict[str, float], float, float], list[str]]
"""``overdue(started, now, timeout)``: the running tasks (name -> when handed out) to take back."""


def overdue_after(started: dict[str, float], now: float, timeout: float) -> list[str]:
    """The chapter's rule: a task is overdue once it has run longer than ``timeout``."""
    return sorted(name for name, since in started.items() if now - since > timeout)


class DemoCoordinator(Node):
    timeout: float | None = 2.0
    backups = False
    overdue: Overdue = staticmethod(overdue_after)

    def on_start(self) -> None:
        self.spec: SubmitJob | None = None
        self.owner = ""
        self.todo: list[str] = []                 # task names, "map-3" or "reduce-1", not handed out
        self.running: dict[str, float] = {}       # handed out, not done: when
        self.finished: set[str] = set()
        self.set_timer(0.25, Sweep())

    @on(SubmitJob)
    def handle_submit(self, msg: SubmitJob, sender: str) -> None:
        if self.spec is None:
            self.spec, self.owner = msg, sender
            self.todo = [f"map-{i}" for i in range(len(msg.inputs))]
        if self.spec is not None and len(self.finished) == len(msg.inputs) + msg.reduces:
            self.send(sender, JobDone())  # asked again after the end: say so again

    def phase_over(self, phase: str) -> bool:
        assert self.spec is not None
        count = len(self.spec.inputs) if phase == "map" else self.spec.reduces
        return all(f"{phase}-{i}" in self.finished for i in range(count))

    @on(GetTask)
    def handle_get(self, msg: GetTask, sender: str) -> None:
        if self.spec is None:
            self.send(sender, Task("wait"))
            return
        if self.phase_over("reduce"):
            self.send(sender, Task("exit"))
            return
        name = self.todo.pop(0) if self.todo else None
        if name is None and self.backups and self.running:
            name = min(self.running, key=lambda n: self.running[n])  # the longest-running one, again
        if name is None:
            self.send(sender, Task("wait"))
            return
        self.running.setdefault(name, self.now())
        phase, number = name.split("-")
        spec = self.spec
        self.send(sender, Task(phase, int(number), spec.app, spec.inputs[int(number)] if phase == "map" else "",
                               len(spec.inputs), spec.reduces))

    @on(TaskDone)
    def handle_done(self, msg: TaskDone, sender: str) -> None:
        name = f"{msg.kind}-{msg.number}"
        if name in self.finished or self.spec is None:
            return
        self.finished.add(name)
        self.running.pop(name, None)
        if msg.kind == "map" and self.phase_over("map"):
            self.todo = [f"reduce-{r}" for r in range(self.spec.reduces)]
        if self.phase_over("reduce"):
            self.send(self.owner, JobDone())

    @on_timer(Sweep)
    def handle_sweep(self, timer: Sweep) -> None:
        if self.timeout is not None:
            for name in type(self).overdue(dict(self.running), self.now(), self.timeout):
                if name in self.running and name not in self.todo:
                    del self.running[name]
                    self.todo.append(name)
        self.set_timer(0.25, Sweep())


def map_task(work: Work, task: Task, atomic: bool) -> Finished:
    the_app = load_app(task.app)
    parts: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for k, v in the_app.map(work, task.input, work.files.read(task.input)):
        parts[ihash(k) % task.reduces].append((k, v))
    for r in range(task.reduces):
        save(work, f"mr-{task.number}-{r}", encode_pairs(parts[r]), atomic)
    return Finished("map", task.number)


def reduce_task(work: Work, task: Task, atomic: bool) -> Finished:
    the_app = load_app(task.app)
    values: dict[str, list[str]] = defaultdict(list)
    for mapper in range(task.maps):
        for k, v in decode_pairs(work.files.read(f"mr-{mapper}-{task.number}")):
            values[k].append(v)
    text = format_output((k, the_app.reduce(work, k, vs)) for k, vs in sorted(values.items()))
    save(work, f"mr-out-{task.number}", text, atomic)
    return Finished("reduce", task.number)


def save(work: Work, name: str, text: str, atomic: bool) -> None:
    if not atomic:
        work.files.write(name, text)
        return
    scratch = f"scratch/{work.node}-{work.random.random():.9f}-{name}"
    work.files.write(scratch, text)
    work.files.rename(scratch, name)


class DemoWorker(Node):
    atomic = True

    def on_start(self) -> None:
        self.working = False
        self.request()

    def request(self) -> None:
        self.send(COORDINATOR, GetTask())  # "anything for me?"

    @on(Task)
    def handle_task(self, msg: Task, sender: str) -> None:
        if msg.kind in ("map", "reduce") and not self.working:
            self.working = True
            self.start_work(map_task if msg.kind == "map" else reduce_task, msg, type(self).atomic)
        elif msg.kind == "wait":
            self.set_timer(0.1, AskAgain())

    @on_timer(AskAgain)
    def handle_again(self, timer: AskAgain) -> None:
        if not self.working:
            self.request()

    @on(Finished)
    def handle_finished(self, msg: Finished, sender: str) -> None:
        self.working = False
        self.send(COORDINATOR, TaskDone(msg.kind, msg.number))  # then the next one
        self.request()


def lab(workers: int = 3, app: str = "wc", corpus: str = "small", reduces: int = 4,
        timeout: float | None = 2.0, backups: bool = False, atomic: bool = True,
        overdue: Overdue | None = None, length: float = 40.0) -> Lab:
    """A cluster of one coordinator and ``workers`` workers running one job (see the module docstring)."""
    coordinator = type("DemoCoordinator", (DemoCoordinator,), {
        "timeout": timeout, "backups": backups, "overdue": staticmethod(overdue or overdue_after)})
    worker = type("DemoWorker", (DemoWorker,), {"atomic": atomic})
    node = by_name("DemoMapReduce", {COORDINATOR: coordinator}, default=worker)
    return Lab(name="mapreduce", description="the chapter's MapReduce", node=node, clerk=JobClient,
               workload=Workload(job(app, corpus, reduces), clients=1, timeout=length - 0.5, think=600.0),
               nodes=workers + 1, min_duration=length, settle=0.5)


def clean(length: float = 40.0) -> Schedule:
    return builder("clean").duration(length).build()


def crash_workers(times: list[tuple[float, str]], back_after: float = 0.3, length: float = 40.0) -> Schedule:
    """Crash worker ``name`` at each ``(time, name)``; it comes back ``back_after`` seconds later."""
    b = builder("crashing workers")
    for at, name in times:
        b = b.at(at).crash(name).at(at + back_after).restart(name)
    return b.duration(length).build()


def job_time(run: RunResult) -> float | None:
    """Seconds from the job's submission to the client's "done" (``None``: it never finished)."""
    ops = [h for h in run.history if h["type"] in ("invoke", "ok")]
    return ops[1]["time"] - ops[0]["time"] if len(ops) > 1 and ops[1]["type"] == "ok" else None


def task_table(run: RunResult) -> list[dict[str, object]]:
    """One row per task attempt: worker, task, attempt, start, end, how it ended."""
    return [{"worker": a.worker, "task": f"{a.kind} {a.number}", "attempt": a.nth,
             "start (s)": round(a.start, 3), "end (s)": round(a.end, 3), "ended": a.outcome}
            for a in attempts(run.trace)]


def shuffle_bytes(run: RunResult) -> int:
    """Bytes of intermediate files written (what the shuffle moves from map to reduce workers)."""
    return sum(int(e.get("bytes", 0)) for e in run.trace
               if e["type"] == "file" and e.get("op") == "written" and _intermediate(e, run))


def _intermediate(e: dict[str, object], run: RunResult) -> bool:
    name = str(e.get("name", ""))
    renamed = {str(x.get("name")): str(x.get("to")) for x in run.trace if x["type"] == "file" and x.get("op") == "rename"}
    final = renamed.get(name, name)
    return final.startswith("mr-") and not final.startswith("mr-out-")


def torn_files(run: RunResult) -> list[str]:
    """What the lab's check says about files left half-written under trusted names."""
    return [str(f) for f in no_torn_files(run)]


def correct(run: RunResult) -> bool:
    """Does the output equal a sequential run's?"""
    return not output_correct(run)


def with_seconds(lab_: Lab, seconds: float) -> Lab:
    """The same cluster with runs ``seconds`` long."""
    assert lab_.workload is not None
    return dataclasses.replace(lab_, min_duration=seconds,
                               workload=dataclasses.replace(lab_.workload, timeout=seconds - 0.5))
