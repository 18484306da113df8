"""The nbgrader round trip with the real nbgrader: generate_assignment, collect, autograde,
generate_feedback on a course directory made by ``autograder.nbgrader_course``; and, one test
each, the pitfalls of nbgrader 0.9.6 that the setup avoids.

To stay quick, the grading cell runs one simulator seed per test and no Ray run
(``GradingSettings(sim_seeds=1, ray=False)``); a real course uses the defaults (every seed of
the suite, and Ray)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from submissions import standalone_source
from test_rpc_lab import _solution_lines

from autograder.grade import BUDGET, SIM_TIME_LIMIT
from autograder.nbgrader_assignment import (
    BUDGET_MARGIN,
    HIDDEN_CELL,
    RAY_RUN_LIMIT,
    RUN_CELL,
    GradingSettings,
    grading_budget,
    hidden_text,
)
from autograder.nbgrader_cell import GradedTest, LabResults, run_tests
from autograder.nbgrader_course import (
    KERNEL_MARGIN,
    collect,
    generate_assignment,
    gradebook_scores,
    nbgrader,
    setup_course,
)
from autograder.nbgrader_hooks import GUARDED
from autograder.release import BEGIN, END, ReleaseError, strip_solutions
from autograder.suite import load_graded_suite

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "labs" / "rpc" / "node.py"
BUGGY = standalone_source((ROOT / "tests" / "rpc_variants" / "no_dedup.py").read_text()).encode()
"""A student's node.py without duplicate detection (self-contained, as a student hands it in)."""
SETTINGS = GradingSettings(sim_seeds=1, ray=False)
SUITE = load_graded_suite("rpc")
HIDDEN_POINTS = sum(t.points for t in SUITE.tests if t.hidden)


SOLUTION_LINES = sorted(_solution_lines(REFERENCE.read_text()))
"""The reference's lines inside solution regions that say something."""


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("course")
    setup_course(root, ["rpc"], SETTINGS)
    generate_assignment(root, "rpc")
    return root


# -- the submissions ----------------------------------------------------------------------------

LAUNCHER = '''
"""Becomes the grading kernel if nbgrader starts the kernel beside it."""
import runpy, sys
open({marker!r}, "w").write("a submitted file ran as the grading kernel")
sys.path.pop(0)
sys.modules.pop("ipykernel_launcher", None)
runpy.run_module("ipykernel_launcher", run_name="__main__")
'''

FULL = '''
class _Full:
    def score(self, test, out_of):
        return out_of

    def hidden_score(self, out_of):
        return out_of
'''
FAKE_GRADER = FULL + "\n\ndef run_tests(*args, **kwargs):\n    return _Full()\n"
"""Stands in for the grader if the kernel imports it from beside the notebook."""
FULL_MARKS = FULL + "\n\nresults = _Full()\n"
"""A grading cell that reports full marks."""


def hostile_notebook(released: Path) -> Any:
    """The released notebook with cells that report full marks whatever the tests say."""
    nb = nbformat.read(str(released), as_version=4)
    at = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells].index(RUN_CELL)
    nb.cells[at].source = FULL_MARKS  # a locked cell edited
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(FULL_MARKS))  # a cell added after it
    nb.cells.insert(0, nbformat.v4.new_code_cell(  # and one before it, patching the grader
        "import autograder.nbgrader_course as m\nm.run_tests = lambda *a, **k: __import__('types')"
        ".SimpleNamespace(score=lambda t, out_of: out_of, hidden_score=lambda out_of: out_of)"))
    return nb


@dataclass
class Graded:
    course: Path
    incoming: Path
    scores: dict[str, dict[str, float]]
    autograde_log: str
    feedback_log: str
    marker: Path


@pytest.fixture(scope="module")
def graded(course: Path, tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """Four students' copies of the release, collected, autograded and given feedback:
    ``ref`` (the reference node.py), ``buggy`` (no duplicate detection), ``hostile`` (the same
    buggy node.py, plus a notebook and files that try to report full marks) and ``missing``
    (no node.py at all)."""
    incoming = tmp_path_factory.mktemp("incoming")
    release = course / "release" / "rpc"
    marker = incoming / "launcher-ran"
    for student in ("ref", "buggy", "hostile", "missing"):
        shutil.copytree(release, incoming / student)
    shutil.copyfile(REFERENCE, incoming / "ref" / "node.py")
    (incoming / "buggy" / "node.py").write_bytes(BUGGY)
    hostile = incoming / "hostile"
    (hostile / "node.py").write_bytes(BUGGY)
    nbformat.write(hostile_notebook(release / "rpc.ipynb"), str(hostile / "rpc.ipynb"))
    (hostile / "ipykernel_launcher.py").write_text(LAUNCHER.format(marker=str(marker)))
    (hostile / "autograder").mkdir()
    (hostile / "autograder" / "__init__.py").write_text("")
    (hostile / "autograder" / "nbgrader_course.py").write_text(FAKE_GRADER)
    (incoming / "missing" / "node.py").unlink()
    for student in sorted(p.name for p in incoming.iterdir() if p.is_dir()):
        collect(course, "rpc", student, incoming / student)

    done = nbgrader(course, "autograde", "rpc", timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    feedback = nbgrader(course, "generate_feedback", "rpc", timeout=600)
    assert feedback.returncode == 0, feedback.stderr[-3000:]
    return Graded(course, incoming, gradebook_scores(course, "rpc"), done.stderr, feedback.stderr, marker)


def graded_notebook(g: Graded, student: str) -> Any:
    return nbformat.read(str(g.course / "autograded" / student / "rpc" / "rpc.ipynb"), as_version=4)


def cell(nb: Any, grade_id: str) -> Any:
    (found,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return found


def text_of(c: Any) -> str:
    return "".join(o.get("text", "") for o in c.outputs if o.get("output_type") == "stream")


# -- release ------------------------------------------------------------------------------------


def test_the_release_has_no_solution_code_and_no_hidden_test(course: Path) -> None:
    release = course / "release" / "rpc"
    assert sorted(p.name for p in release.iterdir()) == ["node.py", "rpc.ipynb"]
    node = (release / "node.py").read_text()
    assert node == strip_solutions(REFERENCE.read_text())
    assert "not implemented yet: KVServer.handle_put" in node
    secrets = [BEGIN, END, *SOLUTION_LINES, *hidden_text("rpc")]
    assert len(hidden_text("rpc")) >= 6  # names, descriptions and schedules of two hidden tests
    for path in release.iterdir():
        text = path.read_text()
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{path.name} holds {leaked[:3]}"

    nb = nbformat.read(str(release / "rpc.ipynb"), as_version=4)
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
              for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    assert points == {**{f"test-{t.name}": t.points for t in SUITE.tests if not t.hidden}, HIDDEN_CELL: HIDDEN_POINTS}
    assert "# Lab 2: an at-most-once key-value server" in nb.cells[0].source  # the handout
    assert all(c.metadata["nbgrader"]["locked"] for c in nb.cells)


@pytest.mark.slow  # what it shows is nbgrader's, not ours: the release guards against it (tested above)
def test_pitfall_generate_assignment_copies_py_files_verbatim(tmp_path: Path) -> None:
    """nbgrader copies a .py file of the source as it is; our hook strips its solutions, and a
    file whose markers do not pair up leaves no release at all."""
    setup_course(tmp_path, ["rpc"], SETTINGS)
    helper = tmp_path / "source" / "rpc" / "helper.py"
    helper.write_text("def answer() -> int:\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION\n")
    done = nbgrader(tmp_path, "generate_assignment", "rpc")  # nbgrader's own command, as an instructor runs it
    assert done.returncode == 0, done.stderr[-2000:]
    released = (tmp_path / "release" / "rpc" / "helper.py").read_text()
    assert "return 42" not in released and BEGIN not in released
    assert "not implemented yet: answer" in released

    helper.write_text("def answer() -> int:\n    ### BEGIN SOLUTION\n    return 42\n")
    nbgrader(tmp_path, "generate_assignment", "rpc", "--force")
    assert not (tmp_path / "release" / "rpc").exists()
    with pytest.raises(ReleaseError):
        generate_assignment(tmp_path, "rpc")


# -- autograde --------------------------------------------------------------------------------


def test_grades_land_in_the_gradebook_with_the_hidden_tests_run(graded: Graded) -> None:
    ref, buggy = graded.scores["ref"], graded.scores["buggy"]
    assert ref["total"] == SUITE.points > 0
    assert ref[HIDDEN_CELL] == HIDDEN_POINTS
    assert buggy["test-basic"] == 5  # executes a request twice only when it arrives twice
    assert buggy["test-unreliable"] == 0 and buggy[HIDDEN_CELL] < HIDDEN_POINTS
    assert 0 < buggy["total"] < ref["total"]
    shown = text_of(cell(graded_notebook(graded, "ref"), RUN_CELL))
    assert "PASS hidden test 1: 10 / 10" in shown and "PASS hidden test 2: 10 / 10" in shown


def test_pitfall_autograde_replaces_student_files(graded: Graded) -> None:
    """exclude_overwriting: the buggy node.py is graded as submitted (not replaced by the
    source's copy), and a submission without node.py gets none."""
    autograded = graded.course / "autograded"
    assert (autograded / "buggy" / "rpc" / "node.py").read_bytes() == BUGGY
    assert not (autograded / "missing" / "rpc" / "node.py").exists()
    assert graded.scores["missing"]["total"] == 0
    assert "there is no node.py next to this notebook" in text_of(cell(graded_notebook(graded, "missing"), RUN_CELL))
    assert "Copying" not in "\n".join(line for line in graded.autograde_log.splitlines() if "source" in line)


def test_pitfall_feedback_receives_instructor_files(graded: Graded) -> None:
    """Feedback holds the page and the student's own file, nothing of the instructor's: no
    solution code, no hidden test's name, description or schedule."""
    secrets = [BEGIN, *SOLUTION_LINES, *hidden_text("rpc")]
    for student in ("buggy", "hostile", "missing"):
        folder = graded.course / "feedback" / student / "rpc"
        files = sorted(p.name for p in folder.rglob("*") if p.is_file())
        assert set(files) <= {"rpc.html", "node.py", "timestamp.txt"}, files
        if "node.py" in files:
            assert (folder / "node.py").read_bytes() == (graded.incoming / student / "node.py").read_bytes()
        page = (folder / "rpc.html").read_text()
        leaked = [s for s in secrets if s in page]
        assert not leaked, f"{student}'s feedback holds {leaked[:3]}"
    page = (graded.course / "feedback" / "buggy" / "rpc" / "rpc.html").read_text()
    assert "replay: python -m autograder test rpc -k unreliable --seed 1 --runtime sim --no-shrink --impl node.py" in page
    assert re.search(r"FAIL hidden test \d: 0 / 10", page)


def test_pitfall_student_code_runs_in_the_grading_kernel(graded: Graded, tmp_path: Path) -> None:
    """A hostile submission (the buggy node.py, a notebook whose cells report full marks, an
    ipykernel_launcher.py and an autograder/ package beside it) scores what its node.py earns."""
    assert graded.scores["hostile"] == graded.scores["buggy"]
    assert not graded.marker.exists()
    assert "hostile/rpc: the submitted notebook differs from the release" in graded.autograde_log
    for name in ("ipykernel_launcher.py", "autograder/nbgrader_course.py"):
        assert f"hostile/rpc/{name}: not part of the assignment, left out of grading" in graded.autograde_log
    assert sorted(p.name for p in (graded.course / "autograded" / "hostile" / "rpc").iterdir()) == \
        ["node.py", "rpc.ipynb"]

    # The control: run as submitted, in its own folder, the notebook reports full marks.
    from nbclient import NotebookClient
    from nbgrader.utils import determine_grade

    folder = tmp_path / "hostile"
    shutil.copytree(graded.incoming / "hostile", folder)
    nb = nbformat.read(str(folder / "rpc.ipynb"), as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    assert sum(determine_grade(c)[0] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")) == SUITE.points
    assert graded.marker.exists()  # and its ipykernel_launcher.py was the kernel


def test_pitfall_thirty_second_cell_timeout(graded: Graded) -> None:
    """The course's cell timeout is the grader's own worst case, far above nbgrader's 30 s."""
    config = (graded.course / "nbgrader_config.py").read_text()
    budget = grading_budget("rpc", SETTINGS)
    runs = sum(len(t.seeds[:1]) for t in SUITE.tests)
    assert budget >= runs * SIM_TIME_LIMIT > 30
    assert f"c.Execute.timeout = {budget + KERNEL_MARGIN}" in config
    assert f"timeout={budget})" in (graded.course / "release" / "rpc" / "rpc.ipynb").read_text()
    real = grading_budget("rpc", GradingSettings())
    # the sum of the per-run limits, but never past the grader's own budget for one submission
    # (after which it stops starting runs), plus the one run that may still be going then
    worst = min(sum(len(t.seeds) for t in SUITE.tests) * SIM_TIME_LIMIT, BUDGET + RAY_RUN_LIMIT)
    assert worst <= real <= worst + BUDGET_MARGIN
    assert "CellTimeoutError" not in str(graded_notebook(graded, "ref").cells)


def test_pitfall_checksum_warnings_on_hidden_test_cells(graded: Graded) -> None:
    """No cell holds nbgrader's hidden-test markers (our hidden tests live with the grader),
    so autograde reports no changed cell, and the hidden tests still ran."""
    source = (graded.course / "source" / "rpc" / "rpc.ipynb").read_text()
    assert "BEGIN HIDDEN TESTS" not in source
    assert "has changed" not in graded.autograde_log
    assert graded.scores["ref"][HIDDEN_CELL] == HIDDEN_POINTS


# -- failing closed ---------------------------------------------------------------------------


def test_grading_refuses_to_run_without_the_course_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """nbgrader only logs a config file that fails to load and grades with its defaults; the
    grading cell then refuses (every graded cell scores zero), and our wrapper raises."""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.delenv(GUARDED, raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(REFERENCE, tmp_path / "node.py")
    results = run_tests("rpc", "node.py", sim_seeds=1, ray=False)
    assert results.problem and "nbgrader_config.py" in results.problem
    with pytest.raises(RuntimeError, match="did not run"):
        results.score("basic", out_of=5)

    (tmp_path / "nbgrader_config.py").write_text("raise ImportError('no autograder here')\n")
    with pytest.raises(RuntimeError, match="could not load"):
        nbgrader(tmp_path, "db", "assignment", "list")


def test_scores_must_match_the_suite() -> None:
    """A notebook generated for other points than the suite's raises instead of guessing."""
    results = LabResults("rpc", [GradedTest("basic", 5, 5, False, ""), GradedTest("secret", 10, 0, True, "")])
    assert results.score("basic", out_of=5) == 5 and results.hidden_score(out_of=10) == 0
    with pytest.raises(RuntimeError, match="regenerate"):
        results.score("basic", out_of=6)
    with pytest.raises(RuntimeError, match="regenerate"):
        results.hidden_score(out_of=20)
    assert "secret" not in results.summary() and "FAIL hidden test 1: 0 / 10" in results.summary()


def test_collect_leaves_links_out(course: Path, tmp_path: Path) -> None:
    """A node.py that links to the reference would be copied as the reference by nbgrader."""
    folder = tmp_path / "eve"
    folder.mkdir()
    (folder / "node.py").symlink_to(REFERENCE)
    target = collect(course, "rpc", "eve", folder)
    assert not (target / "node.py").exists() and (target / "rpc.ipynb").exists()
    shutil.rmtree(target.parent)


def test_commands_are_click_commands() -> None:
    from autograder.nbgrader_course import COMMANDS

    assert [c.name for c in COMMANDS] == ["nbgrader-setup", "nbgrader-collect", "nbgrader-scores"]
