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

from labs.pictures import picture_of, write_html

from .runner import Outcome
from .shrink import shrink
from .suite import Suite


def replay_command(suite: Suite, outcome: Outcome, impl: str | Path | None,
                   schedule_file: Path | None = None) -> str:
    """The ``python -m autograder test`` command line that runs ``outcome``'s test again, on its
    seed and runtime (under ``schedule_file`` when given), and reports it unshrunk: the same
    report again."""
    parts = ["python", "-m", "autograder", "test", suite.lab.name, "-k", outcome.test.name]
    if outcome.test.search is None:  # a search has no seed, and its path is a shortest already
        parts += ["--seed", str(outcome.seed), "--runtime", outcome.runtime, "--no-shrink"]
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
    if t.search is not None:
        lines[0] = f"FAILED {suite.lab.name} {t.name} ({t.points} pts), a search to depth {t.search.depth}"
        schedule_line = _search_lines(outcome)
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
    lines.append(f"  replay: {replay_command(suite, outcome, impl, schedule_file)}")
    return "\n".join(lines)


def _search_lines(outcome: Outcome) -> str:
    """What a search test tried, and the steps of the shortest path it found to the violation."""
    found = outcome.search
    if found is None:
        return "  search: did not run"
    head = f"  search: {found.states:,} states to depth {found.depth} in {found.seconds:.1f} s"
    if not found.path:
        return head
    steps = [f"    {i}. {_clip(step, 160)}" for i, step in enumerate(found.path, 1)]
    return "\n".join([head, f"  path, {len(found.path)} steps (no shorter one breaks it):", *steps])


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit - 25]}… ({len(text)} characters)"


def write_pictures(suite: Suite, outcome: Outcome, out_dir: Path) -> list[Path]:
    """The run's picture, and the picture of the first finding that has one."""
    stem = f"{suite.lab.name}-{outcome.test.name}-{outcome.runtime}-{outcome.seed}"
    written: list[Path] = []
    if outcome.result is not None:
        title = f"{suite.lab.name} {outcome.test.name}, seed {outcome.seed} on {outcome.runtime}"
        written.append(write_html(picture_of(outcome.result, title), out_dir / f"{stem}.html", shared_js=True))
    html = next((f.html for f in outcome.findings if f.html), None)
    if html:
        path = out_dir / f"{stem}-history.html"
        path.write_text(html, encoding="utf-8")
        written.append(path)
    return written
