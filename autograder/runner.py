"""Running a suite: each test on each seed, its checks, and a report of every failure.

A failure report says everything needed to understand and replay it, and nothing else::

    FAILED rpc unreliable (20 pts), seed 17 on sim
      property: not linearizable (key 'a'): Now get('a') -> ['x', 3] ... can no longer come true
      schedule: rpc-unreliable: loss 0.2, delay uniform 1-50 ms, duplicate 0.1, reorder
      picture: rpc-reports/rpc-unreliable-sim-17.html (and ...-history.html)
      replay: python -m autograder test rpc -k unreliable --seed 17 --runtime sim --impl my/node.py
"""

from __future__ import annotations

import shlex
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs.runtime.lab import Finding, RunResult
from labs.runtime.ray_hosts import Hosts
from labs.runtime.run import run

from .suite import Suite, Test


@dataclass
class Outcome:
    """One test, on one seed, in one runtime."""

    test: Test
    seed: int
    runtime: str
    findings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    result: RunResult | None = None
    failed_checks: list[str] = field(default_factory=list)
    """Names of the checks that found something, in the suite's order."""

    @property
    def passed(self) -> bool:
        return not self.findings


def run_test(test: Test, seed: int, runtime: str = "sim", impl: str | Path | None = None,
             hosts: Hosts | None = None, sealed: bool = False) -> Outcome:
    """Run ``test`` once and apply its checks. A run that cannot start is a failure with the
    reason, never an exception: the suite goes on. ``hosts``: where a Ray run's node processes
    come from (the grader's sandbox), by default actors of the connected Ray; ``sealed``: a Ray
    run's node code runs in sealed processes, its faults applied by runtime code only (see
    :mod:`labs.runtime.ray_sealed`)."""
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


def _unasked_deaths(result: RunResult) -> list[str]:
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
        except Exception as exc:  # a bug in the check itself: say so, do not blame the student
            outcome.findings.append(Finding(f"the check {name!r} crashed (a bug in the grader, "
                                            f"please report it): {exc}", traceback.format_exc()))


def replay_command(suite: Suite, outcome: Outcome, impl: str | Path | None,
                   schedule_file: Path | None = None) -> str:
    parts = ["python", "-m", "autograder", "test", suite.lab.name, "-k", outcome.test.name,
             "--seed", str(outcome.seed), "--runtime", outcome.runtime]
    if schedule_file is not None:
        parts += ["--schedule", str(schedule_file)]
    if impl:
        parts += ["--impl", str(impl)]
    return shlex.join(parts)


def report(suite: Suite, outcome: Outcome, out_dir: Path | None, impl: str | Path | None,
           detail_lines: int = 30, shrink_budget: float = 0.0, schedule_file: Path | None = None) -> str:
    """The failure report of ``outcome``, writing its pictures into ``out_dir``.

    With a ``shrink_budget`` (seconds), a simulator failure is first replayed under smaller
    schedules (:mod:`.shrink`), and the report shows the smallest one that still fails.
    ``schedule_file`` is where the test's schedule was written, when it is not the suite's own.
    """
    t = outcome.test
    lines = [f"FAILED {suite.lab.name} {t.name} ({t.points} pts), seed {outcome.seed} on {outcome.runtime}"]
    schedule_line = f"  schedule: {t.schedule_name}: {t.schedule.describe()}"
    if shrink_budget > 0 and outcome.runtime == "sim" and outcome.failed_checks:
        from .shrink import shrink

        shrunk = shrink(t, outcome.seed, outcome.failed_checks[0], impl, shrink_budget)
        if shrunk is not None and shrunk.after < shrunk.before:
            outcome = shrunk.outcome
            schedule_line = (f"  schedule, shrunk from {shrunk.before} to {shrunk.after} event(s) and fault(s) "
                             f"in {shrunk.steps} runs: {shrunk.schedule.describe()}")
            if out_dir is not None:
                import yaml

                out_dir.mkdir(parents=True, exist_ok=True)
                schedule_file = out_dir / f"{suite.lab.name}-{t.name}-{outcome.seed}-schedule.yaml"
                schedule_file.write_text(yaml.safe_dump(shrunk.schedule.to_data(), sort_keys=False), encoding="utf-8")
    first = outcome.findings[0]
    lines.append(f"  property: {_clip(first, 600)}")
    for more in outcome.findings[1:3]:
        lines.append(f"  also: {_clip(more, 300)}")
    details = getattr(first, "details", "")
    if details:
        body = [_clip(line, 200) for line in details.strip().splitlines()]
        shown = body[:detail_lines] + ([f"... ({len(body) - detail_lines} more lines)"] if len(body) > detail_lines else [])
        lines += ["  evidence:"] + [f"    {line}" for line in shown]
    lines.append(schedule_line)
    pictures = write_pictures(suite, outcome, out_dir) if out_dir is not None else []
    if pictures:
        lines.append("  picture: " + " and ".join(str(p) for p in pictures))
    lines.append(f"  replay: {replay_command(suite, outcome, impl, schedule_file)}")
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit - 25]}… ({len(text)} characters)"


def write_pictures(suite: Suite, outcome: Outcome, out_dir: Path) -> list[Path]:
    """The run's picture, and the picture of the first finding that has one."""
    from labs.pictures import picture_of, write_html

    stem = f"{suite.lab.name}-{outcome.test.name}-{outcome.runtime}-{outcome.seed}"
    written: list[Path] = []
    if outcome.result is not None:
        title = f"{suite.lab.name} {outcome.test.name}, seed {outcome.seed} on {outcome.runtime}"
        written.append(write_html(picture_of(outcome.result, title), out_dir / f"{stem}.html", shared_js=True))
    html = next((h for f in outcome.findings if (h := getattr(f, "html", None))), None)
    if html:
        path = out_dir / f"{stem}-history.html"
        path.write_text(html, encoding="utf-8")
        written.append(path)
    return written


def outcomes(tests: list[Test], seeds: dict[str, list[int]], runtimes: list[str],
             impl: str | Path | None) -> Iterator[Outcome]:
    """Every (test, runtime, seed) in order; ``seeds`` maps a runtime to the seeds to use
    (empty: each test's own seeds for that runtime)."""
    for test in tests:
        for runtime in runtimes:
            chosen = seeds.get(runtime) or list(test.seeds if runtime == "sim" else test.ray_seeds)
            for seed in chosen:
                yield run_test(test, seed, runtime, impl)
