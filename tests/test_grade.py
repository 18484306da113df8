"""Grading one submission: full marks for the reference, pointed zeros for buggy and hostile
submissions, Gradescope's results.json, a feedback page, hidden tests that never leave the
instructor's checkout.

Submissions are graded as the grader grades them on this machine: in the sandbox (another OS
user, the released packages) when it has one, which CI's does (``scripts/setup.sh`` as root).
Hostile submissions are the reference plus one hostile change (:mod:`submissions`), so that what
they attack is the only thing wrong with them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from submissions import standalone

from autograder.grade import grade, run_sim_isolated
from autograder.release import release
from autograder.sandbox import open_sandbox
from autograder.suite import load_graded_suite

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = Path(__file__).resolve().parent / "rpc_variants"
SUITE = load_graded_suite("rpc")

HANGS = '''
from labs.rpc import node as reference
from labs.rpc.node import AppendRequest
from labs.runtime.node import on


class KVServer(reference.KVServer):
    @on(AppendRequest)
    def handle_append(self, msg: AppendRequest, sender: str) -> None:
        while True:  # never returns
            pass


KVClerk = reference.KVClerk
'''

EATS_MEMORY = '''
from labs.rpc import node as reference
from labs.rpc.node import AppendRequest
from labs.runtime.node import on


class KVServer(reference.KVServer):
    @on(AppendRequest)
    def handle_append(self, msg: AppendRequest, sender: str) -> None:
        hog = []
        while True:
            hog.append(bytearray(1 << 26))


KVClerk = reference.KVClerk
'''

FORGES_THE_TRACE = '''
"""Executes requests twice (no duplicate detection), and forges the simulator's trace: it finds
the grader's spec in its caller's frame and, on exit, writes the trace of a reference run there."""
import atexit
import inspect
import os

from labs.rpc import node as reference
from labs.rpc.node import AppendRequest, PutRequest


class KVServer(reference.KVServer):
    def answer_again(self, msg: PutRequest | AppendRequest, sender: str) -> bool:
        return False


KVClerk = reference.KVClerk

_spec = next((f.frame.f_locals["spec"] for f in inspect.stack()
              if isinstance(f.frame.f_locals.get("spec"), dict) and "trace_fd" in f.frame.f_locals["spec"]), None)


def _forge() -> None:
    import dataclasses

    from autograder.suite import parse_suite
    from labs.runtime.lab import get_lab
    from labs.runtime.run import run
    from labs.runtime.trace import dumps_event

    lab = dataclasses.replace(get_lab("rpc"), node=reference.KVServer, clerk=reference.KVClerk)
    test = parse_suite({"lab": "rpc", "tests": [_spec["test"]]}, lab, None).tests[0]
    trace = run(test.lab, "sim", test.schedule, seed=int(_spec["seed"])).trace
    with os.fdopen(_fd, "w") as out:
        out.seek(0)
        out.truncate(0)
        out.writelines(dumps_event(e) + "\\n" for e in trace)


if _spec is not None:
    _fd = os.dup(_spec["trace_fd"])  # the grader's copy is closed once the real trace is written
    atexit.register(_forge)
'''


PATCHES_THE_CHECKER = '''
"""Executes requests twice, and patches the checkers it can reach to say "linearizable"."""
import labs.checkers as checkers
import labs.checkers.linearizability as lin
from labs.rpc import checks as rpc_checks
from labs.rpc import node as reference
from labs.rpc.node import AppendRequest, PutRequest

_real = lin.check


def _always_ok(*args, **kwargs):
    result = _real(*args, **kwargs)
    result.verdict = "ok"
    return result


lin.check = checkers.check_linearizability = _always_ok
rpc_checks.linearizable = lambda run: []
rpc_checks.CHECKS["linearizable"] = lambda run: []


class KVServer(reference.KVServer):
    def answer_again(self, msg: PutRequest | AppendRequest, sender: str) -> bool:
        return False


KVClerk = reference.KVClerk
'''

EXITS = '''
"""Ends its own process in the middle of the run, as if to stop before anything is checked."""
import os

from labs.rpc import node as reference
from labs.rpc.node import AppendRequest
from labs.runtime.node import on


class KVServer(reference.KVServer):
    @on(AppendRequest)
    def handle_append(self, msg: AppendRequest, sender: str) -> None:
        os._exit(0)


KVClerk = reference.KVClerk
'''


def _gradescope_ok(results: dict[str, Any]) -> None:
    """The fields and types Gradescope's autograder results format allows."""
    assert set(results) <= {"score", "execution_time", "output", "output_format", "visibility",
                            "stdout_visibility", "extra_data", "tests", "leaderboard"}
    assert isinstance(results["score"], int | float) and isinstance(results["tests"], list)
    for t in results["tests"]:
        assert set(t) <= {"score", "max_score", "status", "name", "name_format", "number", "output",
                          "output_format", "tags", "visibility", "extra_data"}
        assert isinstance(t["score"], int | float) and isinstance(t["max_score"], int | float)
        assert t["status"] in ("passed", "failed") and isinstance(t["name"], str)
        assert t["visibility"] in ("hidden", "after_due_date", "after_published", "visible")


def test_the_reference_gets_full_marks_and_a_buggy_submission_is_told_why(tmp_path: Path) -> None:
    ref = grade(ROOT / "labs" / "rpc", "rpc", tmp_path / "ref", sim_seeds=2, ray=False)
    assert all(g.passed for g in ref), [(g.test.name, g.failures[0].findings[0]) for g in ref if not g.passed]
    results = json.loads((tmp_path / "ref" / "results.json").read_text())
    _gradescope_ok(results)
    assert results["score"] == SUITE.points == sum(t["max_score"] for t in results["tests"])
    hidden = [t for t in results["tests"] if t["name"].startswith("hidden-")]
    assert hidden and all(t["visibility"] == "after_published" for t in hidden)

    bad = grade(standalone(VARIANTS / "never_forgets.py", tmp_path / "never_forgets.py"), "rpc", tmp_path / "bad",
                sim_seeds=2, ray=False)
    scores = {g.test.name: g.score for g in bad}
    assert scores["memory-bounded"] == 0 and scores["basic"] == 5
    results = json.loads((tmp_path / "bad" / "results.json").read_text())
    _gradescope_ok(results)
    (memory,) = [t for t in results["tests"] if t["name"] == "memory-bounded"]
    assert "does it forget clients that went quiet?" in memory["output"]
    assert "replay: python -m autograder test rpc -k memory-bounded --seed 1 --runtime sim" in memory["output"]
    page = (tmp_path / "bad" / "feedback.html").read_text()
    assert "memory-bounded: 0 / 10" in page and "pictures/rpc-memory-bounded-sim-1.html" in page
    report = json.loads((tmp_path / "bad" / "report.json").read_text())
    assert report["score"] == results["score"] < report["max_score"]
    assert report["student_code"].startswith("sandboxed as ds-sandbox-")


def test_a_server_that_answers_nothing_earns_nothing(tmp_path: Path) -> None:
    """No operation completes, so no history is wrong: every test (hidden ones too) must still
    ask for progress, or doing nothing would earn points."""
    impl = standalone(VARIANTS / "silent.py", tmp_path / "silent.py")
    grades = grade(impl, "rpc", tmp_path / "out", sim_seeds=1, ray=False)
    assert {g.test.name: g.score for g in grades} == {t.name: 0 for t in SUITE.tests}


def test_grading_twice_gives_the_same_score(tmp_path: Path) -> None:
    impl = standalone(VARIANTS / "non_atomic_put.py", tmp_path / "non_atomic_put.py")
    first = grade(impl, "rpc", tmp_path / "a", sim_seeds=4, ray=False, pattern="racing")
    second = grade(impl, "rpc", tmp_path / "b", sim_seeds=4, ray=False, pattern="racing")
    assert first[0].score == 0
    assert [g.score for g in first] == [g.score for g in second]
    assert [str(o.findings[:1]) for g in first for o in g.outcomes] == \
        [str(o.findings[:1]) for g in second for o in g.outcomes]
    reference = [grade(ROOT / "labs" / "rpc", "rpc", tmp_path / f"ref{i}", sim_seeds=4, ray=False,
                       pattern="racing") for i in (1, 2)]
    assert [g.score for g in reference[0]] == [g.score for g in reference[1]] == [15]


@pytest.mark.parametrize(("source", "says"), [
    (HANGS, "did not finish within"),
    (EATS_MEMORY, "MemoryError"),
])
def test_a_hostile_run_costs_only_itself(tmp_path: Path, source: str, says: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import autograder.grade as grading

    monkeypatch.setattr(grading, "SIM_TIME_LIMIT", 8.0)
    impl = standalone(source, tmp_path / "node.py")
    (appends,) = SUITE.select("appends-under-loss")
    (basic,) = SUITE.select("basic")
    with open_sandbox(impl) as sb:
        outcome = run_sim_isolated(appends, 1, impl, sb)
        assert not outcome.passed and says in outcome.findings[0].message, outcome.findings
        assert not run_sim_isolated(basic, 1, impl, sb).passed  # appends happen here too: still caught
    # The grader itself is fine and goes on: the reference still passes next.
    with open_sandbox(ROOT / "labs" / "rpc") as sb:
        assert run_sim_isolated(basic, 1, ROOT / "labs" / "rpc", sb).passed


@pytest.mark.ray
def test_a_forged_simulator_trace_cannot_earn_points(tmp_path: Path, ray_session: None) -> None:
    """A simulator run's trace is written by the grader's own process (the world), never by a
    process that runs student code: a submission that looks for the grader's spec to forge the
    trace finds nothing, in either runtime."""
    impl = standalone(FORGES_THE_TRACE, tmp_path / "node.py")
    (g,) = grade(impl, "rpc", tmp_path / "out", sim_seeds=2, ray=True, pattern="appends-under-loss")
    sim = [o for o in g.outcomes if o.runtime == "sim"]
    ray = [o for o in g.outcomes if o.runtime == "ray"]
    assert sim and not any(o.passed for o in sim)
    assert ray and not any(o.passed for o in ray)
    assert g.score == 0


def test_hidden_tests_stay_with_the_instructor(tmp_path: Path) -> None:
    assert (ROOT / "labs/rpc/hidden/suite.yaml").exists()
    release(ROOT, tmp_path / "release")
    assert not (tmp_path / "release/labs/rpc/hidden").exists()
    assert not list((tmp_path / "release").rglob("*hidden*"))


def test_grade_cli_writes_its_files(tmp_path: Path) -> None:
    impl = standalone(VARIANTS / "no_retry.py", tmp_path / "no_retry.py")
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(impl), "--lab", "rpc",
                           "--out", str(tmp_path / "out"), "--sim-seeds", "1", "--no-ray"],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "FAIL unreliable" in done.stdout and "PASS basic" in done.stdout
    assert re.search(r"FAIL unreliable +0 / \d+ +1 of 1 runs failed", done.stdout), done.stdout
    for name in ("results.json", "report.json", "feedback.html"):
        assert (tmp_path / "out" / name).exists()
    only = subprocess.run([sys.executable, "-m", "autograder", "grade", str(impl), "--lab", "rpc", "-k", "unreli",
                           "--out", str(tmp_path / "only"), "--sim-seeds", "2", "--no-ray"],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert only.returncode == 0, only.stderr
    assert "basic" not in only.stdout and re.search(r"FAIL unreliable +0 / \d+ +2 of 2 runs failed", only.stdout)


@pytest.mark.parametrize(("source", "says"), [
    (PATCHES_THE_CHECKER, "not linearizable"),
    (EXITS, "n1's process ended while handling a message"),
])
def test_tampering_from_the_simulator_child_gets_nowhere(tmp_path: Path, source: str, says: str) -> None:
    impl = standalone(source, tmp_path / "node.py")
    (test,) = SUITE.select("appends-under-loss")
    with open_sandbox(impl) as sb:
        outcomes = [run_sim_isolated(test, seed, impl, sb) for seed in (1, 2)]
    assert not any(o.passed for o in outcomes)
    assert any(says in f.message for o in outcomes for f in o.findings), [o.findings[:1] for o in outcomes]


STALE_READS_AND_PATCHES = '''
"""Answers gets from a copy of the store taken at start-up (stale reads only the linearizability
check can see), and patches that check to say "ok" in every process that imports this file."""
import labs.checkers as checkers
import labs.checkers.linearizability as lin
from labs.rpc import node as reference
from labs.rpc.node import GetReply, GetRequest
from labs.runtime.node import on

_real = lin.check


def _always_ok(*args, **kwargs):
    result = _real(*args, **kwargs)
    result.verdict = "ok"
    return result


lin.check = checkers.check_linearizability = _always_ok


class KVServer(reference.KVServer):
    @on(GetRequest)
    def handle_get(self, msg: GetRequest, sender: str) -> None:
        value, version = self.data.get(msg.key, ("", 0)) if version_ok(self, msg) else ("", 0)
        self.send(sender, GetReply(msg.client, msg.seq, value, version))


def version_ok(server, msg) -> bool:
    return server.random.random() < 0.5


KVClerk = reference.KVClerk
'''


@pytest.mark.ray
def test_tampering_from_ray_actors_gets_nowhere(tmp_path: Path, ray_session: None) -> None:
    """The submission's files are imported by the node processes only, never by the grader: the
    patches land there, and the checks run here."""
    impl = standalone(STALE_READS_AND_PATCHES, tmp_path / "node.py")
    (test,) = SUITE.select("basic")
    with open_sandbox(impl) as sb:
        assert not run_sim_isolated(test, 1, impl, sb).passed  # the bug is real, the sim child shows it
    (g,) = grade(impl, "rpc", tmp_path / "out", sim_seeds=0, ray=True, pattern="basic")
    assert g.outcomes and g.score == 0


@pytest.mark.ray
def test_a_submission_that_does_not_import_fails_its_ray_run_with_the_reason(tmp_path: Path, ray_session: None) -> None:
    from autograder.runner import run_test

    impl = tmp_path / "node.py"
    impl.write_text("from labs.rpc.node import *\n\nclass KVServer(\n")
    (test,) = SUITE.select("basic")
    outcome = run_test(test, 1, "ray", impl)
    assert not outcome.passed
    assert "could not start" in outcome.findings[0].message and "SyntaxError" in outcome.findings[0].message, outcome.findings[0]
    # The reason, at once: not "did not start within 120 s" after the start-up timeout.
    assert "did not start within" not in outcome.findings[0].message



@pytest.mark.ray
def test_a_node_process_that_ends_itself_on_ray_is_named_in_the_failure(tmp_path: Path, ray_session: None) -> None:
    from autograder.runner import run_test

    (test,) = SUITE.select("appends-under-loss")
    outcome = run_test(test, 1, "ray", standalone(EXITS, tmp_path / "node.py"))
    assert not outcome.passed
    assert any("process ended at t=" in f.message and "did not crash it" in f.message for f in outcome.findings), outcome.findings

IMPORTS_THE_REFERENCE = '''
from labs.rpc.node import KVClerk, KVServer  # the instructor's reference, if it is importable
'''


def test_a_submission_that_imports_the_reference_gets_nothing(tmp_path: Path) -> None:
    """In the sandbox ``labs`` is the release: ``labs.rpc.node`` holds the students' skeleton."""
    impl = tmp_path / "node.py"
    impl.write_text(IMPORTS_THE_REFERENCE)
    (g,) = grade(impl, "rpc", tmp_path / "out", sim_seeds=1, ray=False, pattern="basic")
    assert g.score == 0 and "not implemented yet" in str(g.outcomes[0].findings), g.outcomes[0].findings
