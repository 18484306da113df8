"""A lab's test suite: data that names what each test runs and checks, and what it is worth.

A suite is a YAML file beside the lab (``labs/<lab>/suite.yaml``)::

    lab: rpc
    seeds: 50          # simulator seeds per test: 1..50
    ray_seeds: 1       # seeds per test on Ray (slower: real processes, real time)
    tests:
      - name: unreliable
        points: 20
        description: Linearizable on a network that loses, delays, duplicates and reorders.
        workload: {generate: mixed, clients: 5}     # a name from the lab's WORKLOADS
        lab: {memory_every: 0.5}                    # optional changes to the lab's settings
        schedule: lossy                             # a library name, or a schedule document
        checks: [no-node-errors, linearizable]      # names from the lab's CHECKS

Workloads and checks are code (``labs/<lab>/workloads.py`` and ``checks.py`` export
``WORKLOADS`` and ``CHECKS``); everything else is data. Every mistake in the file is reported
with its place (``tests[3].checks[1]``) and the names that would have been accepted.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labs.runtime.lab import Lab, RunResult, Workload, get_lab
from labs.runtime.schedule import Schedule, ScheduleError, did_you_mean, library, load, parse

CheckFn = Callable[[RunResult], list[str]]


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the place and what to write."""


@dataclass(frozen=True)
class Test:
    name: str
    points: int
    description: str
    lab: Lab
    schedule: Schedule
    schedule_name: str
    checks: tuple[tuple[str, CheckFn], ...]
    seeds: tuple[int, ...]
    ray_seeds: tuple[int, ...]
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    """The test as the suite file wrote it: what a grading child process is given to run."""
    hidden: bool = False
    """From the instructor's hidden suite: never in a release, shown to students after grading."""


@dataclass(frozen=True)
class Suite:
    lab: Lab
    tests: tuple[Test, ...]
    source: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def points(self) -> int:
        return sum(t.points for t in self.tests)

    def select(self, pattern: str | None) -> list[Test]:
        """The tests whose name contains ``pattern`` (all of them for None)."""
        if not pattern:
            return list(self.tests)
        chosen = [t for t in self.tests if pattern in t.name]
        if not chosen:
            names = ", ".join(t.name for t in self.tests)
            raise SuiteError(f"no test of the {self.lab.name} lab matches {pattern!r}; tests: {names}")
        return chosen


def suite_path(lab: str) -> Path:
    return Path(__file__).resolve().parent.parent / "labs" / lab / "suite.yaml"


def hidden_suite_path(lab: str) -> Path:
    """The instructor's hidden tests: other schedules and seeds, left out of every release."""
    return Path(__file__).resolve().parent.parent / "labs" / lab / "hidden" / "suite.yaml"


def load_graded_suite(lab_name: str) -> Suite:
    """The visible suite plus the hidden one, if this checkout has it (the instructor's does)."""
    visible = load_suite(lab_name)
    hidden_path = hidden_suite_path(lab_name)
    if not hidden_path.exists():
        return visible
    hidden = load_suite(lab_name, hidden_path)
    clash = {t.name for t in hidden.tests} & {t.name for t in visible.tests}
    if clash:
        raise SuiteError(f"{hidden_path}: hidden tests need names of their own: {', '.join(sorted(clash))}")
    tests = visible.tests + tuple(dataclasses.replace(t, hidden=True) for t in hidden.tests)
    return Suite(visible.lab, tests, visible.source)


def load_suite(lab_name: str, path: str | Path | None = None) -> Suite:
    """The suite of ``lab_name`` (its ``suite.yaml`` unless ``path`` says otherwise)."""
    lab = get_lab(lab_name)
    source = Path(path) if path is not None else suite_path(lab_name)
    if not source.exists():
        raise SuiteError(f"the {lab_name} lab has no test suite at {source}")
    try:
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SuiteError(f"{source}: not valid YAML: {exc}") from None
    return parse_suite(doc, lab, source)


def parse_suite(doc: Any, lab: Lab, source: Path) -> Suite:
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise SuiteError(f"{source}: a suite is a mapping with 'lab' and 'tests'")
    _keys(doc, {"lab", "parts", "seeds", "ray_seeds", "tests"}, "the suite", problems)
    if doc.get("lab") != lab.name:
        problems.append(f"lab: says {doc.get('lab')!r}, but this is the suite of the {lab.name!r} lab")
    workloads: dict[str, Any] = _registry(lab, "workloads", "WORKLOADS")
    checks: dict[str, CheckFn] = _registry(lab, "checks", "CHECKS")
    seeds = _count(doc.get("seeds", 20), "seeds", problems)
    ray_seeds = _count(doc.get("ray_seeds", 1), "ray_seeds", problems)
    raw_tests = doc.get("tests")
    if not isinstance(raw_tests, list) or not raw_tests:
        problems.append("tests: must be a non-empty list of tests")
        raw_tests = []
    tests: list[Test] = []
    names: set[str] = set()
    for i, raw in enumerate(raw_tests):
        where = f"tests[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: a test is a mapping (name, points, description, workload, schedule, checks)")
            continue
        test = _test(raw, where, lab, workloads, checks, seeds, ray_seeds, problems)
        if test is not None:
            if test.name in names:
                problems.append(f"{where}.name: {test.name!r} is used twice")
            names.add(test.name)
            tests.append(test)
    if problems:
        raise SuiteError(f"{source}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return Suite(lab, tuple(tests), source)


def _test(raw: dict[str, Any], where: str, lab: Lab, workloads: dict[str, Any],
          checks: dict[str, CheckFn], seeds: int, ray_seeds: int, problems: list[str]) -> Test | None:
    _keys(raw, {"name", "points", "description", "workload", "lab", "schedule", "checks", "seeds", "ray_seeds"},
          where, problems)
    name, points, description = raw.get("name"), raw.get("points"), raw.get("description")
    ok = True
    if not isinstance(name, str) or not name or " " in name:
        problems.append(f"{where}.name: a short name without spaces, e.g. 'unreliable'")
        ok = False
    if not isinstance(points, int) or isinstance(points, bool) or points < 0:
        problems.append(f"{where}.points: a whole number of points (0 or more)")
        ok = False
    if not isinstance(description, str) or not description.strip():
        problems.append(f"{where}.description: say in one sentence what the test shows")
        ok = False
    the_lab = _lab(raw, where, lab, workloads, problems)
    schedule, schedule_name = _schedule(raw.get("schedule", lab.default_schedule), where, problems)
    chosen: list[tuple[str, CheckFn]] = []
    raw_checks = raw.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        problems.append(f"{where}.checks: a list of check names, from: {', '.join(checks)}")
        ok = False
    else:
        for j, c in enumerate(raw_checks):
            if c not in checks:
                problems.append(f"{where}.checks[{j}]: no check {c!r}; the {lab.name} lab has: {', '.join(checks)}")
                ok = False
            else:
                chosen.append((c, checks[c]))
    n = _count(raw.get("seeds", seeds), f"{where}.seeds", problems)
    r = _count(raw.get("ray_seeds", ray_seeds), f"{where}.ray_seeds", problems)
    if not ok or the_lab is None or schedule is None:
        return None
    assert isinstance(name, str) and isinstance(points, int) and isinstance(description, str)
    return Test(name, points, " ".join(description.split()), dataclasses.replace(the_lab, checks=()),
                schedule, schedule_name, tuple(chosen), tuple(range(1, n + 1)), tuple(range(1, r + 1)),
                dict(raw))


def _lab(raw: dict[str, Any], where: str, lab: Lab, workloads: dict[str, Any], problems: list[str]) -> Lab | None:
    changes: dict[str, Any] = {}
    w = raw.get("workload")
    if w is not None:
        if not isinstance(w, dict):
            problems.append(f"{where}.workload: a mapping such as {{generate: mixed, clients: 3}}")
            return None
        fields = {f.name for f in dataclasses.fields(Workload)}
        _keys(w, fields, f"{where}.workload", problems)
        args = {k: v for k, v in w.items() if k in fields}
        gen = args.get("generate")
        if gen is not None:
            if gen not in workloads:
                problems.append(f"{where}.workload.generate: no workload {gen!r}; the {lab.name} lab has: {', '.join(workloads)}")
                return None
            args["generate"] = workloads[gen]
        base = lab.workload or Workload(generate=next(iter(workloads.values())))
        changes["workload"] = dataclasses.replace(base, **args)
    overrides = raw.get("lab", {})
    allowed = {"nodes", "min_duration", "settle", "memory_every"}
    if not isinstance(overrides, dict):
        problems.append(f"{where}.lab: a mapping of lab settings ({', '.join(sorted(allowed))})")
        return None
    _keys(overrides, allowed, f"{where}.lab", problems)
    changes.update({k: v for k, v in overrides.items() if k in allowed})
    try:
        return dataclasses.replace(lab, **changes)
    except TypeError as exc:
        problems.append(f"{where}: {exc}")
        return None


def _schedule(raw: Any, where: str, problems: list[str]) -> tuple[Schedule | None, str]:
    try:
        if isinstance(raw, str):
            return load(raw), raw
        if isinstance(raw, dict):
            s = parse(raw, f"{where}.schedule")
            return s, s.name
    except (ScheduleError, FileNotFoundError, LookupError) as exc:
        problems.append(f"{where}.schedule: {exc}")
        return None, ""
    problems.append(f"{where}.schedule: a library schedule ({', '.join(library())}) or a schedule document")
    return None, ""


def _registry(lab: Lab, module: str, name: str) -> dict[str, Any]:
    try:
        mod = importlib.import_module(f"labs.{lab.name}.{module}")
    except ModuleNotFoundError:
        return {}
    found = getattr(mod, name, {})
    return dict(found) if isinstance(found, dict) else {}


def _count(raw: Any, where: str, problems: list[str]) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        problems.append(f"{where}: a whole number (0 or more), not {raw!r}")
        return 0
    return raw


def _keys(raw: dict[str, Any], allowed: set[str] | Sequence[str], where: str, problems: list[str]) -> None:
    for key in raw:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed) or f" (known: {', '.join(sorted(allowed))})"
            problems.append(f"{where}: unknown field {key!r}{hint}")
