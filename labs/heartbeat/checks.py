"""What the heartbeat lab's tests check, each reading a finished run (its trace) only.

Each answer the clerks got is judged against what really happened to the members, which the
trace knows and the monitor does not: when each member was down (crashed and not yet restarted),
paused, or cut off from the monitor by a partition. An answer is computed at some moment between
its question and its reply, so a claim holds only when it holds for that whole span:

* **complete**: a member down since long enough before the question (``TIMEOUT`` and a margin
  for messages still in flight, after both its crash and the monitor's own last start) must be in
  the answer;
* **accurate**: a member that was up, running and connected to the monitor for ``TIMEOUT``
  before the question and until the reply must not be: ten heartbeats in a row would have had to
  be lost.

Anything in between (a member crashed a moment ago, a paused one) may be answered either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from labs.checkers import pair_trace_calls
from labs.runtime.lab import Check, Finding, RunResult, no_node_errors
from labs.runtime.trace import Event

from .node import MONITOR, TIMEOUT

MARGIN = 0.1
"""Seconds allowed for heartbeats already in flight and for the monitor's view to catch up."""


@dataclass
class Member:
    """When one member was down, paused or cut off from the monitor: lists of [start, end)."""

    down: list[list[float]] = field(default_factory=list)
    unheard: list[list[float]] = field(default_factory=list)
    """Down, paused, cut off, or the monitor paused: times when the monitor could not hear it."""


@dataclass(frozen=True)
class Answer:
    client: str
    asked: float
    answered: float
    members: tuple[str, ...]


def members(run: RunResult) -> dict[str, Member]:
    """What happened to each member, from the trace's faults (open spans end at the run's end).

    A member is unheard while any cause holds: it is down, it is paused, it is cut off from the
    monitor, or the monitor itself is paused; each cause is followed on its own, so that one ending
    (a restart while the partition still holds) never hides another."""
    names = [n for n in run.lab.node_names() if n != MONITOR]
    out = {name: Member() for name in names}
    causes: dict[str, set[str]] = {name: set() for name in names}
    end = max((e["t"] for e in run.trace if "t" in e), default=0.0)
    for e in run.trace:
        kind, node, t = e["type"], e.get("node"), e.get("t", 0.0)
        before = {name: bool(c) for name, c in causes.items()}
        if node in out and kind == "crash":
            causes[node].discard("paused")  # a restart is a new process, not a resumed one
            causes[node].add("down")
            _open(out[node].down, t)
        elif node in out and kind == "restart":
            causes[node].discard("down")
            _close(out[node].down, t)
        elif kind in ("pause", "resume") and (node in out or node == MONITOR):
            cause = "monitor paused" if node == MONITOR else "paused"
            for name in names if node == MONITOR else [str(node)]:
                (causes[name].add if kind == "pause" else causes[name].discard)(cause)
        elif kind in ("partition", "heal"):
            blocked = {(a, b) for a, b in e.get("blocked", [])} if kind == "partition" else set()
            for name in names:
                (causes[name].add if (name, MONITOR) in blocked else causes[name].discard)("cut")
        for name, was in before.items():
            if bool(causes[name]) != was:
                (_open if causes[name] else _close)(out[name].unheard, t)
    for member in out.values():
        for spans in (member.down, member.unheard):
            if spans and len(spans[-1]) == 1:
                spans[-1].append(end)
    return out


def _open(spans: list[list[float]], t: float) -> None:
    if not spans or len(spans[-1]) == 2:
        spans.append([t])


def _close(spans: list[list[float]], t: float) -> None:
    if spans and len(spans[-1]) == 1:
        spans[-1].append(t)


def answers(trace: Sequence[Event]) -> list[Answer]:
    """Every question that got an answer, with its times, in the order the answers came."""
    out: list[Answer] = []
    for asked, done in pair_trace_calls(trace):
        if done is not None and done.get("outcome") == "ok":
            value = done.get("value")
            listed = tuple(str(m) for m in value) if isinstance(value, list) else ("(not a list)",)
            out.append(Answer(done["node"], asked["t"], done["t"], listed))
    return out


def monitor_started(run: RunResult) -> list[float]:
    return [e["t"] for e in run.trace if e.get("node") == MONITOR and e["type"] in ("start", "restart")]


def _covers(spans: list[list[float]], start: float, end: float) -> bool:
    return any(a <= start and end <= b for a, b in spans)


def _touches(spans: list[list[float]], start: float, end: float) -> bool:
    return any(a < end and start < b for a, b in spans)


def crashed_members_suspected(run: RunResult) -> list[Finding]:
    """Every answer names the members that had been down long enough before it was asked for."""
    found = members(run)
    starts = monitor_started(run)
    for a in answers(run.trace):
        since = max((t for t in starts if t <= a.asked), default=0.0)
        for name, m in found.items():
            settled = a.asked - TIMEOUT - MARGIN
            if name not in a.members and since <= settled and _covers(m.down, settled, a.answered):
                crash = next(s[0] for s in m.down if s[0] <= settled <= s[1])
                return [Finding(f"{a.client} asked at {a.asked:.3f} and was told {list(a.members)}, without "
                                f"{name}, down since {crash:.3f} ({a.asked - crash:.2f} s before the question, "
                                f"more than TIMEOUT = {TIMEOUT} s): does the monitor suspect silent members?")]
    return []


def living_members_trusted(run: RunResult) -> list[Finding]:
    """No answer names a member that was up and reachable the whole time before and during it."""
    found = members(run)
    for a in answers(run.trace):
        for name in a.members:
            m = found.get(name)
            if m is None:
                return [Finding(f"{a.client} was told {list(a.members)} at {a.answered:.3f}: {name!r} is not "
                                f"a member (the members are {', '.join(found)})")]
            if not _touches(m.unheard, a.asked - TIMEOUT, a.answered):
                return [Finding(f"{a.client} asked at {a.asked:.3f} and was told {list(a.members)}, but {name} "
                                f"was up and reachable from {a.asked - TIMEOUT:.3f} on, sending a heartbeat every "
                                "INTERVAL: does the monitor forget a member's last heartbeat, or suspect too soon?")]
    return []


def answers_arrive(run: RunResult) -> list[Finding]:
    """At least 90% of the questions get an answer (the clerk asks again until one comes)."""
    asked = sum(1 for e in run.trace if e["type"] == "invoke")
    got = len(answers(run.trace))
    if asked and got >= 0.9 * asked:
        return []
    return [Finding(f"{got} of {asked} questions got an answer: does the clerk ask again after RETRY "
                    "seconds when the question or its answer is lost?")]


CHECKS: dict[str, Check] = {
    "no-node-errors": no_node_errors,
    "answers-arrive": answers_arrive,
    "crashed-members-suspected": crashed_members_suspected,
    "living-members-trusted": living_members_trusted,
}
"""The checks a suite may name, by the name it uses."""
