"""nbgrader glue: a course directory nbgrader understands, with one assignment per lab.

``python -m autograder nbgrader-setup COURSE`` writes::

    COURSE/nbgrader_config.py        settings that avoid nbgrader's pitfalls (below)
    COURSE/gradebook.db              nbgrader's gradebook, with one assignment per lab
    COURSE/source/rpc/rpc.ipynb      the lab's handout, a cell that runs the lab's tests on the
                                     student's node.py, and one graded cell per test
    COURSE/source/rpc/node.py        the lab's file, solutions already stripped by our release step
    COURSE/release/rpc/...           what students get (``nbgrader generate_assignment``)
    COURSE/submitted, autograded, feedback

The notebook is only the harness: the student's work is ``node.py``. The cell that runs the
tests (:mod:`.nbgrader_cell`) calls our grader (:mod:`autograder.grade`) in a separate, isolated
Python process, so the grade comes from the same runs and checks as ``python -m autograder
grade``; each test's points
land in nbgrader's gradebook through a graded cell whose output is the test's score (nbgrader's
partial credit). The hidden tests run because the grader on the instructor's machine has them
(``labs/<lab>/hidden``); they are never written into the assignment, only their total points.

nbgrader 0.9.6 pitfalls, and what this setup does about each (``tests/test_nbgrader_roundtrip.py``
shows every one):

* ``generate_assignment`` copies ``.py`` files verbatim, solution markers included. The source
  already holds ``node.py`` stripped by :func:`autograder.release.strip_solutions`, and a
  ``post_convert_hook`` strips every ``.py`` file of the release again (so a helper file an
  instructor drops into the source is stripped too) and deletes the release if it cannot.
* ``autograde`` replaces student files with the source's versions, so a wrong ``node.py`` could
  be graded as the instructor's and get full marks, and ``feedback/`` receives those files.
  ``Autograde.exclude_overwriting`` names the student's files, and before the notebook runs
  :class:`.nbgrader_hooks.KeepReleaseFiles` makes the graded folder exactly the release plus
  the student's files: other submitted files are deleted, other files are the release's own.
* Student code runs with the grader's permissions in the grading kernel. Here the kernel runs
  no student code: :class:`.nbgrader_hooks.UseReleasedNotebook` grades the released notebook,
  not the submitted one (cells a student added or edited are ignored), ``KeepReleaseFiles``
  deletes submitted files that could shadow a module the kernel imports (an
  ``ipykernel_launcher.py`` beside the notebook *is* the kernel otherwise), and the tests run
  in ``python -I`` (no current folder on the import path) from a private temporary folder.
  The student's ``node.py`` itself still runs as the grader's OS user inside the grader's child
  processes and Ray actors: that boundary belongs to the grader (see ``site/instructors.md``).
* The default cell timeout is 30 s. ``Execute.timeout`` is set to the longest the grader may
  take by its own limits (:func:`.nbgrader_assignment.grading_budget`) plus the kernel's start,
  so a slow or hanging submission is judged by the grader's per-run limits, with a reason per
  test, and never cut off as a whole.
* "Checksum changed" warnings on cells with hidden tests are false positives. No cell holds
  ``### BEGIN HIDDEN TESTS``: the hidden tests live with the grader, so every graded cell of
  the release is the source's cell and autograde reports no change.

nbgrader only logs a config file that fails to load, and grades with its defaults: then the
grading cell refuses to run (see :data:`.nbgrader_hooks.GUARDED`), so every graded cell scores
zero.

This module writes the course directory and holds the commands; the assignment's notebook is
:mod:`.nbgrader_assignment`'s, what runs inside it :mod:`.nbgrader_cell`'s, and what nbgrader
calls back into :mod:`.nbgrader_hooks`'s. The files a course directory holds import
``run_tests`` and the hooks from here, so they stay importable here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import click

from .nbgrader_assignment import (
    ROOT,
    GradingSettings,
    assignment_notebook,
    graded_labs,
    grading_budget,
    hidden_text,
    student_files,
)
from .nbgrader_cell import run_tests
from .nbgrader_hooks import autograde_preprocessors, release_hook, sanitize_preprocessors
from .release import BEGIN, END, ReleaseError, strip_solutions

STEPS = ("source", "release", "submitted", "autograded", "feedback")
"""nbgrader's folders, one per step, each holding a folder per assignment."""
COURSE_ID = "ds-course"
KERNEL_MARGIN = 60
"""Seconds the grading cell's timeout leaves on top of the grader's: the kernel's start and
imports, so the grader's own limit fires first and the cell says why."""


# -- the course directory ---------------------------------------------------------------------


_CONFIG = '''\
"""nbgrader's settings for this course, written by `python -m autograder nbgrader-setup`.

Each setting avoids one of nbgrader 0.9.6's pitfalls; autograder/nbgrader_course.py says why.
Run nbgrader from this folder: nbgrader generate_assignment / autograde / generate_feedback.
"""
import os

from autograder.nbgrader_course import autograde_preprocessors, release_hook, sanitize_preprocessors

ROOT = os.path.dirname(os.path.abspath(__file__))
STUDENT_FILES = {student_files!r}
"""Per assignment, the files students write: graded as submitted, never the source's copy."""

c = get_config()  # noqa: F821 (nbgrader's config loader provides it)
c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = {course_id!r}
# generate_assignment copies .py files verbatim: strip their solutions (and fail closed).
c.GenerateAssignment.post_convert_hook = release_hook(ROOT)
# autograde must not replace what students wrote with the source's version.
c.Autograde.exclude_overwriting = STUDENT_FILES
# The kernel runs the released notebook, beside the release's files and the student's only.
c.Autograde.sanitize_preprocessors = sanitize_preprocessors(ROOT)
c.Autograde.autograde_preprocessors = autograde_preprocessors(ROOT, STUDENT_FILES)
# Seconds a cell may run: the grading cell runs every test (nbgrader's default is 30).
c.Execute.timeout = {timeout}
'''


def setup_course(course: Path, labs: Sequence[str], settings: GradingSettings = GradingSettings(),  # noqa: B008 (frozen)
                 course_id: str = COURSE_ID) -> list[Path]:
    """Make ``course`` a course directory for ``labs``: folders, nbgrader_config.py, each lab's
    source (notebook and stripped lab file) and the gradebook. Returns the files written."""
    course = course.resolve()
    for step in STEPS:
        (course / step).mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    budgets: list[int] = []
    for lab in labs:
        import nbformat  # Jupyter's: only when a course is set up, it takes seconds to import

        source = course / "source" / lab
        source.mkdir(parents=True, exist_ok=True)
        nb_path = source / f"{lab}.ipynb"
        nbformat.write(assignment_notebook(lab, settings), str(nb_path))  # type: ignore[no-untyped-call]
        written.append(nb_path)
        for name in student_files(lab):
            original = ROOT / "labs" / lab / name
            target = source / name
            target.write_text(strip_solutions(original.read_text(encoding="utf-8"), str(original)), encoding="utf-8")
            written.append(target)
        budgets.append(grading_budget(lab, settings))
    config = course / "nbgrader_config.py"
    config.write_text(_CONFIG.format(student_files={lab: student_files(lab) for lab in labs}, course_id=course_id,
                                     timeout=max(budgets, default=0) + KERNEL_MARGIN), encoding="utf-8")
    written.append(config)
    for lab in labs:
        done = nbgrader(course, "db", "assignment", "add", lab)
        if done.returncode != 0:
            raise RuntimeError(f"nbgrader db assignment add {lab} failed:\n{done.stderr[-3000:]}")
    written.append(course / "gradebook.db")
    return written


def nbgrader(course: Path, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``nbgrader ARGS`` in ``course`` (so that it reads the course's nbgrader_config.py),
    as an instructor would; its log is in the result's stderr. Raises if the config did not
    load: nbgrader itself only logs that, and goes on without the protections."""
    env = dict(os.environ)
    # nbgrader runs `alembic` from PATH when it creates a gradebook: the one beside this Python.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL, env=env)
    if "Exception while loading config file" in done.stderr:
        raise RuntimeError(f"nbgrader could not load {course / 'nbgrader_config.py'} (and would have gone on "
                           f"without it):\n{done.stderr[-3000:]}")
    return done


def generate_assignment(course: Path, lab: str) -> Path:
    """``nbgrader generate_assignment`` for ``lab``, then the release checked: no solution
    marker in any file, no hidden test's text. Returns the release folder."""
    done = nbgrader(course, "generate_assignment", lab, "--force")
    release = course / "release" / lab
    if done.returncode != 0 or not release.is_dir():
        raise ReleaseError(f"nbgrader generate_assignment {lab} failed:\n{done.stderr[-3000:]}")
    check_release(release, lab)
    return release


def check_release(release: Path, lab: str) -> None:
    """Raise :class:`ReleaseError` if any file of ``release`` holds a solution marker or a
    hidden test's text."""
    secrets = [BEGIN, END, *hidden_text(lab)]
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        for secret in secrets:
            if secret in text:
                raise ReleaseError(f"{path}: the release holds {secret!r}")


def collect(course: Path, lab: str, student: str, folder: Path) -> Path:
    """Put ``student``'s ``folder`` (their copy of the assignment) into ``submitted/`` as
    nbgrader expects it. A missing notebook is taken from the release: grading runs the
    released notebook anyway, and nbgrader zeroes a submission without one.

    Symbolic links are left out: nbgrader copies what a link points to, so a ``node.py`` that
    links to the instructor's reference solution would be graded as the student's."""
    target = course / "submitted" / student / lab
    if target.exists():
        shutil.rmtree(target)

    def links(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if os.path.islink(os.path.join(folder, n))]

    shutil.copytree(folder, target, symlinks=True, ignore=links)
    released = course / "release" / lab
    for nb in released.glob("*.ipynb"):
        if not (target / nb.name).exists():
            shutil.copyfile(nb, target / nb.name)
    return target


def gradebook_scores(course: Path, lab: str) -> dict[str, dict[str, float]]:
    """Per student, each graded cell's score and the ``total``, as nbgrader's gradebook has them."""
    from nbgrader.api import Gradebook  # nbgrader only when asked: it takes seconds to import

    scores: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{course.resolve() / 'gradebook.db'}") as gb:
        assignment = gb.find_assignment(lab)
        for submission in assignment.submissions:
            row: dict[str, float] = {}
            for notebook in submission.notebooks:
                for g in notebook.grades:
                    row[g.name] = float(g.score)
            row["total"] = float(submission.score)
            scores[submission.student.id] = row
    return scores


# -- command line (registered on ``python -m autograder`` by autograder.cli) ------------------


def _labs(chosen: Iterable[str]) -> list[str]:
    known = graded_labs()
    picked = list(chosen) or known
    unknown = [lab for lab in picked if lab not in known]
    if unknown:
        raise click.UsageError(f"no lab with a test suite called {', '.join(unknown)}; labs: {', '.join(known)}")
    return picked


@click.command("nbgrader-setup")
@click.argument("course", type=click.Path(file_okay=False, path_type=Path))
@click.option("--lab", "labs", multiple=True, help="A lab to set up (repeatable). Default: every lab with a suite.")
@click.option("--sim-seeds", type=int, default=None,
              help="Simulator seeds per test in the grading cell (default: the suite's; fewer is faster).")
@click.option("--no-ray", is_flag=True, help="Grade without the Ray runs (they are the authoritative ones).")
@click.option("--timeout", type=int, default=None,
              help="Seconds the grading cell may run (default: the sum of the grader's per-run limits).")
@click.option("--course-id", default=COURSE_ID, show_default=True, help="nbgrader's course id.")
@click.option("--no-release", is_flag=True, help="Do not run nbgrader generate_assignment afterwards.")
def setup_command(course: Path, labs: tuple[str, ...], sim_seeds: int | None, no_ray: bool, timeout: int | None,
                  course_id: str, no_release: bool) -> None:
    """Make COURSE an nbgrader course directory with one assignment per lab, and release them.

    Then, in COURSE: hand out release/<lab>/, put submissions in submitted/<student>/<lab>/
    (or use nbgrader-collect), and run `nbgrader autograde <lab>` and
    `nbgrader generate_feedback <lab>`."""
    chosen = _labs(labs)
    settings = GradingSettings(sim_seeds, not no_ray, timeout)
    try:
        for path in setup_course(course, chosen, settings, course_id):
            click.echo(f"wrote {path}")
        if not no_release:
            for lab in chosen:
                click.echo(f"released {generate_assignment(course.resolve(), lab)} (solutions stripped, no hidden tests)")
    except ReleaseError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("nbgrader-collect")
@click.argument("course", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("submissions", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--lab", required=True, help="The lab the submissions are for.")
def collect_command(course: Path, submissions: Path, lab: str) -> None:
    """Copy SUBMISSIONS/<student>/ (each a student's copy of the assignment) into COURSE's
    submitted/<student>/<lab>/, for `nbgrader autograde <lab>`."""
    _labs([lab])
    for folder in sorted(p for p in submissions.iterdir() if p.is_dir()):
        click.echo(f"collected {collect(course, lab, folder.name, folder)}")


@click.command("nbgrader-scores")
@click.argument("course", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--lab", required=True, help="The lab (nbgrader assignment) to show.")
def scores_command(course: Path, lab: str) -> None:
    """Each student's points per test from COURSE's gradebook (after `nbgrader autograde`)."""
    scores = gradebook_scores(course, lab)
    columns = sorted({c for row in scores.values() for c in row if c != "total"})
    click.echo("student," + ",".join(columns) + ",total")
    for student, row in sorted(scores.items()):
        click.echo(",".join([student, *(f"{row.get(c, 0):g}" for c in columns), f"{row['total']:g}"]))


COMMANDS = (setup_command, collect_command, scores_command)
"""The commands to register on ``python -m autograder``."""


# run_tests and the hooks too: the notebooks a course holds import run_tests from here, its
# nbgrader_config.py the hooks (see _CONFIG, and the grading cell in nbgrader_assignment).
__all__ = ["COMMANDS", "autograde_preprocessors", "check_release", "collect", "generate_assignment",
           "gradebook_scores", "nbgrader", "release_hook", "run_tests", "sanitize_preprocessors", "setup_course"]
