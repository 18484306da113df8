"""The assignment notebook of a lab, as nbgrader sees it: locked cells, one of which runs the
grader, and a graded cell per test whose output is the test's score.

The notebook is only the harness: the student's work is the lab's file beside it. Hidden tests
are never written into it, only their total points (:func:`hidden_text` lists what of them must
appear in no release). The grading cell's time limit comes from :func:`grading_budget`, the sum
of the grader's own per-run limits.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labs.runtime.lab import get_lab

from .grade import BUDGET, SIM_TIME_LIMIT
from .suite import hidden_suite_path, load_graded_suite, load_suite

ROOT = Path(__file__).resolve().parent.parent
"""The checkout this module belongs to: the labs, their suites and handouts."""
RUN_CELL = "run-tests"
"""The grade_id of the cell that runs the tests; the graded cells read its ``results``."""
HIDDEN_CELL = "hidden-tests"
RAY_RUN_LIMIT = 300.0
"""Seconds allowed for one Ray run in :func:`grading_budget` (process start, the schedule's
duration, settling, the checks); the Ray runtime's own start and wait limits are shorter."""
BUDGET_MARGIN = 120.0
"""Seconds on top of the runs: the grader's start and its reports."""


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


def graded_labs() -> list[str]:
    """Labs with a test suite: each becomes an assignment."""
    return sorted(p.parent.name for p in (ROOT / "labs").glob("*/suite.yaml"))


def student_files(lab: str) -> list[str]:
    """The files a student writes for ``lab`` (relative to the assignment folder)."""
    return [get_lab(lab).impl_file]


def grading_budget(lab: str, settings: GradingSettings, budget: float | None = None) -> int:
    """Seconds the grading of one submission may take: the sum of the grader's own per-run
    limits. A cell timeout below this would cut a slow submission off as a whole (every test
    zero, no reason given) before the grader's limits could say which runs hung."""
    if settings.timeout is not None:
        return settings.timeout
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
    import nbformat  # Jupyter's: only when a notebook is made, it takes seconds to import

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
    return f"# The {lab} lab\n\n{get_lab(lab).description}"


def _nbgrader_meta(grade_id: str, points: int | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"grade": points is not None, "grade_id": grade_id, "locked": True,
                            "schema_version": 3, "solution": False, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta, "deletable": False, "editable": False}


def _markdown(grade_id: str, text: str) -> Any:
    import nbformat  # Jupyter's: only when a notebook is made, it takes seconds to import

    return nbformat.v4.new_markdown_cell(text, metadata=_nbgrader_meta(grade_id, None))  # type: ignore[no-untyped-call]


def _code(grade_id: str, text: str, points: int | None = None) -> Any:
    import nbformat  # Jupyter's: only when a notebook is made, it takes seconds to import

    return nbformat.v4.new_code_cell(text, metadata=_nbgrader_meta(grade_id, points))  # type: ignore[no-untyped-call]


__all__ = ["GradingSettings", "assignment_notebook", "graded_labs", "grading_budget", "hidden_text", "student_files"]
