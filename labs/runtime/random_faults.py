"""Random faults: the ``random:`` section of a schedule, a fault repeated every few seconds.

Each entry (``{every: 2.0, partition: random-halves, for: 1.0}``) becomes concrete events when a
schedule is bound to a cluster (:meth:`~labs.runtime.schedule.Schedule.expand`): when each fault
starts, and whom it hits, are drawn from the run's seed, so a seed replays the same faults.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .faults import ALL, ONE_WAY, RANDOM, Crash, Event, Heal, Partition, Pause, Restart
from .validate import Checker

RANDOM_FAULTS = {
    "partition": ("random-halves, majorities-ring, isolate-random, isolate-<role> (isolate-leader), "
                  "deafen-random, mute-random, deafen-<role> or mute-<role>"),
    "crash": "random or a role (leader)",
    "pause": "random or a role (leader)",
}
"""The faults a ``random:`` entry may repeat, and what each may target (as error messages say)."""
AIMED = ("isolate", *ONE_WAY)
"""Partitions aimed at one node (``isolate-random``, ``deafen-leader``...): the word before the dash."""


@dataclass(frozen=True)
class RandomFault:
    """A fault repeated ``every`` seconds from ``start`` on, lasting ``duration`` each time.

    ``fault`` is ``partition`` (``target`` is ``random-halves``, ``majorities-ring``, or one node
    cut off: ``isolate-``, ``deafen-`` (it hears nobody) or ``mute-`` (nobody hears it), then
    ``random`` or a role), ``crash`` or ``pause`` (``target`` is ``random`` or a role, such as
    ``leader``).
    """

    fault: str
    every: float
    duration: float
    target: str
    start: float = 0.0
    disk: str = "keep"

    def to_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {"every": self.every, self.fault: self.target, "for": self.duration}
        if self.start:
            out["start"] = self.start
        if self.fault == "crash":
            out["disk"] = self.disk
        return out

    def role(self) -> str | None:
        """The role (or ``random``) each fault picks its node by; None for a shape of partition."""
        if self.fault != "partition":
            return self.target
        aim, _, role = self.target.partition("-")
        return role if aim in AIMED else None

    def draw(self, nodes: list[str], end: float, rng: random.Random) -> list[Event]:
        """The concrete events up to ``end`` (the draws depend only on ``rng``)."""
        out: list[Event] = []
        t = self.start
        while t + self.duration < end:
            at = round(t + rng.uniform(0, (self.every - self.duration) / 2), 6)
            stop = round(at + self.duration, 6)
            if self.fault == "partition":
                if self.target == "random-halves":
                    shuffled = nodes[:]
                    rng.shuffle(shuffled)
                    half = len(nodes) // 2
                    out.append(Partition(at, (tuple(sorted(shuffled[:half])), tuple(sorted(shuffled[half:])))))
                elif self.target == "majorities-ring":
                    out.append(Partition(at, kind="majorities-ring"))
                elif self.target.startswith("isolate-"):
                    out.append(Partition.isolating(at, self._who(nodes, rng)))
                else:
                    out.append(Partition.one_way_at(at, self.target.partition("-")[0], self._who(nodes, rng)))
                out.append(Heal(stop))
            elif self.fault == "crash":
                out.append(Crash(at, self._who(nodes, rng), self.disk))
                out.append(Restart(stop, ALL))
            else:
                out.append(Pause(at, self._who(nodes, rng), self.duration))
            t += self.every
        return out

    def _who(self, nodes: list[str], rng: random.Random) -> str:
        role = self.role()
        return rng.choice(nodes) if role == RANDOM or role is None else role


def _aimed(target: str) -> bool:
    aim, dash, role = target.partition("-")
    return aim in AIMED and bool(dash) and bool(role)


def random_fault_from_data(c: Checker, raw: Any, where: str) -> RandomFault | None:
    """One entry of a schedule's ``random:`` section (``{every: 2.0, crash: random, for: 1.0}``),
    or None after reporting to ``c`` why it cannot be read."""
    if not isinstance(raw, Mapping):
        c.fail(where, f"must be a mapping like {{every: 2.0, crash: random, for: 1.0}}, got {raw!r}")
        return None
    kinds = [k for k in raw if k in RANDOM_FAULTS]
    if len(kinds) != 1:
        c.fail(where, f"give exactly one of {', '.join(RANDOM_FAULTS)}")
        return None
    kind = kinds[0]
    c.keys(raw, {"every", "for", "start", kind} | ({"disk"} if kind == "crash" else set()), where)
    target = raw[kind]
    shapes = ("random-halves", "majorities-ring")
    if not isinstance(target, str) or not target or (
            kind == "partition" and target not in shapes and not _aimed(target)):
        c.fail(f"{where}.{kind}", f"must be {RANDOM_FAULTS[kind]}, got {target!r}")
    for key in ("every", "for"):
        if key not in raw:
            c.fail(f"{where}.{key}", "missing")
    every = c.number(raw.get("every", 1.0), f"{where}.every", 0.0)
    length = c.number(raw.get("for", 0.5), f"{where}.for", 0.0)
    start = c.number(raw.get("start", 0.0), f"{where}.start", 0.0)
    if every <= 0:
        c.fail(f"{where}.every", "must be more than 0")
    elif length >= every:
        c.fail(f"{where}.for", f"each fault ({length:g}s) must end before the next one starts (every {every:g}s)")
    disk = raw.get("disk", "keep")
    if disk not in ("keep", "lose"):
        c.fail(f"{where}.disk", f"must be keep or lose, got {disk!r}")
    return RandomFault(kind, every, length, str(target), start, str(disk))
