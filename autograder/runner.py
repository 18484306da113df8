"""Running a suite: each test on each seed in each runtime, and its checks.

An :class:`Outcome` is one run and what its checks found; a :class:`TestGrade` is every run of
one test, which earns the test's points only when all of them pass. How a failure is told to
the student is :mod:`.failure_report`'s.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs.runtime.lab import Finding, RunResult
from labs.runtime.nodeside import NodeProcesses
from labs.runtime.nursery import IsolationError
from labs.runtime.ray_processes import Hosts
from labs.runtime.run import run
from labs.runtime.search import Exploration, explore, replay
from labs.runtime.worker import RunAborted

from .suite import Test


@dataclass
class Outcome:
    """One test, on one seed, in one runtime."""

    test: Test
    seed: int
    runtime: str
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    result: RunResult | None = None
    failed_checks: list[str] = field(default_factory=list)
    """Names of the checks that found something, in the suite's order."""
    by_check: dict[str, list[Finding]] = field(default_factory=dict)
    """What each of those checks found."""
    search: Exploration | None = None
    """A search test's search: its states, depth and the path to a violation."""

    @property
    def passed(self) -> bool:
        return not self.findings


@dataclass
class TestGrade:
    """Every run of one test: it earns its points when each of them passes."""

    test: Test
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.passed for o in self.outcomes)

    @property
    def score(self) -> int:
        return self.test.points if self.passed else 0

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.passed]


def run_test(test: Test, seed: int, runtime: str = "sim", impl: str | Path | None = None,
             hosts: Hosts | None = None, sealed: bool = False) -> Outcome:
    """Run ``test`` once and apply its checks. A run that cannot start is a failure with the
    reason, never an exception: the suite goes on. ``hosts``: where a Ray run's node processes
    come from (the grader's sandbox), by default actors of the connected Ray; ``sealed``: a Ray
    run's node code runs in sealed processes, its faults applied by runtime code only (see
    :mod:`labs.runtime.ray_hosted`)."""
    if test.search is not None:
        return run_search(test, impl)
    started = time.monotonic()
    outcome = Outcome(test, seed, runtime)
    try:
        # On Ray the node processes import the student's files themselves: no student code runs
        # here, in the process that records the history and runs the checks.
        lab = test.lab
        if impl and runtime == "ray":
            lab = lab.with_impl_source(impl)
        elif impl:
            lab = lab.with_impl(impl)
        options: dict[str, Any] = {"hosts": hosts} if hosts is not None else {}
        if sealed and runtime == "ray":
            options["sealed"] = True
        outcome.result = run(lab, runtime, test.schedule, seed=seed, **options)
    except Exception as exc:  # the student's file does not import, a class is malformed...
        outcome.findings.append(Finding(f"the run could not start: {type(exc).__name__}: {exc}",
                                        traceback.format_exc()))
    else:
        apply_checks(outcome)
        if outcome.findings:
            outcome.findings.extend(_unasked_deaths(outcome.result))
    outcome.seconds = time.monotonic() - started
    return outcome


def run_search(test: Test, impl: str | Path | None = None, nodes: NodeProcesses | None = None,
               timeout: float | None = None, steps: list[str] | None = None,
               progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Run a search test (its checks are the invariants): ``nodes`` starts the node processes
    (sealed ones when grading; by default objects in this process); at most ``timeout`` seconds;
    ``progress`` is told each depth done and the states seen. A violation is reported as its
    checks' findings on the trace of the path to it. With ``steps`` (a path, in words), only
    that path is run again (:func:`labs.runtime.search.replay`)."""
    started = time.monotonic()
    outcome = Outcome(test, 1, "sim")
    assert test.search is not None
    spec = dataclasses.replace(test.search, invariants=tuple(check for _, check in test.checks))
    if timeout is not None:
        spec = dataclasses.replace(spec, timeout=min(spec.timeout, timeout))
    try:
        lab = test.lab.with_impl(impl) if impl and nodes is None else test.lab
        found = (replay(lab, spec, steps, nodes=nodes) if steps is not None
                 else explore(lab, spec, nodes=nodes, progress=progress))
    except (RunAborted, IsolationError):
        raise  # a sealed process hung, or could not start: the grader says which
    except Exception as exc:  # the student's file does not import, a class is malformed...
        outcome.findings.append(Finding(f"the search could not start: {type(exc).__name__}: {exc}",
                                        traceback.format_exc()))
    else:
        outcome.search = found
        outcome.result = found.run
        if found.verdict == "violation":
            apply_checks(outcome)  # the same findings, by check
            if not outcome.findings:
                outcome.findings.extend(found.findings)
        elif found.verdict in ("error", "stuck"):
            outcome.findings.extend(found.findings)
        elif found.verdict == "limit":
            outcome.findings.append(Finding(
                f"the search saw {found.states:,} states in {found.seconds:.0f} s and had to stop at depth "
                f"{found.depth} of {spec.depth}: each message a node sends multiplies the orders to try "
                "(does a node send more than it needs to, or set more timers?)"))
    outcome.seconds = time.monotonic() - started
    return outcome


def _unasked_deaths(result: RunResult) -> list[Finding]:
    """Why a failed run may have failed, when it is not in the student's code's output: node
    processes that ended without the schedule crashing them (``os._exit``, killed by the
    operating system for memory, or a machine lost from the cluster)."""
    died = [e for e in result.trace if e.get("type") == "crash" and e.get("reason") == "process-died"]
    return [Finding(f"{e.get('node')}'s process ended at t={float(e.get('t', 0.0)):.2f} s though the schedule "
                    "did not crash it: did it call os._exit or sys.exit, or run out of memory "
                    "(the operating system kills the largest process)?") for e in died[:3]]


def apply_checks(outcome: Outcome) -> None:
    """Run the test's checks on ``outcome.result``, recording what each found."""
    assert outcome.result is not None
    for name, check in outcome.test.checks:
        try:
            found = check(outcome.result)
            outcome.findings.extend(found)
            if found:
                outcome.failed_checks.append(name)
                outcome.by_check[name] = list(found)
        except Exception as exc:  # a bug in the check itself: say so, do not blame the student
            outcome.findings.append(Finding(f"the check {name!r} crashed (a bug in the grader, "
                                            f"please report it): {exc}", traceback.format_exc()))


def outcomes(tests: list[Test], seeds: dict[str, list[int]], runtimes: list[str],
             impl: str | Path | None) -> Iterator[Outcome]:
    """Every (test, runtime, seed) in order; ``seeds`` maps a runtime to the seeds to use
    (empty: each test's own seeds for that runtime)."""
    for test in tests:
        if test.search is not None:  # one search, in the simulator: it has no seeds
            yield run_search(test, impl)
            continue
        for runtime in runtimes:
            chosen = seeds.get(runtime) or list(test.seeds if runtime == "sim" else test.ray_seeds)
            for seed in chosen:
                yield run_test(test, seed, runtime, impl)
