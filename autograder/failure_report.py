"""The report of a failed run: everything needed to understand and replay it, and nothing else::

    FAILED rpc unreliable (20 pts), seed 17 on sim
      property: not linearizable (key 'a'): Now get('a') -> ['x', 3] ... can no longer come true
      schedule: rpc-unreliable: loss 0.2, delay uniform 1-50 ms, duplicate 0.1, reorder
      picture: rpc-reports/rpc-unreliable-sim-17.html (and ...-history.html)
      replay: python -m autograder test rpc -k unreliable --seed 17 --runtime sim --no-shrink --impl my/node.py

A simulator failure can first be shrunk (:mod:`.shrink`): the report then shows the smallest
schedule found that still fails the same way and what shrinking took out, and writes it to a
file the replay command names. The replay command reproduces exactly the report it is printed
in: it names the schedule the report shows, and does not shrink again.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from labs.pictures import path_picture, picture_of, write_html

from .runner import Outcome
from .shrink import shrink
from .suite import Suite


def replay_command(suite: Suite, outcome: Outcome, impl: str | Path | None,
                   schedule_file: Path | None = None, path_file: Path | None = None) -> str:
    """The ``python -m autograder test`` command line that runs ``outcome``'s test again, on its
    seed and runtime (under ``schedule_file`` when given), and reports it unshrunk: the same
    report again. For a search test, ``python -m autograder search``, following the path in
    ``path_file`` when given (else searching again, which finds the same path)."""
    if outcome.test.search is not None:
        parts = ["python", "-m", "autograder", "search", suite.lab.name, outcome.test.name]
        if path_file is not None:
            parts += ["--replay", str(path_file)]
    else:
        parts = ["python", "-m", "autograder", "test", suite.lab.name, "-k", outcome.test.name,
                 "--seed", str(outcome.seed), "--runtime", outcome.runtime, "--no-shrink"]
    if schedule_file is not None:
        parts += ["--schedule", str(schedule_file)]
    if impl:
        parts += ["--impl", str(impl)]
    return shlex.join(parts)


def report(suite: Suite, outcome: Outcome, out_dir: Path | None, impl: str | Path | None,
           detail_lines: int = 30, shrink_budget: float = 0.0, schedule_file: Path | None = None) -> str:
    """The failure report of ``outcome``, writing its pictures into ``out_dir``.

    With a ``shrink_budget`` (seconds) and an ``out_dir`` to write the shrunk schedule into, a
    simulator failure is first replayed under smaller schedules (:mod:`.shrink`), and the report
    shows the smallest one that still fails the same way. ``schedule_file`` is where the test's
    schedule was written, when it is not the suite's own.
    """
    t = outcome.test
    lines = [f"FAILED {suite.lab.name} {t.name} ({t.points} pts), seed {outcome.seed} on {outcome.runtime}"]
    schedule_line = f"  schedule: {t.schedule_name}: {t.schedule.describe()}"
    path_file = None
    if t.search is not None:
        lines[0] = f"FAILED {suite.lab.name} {t.name} ({t.points} pts), a search to depth {t.search.depth}"
        schedule_line = _search_lines(outcome)
        if out_dir is not None and outcome.search is not None and outcome.search.path:
            path_file = write_path(suite, outcome, out_dir)
    elif shrink_budget > 0 and out_dir is not None and outcome.runtime == "sim" and outcome.failed_checks:
        shrunk = shrink(outcome, impl, shrink_budget)
        if shrunk is not None and shrunk.after < shrunk.before:
            outcome = shrunk.outcome
            schedule_line = (f"  schedule, shrunk from {shrunk.before} to {shrunk.after} event(s) and fault(s) "
                             f"in {shrunk.steps} runs: {shrunk.schedule.describe()}\n"
                             f"  shrinking: {_clip('; '.join(shrunk.removed), 400)}")
            out_dir.mkdir(parents=True, exist_ok=True)
            schedule_file = out_dir / f"{suite.lab.name}-{t.name}-{outcome.seed}-schedule.yaml"
            schedule_file.write_text(yaml.safe_dump(shrunk.schedule.to_data(), sort_keys=False), encoding="utf-8")
    first = outcome.findings[0]
    lines.append(f"  property: {_clip(first.message, 600)}")
    for more in outcome.findings[1:3]:
        lines.append(f"  also: {_clip(more.message, 300)}")
    details = first.details
    if details:
        body = [_clip(line, 200) for line in details.strip().splitlines()]
        shown = body[:detail_lines] + ([f"... ({len(body) - detail_lines} more lines)"] if len(body) > detail_lines else [])
        lines += ["  evidence:"] + [f"    {line}" for line in shown]
    lines.append(schedule_line)
    pictures = write_pictures(suite, outcome, out_dir) if out_dir is not None else []
    if pictures:
        lines.append("  picture: " + " and ".join(str(p) for p in pictures))
    lines.append(f"  replay: {replay_command(suite, outcome, impl, schedule_file, path_file)}")
    return "\n".join(lines)


def write_path(suite: Suite, outcome: Outcome, out_dir: Path) -> Path:
    """The search's path to its violation, step by step in words, as a file ``autograder search
    --replay`` follows."""
    assert outcome.search is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{suite.lab.name}-{outcome.test.name}-path.yaml"
    data = {"lab": suite.lab.name, "test": outcome.test.name, "steps": list(outcome.search.path)}
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=1000), encoding="utf-8")
    return path


def _search_lines(outcome: Outcome) -> str:
    """What a search test tried, and the steps of the shortest path it found to the violation."""
    found = outcome.search
    if found is None:
        return "  search: did not run"
    spec = outcome.test.search
    assert spec is not None
    if found.replayed:
        head = f"  replayed: a path of {len(found.path)} steps, the invariants checked after each"
        which = "path"
    elif found.walk is not None:
        head = (f"  search: {found.states:,} states to depth {spec.depth}, nothing broken; then random walk "
                f"{found.walk} of {spec.walks} broke it in {found.walked} steps, in {found.seconds:.1f} s")
        which = f"the walk's path with every step it can do without left out, {len(found.path)} steps"
    else:
        walks = f", then {found.walks:,} random walks" if found.walks else ""
        head = f"  search: {found.states:,} states to depth {found.depth}{walks} in {found.seconds:.1f} s"
        which = (f"path, {len(found.path)} steps (a shortest way to each stage's goal, then no shorter one "
                 "breaks it)" if spec.stages else f"path, {len(found.path)} steps (no shorter one breaks it)")
    if not found.path:
        return head
    steps = [f"    {i}. {_clip(step, 160)}" for i, step in enumerate(found.path, 1)]
    return "\n".join([head, f"  {which}:", *steps])


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit - 25]}… ({len(text)} characters)"


def write_pictures(suite: Suite, outcome: Outcome, out_dir: Path) -> list[Path]:
    """The run's picture, and the picture of the first finding that has one."""
    stem = f"{suite.lab.name}-{outcome.test.name}-{outcome.runtime}-{outcome.seed}"
    written: list[Path] = []
    if outcome.result is not None:
        title = f"{suite.lab.name} {outcome.test.name}, seed {outcome.seed} on {outcome.runtime}"
        found = outcome.search
        if found is not None and found.verdict == "violation" and found.run is not None:
            picture = path_picture(found, f"{suite.lab.name} {outcome.test.name}")
        else:
            picture = picture_of(outcome.result, title)
        written.append(write_html(picture, out_dir / f"{stem}.html", shared_js=True))
    html = next((f.html for f in outcome.findings if f.html), None)
    if html:
        path = out_dir / f"{stem}-history.html"
        path.write_text(html, encoding="utf-8")
        written.append(path)
    return written
