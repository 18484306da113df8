"""Clients that resend a request when the answer is late, and what their timing does to a server
that hiccups.

The server ``n1`` has one worker taking 4 to 6 ms a request (about 200 a second) and an unbounded
queue; it serves every copy of a request it receives (it cannot tell a resent request from a new
one: chapter 2 is about that). Ten clients each send a request, wait, think 100 ms, and go on:
the server is less than half busy. The schedule :func:`gc_pause` freezes the server for half a
second, as a long garbage-collection pause would; requests that arrive meanwhile wait for it.

A client's :data:`Policy` says how long to wait before sending the same request again, given how
many times it has already been sent:

* :func:`fixed` resends every 30 ms, however long the silence lasts;
* :func:`backoff` doubles the wait each time (30, 60, 120 ms...) up to a cap, and with ``jitter``
  waits a random time between half of that and all of it, so that clients that were cut off
  together do not all come back at the same instant.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labs.runtime.lab import Lab, RunResult, Workload
from labs.runtime.node import Clerk, Op, on, on_timer
from labs.runtime.schedule import Schedule, builder

from .measure import in_server, latencies, latency_stats, outcomes, sent
from .worker import Worker

SERVICE = (0.004, 0.006)
BASE = 0.03
CAP = 1.0

Policy = Callable[[int, random.Random], float | None]
"""``policy(attempt, rng)``: seconds to wait after the ``attempt``-th send (1 for the first)
before sending again, or ``None`` to stop resending and just wait."""


def never(attempt: int, rng: random.Random) -> float | None:
    """Send once and wait (the workload's timeout ends the operation)."""
    return None


def fixed(attempt: int, rng: random.Random) -> float | None:
    """Resend every :data:`BASE` seconds."""
    return BASE


def backoff(jitter: bool = True, base: float = BASE, cap: float = CAP) -> Policy:
    """Wait ``base``, then twice as long after each send, never more than ``cap``; with
    ``jitter``, a random time between half of that and all of it."""

    def policy(attempt: int, rng: random.Random) -> float | None:
        delay = min(cap, base * 2 ** (attempt - 1))
        return rng.uniform(delay / 2, delay) if jitter else delay

    policy.__name__ = f"backoff{'' if jitter else '_no_jitter'}"
    return policy


@dataclass(frozen=True)
class Call:
    req: int
    attempt: int


@dataclass(frozen=True)
class Reply:
    req: int


@dataclass(frozen=True)
class TryAgain:
    req: int


@dataclass
class Copy:
    client: str
    req: int


class Server(Worker):
    """Serves every copy of every request, in arrival order."""

    @on(Call)
    def handle_call(self, msg: Call, sender: str) -> None:
        self.admit(Copy(sender, msg.req))

    def service_time(self, job: Any) -> float:
        return self.random.uniform(*SERVICE)

    def finished(self, job: Any) -> None:
        self.send(job.client, Reply(job.req))


class RetryingClerk(Clerk):
    """Sends a request and resends it as its ``policy`` says, until a reply comes."""

    policy: Policy = never

    def on_start(self) -> None:
        self.req = self.random.randrange(1 << 40)  # random start: never mistake a late answer for ours
        self.waiting = False
        self.attempt = 0

    def on_invoke(self, op: Op) -> None:
        self.req += 1
        self.waiting = True
        self.attempt = 0
        self.send_again()

    def send_again(self) -> None:
        self.attempt += 1
        self.send(self.nodes[0], Call(self.req, self.attempt))
        delay = type(self).policy(self.attempt, self.random)
        if delay is not None:
            self.set_timer(delay, TryAgain(self.req))

    @on_timer(TryAgain)
    def try_again(self, timer: TryAgain) -> None:
        if self.waiting and timer.req == self.req:
            self.send_again()

    @on(Reply)
    def handle_reply(self, msg: Reply, sender: str) -> None:
        if self.waiting and msg.req == self.req:
            self.waiting = False
            self.complete()


def lab(policy: Policy = never, clients: int = 10, timeout: float = 2.0) -> Lab:
    """The server and ``clients`` clients resending as ``policy`` says."""
    clerk = type("RetryingClerk", (RetryingClerk,), {"policy": staticmethod(policy),
                                                     "__module__": __name__})

    def next_op(rng: random.Random, client: int) -> Op:
        return Op("call")

    name = getattr(policy, "__name__", "policy")
    return Lab(name="ch0-retries", description=f"{clients} clients resending with {name}",
               node=Server, clerk=clerk, nodes=1,
               workload=Workload(generate=next_op, clients=clients, timeout=timeout, think=0.1),
               min_duration=1.0, settle=0.0)


def gc_pause(at: float = 1.0, length: float = 0.5, duration: float = 6.0,
             loss: float = 0.01) -> Schedule:
    """The server freezes at ``at`` for ``length`` seconds; the run lasts ``duration``. The
    network loses ``loss`` of the messages, which is why clients resend at all."""
    return (builder("gc-pause", f"the server stops for {length:g} s, as in a long GC pause")
            .loss(loss).at(at).pause("n1", length).duration(duration).build())


def backlog(run: RunResult) -> list[tuple[float, float]]:
    """Copies of requests inside the server (waiting or being served) over time."""
    return in_server(run, "n1", "Call", "Reply")


def recovered_at(run: RunResult, after: float, level: int = 3) -> float | None:
    """The first time after ``after`` when the server holds at most ``level`` copies again
    (``None``: never, in this run)."""
    for t, n in backlog(run):
        if t > after and n <= level:
            return t
    return None


def storm_row(name: str, run: RunResult, pause_end: float) -> dict[str, Any]:
    """The numbers the chapter compares for one run."""
    ops = outcomes(run)
    lat = latency_stats(latencies(run))
    back = recovered_at(run, pause_end)
    calls = sent(run, "Call")
    return {"policy": name, "requests sent": calls,
            "copies per answer": round(calls / max(1, ops["ok"]), 2),
            "ok": ops["ok"], "unknown": ops["info"],
            "p99 ms": round(lat["p99"] * 1000, 1),
            "drained after pause (s)": None if back is None else round(back - pause_end, 2)}
