"""A request path: clients ask a front end, which asks every backend and waits for them all.

This is how a search engine, a feed or a page made of many services answers: one user request
fans out to many machines. Its latency is that of the *slowest* machine asked, so a rare hiccup
on any one of them becomes a common delay for users.

``n1`` is the front end, ``n2``... are the backends. Each backend works on a lookup for 2 to 4 ms,
and (with probability ``hiccup[node]``) sometimes for 100 to 200 ms instead: a garbage-collection
pause, a slow disk, a noisy neighbour. Backends serve lookups in parallel (no queue), so hiccups
are independent. With a ``deadline`` the front end stops waiting and answers with the results it
has: a partial answer rather than a late one. A backend in ``noisy`` writes alarming log lines now
and then about a problem that costs nothing, as real logs do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from labs.runtime.lab import Lab, RunResult, Workload
from labs.runtime.node import Clerk, Node, Op, on, on_timer
from labs.runtime.schedule import Schedule, builder

from .measure import latency_stats

BASE = (0.002, 0.004)
"""A normal lookup's work, in seconds (uniform)."""
HICCUP = (0.1, 0.2)
"""A slow lookup's work, in seconds (uniform)."""


@dataclass(frozen=True)
class Query:
    req: int


@dataclass(frozen=True)
class Lookup:
    qid: int


@dataclass(frozen=True)
class Found:
    qid: int


@dataclass(frozen=True)
class Answer:
    req: int
    shards: int
    of: int


@dataclass(frozen=True)
class LookupDone:
    qid: int
    frontend: str


@dataclass(frozen=True)
class Deadline:
    qid: int


@dataclass
class Pending:
    client: str
    req: int
    answered: set[str] = field(default_factory=set)
    timer: int | None = None


class SearchNode(Node):
    """The front end (``n1``) or a backend (any other node), by name."""

    hiccup: Mapping[str, float] = {}
    deadline: float | None = None
    noisy: Mapping[str, float] = {}

    def on_start(self) -> None:
        self.pending: dict[int, Pending] = {}
        self.next_qid = 0

    def backends(self) -> tuple[str, ...]:
        return self.nodes[1:]

    # -- the front end ----------------------------------------------------------------------

    @on(Query)
    def handle_query(self, msg: Query, sender: str) -> None:
        self.next_qid += 1
        p = Pending(sender, msg.req)
        self.pending[self.next_qid] = p
        for b in self.backends():
            self.send(b, Lookup(self.next_qid))
        if self.deadline is not None:
            p.timer = self.set_timer(self.deadline, Deadline(self.next_qid))

    @on(Found)
    def handle_found(self, msg: Found, sender: str) -> None:
        p = self.pending.get(msg.qid)
        if p is None:
            return  # already answered without it
        p.answered.add(sender)
        if len(p.answered) == len(self.backends()):
            if p.timer is not None:
                self.cancel_timer(p.timer)
            self.answer(msg.qid)

    @on_timer(Deadline)
    def handle_deadline(self, timer: Deadline) -> None:
        if timer.qid in self.pending:
            self.answer(timer.qid)

    def answer(self, qid: int) -> None:
        p = self.pending.pop(qid)
        self.send(p.client, Answer(p.req, len(p.answered), len(self.backends())))

    # -- a backend --------------------------------------------------------------------------

    @on(Lookup)
    def handle_lookup(self, msg: Lookup, sender: str) -> None:
        slow = self.random.random() < self.hiccup.get(self.id, 0.0)
        work = self.random.uniform(*(HICCUP if slow else BASE))
        if self.random.random() < self.noisy.get(self.id, 0.0):
            for attempt in (1, 2, 3):
                self.log(f"WARN checksum mismatch reading index block, retry {attempt}/3")
            work += 0.0005
        self.set_timer(work, LookupDone(msg.qid, sender))

    @on_timer(LookupDone)
    def lookup_done(self, timer: LookupDone) -> None:
        self.send(timer.frontend, Found(timer.qid))


class SearchClerk(Clerk):
    """Sends the query to the front end; the result is ``{"shards": answered, "of": asked}``."""

    def on_start(self) -> None:
        self.req = self.random.randrange(1 << 40)  # random start: never mistake a late answer for ours

    def on_invoke(self, op: Op) -> None:
        self.req += 1
        self.send(self.nodes[0], Query(self.req))

    @on(Answer)
    def handle_answer(self, msg: Answer, sender: str) -> None:
        if msg.req == self.req:
            self.complete({"shards": msg.shards, "of": msg.of})


def lab(backends: int = 4, hiccup: Mapping[str, float] | float = 0.0,
        deadline: float | None = None, noisy: Mapping[str, float] | None = None,
        clients: int = 4) -> Lab:
    """A front end and ``backends`` backends (``n2``...).

    ``hiccup`` is a slow-lookup probability per backend name, or one number for every backend;
    ``deadline`` (seconds) makes the front end answer with what it has by then.
    """
    names = [f"n{i}" for i in range(2, backends + 2)]
    slow = {n: float(hiccup) for n in names} if isinstance(hiccup, int | float) else dict(hiccup)
    attrs: dict[str, Any] = {"hiccup": slow, "deadline": deadline, "noisy": dict(noisy or {}),
                             "__module__": __name__}
    node = type("SearchNode", (SearchNode,), attrs)
    return Lab(
        name="ch0-search",
        description=f"a front end fanning out to {backends} backends",
        node=node, clerk=SearchClerk, nodes=backends + 1,
        workload=Workload(generate=lambda rng, c: Op("search"), clients=clients, timeout=1.0, think=0.02),
        min_duration=1.0, settle=0.5,
    )


def calm(duration: float = 4.0) -> Schedule:
    """A healthy network for ``duration`` seconds (the only delays are the backends')."""
    return builder("calm").duration(duration).build()


def lookup_times(run: RunResult) -> dict[str, list[float]]:
    """Per backend: how long each lookup took, from its arrival to the reply (from the trace).

    This is the *metric* a backend would export: one timing per request, summed up as
    percentiles, rather than a line of text per event.
    """
    qid_of = {e["id"]: (e["body"]["qid"], e["dst"]) for e in run.trace
              if e["type"] == "send" and e["msg"] == "Lookup"}
    arrived: dict[tuple[int, str], float] = {}
    out: dict[str, list[float]] = {n: [] for n in run.lab.node_names()[1:]}
    for e in run.trace:
        if e["type"] == "deliver" and e["id"] in qid_of:
            arrived[qid_of[e["id"]]] = e["t"]
        elif e["type"] == "send" and e["msg"] == "Found":
            t0 = arrived.get((e["body"]["qid"], e["node"]))
            if t0 is not None:
                out[e["node"]].append(e["t"] - t0)
    return out


def partial_answers(run: RunResult) -> int:
    """Answers that came back with fewer backends' results than were asked."""
    return sum(1 for h in run.history if h["type"] == "ok" and isinstance(h["value"], dict)
               and h["value"]["shards"] < h["value"]["of"])


def slow_share(samples: list[float], threshold: float = 0.05) -> float:
    """The share of latencies above ``threshold`` seconds."""
    return sum(1 for x in samples if x > threshold) / len(samples) if samples else 0.0


def backend_table_rows(run: RunResult) -> list[dict[str, Any]]:
    """One row per backend: its log lines and its lookup-time percentiles (ms)."""
    logs: dict[str, int] = {}
    for e in run.trace:
        if e["type"] == "log":
            logs[e["node"]] = logs.get(e["node"], 0) + 1
    rows = []
    for node, times in lookup_times(run).items():
        s = latency_stats(times)
        rows.append({"backend": node, "log lines": logs.get(node, 0), "lookups": len(times),
                     "p50 ms": round(s["p50"] * 1000, 1), "p99 ms": round(s["p99"] * 1000, 1),
                     "max ms": round(s["max"] * 1000, 1)})
    return rows

