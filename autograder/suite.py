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

A suite may also name ``every_test: [check, ...]``: checks every test runs after its own, the
hidden suite's included (invariants over the trace, such as Raft's "a term never goes back").

**Search tests.** A test with ``search`` instead of a schedule tries every order of deliveries,
copies and timer firings of a small configuration (:mod:`labs.runtime.search`), breadth first to
``depth`` steps, running its checks after every step: its checks must be invariants. It runs once
(no seeds), in the simulator::

      - name: search-at-most-once
        points: 10
        description: A copy of a request never executes twice, in any order of deliveries.
        search:
          operations: [[{f: append, key: a, value: "x;"}, {f: get, key: a}]]  # a list per client
          depth: 6           # steps
          duplicate: 1       # copies of messages a path may deliver; `drop: true` lets them be lost
        checks: [no-node-errors, linearizable]

``restarts: N`` lets a path crash a server and restart it with its disk N times in all;
``walks: N`` and ``walk_depth: M`` then try N random walks of up to M steps from the start, for
bugs deeper than every order can be tried (a walk's path to a violation is shortened before it is
reported). The walks are numbered, not drawn from a seed: the same submission meets the same ones.
``stages: [{goal: leader-elected, depth: 6}]`` first searches, breadth first, for a state where
the goal (a name from the lab's ``GOALS``) holds, then starts the search and walks from there.

Workloads and checks are code (``labs/<lab>/workloads.py`` and ``checks.py`` export
``WORKLOADS`` and ``CHECKS``); everything else is data. Every mistake in the file is reported
with its place (``tests[3].checks[1]``) and the names that would have been accepted.

**Parts.** A lab handed out in stages names them in ``parts``, in the order students meet
them: a part's name (letters, digits and underscores, no dash) and its title::

    lab: raft
    parts:
      A: leader election
      B: log replication
    tests:
      - name: A-initial-election     # in part A
        ...

A test belongs to the part its name starts with, followed by a dash (``A-initial-election`` is
in part ``A``): the name alone says where a test belongs, in a failure report, a replay command
and a gradebook column, with no second field that could disagree with it. Once a suite has parts, every test must belong to one and every part must have
a test, so a subtotal can never silently leave a test out. ``autograder test --part A`` runs
one part, and every table, ``results.json``, ``report.json`` and feedback page shows a subtotal
per part. Suites without ``parts`` are one block, as before. An instructor's hidden suite
(``hidden/suite.yaml``) may leave ``parts`` out: its tests then belong to the visible suite's
parts by the same rule (and a hidden suite that does name parts must name them as the visible
one does).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from labs.runtime.lab import Check, Lab, Workload, get_lab
from labs.runtime.schedule import Schedule, ScheduleError, did_you_mean, library, load, parse
from labs.runtime.search import SearchSpec

from .search_tests import parse_search
from .suite_fields import count as _count
from .suite_fields import known_keys as _keys


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
    checks: tuple[tuple[str, Check], ...]
    seeds: tuple[int, ...]
    ray_seeds: tuple[int, ...]
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    """The test as the suite file wrote it: what a grading child process is given to run."""
    hidden: bool = False
    """From the instructor's hidden suite: never in a release, shown to students after grading."""
    part: str | None = None
    """The name of the part the test belongs to (``A`` for ``A-initial-election``), or None in a
    suite without parts."""
    search: SearchSpec | None = None
    """A search test's search (its invariants are the test's checks), or None for a run under a
    schedule."""


PART_NAME = re.compile(r"[A-Za-z0-9_]+")
"""What a part's name may be: no dash (it ends the prefix of a test's name, so that part ``A``
never claims ``AB-x``), no space (it is typed after ``--part``)."""


@dataclass(frozen=True)
class Part:
    """One stage of a lab graded in parts: ``A``, "leader election"."""

    name: str
    title: str

    def __str__(self) -> str:
        return f"{self.name} ({self.title})"


@dataclass(frozen=True)
class PartTotal:
    """What one part earned: the sum over the graded tests that belong to it."""

    part: Part
    score: int
    points: int
    tests: tuple[str, ...]

    def to_data(self) -> dict[str, Any]:
        """As the grader's JSON files hold it (``results.json``'s ``extra_data``, ``report.json``)."""
        return {"part": self.part.name, "title": self.part.title, "score": self.score, "max_score": self.points,
                "tests": list(self.tests)}


@dataclass(frozen=True)
class Suite:
    lab: Lab
    tests: tuple[Test, ...]
    source: Path
    extra: dict[str, Any] = field(default_factory=dict)
    parts: tuple[Part, ...] = ()
    """The lab's parts in the suite's order; empty for a lab graded as one block."""
    every_test: tuple[tuple[str, Check], ...] = ()
    """Checks run on every test (the suite's ``every_test``), after the test's own: invariants
    over the trace that hold whatever the test does."""

    @property
    def points(self) -> int:
        return sum(t.points for t in self.tests)

    def part(self, name: str) -> Part:
        """The part called ``name`` (``a`` finds ``A`` when no part is called ``a``)."""
        exact = [p for p in self.parts if p.name == name]
        loose = [p for p in self.parts if p.name.lower() == name.lower()]
        found = exact or (loose if len(loose) == 1 else [])
        if found:
            return found[0]
        if not self.parts:
            raise SuiteError(f"the {self.lab.name} lab is not graded in parts; "
                             "select tests by name with -k instead of --part")
        listed = ", ".join(str(p) for p in self.parts)
        raise SuiteError(f"the {self.lab.name} lab has no part {name!r}{did_you_mean(name, [p.name for p in self.parts])}; "
                         f"its parts: {listed}")

    def select(self, pattern: str | None, parts: Sequence[str] = ()) -> list[Test]:
        """The tests whose name contains ``pattern`` (all of them for None), of the named
        ``parts`` only when some are given; an unknown part or an empty choice is an error."""
        chosen = list(self.tests)
        if parts:
            wanted = {self.part(name).name for name in parts}
            chosen = [t for t in chosen if t.part in wanted]
        if pattern:
            chosen = [t for t in chosen if pattern in t.name]
        if not chosen:
            among = f" in part {', '.join(parts)}" if parts else ""
            names = ", ".join(t.name for t in self.tests)
            raise SuiteError(f"no test of the {self.lab.name} lab{among} matches {pattern!r}; tests: {names}")
        return chosen

    def part_totals(self, scores: Iterable[tuple[Test, int, int]]) -> list[PartTotal]:
        """Per-part subtotals of ``(test, score, points)`` rows, in the suite's part order; a
        part none of whose tests is among the rows is left out (a ``--part`` run). Rows may
        repeat a test (a table with one row per runtime): each row counts."""
        rows = list(scores)
        totals: list[PartTotal] = []
        for p in self.parts:
            mine = [(t, s, w) for t, s, w in rows if t.part == p.name]
            if mine:
                names = tuple(dict.fromkeys(t.name for t, _, _ in mine))
                totals.append(PartTotal(p, sum(s for _, s, _ in mine), sum(w for _, _, w in mine), names))
        return totals


def parse_parts_option(values: Iterable[str]) -> list[str]:
    """``--part A --part B`` and ``--part A,B`` alike: the part names, in order, each once."""
    names = [name.strip() for value in values for name in value.split(",")]
    return list(dict.fromkeys(n for n in names if n))


def suite_path(lab: str) -> Path:
    return Path(__file__).resolve().parent.parent / "labs" / lab / "suite.yaml"


def hidden_suite_path(lab: str) -> Path:
    """The instructor's hidden tests: other schedules and seeds, left out of every release."""
    return Path(__file__).resolve().parent.parent / "labs" / lab / "hidden" / "suite.yaml"


def load_graded_suite(lab_name: str) -> Suite:
    """The visible suite plus the hidden one, if this checkout has it (the instructor's does)."""
    visible = load_suite(lab_name)
    hidden_path = hidden_suite_path(visible.lab.name)
    if not hidden_path.exists():
        return visible
    hidden = load_suite(visible.lab.name, hidden_path, parts=visible.parts)
    if hidden.parts and not visible.parts:
        raise SuiteError(f"{hidden_path}: names parts, but the visible suite {visible.source} has none; "
                         "declare the parts there, where students see them")
    clash = {t.name for t in hidden.tests} & {t.name for t in visible.tests}
    if clash:
        raise SuiteError(f"{hidden_path}: hidden tests need names of their own: {', '.join(sorted(clash))}")
    # The visible suite's invariants hold on the hidden tests too.
    tests = visible.tests + tuple(dataclasses.replace(with_checks(t, visible.every_test), hidden=True)
                                  for t in hidden.tests)
    return Suite(visible.lab, tests, visible.source, parts=visible.parts, every_test=visible.every_test)


def load_suite(lab_name: str, path: str | Path | None = None, parts: Sequence[Part] = ()) -> Suite:
    """The suite of ``lab_name`` (its ``suite.yaml`` unless ``path`` says otherwise);
    ``parts``: those its tests belong to if it names none (a hidden suite's, the visible one's)."""
    lab = get_lab(lab_name)
    source = Path(path) if path is not None else suite_path(lab.name)
    if not source.exists():
        raise SuiteError(f"the {lab_name} lab has no test suite at {source}")
    try:
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SuiteError(f"{source}: not valid YAML: {exc}") from None
    return parse_suite(doc, lab, source, parts)


def parse_suite(doc: Any, lab: Lab, source: Path, inherited: Sequence[Part] = ()) -> Suite:
    """Check a suite document (already loaded from YAML) and build the :class:`Suite`.

    ``inherited``: the parts of the suite this one adds to (a hidden suite adds to the visible
    one). Its tests must then belong to those parts, though not every part needs one of them;
    if the document names parts itself, they must be the same names with the same titles.
    """
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise SuiteError(f"{source}: a suite is a mapping with 'lab' and 'tests'")
    _keys(doc, {"lab", "parts", "seeds", "ray_seeds", "every_test", "tests"}, "the suite", problems)
    if doc.get("lab") != lab.name:
        problems.append(f"lab: says {doc.get('lab')!r}, but this is the suite of the {lab.name!r} lab")
    declared = _parts(doc["parts"], problems) if "parts" in doc else None
    if declared is not None and inherited:
        _same_parts(declared, tuple(inherited), problems)
    parts = tuple(inherited) or (declared or ())
    workloads: dict[str, Any] = _registry(lab, "workloads", "WORKLOADS")
    checks: dict[str, Check] = _registry(lab, "checks", "CHECKS")
    seeds = _count(doc.get("seeds", 20), "seeds", problems)
    ray_seeds = _count(doc.get("ray_seeds", 1), "ray_seeds", problems)
    every_test = _every_test(doc.get("every_test", []), checks, lab, problems)
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
            if parts:
                test = dataclasses.replace(test, part=_part_of(test.name, parts, f"{where}.name", problems))
            tests.append(with_checks(test, every_test))
    if declared and not inherited and tests and len(tests) == len(raw_tests):  # not when a test was unreadable
        have = {t.part for t in tests}
        for p in declared:
            if p.name not in have:
                problems.append(f"parts.{p.name}: no test belongs to part {p.name} ({p.title}); name its tests "
                                f"'{p.name}-...', or remove the part")
    if problems:
        raise SuiteError(f"{source}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return Suite(lab, tuple(tests), source, parts=parts, every_test=every_test)


def with_checks(test: Test, more: Sequence[tuple[str, Check]]) -> Test:
    """``test`` with the checks of ``more`` it does not already have, after its own."""
    have = {name for name, _ in test.checks}
    return dataclasses.replace(test, checks=(*test.checks, *(c for c in more if c[0] not in have)))


def _every_test(raw: Any, checks: dict[str, Check], lab: Lab, problems: list[str]) -> tuple[tuple[str, Check], ...]:
    if not isinstance(raw, list):
        problems.append(f"every_test: a list of check names that every test runs, from: {', '.join(checks)}")
        return ()
    chosen: list[tuple[str, Check]] = []
    for j, c in enumerate(raw):
        if c not in checks:
            close = difflib.get_close_matches(str(c), list(checks), n=1)
            also = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"every_test[{j}]: no check {c!r}{also}; the {lab.name} lab has: {', '.join(checks)}")
        else:
            chosen.append((c, checks[c]))
    return tuple(chosen)


def _parts(raw: Any, problems: list[str]) -> tuple[Part, ...]:
    """The ``parts`` mapping, checked: names a ``--part`` can be typed as, titles in words."""
    example = "a mapping from each part's name to its title, e.g. {A: leader election, B: log replication}"
    if not isinstance(raw, dict):
        problems.append(f"parts: {example}, not {type(raw).__name__} {raw!r}"[:300])
        return ()
    if not raw:
        problems.append(f"parts: empty; leave the key out for a lab graded as one block, or give {example}")
        return ()
    parts: list[Part] = []
    for key, title in raw.items():
        if isinstance(key, bool) or not isinstance(key, str | int):
            problems.append(f"parts: {key!r} is not a part's name; YAML read it as {type(key).__name__}, "
                            "so write it in quotes ('ON': ...)")
            continue
        name = str(key)
        if any(p.name == name for p in parts):
            problems.append(f"parts.{name}: named twice")
            continue
        if not PART_NAME.fullmatch(name):
            problems.append(f"parts.{name}: a part's name is letters, digits or underscores, with no dash or "
                            "space (its tests are named '<part>-<test>', e.g. A-initial-election)")
            continue
        if not isinstance(title, str) or not title.strip():
            problems.append(f"parts.{name}: a title in a few words, e.g. '{name}: leader election', not {title!r}")
            continue
        parts.append(Part(name, " ".join(title.split())))
    return tuple(parts)


def _same_parts(declared: tuple[Part, ...], inherited: tuple[Part, ...], problems: list[str]) -> None:
    """A hidden suite that names parts must name the visible suite's: a part of its own would be
    graded but never shown, and a title of its own would contradict the handout."""
    known = {p.name: p.title for p in inherited}
    for p in declared:
        if p.name not in known:
            problems.append(f"parts.{p.name}: the visible suite has no part {p.name} (it has "
                            f"{', '.join(known)}); hidden tests belong to the visible suite's parts")
        elif known[p.name] != p.title:
            problems.append(f"parts.{p.name}: titled {p.title!r} here but {known[p.name]!r} in the visible "
                            "suite; leave 'parts' out of the hidden suite to use the visible one's")


def _part_of(name: str, parts: Sequence[Part], where: str, problems: list[str]) -> str | None:
    """The part ``name`` belongs to by its prefix, or a problem saying how to place it."""
    for p in parts:
        if name.startswith(f"{p.name}-"):
            return p.name
    listed = ", ".join(p.name for p in parts)
    prefix = name.split("-", 1)[0] if "-" in name else ""
    if prefix and PART_NAME.fullmatch(prefix):
        hint = (f"add '{prefix}: <title>' to parts{did_you_mean(prefix, [p.name for p in parts])}, "
                f"or rename the test to start with one of {listed}")
    else:
        hint = f"start its name with its part and a dash, e.g. '{parts[0].name}-{name}'"
    problems.append(f"{where}: {name!r} belongs to no part (parts: {listed}); {hint}")
    return None


def _test(raw: dict[str, Any], where: str, lab: Lab, workloads: dict[str, Any],
          checks: dict[str, Check], seeds: int, ray_seeds: int, problems: list[str]) -> Test | None:
    _keys(raw, {"name", "points", "description", "workload", "lab", "schedule", "search", "checks", "seeds",
                "ray_seeds"}, where, problems)
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
    chosen: list[tuple[str, Check]] = []
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
    search = None
    if "search" in raw:
        for other in ("schedule", "seeds", "ray_seeds"):
            if other in raw:
                problems.append(f"{where}.{other}: a search test has no {other} (it tries every order, once)")
        search = parse_search(raw["search"], f"{where}.search", problems, _registry(lab, "checks", "GOALS"))
        n, r = 1, 0
        ok = ok and search is not None
    if not ok or the_lab is None or schedule is None:
        return None
    assert isinstance(name, str) and isinstance(points, int) and isinstance(description, str)
    return Test(name, points, " ".join(description.split()), dataclasses.replace(the_lab, checks=()),
                schedule, schedule_name, tuple(chosen), tuple(range(1, n + 1)), tuple(range(1, r + 1)),
                dict(raw), search=search)


def _lab(raw: dict[str, Any], where: str, lab: Lab, workloads: dict[str, Any], problems: list[str]) -> Lab | None:
    changes: dict[str, Any] = {}
    overrides = raw.get("lab", {})
    allowed = {"nodes", "min_duration", "settle", "memory_every", "params", "variant"}
    if not isinstance(overrides, dict):
        problems.append(f"{where}.lab: a mapping of lab settings ({', '.join(sorted(allowed))})")
        return None
    _keys(overrides, allowed, f"{where}.lab", problems)
    variant = overrides.get("variant")
    if variant is not None:  # another shape of the lab: the settings below apply to it
        if variant not in lab.variants:
            known = ", ".join(lab.variants) or "none"
            problems.append(f"{where}.lab.variant: the {lab.name} lab has no variant {variant!r} (it has: {known})")
            return None
        lab = lab.variants[variant]
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
    changes.update({k: v for k, v in overrides.items() if k in allowed and k != "variant"})
    params = changes.get("params")
    if params is not None:
        if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
            problems.append(f"{where}.lab.params: a mapping of names to values, such as {{snapshot_every: 20}}")
            return None
        changes["params"] = {**lab.params, **params}
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

