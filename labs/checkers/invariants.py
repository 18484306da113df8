"""Invariants over traces: what a lab declares must hold at every moment of every run.

A trace is the list of events a run leaves behind (format: :mod:`labs.runtime.trace`). An
:class:`Invariant` has a name, a sentence saying what must hold, and a function that reads the
trace and yields a :class:`Violation` for each place where it does not, with the few events that
show it. Three shapes come up in every lab, so they have helpers:

* :func:`at_most_one_per`: at most one leader per term;
* :func:`all_agree`: every node applies the same command at each log index;
* :func:`output_equals`: the output equals a reference (MapReduce against a sequential run).

Most protocol facts reach the trace through ``self.log(...)`` lines whose wording the lab
chooses; :func:`log_matches` turns such lines into fields::

    ONE_LEADER = at_most_one_per(
        "one leader per term", "no two nodes are elected leader for the same term",
        log_matches(r"became leader for term (?P<term>\\d+)", term=int), per="term")

    LAB = Lab(..., checks=(no_node_errors, as_check(ONE_LEADER, SAME_COMMANDS)))

Invariants read the trace only, so the same ones check a simulated run, a Ray run and a trace
file (:func:`labs.runtime.trace.read_trace`) after the fact.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from labs.runtime.lab import Check, Finding, RunResult

Event = dict[str, Any]
Fields = Mapping[str, Any]
Match = Callable[[Event], Fields | None]
"""Picks the events an invariant is about, and the fields it compares (``None``: not one of them)."""


@dataclass(frozen=True)
class Violation:
    """One place where an invariant does not hold: what is wrong, and the events that show it.

    An invariant's function fills ``message`` and ``events``; :func:`check_invariants` adds the
    invariant's name and where each event sits in the trace (its line in the trace file).
    """

    message: str
    events: tuple[Event, ...] = ()
    invariant: str = ""
    lines: tuple[int | None, ...] = ()

    def render(self, named: bool = True) -> str:
        """The message (after the invariant's name, if ``named``), then one event per line."""
        head = f"{self.invariant}: {self.message}" if named and self.invariant else self.message
        lines = self.lines or (None,) * len(self.events)
        shown = [f"    {describe_event(e, n)}" for e, n in zip(self.events, lines, strict=True)]
        return "\n".join([head, *shown])

    def to_dict(self) -> dict[str, Any]:
        lines = self.lines or (None,) * len(self.events)
        return {"invariant": self.invariant, "message": self.message,
                "events": [{"line": n, "event": e} for e, n in zip(self.events, lines, strict=True)]}


@dataclass(frozen=True)
class Invariant:
    """A property of a whole trace: ``find(trace)`` yields a :class:`Violation` where it breaks."""

    name: str
    description: str
    find: Callable[[Sequence[Event]], Iterable[Violation]]

    def check(self, trace: Sequence[Event]) -> list[Violation]:
        """The violations in ``trace``, named and with the trace lines of their events."""
        try:
            found = list(self.find(trace))
        except Exception as exc:
            exc.add_note(f"while checking the invariant {self.name!r}")
            raise
        if not found:
            return []
        where = {id(e): i + 1 for i, e in enumerate(trace)}
        return [replace(v, invariant=self.name, events=tuple(v.events),
                        lines=tuple(where.get(id(e)) for e in v.events)) for v in found]


@dataclass(frozen=True)
class InvariantReport:
    """The invariants checked over one trace and the violations found (empty: all held)."""

    invariants: tuple[Invariant, ...]
    violations: tuple[Violation, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.violations

    def render(self, limit: int = 5) -> str:
        """One line per invariant, and under a broken one its first ``limit`` violations."""
        out = []
        for inv in self.invariants:
            mine = [v for v in self.violations if v.invariant == inv.name]
            if not mine:
                out.append(f"held   {inv.name}")
                continue
            out.append(f"BROKEN {inv.name} ({inv.description}): {len(mine)} violation(s)")
            for v in mine[:limit]:
                out.append("  " + v.render(named=False).replace("\n", "\n  "))
            if len(mine) > limit:
                out.append(f"  ... and {len(mine) - limit} more")
        return "\n".join(out)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok,
                "invariants": [{"name": i.name, "description": i.description,
                                "held": all(v.invariant != i.name for v in self.violations)}
                               for i in self.invariants],
                "violations": [v.to_dict() for v in self.violations]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str)


def check_invariants(trace: Sequence[Event], invariants: Iterable[Invariant]) -> InvariantReport:
    """Check every invariant over one trace."""
    invs = tuple(invariants)
    return InvariantReport(invs, tuple(v for inv in invs for v in inv.check(trace)))


def as_check(*invariants: Invariant) -> Check:
    """A lab check (``Lab.checks``) that reports each violation of these invariants as one entry."""

    def check(run: RunResult) -> list[Finding]:
        found = []
        for v in check_invariants(run.trace, invariants).violations:
            first, _, rest = v.render().partition("\n")
            found.append(Finding(first, rest))
        return found

    check.__doc__ = "; ".join(f"{i.name}: {i.description}" for i in invariants)
    return check


# -- showing events -----------------------------------------------------------------------

_SHOWN_FIRST = ("t", "node", "type")


def describe_event(event: Event, line: int | None = None, width: int = 60) -> str:
    """One event on one line: ``line 812  t=1.204417  n3  log  elected for epoch 8``."""
    parts = [f"line {line}" if line is not None else "",
             f"t={event['t']:.6f}" if isinstance(event.get("t"), int | float) else "",
             str(event.get("node", "")), str(event.get("type", "?"))]
    if event.get("type") == "log":
        parts.append(str(event.get("text", "")))
    else:
        for k, v in event.items():
            if k not in _SHOWN_FIRST:
                shown = json.dumps(v, default=str) if not isinstance(v, str) else v
                parts.append(f"{k}={shown if len(shown) <= width else shown[:width - 3] + '...'}")
    return "  ".join(p for p in parts if p)


# -- helpers for the common shapes --------------------------------------------------------


def log_matches(pattern: str, **convert: Callable[[str], Any]) -> Match:
    """Match ``log`` events whose text contains ``pattern`` (a regular expression).

    The fields are the pattern's named groups (``convert`` maps a group's name to a function such
    as ``int`` to apply to it), plus the event's ``node`` and ``t``.
    """
    regex = re.compile(pattern)

    def match(event: Event) -> Fields | None:
        if event.get("type") != "log":
            return None
        m = regex.search(str(event.get("text", "")))
        if m is None:
            return None
        groups = {k: convert[k](v) if k in convert and v is not None else v
                  for k, v in m.groupdict().items()}
        return {"node": event.get("node"), "t": event.get("t"), **groups}

    return match


def _matches(trace: Sequence[Event], match: Match) -> Iterable[tuple[Fields, Event]]:
    for e in trace:
        fields = match(e)
        if fields is not None:
            yield fields, e


def _first_of_each(rows: Iterable[tuple[Any, Event]]) -> dict[Any, Event]:
    """The first event seen for each distinct value (in trace order)."""
    first: dict[Any, Event] = {}
    for value, e in rows:
        first.setdefault(value, e)
    return first


def at_most_one_per(name: str, description: str, match: Match, per: str,
                    one: str = "node") -> Invariant:
    """At most one distinct value of the field ``one`` among the matched events sharing ``per``.

    For "at most one leader per term", match the lines that announce a leader, ``per="term"``
    and ``one="node"``. A violation shows, for each distinct value, the first event giving it.
    """

    def find(trace: Sequence[Event]) -> Iterator[Violation]:
        groups: dict[Any, list[tuple[Any, Event]]] = {}
        for fields, e in _matches(trace, match):
            groups.setdefault(fields[per], []).append((fields[one], e))
        for key, rows in groups.items():
            first = _first_of_each(rows)
            if len(first) > 1:
                yield Violation(f"{len(first)} different {one}s for {per} {key}: "
                                f"{', '.join(map(str, first))}", tuple(first.values()))

    return Invariant(name, description, find)


def all_agree(name: str, description: str, match: Match, at: str, value: str,
              who: str = "node") -> Invariant:
    """Every matched event with the same ``at`` (a log index) has the same ``value`` (a command).

    A violation shows the first event of each distinct value, and says whose it was (``who``).
    """

    def find(trace: Sequence[Event]) -> Iterator[Violation]:
        groups: dict[Any, list[tuple[Any, Event]]] = {}
        whose: dict[int, Any] = {}
        for fields, e in _matches(trace, match):
            groups.setdefault(fields[at], []).append((fields[value], e))
            whose[id(e)] = fields.get(who)
        for key, rows in groups.items():
            first = _first_of_each(rows)
            if len(first) > 1:
                said = ", ".join(f"{whose[id(e)]} has {v!r}" for v, e in first.items())
                values = value[:-1] + "ies" if value.endswith("y") else value + "s"
                yield Violation(f"different {values} at {at} {key}: {said}", tuple(first.values()))

    return Invariant(name, description, find)


def output_equals(name: str, description: str, match: Match, key: str, value: str,
                  expected: Mapping[Any, Any] | Callable[[Sequence[Event]], Mapping[Any, Any]]) -> Invariant:
    """The output, as ``key -> value`` pairs from the matched events, equals a reference.

    ``expected`` is the reference mapping, or a function computing it from the trace (for
    example a sequential run over the input the header describes). Each wrong, missing, extra or
    contradictory key is one violation; a missing key has no event to show.
    """

    def find(trace: Sequence[Event]) -> Iterator[Violation]:
        want = expected(trace) if callable(expected) else expected
        got: dict[Any, tuple[Any, Event]] = {}
        for fields, e in _matches(trace, match):
            k, v = fields[key], fields[value]
            if k in got and got[k][0] != v:
                yield Violation(f"{key} {k!r} was output twice, as {got[k][0]!r} and as {v!r}",
                                (got[k][1], e))
            got.setdefault(k, (v, e))
        for k, (v, e) in got.items():
            if k not in want:
                yield Violation(f"{key} {k!r} is in the output ({v!r}) but not in the reference", (e,))
            elif want[k] != v:
                yield Violation(f"{key} {k!r} is {v!r}, the reference has {want[k]!r}", (e,))
        for k in want:
            if k not in got:
                yield Violation(f"{key} {k!r} is missing from the output (the reference has {want[k]!r})")

    return Invariant(name, description, find)
