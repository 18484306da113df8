"""One server, many clients, and a queue in between: what overload does, and what backpressure
does about it.

The server ``n1`` has one worker that takes 8 to 12 ms per job (about 100 jobs a second at
most). Each client sends a job, waits for the answer, pauses ``think`` seconds and sends the next;
after ``timeout`` seconds without an answer it gives up (the operation ends *unknown*) and a fresh
client takes its place. The job it gave up on stays in the server's queue: the server does not
know that nobody waits for it any more.

With ``limit=None`` the queue is unbounded. With a ``limit`` the server refuses a job at once
(``busy``) when that many are already waiting, and the client reports a failure: it learns in a
millisecond what it would otherwise have learnt by timing out. With ``drop_after`` the server
also throws away, unserved, jobs that waited longer than that (their clients have given up).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from labs.runtime.lab import Lab, RunResult, Workload
from labs.runtime.node import Clerk, Op, on
from labs.runtime.schedule import Schedule, builder

from .measure import in_server, outcomes
from .worker import Worker

SERVICE = (0.008, 0.012)
"""Seconds of work per job (uniform): the server completes about 100 jobs a second."""
CAPACITY = 100.0
"""Jobs a second the server can complete, at most: one over the mean of :data:`SERVICE`."""
TIMEOUT = 0.3
THINK = 0.05


@dataclass(frozen=True)
class Job:
    req: int


@dataclass(frozen=True)
class Done:
    req: int
    status: str  # "ok", "busy" (refused at once) or "expired" (thrown away unserved)


@dataclass
class Waiting:
    client: str
    req: int
    arrived: float


class QueueServer(Worker):
    """One worker, a FIFO queue (bounded by ``limit`` if set) and an optional expiry."""

    drop_after: float | None = None

    @on(Job)
    def handle_job(self, msg: Job, sender: str) -> None:
        if not self.admit(Waiting(sender, msg.req, self.now())):
            self.send(sender, Done(msg.req, "busy"))

    def service_time(self, job: Any) -> float:
        return self.random.uniform(*SERVICE)

    def finished(self, job: Any) -> None:
        self.send(job.client, Done(job.req, "ok"))

    def skip(self, job: Any) -> bool:
        if self.drop_after is not None and self.now() - job.arrived > self.drop_after:
            self.send(job.client, Done(job.req, "expired"))
            return True
        return False


class JobClerk(Clerk):
    """Sends one job and waits: ``ok`` completes the operation, ``busy`` fails it."""

    def on_start(self) -> None:
        # Request numbers start at a random point, so that a fresh client never takes an answer
        # meant for the client it replaced as its own (TCP picks its first sequence number so).
        self.req = self.random.randrange(1 << 40)

    def on_invoke(self, op: Op) -> None:
        self.req += 1
        self.send(self.nodes[0], Job(self.req))

    @on(Done)
    def handle_done(self, msg: Done, sender: str) -> None:
        if msg.req != self.req:
            return  # the answer to a job this client gave up on
        if msg.status == "ok":
            self.complete()
        else:
            self.fail(msg.status)


def lab(clients: int, limit: int | None = None, drop_after: float | None = None,
        timeout: float = TIMEOUT, think: float = THINK) -> Lab:
    """The server with ``clients`` clients; ``limit`` bounds its queue, ``drop_after`` expires
    jobs that waited too long."""
    node = type("QueueServer", (QueueServer,), {"limit": limit, "drop_after": drop_after,
                                                "__module__": __name__})

    def next_op(rng: random.Random, client: int) -> Op:
        return Op("job")

    what = "unbounded queue" if limit is None else f"queue of at most {limit}"
    return Lab(name="ch0-queue", description=f"one server, {what}, {clients} clients",
               node=node, clerk=JobClerk, nodes=1,
               workload=Workload(generate=next_op, clients=clients, timeout=timeout, think=think),
               min_duration=1.0, settle=0.0)


def steady(duration: float = 5.0) -> Schedule:
    """A clean network for ``duration`` seconds: nothing fails but the load."""
    return builder("steady").duration(duration).build()


def backlog(run: RunResult) -> list[tuple[float, float]]:
    """Jobs inside the server (waiting or being served) over time."""
    return in_server(run, "n1", "Job", "Done")


def goodput(run: RunResult) -> float:
    """Jobs completed ``ok`` per second of the run."""
    return outcomes(run)["ok"] / run.schedule.end()


def time_in_server(run: RunResult, start: float = 0.0, end: float = float("inf")) -> list[float]:
    """Seconds each job that arrived in ``[start, end)`` spent inside the server, from its
    arrival to the server's answer (served, refused or expired)."""
    jobs = {e["id"]: e["body"]["req"] for e in run.trace if e["type"] == "send" and e["msg"] == "Job"}
    arrived: dict[tuple[str, int], float] = {}
    out: list[float] = []
    for e in run.trace:
        if e["type"] == "deliver" and e["node"] == "n1" and e["id"] in jobs:
            arrived[(e["src"], jobs[e["id"]])] = e["t"]
        elif e["type"] == "send" and e["node"] == "n1" and e["msg"] == "Done":
            t0 = arrived.pop((e["dst"], e["body"]["req"]), None)
            if t0 is not None and start <= t0 < end:
                out.append(e["t"] - t0)
    return out


def wasted(run: RunResult) -> int:
    """Jobs the server served for clients that had already given up on them."""
    served = sum(1 for e in run.trace if e["type"] == "send" and e["msg"] == "Done"
                 and e["body"]["status"] == "ok")
    return served - outcomes(run)["ok"]
