"""Chapter 1's live demos: a small MapReduce of the chapter's own, on the lab runtime.

It is built differently from the lab on purpose, so that it shows the ideas without being an answer
to copy: the coordinator **pushes** tasks to workers that announced themselves (the lab's workers
ask), it notices a silent task with one timer per hand-out (the lab's coordinator sweeps), and the
coordinator, not the worker, decides which attempt's files count, as in the MapReduce paper: a
worker writes under names of its own and reports them; the first report of a task wins, a map's
files are then simply remembered for the reduces, and a reduce's file is renamed to ``mr-out-r``.
Its messages are its own; two of them are named ``Task`` and ``TaskDone``, with the task's ``kind``
and ``number``, so that the lab's picture of who ran which task, and the lab's checks of the output
and of torn files, read these runs too.

* :func:`lab` builds a cluster: a coordinator (``n1``) and ``workers`` workers, running ``app``
  over ``corpus``. The coordinator takes a task back after ``timeout`` seconds without a report
  (``None``: never), or, when the chapter's exercise plugs an ``overdue`` rule in, whenever that
  rule says so; it may hand a **backup** copy of the longest-running task to an idle worker
  (``backups``). Workers write under private names (``atomic``) or straight under the names
  readers trust (``atomic=False``).
* :func:`crash_workers` and :func:`clean` are schedules; :func:`job_time`, :func:`task_table`,
  :func:`shuffle_bytes`, :func:`torn_files` and :func:`correct` read a finished run.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from labs.checkers import pair_calls
from labs.mapreduce.attempts import attempts
from labs.mapreduce.checks import no_torn_files, output_correct
from labs.mapreduce.client import report
from labs.mapreduce.corpus import read_books
from labs.mapreduce.mr import decode_pairs, encode_pairs, format_output, ihash, load_app
from labs.mapreduce.workloads import job
from labs.runtime.files import Work
from labs.runtime.lab import Lab, RunResult, Workload
from labs.runtime.node import Clerk, Node, Op, SharedFiles, on, on_timer
from labs.runtime.roles import by_name
from labs.runtime.schedule import Schedule, builder

COORDINATOR = "n1"
LOOK_EVERY = 0.25
"""How often a coordinator with a plugged-in ``overdue`` rule asks it."""

Overdue = Callable[[dict[str, float], float, float], list[str]]
"""``overdue(started, now, timeout)``: the running tasks (name -> when handed out) to take back."""


# -- the chapter's protocol ------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """The client's job: ``app`` over the shared files ``inputs``, in ``reduces`` partitions."""

    app: str
    inputs: tuple[str, ...]
    reduces: int


@dataclass(frozen=True)
class JobOver:
    """The coordinator to the client: every output file is in place."""


@dataclass(frozen=True)
class Hello:
    """A worker that just started: "I am here, and idle"."""


@dataclass(frozen=True)
class Task:
    """Run map ``number`` over ``sources[0]``, or reduce ``number`` over the map files ``sources``."""

    kind: str
    number: int
    app: str
    sources: tuple[str, ...]
    reduces: int


@dataclass(frozen=True)
class TaskDone:
    """A worker finished a task and wrote ``files`` (under its own names, or the trusted ones)."""

    kind: str
    number: int
    files: tuple[str, ...]


@dataclass(frozen=True)
class Deadline:
    """Timer: hand-out number ``round`` of task ``name`` has had its time."""

    name: str
    round: int


@dataclass(frozen=True)
class Look:
    """Timer: ask the plugged-in ``overdue`` rule which tasks to take back."""


@dataclass(frozen=True)
class Resend:
    """Timer: the client sends its job again until the coordinator answers."""


# -- the client ------------------------------------------------------------------------------


class Client(SharedFiles, Clerk):
    """Copies the corpus into the shared files, submits the job until it is over, reads the output."""

    def on_start(self) -> None:
        self.job: Job | None = None

    def on_invoke(self, op: Op) -> None:
        spec = op.value if isinstance(op.value, dict) else {}
        books = read_books(str(spec.get("corpus", "small")))
        for name, text in books.items():
            self.files.write(f"input/{name}", text)
        self.job = Job(str(op.key), tuple(f"input/{name}" for name in books), int(spec.get("reduces", 4)))
        self.handle_resend(Resend())

    @on_timer(Resend)
    def handle_resend(self, timer: Resend) -> None:
        if self.job is not None:
            self.send(COORDINATOR, self.job)
            self.set_timer(0.5, Resend())

    @on(JobOver)
    def handle_over(self, msg: JobOver, sender: str) -> None:
        if self.job is not None:
            self.job = None
            self.complete(report({name: self.files.read(name) for name in self.files.list("mr-out-")}))


# -- the coordinator -------------------------------------------------------------------------


class Coordinator(SharedFiles, Node):
    timeout: float | None = 2.0
    backups = False
    overdue: Overdue | None = None

    def on_start(self) -> None:
        self.job: Job | None = None
        self.owner = ""
        self.idle: dict[str, None] = {}              # workers with nothing to do, in the order they came
        self.waiting: list[str] = []                 # tasks ("map-3", "reduce-1") to hand out
        self.handed: dict[str, float] = {}           # handed out and not done: when (first copy)
        self.copies: dict[str, int] = {}             # handed out and not done: how many copies run
        self.rounds: dict[str, int] = defaultdict(int)
        self.committed: dict[str, tuple[str, ...]] = {}  # done: the files of the attempt that counts
        if type(self).overdue is not None:
            self.set_timer(LOOK_EVERY, Look())

    @on(Job)
    def handle_job(self, msg: Job, sender: str) -> None:
        if self.job is None:
            self.job, self.owner = msg, sender
            self.waiting = [f"map-{m}" for m in range(len(msg.inputs))]
            self.dispatch()
        elif self.all_done():
            self.send(sender, JobOver())

    @on(Hello)
    def handle_hello(self, msg: Hello, sender: str) -> None:
        self.idle[sender] = None
        self.dispatch()

    @on(TaskDone)
    def handle_done(self, msg: TaskDone, sender: str) -> None:
        name = f"{msg.kind}-{msg.number}"
        if self.job is not None and name not in self.committed:  # the first report wins
            self.commit(name, msg)
        self.idle[sender] = None
        self.dispatch()

    def commit(self, name: str, msg: TaskDone) -> None:
        assert self.job is not None
        if msg.kind == "reduce" and msg.files[0] != f"mr-out-{msg.number}":
            self.files.rename(msg.files[0], f"mr-out-{msg.number}")
        self.committed[name] = msg.files
        self.handed.pop(name, None)
        self.copies.pop(name, None)
        if name in self.waiting:
            self.waiting.remove(name)
        if msg.kind == "map" and all(f"map-{m}" in self.committed for m in range(len(self.job.inputs))):
            self.waiting = [f"reduce-{r}" for r in range(self.job.reduces)]
        if self.all_done():
            self.send(self.owner, JobOver())

    def all_done(self) -> bool:
        return self.job is not None and all(f"reduce-{r}" in self.committed for r in range(self.job.reduces))

    def dispatch(self) -> None:
        """Give every idle worker a task while there are any (or a backup copy, if allowed)."""
        while self.idle and self.job is not None:
            if self.waiting:
                name = self.waiting.pop(0)
            elif self.backups and any(n == 1 for n in self.copies.values()):
                name = min((n for n, c in self.copies.items() if c == 1), key=self.handed.__getitem__)
            else:
                return
            worker = next(iter(self.idle))
            del self.idle[worker]
            self.hand(name, worker)

    def hand(self, name: str, worker: str) -> None:
        assert self.job is not None
        kind, number = name.split("-")
        m = int(number)
        if kind == "map":
            sources: tuple[str, ...] = (self.job.inputs[m],)
        else:
            sources = tuple(self.committed[f"map-{i}"][m] for i in range(len(self.job.inputs)))
        self.handed.setdefault(name, self.now())
        self.copies[name] = self.copies.get(name, 0) + 1
        self.rounds[name] += 1
        self.send(worker, Task(kind, m, self.job.app, sources, self.job.reduces))
        if self.timeout is not None and type(self).overdue is None:
            self.set_timer(self.timeout, Deadline(name, self.rounds[name]))

    def take_back(self, name: str) -> None:
        """The task's workers may be dead or crawling: hand it out again (their report still counts)."""
        if name in self.handed and name not in self.committed:
            del self.handed[name]
            del self.copies[name]
            self.waiting.append(name)
            self.dispatch()

    @on_timer(Deadline)
    def handle_deadline(self, timer: Deadline) -> None:
        if self.rounds[timer.name] == timer.round:
            self.take_back(timer.name)

    @on_timer(Look)
    def handle_look(self, timer: Look) -> None:
        rule = type(self).overdue
        if rule is not None and self.timeout is not None:
            for name in rule(dict(self.handed), self.now(), self.timeout):
                self.take_back(name)
        self.set_timer(LOOK_EVERY, Look())


# -- the workers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Wrote:
    """What a worker's work returns: the task, and the files it wrote."""

    kind: str
    number: int
    files: tuple[str, ...]


class Worker(SharedFiles, Node):
    atomic = True

    def on_start(self) -> None:
        self.busy = False
        self.send(COORDINATOR, Hello())

    @on(Task)
    def handle_task(self, msg: Task, sender: str) -> None:
        if not self.busy:
            self.busy = True
            self.start_work(run_task, msg, type(self).atomic)

    @on(Wrote)
    def handle_wrote(self, msg: Wrote, sender: str) -> None:
        self.busy = False
        self.send(COORDINATOR, TaskDone(msg.kind, msg.number, msg.files))


def run_task(work: Work, task: Task, atomic: bool) -> Wrote:
    """Run one map or reduce; write each file under this attempt's own folder, or in place."""
    folder = f"attempts/{work.node}.{work.random.getrandbits(32):08x}/" if atomic else ""
    application = load_app(task.app)
    out: dict[str, list[tuple[str, str]]] = {}
    if task.kind == "map":
        (source,) = task.sources
        out = {f"mr-{task.number}-{r}": [] for r in range(task.reduces)}
        for key, value in application.map(work, source, work.files.read(source)):
            out[f"mr-{task.number}-{ihash(key) % task.reduces}"].append((key, value))
        texts = {name: encode_pairs(pairs) for name, pairs in out.items()}
    else:
        grouped: dict[str, list[str]] = defaultdict(list)
        for source in task.sources:
            for key, value in decode_pairs(work.files.read(source)):
                grouped[key].append(value)
        texts = {f"mr-out-{task.number}": format_output((k, application.reduce(work, k, grouped[k])) for k in sorted(grouped))}
    for name, text in texts.items():
        work.files.write(folder + name, text)
    return Wrote(task.kind, task.number, tuple(folder + name for name in texts))


# -- clusters and schedules ------------------------------------------------------------------


def lab(workers: int = 3, app: str = "wc", corpus: str = "small", reduces: int = 4,
        timeout: float | None = 2.0, backups: bool = False, atomic: bool = True,
        overdue: Overdue | None = None, length: float = 40.0) -> Lab:
    """A cluster of one coordinator and ``workers`` workers running one job (see the module docstring)."""
    coordinator = type("Coordinator", (Coordinator,), {
        "timeout": timeout, "backups": backups, "overdue": None if overdue is None else staticmethod(overdue)})
    worker = type("Worker", (Worker,), {"atomic": atomic})
    node = by_name("ChapterMapReduce", {COORDINATOR: coordinator}, default=worker)
    return Lab(name="mapreduce", description="the chapter's MapReduce", node=node, clerk=Client,
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


# -- reading a finished run ------------------------------------------------------------------


def job_time(run: RunResult) -> float | None:
    """Seconds from the job's submission to the client's "done" (``None``: it never finished)."""
    call, done = next(pair_calls(run.history), (None, None))
    return done["time"] - call["time"] if call is not None and done is not None and done["type"] == "ok" else None


def task_table(run: RunResult) -> list[dict[str, object]]:
    """One row per task attempt: worker, task, attempt, start, end, how it ended."""
    return [{"worker": a.worker, "task": f"{a.kind} {a.number}", "attempt": a.nth,
             "start (s)": round(a.start, 3), "end (s)": round(a.end, 3), "ended": a.outcome}
            for a in attempts(run.trace)]


MAP_FILE = re.compile(r"(.*/)?mr-\d+-\d+")


def shuffle_bytes(run: RunResult) -> int:
    """Bytes of map output written (what the shuffle moves from map to reduce workers)."""
    return sum(int(e.get("bytes", 0)) for e in run.trace
               if e["type"] == "file" and e.get("op") == "written" and MAP_FILE.fullmatch(str(e.get("name", ""))))


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
