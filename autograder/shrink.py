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

import copy
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labs.runtime.schedule import Schedule, ScheduleError, parse

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


def concrete(test: Test, seed: int) -> dict[str, Any]:
    """The test's schedule as the run used it: random faults drawn, without the final heal."""
    lab = test.lab
    expanded = test.schedule.expand(lab.node_names(), lab.client_names(), seed, lab.min_duration)
    data = expanded.to_data()
    data["events"] = [e for e in data["events"] if not ("heal" in e and e["at"] >= data["duration"])]
    data.pop("seed", None)
    return data


def size(data: dict[str, Any]) -> int:
    network = data.get("network", {})
    faults = sum(1 for k in ("loss", "duplicate") if network.get(k)) + bool(network.get("reorder")) \
        + ("delay" in network)
    return len(data.get("events", [])) + faults


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
            try:
                schedule = parse(candidate, "shrunk schedule")
            except ScheduleError:
                continue
            steps += 1
            tried = run_test(dataclasses.replace(test, schedule=schedule), seed, "sim", impl)
            if failed_check in tried.failed_checks:
                best, outcome, improved = candidate, tried, True
                break
    if outcome is None:
        return None
    best["name"] = f"{test.schedule_name}-shrunk"
    best["description"] = f"{test.schedule_name}, shrunk for seed {seed} (the {failed_check} check still fails)"
    schedule = parse(best, "shrunk schedule")
    outcome.test = dataclasses.replace(test, schedule=schedule, schedule_name=schedule.name)
    return Shrunk(schedule, outcome, steps, start, size(best))


def _smaller(data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    events = data.get("events", [])
    for i in range(len(events)):
        yield {**data, "events": events[:i] + events[i + 1:]}
    for i, e in enumerate(events):
        if "pause" in e and e.get("for", 0) > 0.05:
            shorter = {**e, "for": round(e["for"] / 2, 6)}
            yield {**data, "events": [*events[:i], shorter, *events[i + 1:]]}
    network = data.get("network", {})
    for key in ("duplicate", "loss"):
        if network.get(key):
            yield _with_network(data, {k: v for k, v in network.items() if k != key})
    if network.get("reorder"):
        yield _with_network(data, {k: v for k, v in network.items() if k != "reorder"})
    if "delay" in network:
        yield _with_network(data, {k: v for k, v in network.items() if k != "delay"})
    for key in ("duplicate", "loss"):
        if network.get(key, 0) > 0.02:
            yield _with_network(data, {**network, key: round(network[key] / 2, 4)})
    duration = data.get("duration")
    if duration and duration > 1.0:
        half = round(duration / 2, 3)
        yield {**data, "duration": half, "events": [e for e in events if e["at"] < half]}


def _with_network(data: dict[str, Any], network: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    out["network"] = network
    return out
