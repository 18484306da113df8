"""Shrinking a failing schedule: the smallest schedule, found greedily, under which the same
check still finds the same kind of thing on the same seed in the simulator.

A schedule that breaks a lab usually holds more than the bug needs: loss *and* duplication,
three crashes where one would do, a pause twice as long as necessary. Each step tries one
smaller schedule and keeps it if the same check still finds the same kind of finding (see
:func:`finding_kind`): a smaller schedule under which the check fails for another reason ("the
schedule never restarted the server", once the restart is gone) is a different failure, and the
student would read about a bug they do not have. The steps:

* drop one event (a crash, a restart, a partition, a pause...);
* halve a pause or the whole run;
* switch off one kind of network fault (loss, duplication, reordering, delay), else halve it.

The run is never cut shorter than the lab's shortest run (``Lab.min_duration``): its workload
needs that long. Random faults are drawn first (the schedule is expanded for the seed), so every
step is a concrete schedule, and a shrunk schedule replays with the same seed. Like Hypothesis,
the result is small, not necessarily the smallest, and it says what was taken out.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from labs.runtime.lab import Finding
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
    removed: list[str] = dataclasses.field(default_factory=list)
    """What shrinking took out or made milder, in words, in order."""


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


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def finding_kind(finding: Finding) -> str:
    """What a finding says, without its particulars: its first clause (up to the first ``": "``),
    with numbers and quoted names blanked. ``not linearizable (key 'a'): ...`` and ``not
    linearizable (key 'c'): ...`` are one kind; ``the schedule never restarted the server`` is
    another."""
    head = finding.message.split(": ", 1)[0]
    return _NUMBER.sub("#", _QUOTED.sub("'…'", head))


def shrink(failed: Outcome, impl: str | Path | None = None, budget: float = 20.0) -> Shrunk | None:
    """A smaller schedule for ``failed``'s test and seed under which its first failed check still
    finds something of a kind it found (see :func:`finding_kind`), or None when nothing smaller
    does."""
    test, seed = failed.test, failed.seed
    failed_check = failed.failed_checks[0]
    kinds = _kinds(failed, failed_check)
    deadline = time.monotonic() + budget
    best = concrete(test, seed)
    start = size(best)
    outcome: Outcome | None = None
    removed: list[tuple[str, str | None]] = []
    steps = 0
    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for what, candidate in _smaller(best, test.lab.min_duration):
            if time.monotonic() > deadline:
                break
            try:  # the checks of a written schedule: a shorter pause must still be a pause
                parse(candidate.to_data(), "shrunk schedule")
            except ScheduleError:
                continue
            steps += 1
            tried = run_test(dataclasses.replace(test, schedule=candidate), seed, "sim", impl)
            if kinds & _kinds(tried, failed_check):
                best, outcome, improved = candidate, tried, True
                _note(removed, what)
                break
    if outcome is None:
        return None
    best = replace(best, name=f"{test.schedule_name}-shrunk",
                   description=f"{test.schedule_name}, shrunk for seed {seed} (the {failed_check} check still fails)")
    outcome.test = dataclasses.replace(test, schedule=best, schedule_name=best.name)
    said = [f"dropped {before}" if after is None else f"{before} -> {after}" for before, after in removed]
    return Shrunk(best, outcome, steps, start, size(best), said)


def _note(removed: list[tuple[str, str | None]], step: tuple[str, str | None]) -> None:
    """Add a step to what shrinking did, joining it to the step it carries on (a network made
    milder twice is said once: from the first to the last)."""
    before, after = step
    for i, (first, then) in enumerate(removed):
        if then is not None and then == before:
            removed[i] = (first, after)
            return
    removed.append(step)


def _kinds(outcome: Outcome, check: str) -> set[str]:
    return {finding_kind(f) for f in outcome.by_check.get(check, ())}


def _smaller(s: Schedule, shortest: float) -> Iterator[tuple[tuple[str, str | None], Schedule]]:
    """Every schedule one step smaller than ``s``, each with what the step did: an event dropped,
    an event made milder (see ``Fault.smaller``), the network made milder, the run halved (never
    below ``shortest`` seconds). What a step did is ``(what it was, what it became)``, None for
    what it dropped."""
    events = s.events
    for i, e in enumerate(events):
        yield (e.describe(), None), replace(s, events=events[:i] + events[i + 1:])
    for i, e in enumerate(events):
        for milder in e.smaller():
            yield (e.describe(), milder.describe()), replace(s, events=(*events[:i], milder, *events[i + 1:]))
    for network in s.network.smaller():
        yield (f"network {s.network.describe()}", f"network {network.describe()}"), replace(s, network=network)
    if s.duration and s.duration > 1.0:
        half = round(s.duration / 2, 3)
        if half >= shortest:
            yield ((f"a run of {s.duration:g} s", f"a run of {half:g} s"),
                   replace(s, duration=half, events=tuple(e for e in events if e.at < half)))
