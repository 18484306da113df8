"""Graded Ray runs, sealed: each node's Ray process runs runtime code only and hosts the node's
code in a sealed child (labs.runtime.ray_sealed). The node reaches nothing, the faults and the
disk are the runtime's, and the submissions that once steered Ray runs (issue 13) earn nothing
there either."""

from __future__ import annotations

from pathlib import Path

import pytest
from submissions import standalone
from test_isolated_sim import assert_reached_nothing, bait, probing
from test_trust_line import FAULTS_OFF, MEASURES_ITSELF, NO_MESSAGES

from autograder.grade import TestGrade as Graded
from autograder.grade import grade
from autograder.runner import run_test
from autograder.suite import load_graded_suite
from labs.runtime.nursery import isolation_available
from labs.runtime.ray_runtime import run_ray

pytestmark = pytest.mark.skipif(isolation_available() is not None, reason="no user namespaces here")


def test_a_sealed_ray_node_reaches_nothing(ray_session: None, tmp_path: Path) -> None:
    """Not the network (not even loopback: not its Ray process, not Ray, not the other nodes), not
    a file of this machine's /tmp, not the schedule; its only socket leads to its Ray process."""
    with probing(tmp_path, duration=1.0) as (lab, schedule):
        run = run_ray(lab, schedule, 7, sealed=True)
    assert_reached_nothing(run)
    # Its memory is measured by the runtime, from outside: nothing the node says.
    assert {e.get("of") for e in run.trace if e["type"] == "memory"} <= {"process"}


REACHING_WORKS = """
import os, socket
from labs.mapreduce import node as _reference
from labs.mapreduce.node import JobClient, MapReduceNode

PORT, SECRET = {port}, {secret!r}
_map = _reference.run_map


def _reached():
    reached = ["the secret file"] if os.path.exists(SECRET) else []
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
        reached.append("a socket of this machine")
    except OSError:
        pass
    return reached


def run_map(work, task):
    reached = _reached()
    if reached:
        raise RuntimeError(f"a work reached {{reached}}")
    return _map(work, task)


_reference.run_map = run_map  # the workers start this one
__all__ = ["JobClient", "MapReduceNode"]
"""


def test_works_run_sealed_on_ray_and_reach_nothing(ray_session: None, tmp_path: Path) -> None:
    """A lab whose nodes start works (MapReduce) is sealed on Ray too: the works run in the node's
    sealed process, step by step, and the shared files are the runtime's to serve. A work that
    could reach a socket of this machine or a file of its /tmp would fail the job."""
    test = next(t for t in load_graded_suite("mapreduce").tests if t.name == "crash-partial-output")
    submission = tmp_path / "mr" / "node.py"
    submission.parent.mkdir()
    with bait() as (port, secret):
        submission.write_text(REACHING_WORKS.format(port=port, secret=str(secret)))
        outcome = run_test(test, 1, "ray", submission, sealed=True)
    assert outcome.result is not None
    assert not [e for e in outcome.result.errors if "a work reached" in e], outcome.result.errors
    assert outcome.passed, outcome.findings[:1]
    assert [e for e in outcome.result.trace if e["type"] == "work" and e.get("op") == "end"], "no work ran"


def _grade_on_ray(tmp_path: Path, name: str, source: str, pattern: str) -> Graded:
    impl = standalone(source, tmp_path / name / "node.py")
    (g,) = grade(impl, "rpc", tmp_path / f"{name}-out", sim_seeds=0, ray=True, pattern=pattern)
    assert [o.runtime for o in g.outcomes] == ["ray"]
    return g


def _why(g: Graded) -> str:
    return "\n".join(str(f) for o in g.failures for f in o.findings)


def test_no_messages_earns_nothing_on_ray(tmp_path: Path) -> None:
    g = _grade_on_ray(tmp_path, "no-messages", NO_MESSAGES, "basic")
    assert g.score == 0
    assert "no message from a server reached c1" in _why(g), _why(g)


def test_switching_the_faults_off_changes_nothing_on_ray(tmp_path: Path) -> None:
    """The one line that once made Ray runs lossless: the faults are decided in the node's Ray
    process, which runs no student code."""
    g = _grade_on_ray(tmp_path, "faults-off", FAULTS_OFF, "unreliable")
    assert g.score == 0
    assert "operations completed" in _why(g) or "linearizable" in _why(g), _why(g)
    (outcome,) = g.outcomes
    assert outcome.result is not None
    assert any(e["type"] == "drop" and e["reason"] == "loss" for e in outcome.result.trace)


def test_memory_is_measured_from_outside_on_ray(tmp_path: Path) -> None:
    g = _grade_on_ray(tmp_path, "measures-itself", MEASURES_ITSELF, "memory-bounded")
    assert g.score == 0
    assert "measured from outside it" in _why(g), _why(g)
