"""Grading a class at once: every submission a Ray task, each result persisted as it lands.

    python -m autograder grade-all submissions/ --lab rpc --out grades/ [--address HOST:PORT]

Each subfolder of ``submissions/`` is one student's submission (named after the student). The
grader is the Ray driver of the *instructor's* cluster (a local one on this machine, or the one
at ``--address``) and fans out one grading job per submission as a Ray task. The gradebook
(``grades/gradebook.sqlite``) gets a row the moment a job's result reaches the driver, so a
grader killed mid-way and started again grades only the submissions that have no row yet.

How a job runs, and why:

* **The instructor's cluster only carries jobs.** DESIGN ("The trust boundary is the operating
  system, not Ray") says student code never runs inside the instructor's Ray cluster: every
  process of that cluster holds its token and could schedule work on any machine of it, the
  head with the gradebook included. So a job does not call :func:`autograder.grade.grade` in
  the task's own process (a Ray worker of that cluster). It starts a child process that starts
  a Ray instance of its own (``address="local"``: loopback, never a cluster found lying around
  on the machine), with a fresh token and an environment scrubbed of the cluster's variables,
  and calls ``grade`` there. Calling ``grade`` directly inside the task does work (a task may
  create the actors of the submission's Ray runs in the instructor's cluster; checked while
  building this), and saves a Ray start per submission (about 14 s on a busy 2-core machine,
  by ``benchmarks/classroom.py``, against minutes for a whole grading); it was not chosen
  because it puts student actors in the instructor's cluster. The child is also where the separate,
  unprivileged OS user of DESIGN belongs once it exists: it is one process to start as another
  user.
* **Jobs exchange plain data with the driver.** The driver sends a submission's files as bytes
  (so a worker machine needs the course's code installed, not the submissions), and gets back
  scores and the files of the results folder (``results.json``, ``report.json``,
  ``feedback.html``, ``pictures/``) as bytes; it writes them under ``grades/results/<student>/``
  itself, so a class graded on many machines still has every result on the grader's disk.
* **Scores are checked against the grader's own suite.** ``report.json`` is written on the
  submission's side (without the sandbox the child runs as the same OS user as the student's
  processes, which could reach its files), so its scores are read as plain JSON, checked field by field, and
  must name exactly the suite's tests with scores of 0 or the test's points.
* **Nothing stops the class.** A job whose grading crashes, times out (``--timeout``) or whose
  task dies (its worker or machine lost) is recorded with score 0 and the reason; the other
  jobs go on. ``--regrade-errors`` grades those again on the next start.

A row is finished for a submission when it was graded with the same files (a SHA-256 digest)
and the same settings (simulator seeds, Ray runs, test pattern, parts); otherwise it is graded again.

This module is the driver's side; a job is :mod:`.grading_job`, the gradebook :mod:`.gradebook`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .grade import BUDGET
from .gradebook import Gradebook, Row, now, table, write_csv
from .grading_job import SKIP_NAMES, digest, grade_job, pack, start_ray, unpack
from .nbgrader_assignment import GradingSettings, grading_budget
from .suite import SuiteError, load_graded_suite, parse_parts_option


class ClassroomError(click.ClickException):
    """The class cannot be graded at all (no such folder, no such lab, no Ray)."""


@dataclass(frozen=True)
class Submission:
    """One student's submission: a folder named after the student."""

    student: str
    path: Path


def find_submissions(submissions_dir: Path, exclude: Path | None = None) -> list[Submission]:
    """Each subfolder of ``submissions_dir`` (hidden ones and ``exclude``, the grader's own
    output folder if it lives there, aside), sorted by name."""
    if not submissions_dir.is_dir():
        raise ClassroomError(f"{submissions_dir} is not a folder of submissions")
    skip = exclude.resolve() if exclude is not None else None
    return [Submission(p.name, p) for p in sorted(submissions_dir.iterdir())
            if p.is_dir() and not p.name.startswith(".") and p.name not in SKIP_NAMES and p.resolve() != skip]


# -- the class: runs in the driver ---------------------------------------------------------------


def grade_all(submissions_dir: Path, lab: str, out_dir: Path, address: str | None = None,
              sim_seeds: int | None = None, ray_runs: bool = True, pattern: str | None = None,
              timeout: float | None = None, cpus: float = 1.0, regrade_errors: bool = False,
              show_progress: bool = True, echo: Callable[[str], None] = click.echo,
              parts: Sequence[str] = (), budget: float = BUDGET) -> list[Row]:
    """Grade every submission in ``submissions_dir`` that has no finished row yet, in parallel
    as Ray tasks, and return the rows of all of them (sorted by student).

    ``budget`` is the seconds of real time one submission's grading may take: once they are
    spent, its runs left fail without running, each saying so (``grade.grade``). ``timeout`` is
    a backstop for one submission's whole grading; by default it is the sum of the grader's own
    per-run limits, capped by the budget (``nbgrader_assignment.grading_budget``), so that a
    submission that hangs is stopped run by run, with a reason per test, and never cut off whole.
    ``address`` is the instructor's Ray cluster; without it (and with no Ray connected in this
    process) a fresh local Ray starts on this machine. Each job reserves ``cpus`` CPUs, so a
    machine grades as many submissions at once as it has CPUs to give. Writes
    ``out_dir/gradebook.sqlite``, ``out_dir/results/<student>/`` and ``out_dir/grades.csv``.
    ``parts``: only the tests of these parts, for a lab graded in parts (``["A", "B"]``).
    """
    submissions = find_submissions(submissions_dir, exclude=out_dir)
    try:
        suite = load_graded_suite(lab)
        tests = suite.select(pattern, parts)
        # In the suite's order and spelling, so that "b,A" and "A,B" are the same settings.
        wanted = {suite.part(name).name for name in parts}
        chosen_parts = [p.name for p in suite.parts if p.name in wanted]
    except (SuiteError, LookupError, OSError) as exc:
        raise ClassroomError(str(exc)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {"sim_seeds": sim_seeds, "ray": ray_runs, "pattern": pattern}
    if chosen_parts:  # only then: rows graded before parts existed keep their settings key
        settings["parts"] = chosen_parts
    settings_key = json.dumps(settings, sort_keys=True)
    settings["budget"] = budget  # not in the key: a grade does not depend on it, unless it ran out
    max_score = sum(t.points for t in tests)
    if timeout is None:
        timeout = float(grading_budget(lab, GradingSettings(sim_seeds=sim_seeds, ray=ray_runs), budget))
    book = Gradebook(out_dir / "gradebook.sqlite")
    try:
        done = book.rows(lab)
        todo: list[tuple[Submission, dict[str, bytes], str]] = []
        for sub in submissions:
            try:
                files = pack(sub.path)
            except (ValueError, OSError) as exc:
                if sub.student not in done or done[sub.student].reason != str(exc):
                    book.record(_error_row(sub.student, lab, max_score, str(exc), "", settings_key))
                continue
            key = digest(files)
            row = done.get(sub.student)
            if (row is not None and row.digest == key and row.settings == settings_key
                    and not (regrade_errors and row.status == "error")):
                continue
            todo.append((sub, files, key))
        skipped = len(submissions) - len(todo)
        if skipped:
            echo(f"{skipped} of {len(submissions)} submissions already graded (in {book.path}); "
                 f"grading the other {len(todo)}")
        if todo:
            private = [str(submissions_dir.resolve()), str(out_dir.resolve())]
            _fan_out(todo, lab, out_dir, book, settings, settings_key, max_score, address, timeout, cpus,
                     show_progress, private)
        rows = book.rows(lab)
    finally:
        book.close()
    current = [rows[s.student] for s in submissions if s.student in rows]
    write_csv(current, tests, out_dir / "grades.csv")
    echo(table(current))
    echo(f"gradebook: {out_dir / 'gradebook.sqlite'}; table: {out_dir / 'grades.csv'}")
    return current


def _fan_out(todo: list[tuple[Submission, dict[str, bytes], str]], lab: str, out_dir: Path, book: Gradebook,
             settings: dict[str, Any], settings_key: str, max_score: int, address: str | None,
             timeout: float, cpus: float, show_progress: bool, private: list[str]) -> None:
    """One Ray task per submission; each result recorded the moment it reaches the driver.
    ``private``: the class's folders, which student code must not be able to read."""
    import ray  # Ray only when a class is graded: it takes seconds to import

    with _connected(address):
        job = ray.remote(grade_job).options(num_cpus=cpus, max_retries=0, name=f"grade-{lab}")
        pending: dict[Any, tuple[Submission, str]] = {}
        for sub, files, key in todo:
            pending[job.remote(sub.student, lab, files, settings, timeout, private)] = (sub, key)
        with _progress(len(pending), lab, show_progress) as bar:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                ref = ready[0]
                sub, key = pending.pop(ref)
                try:
                    answer = ray.get(ref)
                except Exception as exc:  # the task died: its worker or its machine was lost
                    answer = {"error": f"the grading job died: {type(exc).__name__}: {_first_line(exc)}"}
                row = _row(sub.student, lab, max_score, answer, out_dir, key, settings_key)
                book.record(row)
                bar.update(1, f"{sub.student}: {row.score}/{row.max_score}")


def _row(student: str, lab: str, max_score: int, answer: dict[str, Any], out_dir: Path, key: str,
         settings_key: str) -> Row:
    """The gradebook row of a job's answer, its results folder written first."""
    files = answer.get("files")
    results = ""
    if isinstance(files, dict) and files:
        try:
            results = str(write_results_folder(out_dir / "results" / student, files))
        except (ValueError, OSError) as exc:
            answer = {**answer, "error": f"its results could not be written: {exc}"}
    started_at = answer.get("started_at")
    row = Row(student, lab, 0, max_score, "error", started_at=started_at if isinstance(started_at, str) else "",
              finished_at=now(), seconds=float(answer.get("seconds") or 0.0), results=results,
              node=str(answer.get("node") or ""), digest=key, settings=settings_key)
    tests = answer.get("tests")
    if "error" in answer or not isinstance(tests, dict):
        row.reason = str(answer.get("error", "the grading job sent no scores"))
    else:
        row.status, row.tests, row.score = "graded", dict(tests), sum(tests.values())
    return row


def _error_row(student: str, lab: str, max_score: int, reason: str, key: str, settings_key: str) -> Row:
    at = now()
    return Row(student, lab, 0, max_score, "error", reason=reason, started_at=at, finished_at=at,
               digest=key, settings=settings_key)


def write_results_folder(target: Path, files: Mapping[str, bytes]) -> Path:
    """Write a job's results into ``target`` in one step: into a partial folder, then renamed,
    so that a folder under ``results/`` is always one whole grading."""
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    unpack(files, partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


@contextlib.contextmanager
def _connected(address: str | None) -> Iterator[None]:
    """The instructor's Ray: the one this process is connected to, the cluster at ``address``,
    or a fresh local one (``address="local"``: never a cluster some other process left running,
    which a bare ``ray.init()`` would join)."""
    import ray  # Ray only when a class is graded: it takes seconds to import

    if ray.is_initialized():
        yield
        return
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    try:
        start_ray(address=address or "local")
    except Exception as exc:
        raise ClassroomError(f"cannot start or reach Ray at {address or 'this machine'}: {exc}") from None
    try:
        yield
    finally:
        ray.shutdown()


class _Bar:
    """A progress bar (click's), or nothing."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def update(self, steps: int, label: str) -> None:
        if self.bar is not None:
            self.bar.update(steps, label)


@contextlib.contextmanager
def _progress(total: int, lab: str, show: bool) -> Iterator[_Bar]:
    if not show:
        yield _Bar(None)
        return
    with click.progressbar(length=total, label=f"grading {total} submission(s) of {lab}", file=sys.stderr,
                           show_pos=True, show_eta=True, item_show_func=lambda s: s) as bar:
        yield _Bar(bar)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


# -- the command ------------------------------------------------------------------------------------


@click.command("grade-all")
@click.argument("submissions_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--lab", required=True, help="The lab to grade (its suite, hidden tests included).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the gradebook, grades.csv and results/ go (default: grades-<lab>).")
@click.option("--address", default=None,
              help="The Ray cluster to fan out over (host:port). Default: a fresh Ray on this machine.")
@click.option("--sim-seeds", type=click.IntRange(min=0), default=None,
              help="Only the first N simulator seeds of each test (default: the suite's).")
@click.option("--no-ray", is_flag=True, help="Skip the Ray runs (fast, but the grade then rests on the simulator).")
@click.option("-k", "--pattern", default=None, help="Only the tests whose name contains this.")
@click.option("--part", "part_names", multiple=True, metavar="PART",
              help="Only the tests of this part (a lab graded in parts, such as raft). Repeat it or "
                   "separate parts by commas for several: --part A --part B, or --part A,B.")
@click.option("--timeout", type=click.FloatRange(min=1), default=None,
              help="Seconds one submission's grading may take before it scores 0 "
                   "(default: the sum of the grader's own per-run limits).")
@click.option("--budget", type=click.FloatRange(min=1), default=BUDGET, show_default=True,
              help="Seconds of real time one submission's grading may take; the runs left then fail, saying so.")
@click.option("--cpus", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="CPUs each grading job reserves on its Ray node.")
@click.option("--regrade-errors", is_flag=True, help="Grade again the submissions recorded as errors.")
def grade_all_command(submissions_dir: Path, lab: str, out_dir: Path | None, address: str | None,
                      sim_seeds: int | None, no_ray: bool, pattern: str | None, part_names: tuple[str, ...],
                      timeout: float | None, budget: float, cpus: float, regrade_errors: bool) -> None:
    """Grade every submission (each subfolder of SUBMISSIONS_DIR) in parallel on Ray.

    Each result is saved in the gradebook as soon as it is known; run the same command again
    after a crash and only the submissions without a result are graded.
    """
    grade_all(submissions_dir, lab, out_dir or Path(f"grades-{lab}"), address=address, sim_seeds=sim_seeds,
              ray_runs=not no_ray, pattern=pattern, timeout=timeout, cpus=cpus, regrade_errors=regrade_errors,
              parts=parse_parts_option(part_names), budget=budget)


__all__ = ["Gradebook", "Row", "Submission", "grade_all", "grade_all_command", "grade_job"]
