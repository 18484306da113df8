"""Inside the assignment notebook: the grading cell runs the grader on the student's file, and
each graded cell reads its test's score from the results.

The grader runs as ``python -m autograder grade`` in a separate, isolated Python process, so the
grade comes from the same runs and checks as on the command line; its JSON files come back as
:class:`LabResults`. The notebooks a course holds import :func:`run_tests` from
:mod:`autograder.nbgrader_course`, which hands it on from here.
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
from dataclasses import dataclass, field
from pathlib import Path

from .nbgrader_hooks import GUARDED


@dataclass(frozen=True)
class GradedTest:
    """One test as the grader reported it (hidden tests too: their output is not shown)."""

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


__all__ = ["GradedTest", "LabResults", "run_tests"]
