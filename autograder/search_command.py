"""``python -m autograder search LAB TEST``: run one search test of a lab's suite, showing its
progress depth by depth, and report what it found; or, with ``--replay``, follow a path a report
wrote down, step by step, and report it again::

    python -m autograder search raft C-search-figure8 --impl my/node.py
    python -m autograder search raft C-search-figure8 --replay raft-reports/raft-C-search-figure8-path.yaml

A search test runs in this process (as ``autograder test`` does); grading runs it with each node
sealed. The depth, the walks and the restarts can be changed for a run, to look further or
faster than the suite does.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import click
import yaml

from .failure_report import report
from .runner import run_search
from .suite import SuiteError, Test, load_suite


def _read_path(path: Path, lab: str, test: Test) -> list[str]:
    """The steps of a path file (:func:`autograder.failure_report.write_path`), checked."""
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{path}: cannot read it as YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not all(
            isinstance(step, str) for step in data["steps"]):
        raise click.ClickException(f"{path}: a path file holds 'steps', a list of steps in words, as a failure "
                                   "report writes it (…-path.yaml)")
    for field, want in (("lab", lab), ("test", test.name)):
        if data.get(field) not in (None, want):
            raise click.ClickException(f"{path}: {field} is {data[field]!r}, not {want!r}: a path belongs to the "
                                       "test that found it")
    return list(data["steps"])


@click.command("search")
@click.argument("lab")
@click.argument("test_name", metavar="TEST")
@click.option("--impl", type=click.Path(exists=True, path_type=Path), default=None,
              help="Your implementation (the lab's node.py or its folder). Default: the reference.")
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Search every order to this many steps, instead of the test's depth.")
@click.option("--walks", type=click.IntRange(min=0), default=None,
              help="Random walks after the search, instead of the test's number.")
@click.option("--restarts", type=click.IntRange(min=0), default=None,
              help="Crash-and-restarts a path may have, instead of the test's number.")
@click.option("--replay", "path_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Follow this path (a failure report's …-path.yaml) instead of searching.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the path and pictures of a violation go (default: <lab>-reports).")
def search_command(lab: str, test_name: str, impl: Path | None, depth: int | None, walks: int | None,
                   restarts: int | None, path_file: Path | None, out_dir: Path | None) -> None:
    """Run a search test: every order of deliveries, drops, copies, timer firings and restarts
    of a small configuration, breadth first to its depth, then random walks if the test has
    them. A violation is reported with its path step by step, a picture with the breaking step
    marked, and the command that replays exactly that path.

    Exits 0 when nothing broke (or the path replayed breaks nothing now), 1 otherwise.
    """
    try:
        suite = load_suite(lab)
        test = next((t for t in suite.tests if t.name == test_name), None)
        if test is None:
            names = [t.name for t in suite.tests if t.search is not None]
            raise click.ClickException(f"{lab} has no test {test_name!r}; its search tests: {', '.join(names) or 'none'}")
        if test.search is None:
            raise click.ClickException(f"{test_name} runs a schedule, not a search: "
                                       f"python -m autograder test {lab} -k {test_name}")
    except (SuiteError, LookupError) as exc:
        raise click.ClickException(str(exc)) from None
    s = test.search
    s = dataclasses.replace(s, depth=s.depth if depth is None else depth, walks=s.walks if walks is None else walks,
                            restarts=s.restarts if restarts is None else restarts)
    test = dataclasses.replace(test, search=s)
    steps = _read_path(path_file, lab, test) if path_file is not None else None
    who = f"your {impl}" if impl else "the reference solution"
    if steps is not None:
        click.echo(f"{lab} {test.name}: following the {len(steps)} steps of {path_file}, {who}")
    else:
        more = (f", then {s.walks:,} random walks of up to {s.walk_depth} steps" if s.walks else "")
        click.echo(f"{lab} {test.name}: every order to {s.depth} steps{more}, {who}")
    started = time.monotonic()

    def progress(done: int, states: int) -> None:
        click.echo(f"  depth {done}: {states:,} states, {time.monotonic() - started:.1f} s", err=True)

    outcome = run_search(test, impl, steps=steps, progress=progress)
    found = outcome.search
    took = time.monotonic() - started
    if outcome.passed:
        if steps is not None:
            click.echo(f"PASS: the path breaks nothing now ({took:.1f} s)")
        else:
            walked = f", then {found.walks:,} random walks," if found is not None and found.walks else ""
            states = f"{found.states:,} states to depth {found.depth}{walked}" if found is not None else "the search"
            click.echo(f"PASS: {states} broke nothing ({took:.1f} s)")
        sys.exit(0)
    out = out_dir or Path(f"{lab}-reports")
    click.echo(report(suite, outcome, out, impl))
    sys.exit(1)
