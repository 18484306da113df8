"""Graded Ray runs, sealed: each node's Ray process runs runtime code only and hosts the node's
code in a sealed child (labs.runtime.ray_hosted). The node reaches nothing, the faults and the
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
from labs.runtime.lab import get_lab
from labs.runtime.nursery import isolation_available
from labs.runtime.ray_runtime import run_ray
from labs.runtime.schedule import parse

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


LIVES = """
from dataclasses import dataclass
from labs.rpc.node import KVServer as _Server, KVClerk
from labs.runtime.node import on_timer

MEMORY = []  # what this process remembers: a new process starts with nothing


@dataclass
class Later:
    life: float


class KVServer(_Server):
    def on_start(self):
        super().on_start()
        MEMORY.append(self.now())
        self.log(f"life: remembers {len(MEMORY)}, disk {'yes' if 'mark' in self.storage else 'no'}")
        self.storage["mark"] = 1
        self.set_timer(1.5, Later(self.now()))

    @on_timer(Later)
    def later(self, timer):
        self.log(f"later: set at {timer.life:.1f}")
"""


def test_a_sealed_crash_leaves_nothing_of_the_node_but_its_disk(ray_session: None, tmp_path: Path) -> None:
    """A crash on sealed Ray kills the node's process and keeps its Ray actor, which must forget
    all it held for the node: no memory, no timer, no message still on its way comes back in
    the next life; the disk stays, unless the schedule loses it."""
    submission = tmp_path / "lives" / "node.py"
    submission.parent.mkdir()
    submission.write_text(LIVES)
    lab = get_lab("rpc").with_impl_source(submission)
    schedule = parse({"name": "three-lives", "duration": 4.0, "network": {"delay": {"constant": 0.3}},
                      "events": [{"at": 1.0, "crash": "n1", "disk": "keep"}, {"at": 1.2, "restart": "n1"},
                                 {"at": 2.0, "crash": "n1", "disk": "lose"}, {"at": 2.2, "restart": "n1"}]})
    run = run_ray(lab, schedule, 3, sealed=True)
    assert not run.errors, run.errors
    logs = [str(e["text"]) for e in run.trace if e["type"] == "log" and e["node"] == "n1"]
    lives = [line for line in logs if line.startswith("life")]
    assert lives == ["life: remembers 1, disk no", "life: remembers 1, disk yes", "life: remembers 1, disk no"], logs
    # Each life sets a timer 1.5 s ahead: only the last life's comes due while it lives.
    later = [line for line in logs if line.startswith("later")]
    assert len(later) == 1 and float(later[0].split()[-1]) >= 2.2, logs
    # A reply n1 sent in the 0.3 s before a crash was still on its way: it never arrives.
    crashes = [e["t"] for e in run.trace if e["type"] == "crash" and e["node"] == "n1"]
    sent = {e["id"]: e["t"] for e in run.trace if e["type"] == "send" and e["node"] == "n1"}
    cut = {mid for mid, t in sent.items() if any(c - 0.25 < t < c for c in crashes)}
    assert cut, "n1 sent nothing just before a crash: the test shows nothing"
    arrived = {e["id"] for e in run.trace if e["type"] == "deliver" and e.get("src") == "n1"}
    assert not cut & arrived, sorted(cut & arrived)


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
