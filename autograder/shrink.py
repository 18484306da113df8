"""Shrinking a failing schedule: the smallest schedule, found greedily, under which the same
check still fails on the same seed in the simulator.

A schedule that breaks a lab usually holds more than the bug needs: loss *and* duplication,
three crashes where one would do, a pause twice as long as necessary. Each step tries one
smaller schedule and keeps it if the same check still fails:

* drop one event (a crash, a restart, a partition, a pause...);
* halve a pause or the whole run;
* switch off one kind of network fault (loss, duplication, reordering, delay), else halve it.

Random faults are drawn first (the schedule is expanded for the seed), so every step is a
concrete schedule, and a shrunk schedule replays with the same seed. Like Hypothesis, the result
is small, not necessarily the smallest.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from labs.runtime.schedule import Heal, Schedule, ScheduleError, parse

from .runner import Outcome, run_test
from .suite import Test


@dataclass
class Shrunk:
    schedule: Schedule
    outcome: Outcome
    steps: int
    """Runs tried."""
    before: int
    after: int
    """Size of the schedule (events plus network faults) before and after."""


def concrete(test: Test, seed: int) -> Schedule:
    """The test's schedule as the run used it: random faults drawn, without the final heal."""
    lab = test.lab
    expanded = test.schedule.expand(lab.node_names(), lab.client_names(), seed, lab.min_duration, lab.roles)
    end = expanded.end()
    events = tuple(e for e in expanded.events if not (isinstance(e, Heal) and e.at >= end))
    return replace(expanded, events=events, seed=None)


def size(schedule: Schedule) -> int:
    """Events plus kinds of network fault: what shrinking makes smaller."""
    return len(schedule.events) + schedule.network.faults()


def shrink(test: Test, seed: int, failed_check: str, impl: str | Path | None = None,
           budget: float = 20.0) -> Shrunk | None:
    """A smaller schedule under which ``failed_check`` still fails (None: nothing smaller does)."""
    deadline = time.monotonic() + budget
    best = concrete(test, seed)
    start = size(best)
    outcome: Outcome | None = None
    steps = 0
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for candidate in _smaller(best):
            if time.monotonic() > deadline:
                break
            try:  # the checks of a written schedule: a shorter pause must still be a pause
                parse(candidate.to_data(), "shrunk schedule")
            except ScheduleError:
                continue
            steps += 1
            tried = run_test(dataclasses.replace(test, schedule=candidate), seed, "sim", impl)
            if failed_check in tried.failed_checks:
                best, outcome, improved = candidate, tried, True
                break
    if outcome is None:
        return None
    best = replace(best, name=f"{test.schedule_name}-shrunk",
                   description=f"{test.schedule_name}, shrunk for seed {seed} (the {failed_check} check still fails)")
    outcome.test = dataclasses.replace(test, schedule=best, schedule_name=best.name)
    return Shrunk(best, outcome, steps, start, size(best))


def _smaller(s: Schedule) -> Iterator[Schedule]:
    """Every schedule one step smaller than ``s``: an event dropped, an event made milder (see
    ``Fault.smaller``), the network made milder, the run halved."""
    events = s.events
    for i in range(len(events)):
        yield replace(s, events=events[:i] + events[i + 1:])
    for i, e in enumerate(events):
        for milder in e.smaller():
            yield replace(s, events=(*events[:i], milder, *events[i + 1:]))
    for network in s.network.smaller():
        yield replace(s, network=network)
    if s.duration and s.duration > 1.0:
        half = round(s.duration / 2, 3)
        yield replace(s, duration=half, events=tuple(e for e in events if e.at < half))
