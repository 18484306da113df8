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
tests calls our grader (:mod:`autograder.grade`) in a separate, isolated Python process, so the
grade comes from the same runs and checks as ``python -m autograder grade``; each test's points
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
  :class:`KeepReleaseFiles` makes the graded folder exactly the release plus the student's
  files: other submitted files are deleted, other files are the release's own.
* Student code runs with the grader's permissions in the grading kernel. Here the kernel runs
  no student code: :class:`UseReleasedNotebook` grades the released notebook, not the
  submitted one (cells a student added or edited are ignored), :class:`KeepReleaseFiles`
  deletes submitted files that could shadow a module the kernel imports (an
  ``ipykernel_launcher.py`` beside the notebook *is* the kernel otherwise), and the tests run
  in ``python -I`` (no current folder on the import path) from a private temporary folder.
  The student's ``node.py`` itself still runs as the grader's OS user inside the grader's child
  processes and Ray actors: that boundary belongs to the grader (see ``site/instructors.md``).
* The default cell timeout is 30 s. ``Execute.timeout`` is set to the longest the grader may
  take by its own limits (:func:`grading_budget`) plus the kernel's start, so a slow or hanging
  submission is judged by the grader's per-run limits, with a reason per test, and never cut
  off as a whole.
* "Checksum changed" warnings on cells with hidden tests are false positives. No cell holds
  ``### BEGIN HIDDEN TESTS``: the hidden tests live with the grader, so every graded cell of
  the release is the source's cell and autograde reports no change.

nbgrader only logs a config file that fails to load, and grades with its defaults: then the
grading cell refuses to run (see :data:`GUARDED`), so every graded cell scores zero.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .release import BEGIN, END, ReleaseError, strip_solutions

ROOT = Path(__file__).resolve().parent.parent
"""The checkout this module belongs to: the labs, their suites and handouts."""
STEPS = ("source", "release", "submitted", "autograded", "feedback")
"""nbgrader's folders, one per step, each holding a folder per assignment."""
COURSE_ID = "ds-course"
RUN_CELL = "run-tests"
"""The grade_id of the cell that runs the tests; the graded cells read its ``results``."""
HIDDEN_CELL = "hidden-tests"
RAY_RUN_LIMIT = 300.0
"""Seconds allowed for one Ray run in :func:`grading_budget` (process start, the schedule's
duration, settling, the checks); the Ray runtime's own start and wait limits are shorter."""
BUDGET_MARGIN = 120.0
"""Seconds on top of the runs: the grader's start and its reports."""
KERNEL_MARGIN = 60
"""Seconds the grading cell's timeout leaves on top of the grader's: the kernel's start and
imports, so the grader's own limit fires first and the cell says why."""
TIMESTAMP = "timestamp.txt"
GUARDED = "DS_COURSE_NBGRADER_GUARDED"
"""Set by :class:`KeepReleaseFiles` in nbgrader's process, so the grading kernel inherits it:
nbgrader only logs a config file that fails to load and goes on with its defaults (none of the
protections here), so the grading cell refuses to grade without it."""


@dataclass(frozen=True)
class GradingSettings:
    """How the notebook's grading cell runs the tests.

    The defaults are the real setting: every simulator seed of the suite and the Ray runs,
    which are the authoritative ones. Tests use a seed or two without Ray to stay quick."""

    sim_seeds: int | None = None
    """Simulator seeds per test (the first N of its seeds); None: all of the suite's."""
    ray: bool = True
    timeout: int | None = None
    """Seconds the grading may take; None: :func:`grading_budget`."""


# -- what a lab's assignment holds ------------------------------------------------------------


def graded_labs() -> list[str]:
    """Labs with a test suite: each becomes an assignment."""
    return sorted(p.parent.name for p in (ROOT / "labs").glob("*/suite.yaml"))


def student_files(lab: str) -> list[str]:
    """The files a student writes for ``lab`` (relative to the assignment folder)."""
    from labs.runtime.lab import get_lab

    return [get_lab(lab).impl_file]


def grading_budget(lab: str, settings: GradingSettings, budget: float | None = None) -> int:
    """Seconds the grading of one submission may take: the sum of the grader's own per-run
    limits. A cell timeout below this would cut a slow submission off as a whole (every test
    zero, no reason given) before the grader's limits could say which runs hung."""
    if settings.timeout is not None:
        return settings.timeout
    from .grade import BUDGET, SIM_TIME_LIMIT
    from .suite import load_graded_suite

    total = BUDGET_MARGIN
    for test in load_graded_suite(lab).tests:
        seeds = test.seeds if settings.sim_seeds is None else test.seeds[:settings.sim_seeds]
        total += len(seeds) * SIM_TIME_LIMIT
        if settings.ray:
            total += len(test.ray_seeds) * RAY_RUN_LIMIT
    # The grader stops starting runs once its budget is spent: the last one may still take a Ray run's limit.
    return int(min(total, (BUDGET if budget is None else budget) + RAY_RUN_LIMIT + BUDGET_MARGIN))


def hidden_text(lab: str) -> list[str]:
    """Strings of the hidden suite that must appear in no release and no feedback: test names,
    descriptions, schedule names and descriptions."""
    from .suite import hidden_suite_path, load_graded_suite

    if not hidden_suite_path(lab).exists():
        return []
    found: list[str] = []
    for t in load_graded_suite(lab).tests:
        if t.hidden:
            found += [t.name, t.schedule_name, " ".join(t.description.split()),
                      " ".join(t.schedule.description.split())]
    return [s for s in found if s]


def assignment_notebook(lab: str, settings: GradingSettings) -> Any:
    """The assignment notebook of ``lab`` (an nbformat notebook).

    Every cell is a locked nbgrader cell with a grade_id, so nbgrader records it in the
    gradebook and the released notebook can be checked against it."""
    import nbformat

    from .suite import load_graded_suite, load_suite

    visible = load_suite(lab).tests
    hidden = [t for t in load_graded_suite(lab).tests if t.hidden]
    impl = student_files(lab)[0]
    seeds = "None" if settings.sim_seeds is None else str(settings.sim_seeds)
    runs = ("every test on its simulator seeds" if settings.sim_seeds is None
            else f"every test on {settings.sim_seeds} simulator seed(s)") + (" and on Ray" if settings.ray else "")
    cells = [
        _markdown("instructions", _handout(lab, impl)),
        _markdown("how-grading-works", textwrap.dedent(f"""\
            ## Running the tests here

            Write your solution in `{impl}`, next to this notebook, then run the cells below.
            The first grades your `{impl}` as the instructor's grader does ({runs}); each
            cell after it shows one test's points. A failing test shows what went wrong, the
            seed and the command that replays it. While you work, one test at a time is
            quicker: `python -m autograder test {lab} --impl {impl} -k <test>`.

            When your work is graded, the instructor's copy of this notebook runs with your
            `{impl}`: changes you make to the notebook itself are ignored, so put everything in
            `{impl}`. Grading also runs tests you have not seen, worth {sum(t.points for t in hidden)}
            points; their schedules stay with the instructor, and the feedback only says whether
            each passed.""")),
        _code(RUN_CELL, textwrap.dedent(f"""\
            # Runs the {lab} lab's tests on your {impl} (and, when your work is graded, the hidden ones).
            from autograder.nbgrader_course import run_tests

            results = run_tests({lab!r}, {impl!r}, sim_seeds={seeds}, ray={settings.ray}, timeout={grading_budget(lab, settings)})""")),
    ]
    for t in visible:
        about = textwrap.shorten(" ".join(t.description.split()), 90, placeholder="...")
        cells.append(_code(f"test-{t.name}", f"# {t.name}: {about}\nresults.score({t.name!r}, out_of={t.points})",
                           points=t.points))
    if hidden:
        cells.append(_code(HIDDEN_CELL, "# The hidden tests: they run only when your work is graded.\n"
                           f"results.hidden_score(out_of={sum(t.points for t in hidden)})",
                           points=sum(t.points for t in hidden)))
    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    nb.cells = cells
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def _handout(lab: str, impl: str) -> str:
    """The lab's handout from the site, with the lab file's path as it is in the assignment."""
    page = ROOT / "site" / "labs" / f"{lab}.md"
    if page.exists():
        return page.read_text(encoding="utf-8").replace(f"labs/{lab}/{impl}", impl)
    from labs.runtime.lab import get_lab

    return f"# The {lab} lab\n\n{get_lab(lab).description}"


def _nbgrader_meta(grade_id: str, points: int | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"grade": points is not None, "grade_id": grade_id, "locked": True,
                            "schema_version": 3, "solution": False, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta, "deletable": False, "editable": False}


def _markdown(grade_id: str, text: str) -> Any:
    import nbformat

    return nbformat.v4.new_markdown_cell(text, metadata=_nbgrader_meta(grade_id, None))  # type: ignore[no-untyped-call]


def _code(grade_id: str, text: str, points: int | None = None) -> Any:
    import nbformat

    return nbformat.v4.new_code_cell(text, metadata=_nbgrader_meta(grade_id, points))  # type: ignore[no-untyped-call]


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


def setup_course(course: Path, labs: Sequence[str], settings: GradingSettings = GradingSettings(),
                 course_id: str = COURSE_ID) -> list[Path]:
    """Make ``course`` a course directory for ``labs``: folders, nbgrader_config.py, each lab's
    source (notebook and stripped lab file) and the gradebook. Returns the files written."""
    course = course.resolve()
    for step in STEPS:
        (course / step).mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    budgets: list[int] = []
    for lab in labs:
        import nbformat

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


def strip_release(release: Path) -> list[Path]:
    """Strip the solutions of every ``.py`` file under ``release`` in place; the files changed."""
    changed: list[Path] = []
    for path in sorted(release.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        stripped = strip_solutions(text, str(path))
        if stripped != text:
            path.write_text(stripped, encoding="utf-8")
            changed.append(path)
    return changed


def release_hook(course: str | Path) -> Callable[..., None]:
    """``GenerateAssignment.post_convert_hook``: strip the release's ``.py`` files.

    nbgrader logs a failing hook and carries on, so a release whose solutions cannot be
    stripped (markers that do not pair up) is deleted instead: no release beats a leak."""
    root = Path(course)

    def hook(assignment: str, **_: Any) -> None:
        from traitlets.log import get_logger

        for release in sorted((root / "release").glob(assignment)):
            try:
                for path in strip_release(release):
                    get_logger().info("stripped the solutions of %s", path)
            except ReleaseError as exc:
                shutil.rmtree(release)
                get_logger().error("deleted the release %s: %s", release, exc)
                raise

    return hook


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
    from nbgrader.api import Gradebook

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


# -- nbgrader preprocessors (plain callables: nbgrader need not be imported to define them) ---


class UseReleasedNotebook:
    """Sanitizing step of ``autograde``: grade the released notebook, not the submitted one.

    The assignment's notebook is only the harness; a cell a student adds (or a locked cell's
    metadata they edit) would run in the grading kernel, with the grader's permissions, before
    the grading cells, and could replace the function that reports the scores."""

    def __init__(self, course: str | Path) -> None:
        self.release = Path(course) / "release"

    def __call__(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        import nbformat
        from traitlets.log import get_logger

        ids = resources["nbgrader"]
        released = self.release / ids["assignment"] / f"{ids['notebook']}.ipynb"
        if not released.exists():
            raise FileNotFoundError(f"{released}: run nbgrader generate_assignment first")
        original = nbformat.read(str(released), as_version=4)  # type: ignore[no-untyped-call]
        theirs = [c.get("source", "") for c in nb.cells]
        if theirs != [c.source for c in original.cells]:
            get_logger().warning("%s/%s: the submitted notebook differs from the release; grading the release's",
                                 ids["student"], ids["notebook"])
        return original, resources


class KeepReleaseFiles:
    """First step of ``autograde``'s grading pass: the folder the kernel starts in becomes the
    release plus the student's files.

    The kernel's current folder is first on its import path: a submitted
    ``ipykernel_launcher.py`` would be started as the kernel, and a submitted ``autograder/``
    would replace the grader. Files the release also has are put back to the release's version
    (the source's copy may hold solutions), the student's files stay as submitted, and anything
    else is deleted (it stays in ``submitted/``)."""

    def __init__(self, course: str | Path, students: dict[str, list[str]]) -> None:
        self.release = Path(course) / "release"
        self.students = students

    def __call__(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        from traitlets.log import get_logger

        ids = resources["nbgrader"]
        here = Path(resources["metadata"]["path"]).resolve()
        release = self.release / ids["assignment"]
        released = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()}
        theirs = set(self.students.get(ids["assignment"], []))
        for folder, dirs, files in os.walk(here, topdown=False):
            for name in files + [d for d in dirs if Path(folder, d).is_symlink()]:
                path = Path(folder, name)
                rel = path.relative_to(here).as_posix()
                if path.is_symlink() or not (rel in theirs or rel in released or rel == TIMESTAMP):
                    get_logger().warning("%s: not part of the assignment, left out of grading", path)
                    path.unlink()
                elif rel in released and rel not in theirs and not rel.endswith(".ipynb"):
                    shutil.copyfile(release / rel, path)  # the source's copy may hold solutions
            if Path(folder) != here and not any(Path(folder).iterdir()):
                Path(folder).rmdir()
        os.environ[GUARDED] = "1"  # the kernel nbgrader starts next inherits it
        return nb, resources


def sanitize_preprocessors(course: str | Path) -> list[Any]:
    """nbgrader's sanitizing steps for ``autograde``, with :class:`UseReleasedNotebook` first."""
    from nbgrader.converters import Autograde

    return [UseReleasedNotebook(course), *Autograde.class_traits()["sanitize_preprocessors"].default()]


def autograde_preprocessors(course: str | Path, students: dict[str, list[str]]) -> list[Any]:
    """nbgrader's grading steps for ``autograde``, with :class:`KeepReleaseFiles` first."""
    from nbgrader.converters import Autograde

    return [KeepReleaseFiles(course, students), *Autograde.class_traits()["autograde_preprocessors"].default()]


# -- inside the notebook: run the tests, hand each graded cell its score ----------------------


@dataclass(frozen=True)
class GradedTest:
    name: str
    points: int
    score: int
    hidden: bool
    output: str


@dataclass
class LabResults:
    """What the grader said about one ``node.py``; the graded cells read their scores here."""

    lab: str
    tests: list[GradedTest] = field(default_factory=list)
    problem: str | None = None
    """Why the tests did not run (then every graded cell fails, so it scores zero)."""

    def _ran(self) -> None:
        if self.problem is not None:
            raise RuntimeError(f"the tests did not run: {self.problem}")

    def score(self, test: str, out_of: int) -> int:
        """The points ``test`` earned; raises unless the grader's suite gives it ``out_of``."""
        self._ran()
        found = [t for t in self.tests if t.name == test and not t.hidden]
        if not found:
            raise RuntimeError(f"the {self.lab} suite has no test {test!r}: regenerate the assignment")
        if found[0].points != out_of:
            raise RuntimeError(f"{test} is worth {found[0].points} points in the suite and {out_of} in this "
                               "notebook: regenerate the assignment")
        return found[0].score

    def hidden_score(self, out_of: int) -> int:
        """The points the hidden tests earned. Outside grading there are none to run (a
        student's copy of the course has no hidden tests), so this says so and gives 0."""
        self._ran()
        hidden = [t for t in self.tests if t.hidden]
        if not hidden:
            if os.environ.get("NBGRADER_EXECUTION") == "autograde":
                raise RuntimeError("the hidden tests did not run: this grader has no labs/"
                                   f"{self.lab}/hidden/suite.yaml")
            print("The hidden tests run only when your work is graded.")
            return 0
        worth = sum(t.points for t in hidden)
        if worth != out_of:
            raise RuntimeError(f"the hidden tests are worth {worth} points and {out_of} in this notebook: "
                               "regenerate the assignment")
        return sum(t.score for t in hidden)

    def summary(self) -> str:
        """The results as the student sees them: visible tests in full, hidden ones by number
        with their points only (their names, descriptions and schedules stay hidden)."""
        if self.problem is not None:
            return f"The tests did not run: {self.problem}"
        total, worth = sum(t.score for t in self.tests), sum(t.points for t in self.tests)
        lines = [f"{self.lab}: {total} / {worth} points", ""]
        number = 0
        for t in self.tests:
            mark = "PASS" if t.score == t.points else "FAIL"
            if t.hidden:
                number += 1
                lines.append(f"{mark} hidden test {number}: {t.score} / {t.points}")
            else:
                lines.append(f"{mark} {t.name}: {t.score} / {t.points}")
        for t in self.tests:
            if not t.hidden and t.score < t.points:
                lines += ["", f"-- {t.name} " + "-" * max(0, 70 - len(t.name)), t.output]
        return "\n".join(lines)


def run_tests(lab: str, impl: str = "node.py", sim_seeds: int | None = None, ray: bool = True,
              timeout: float | None = None) -> LabResults:
    """Grade ``impl`` with ``python -m autograder grade`` and print the results.

    The grader runs as a separate ``python -I`` process (no current folder or PYTHONPATH on its
    import path) from a private temporary folder holding a copy of ``impl``, so no file beside
    the notebook can stand in for the grader, and the results come back as the grader's JSON
    files. The hidden tests run where the grader has them: on the instructor's machine."""
    source = Path(impl).resolve()
    if os.environ.get("NBGRADER_EXECUTION") == "autograde" and os.environ.get(GUARDED) != "1":
        results = LabResults(lab, problem="nbgrader is not running with this course's nbgrader_config.py "
                                          "(did it fail to load? see the start of nbgrader's log)")
        print(results.summary())
        return results
    if not source.is_file():
        results = LabResults(lab, problem=f"there is no {impl} next to this notebook")
        print(results.summary())
        return results
    with tempfile.TemporaryDirectory(prefix="lab-tests-") as tmp:
        work = Path(tmp)
        (work / "submission").mkdir()
        copy = work / "submission" / source.name
        shutil.copyfile(source, copy)
        out = work / "results"
        command = [sys.executable, "-I", "-m", "autograder", "grade", str(copy), "--lab", lab, "--out", str(out)]
        if sim_seeds is not None:
            command += ["--sim-seeds", str(sim_seeds)]
        if not ray:
            command.append("--no-ray")
        try:
            done = _run_group(command, work, timeout)
        except subprocess.TimeoutExpired:
            results = LabResults(lab, problem=f"they did not finish within {timeout} s")
        else:
            results = _read_results(lab, out, done, copy, impl)
    print(results.summary())
    return results


def _run_group(command: list[str], cwd: Path, timeout: float | None) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in a process group of its own, and end the whole group if it outlives
    ``timeout`` or the cell is interrupted (nbgrader interrupts a cell past its timeout)."""
    proc = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def _read_results(lab: str, out: Path, done: subprocess.CompletedProcess[str], copy: Path, shown: str) -> LabResults:
    """The grader's report.json and results.json as :class:`LabResults`, each value's type
    checked; the private copy's paths replaced by the name the student knows."""
    try:
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        outputs = {t["name"]: t["output"] for t in json.loads((out / "results.json").read_text(encoding="utf-8"))["tests"]}
        tests = [GradedTest(str(t["name"]), int(t["points"]), int(t["score"]), t["hidden"] is True,
                            _tidy(str(outputs.get(t["name"], "")), copy, out, shown)) for t in report["tests"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        tail = "\n".join(done.stderr.strip().splitlines()[-6:])
        return LabResults(lab, problem=f"the grader exited with code {done.returncode} ({exc}):\n{tail}")
    return LabResults(lab, tests)


def _tidy(text: str, copy: Path, out: Path, shown: str) -> str:
    """Grader output with the private copy shown as the student's file, and no links to the
    pictures (they are deleted with the grader's temporary folder; replaying makes them)."""
    lines = [line for line in text.splitlines() if str(out) not in line]
    return "\n".join(lines).replace(str(copy), shown)


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
