"""The primary-backup lab: the reference passes its whole suite on every seed, each buggy variant
is caught by the test aimed at it with a report that points at the bug, and the release holds
no solution and its skeleton fails cleanly."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from seeds import CI_SEEDS, failures, reference_failure
from submissions import standalone

from autograder.grade import grade
from autograder.release import BEGIN, END, release
from autograder.runner import run_test
from autograder.suite import load_graded_suite, load_suite
from labs.primary_backup.checks import views_in
from labs.runtime.nursery import isolation_available

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = Path(__file__).resolve().parent / "primary_backup_variants"
SUITE = load_suite("primary_backup")
HIDDEN = [t for t in load_graded_suite("primary_backup").tests if t.hidden]
GRADED = isolation_available() is None
"""Runs as the grader makes them: each node's code in a sealed process, where this machine can."""


def _test(name: str):  # type: ignore[no-untyped-def]
    return next(t for t in SUITE.tests if t.name == name)


def test_the_lab_answers_to_its_name_with_a_dash_too() -> None:
    assert load_suite("primary-backup").lab.name == "primary_backup"
    assert len(load_graded_suite("primary-backup").tests) == len(SUITE.tests) + len(HIDDEN)


def test_two_parts_each_with_its_tests() -> None:
    assert [p.name for p in SUITE.parts] == ["A", "B"]
    assert len(SUITE.select("A-")) >= 5 and len(SUITE.select("B-")) >= 6
    assert [t.name for t in SUITE.tests if t.search is not None] == ["A-search-views"]
    assert {name for name, _ in SUITE.every_test} >= {"views-step-by-one", "views-wait-for-the-ack",
                                                       "only-the-backup-is-promoted"}


@pytest.mark.parametrize("name", [t.name for t in SUITE.tests])
def test_reference_passes_every_seed_in_the_simulator(name: str) -> None:
    test = _test(name)
    failure = reference_failure("primary_backup", name, list(test.seeds[:CI_SEEDS]))
    assert failure is None, failure


@pytest.mark.slow
@pytest.mark.parametrize("name", [t.name for t in SUITE.tests])
def test_reference_passes_the_other_seeds_in_the_simulator(name: str) -> None:
    test = _test(name)
    failure = reference_failure("primary_backup", name, list(test.seeds[CI_SEEDS:]))
    assert failure is None, failure


@pytest.mark.parametrize("name", [t.name for t in HIDDEN])
def test_reference_passes_the_hidden_tests_in_the_simulator(name: str) -> None:
    test = next(t for t in HIDDEN if t.name == name)
    failure = reference_failure("primary_backup", name, list(test.seeds[:CI_SEEDS]), graded=True)
    assert failure is None, failure


@pytest.mark.ray
# A partitioned old primary, and a primary crashing under load; every test, hidden ones too,
# again and again: python benchmarks/ray_stability.py --lab primary_backup
@pytest.mark.parametrize("name", ["B-split-brain", "B-primary-fails"])
def test_reference_passes_on_ray(name: str, ray_session: None) -> None:
    test = _test(name)
    for seed in test.ray_seeds:
        outcome = run_test(test, seed, "ray", sealed=GRADED)
        assert outcome.passed, f"seed {seed}: {outcome.findings[0]}"


SHARED_STORE = """
\"\"\"Sends no request: each clerk applies its operation to a store shared by every clerk
outside the network (a module-level dict), then completes after 1 ms.\"\"\"
from dataclasses import dataclass

from labs.primary_backup import node as reference

_STORE = {}


@dataclass(frozen=True)
class Done:
    pass


class PBClerk(reference.PBClerk):
    def on_invoke(self, op):
        key = str(op.key)
        if op.f == "get":
            self.result = _STORE.get(key, "")
        else:
            _STORE[key] = (_STORE.get(key, "") if op.f == "append" else "") + str(op.value)
            self.result = None
        self.set_timer(0.001, Done())

    @reference.on_timer(Done)
    def done(self, timer):
        self.complete(self.result)


PBNode = reference.PBNode
"""


@pytest.mark.skipif(not GRADED, reason="no user namespaces here")
def test_graded_in_the_sandbox_the_reference_gets_full_marks_and_no_shortcut_pays(tmp_path: Path) -> None:
    """Graded as a class is (the grader's sandbox, each node and clerk in a sealed process), the
    reference earns every point, hidden tests and the search included. Clerks that keep the
    store between themselves, outside the network, are linearizable on a student's machine,
    where they share a process: sealed, each has its own, and part B earns nothing. A primary
    that reads alone loses the split-brain test."""
    graded = grade(ROOT / "labs" / "primary_backup", "primary_backup", tmp_path / "ref", sim_seeds=1, ray=False)
    assert all(g.passed for g in graded), [(g.test.name, g.failures[0].findings[0]) for g in graded if not g.passed]
    report = json.loads((tmp_path / "ref" / "report.json").read_text())
    assert report["score"] == report["max_score"] == SUITE.points + sum(t.points for t in HIDDEN)
    assert report["student_code"].startswith("sandboxed as ds-sandbox-")

    shared = standalone(SHARED_STORE, tmp_path / "shared" / "node.py", "primary_backup")
    assert run_test(_test("B-basic"), 1, "sim", shared).passed  # one process: one store
    scores = {g.test.name: (g.score, g.failures) for g in grade(shared, "primary_backup", tmp_path / "shared-out",
                                                                 sim_seeds=1, ray=False, parts=["B"])}
    assert {name: score for name, (score, _) in scores.items()} == {name: 0 for name in scores}
    assert "not linearizable" in str(scores["B-basic"][1][0].findings[0])

    local = standalone(VARIANTS / "reads_locally.py", tmp_path / "local" / "node.py", "primary_backup")
    (split,) = [g for g in grade(local, "primary_backup", tmp_path / "local-out", sim_seeds=1, ray=False,
                                 pattern="B-split-brain")]
    assert split.score == 0 and "not linearizable (key 'a')" in str(split.failures[0].findings[0])


CLAIMS_NO_ROLE = """
\"\"\"A primary that reads alone, and says of itself that it holds no role.\"\"\"
from labs.primary_backup import node as reference
from labs.primary_backup.node import Reply, Request


class PBServer(reference.PBServer):
    def role(self):
        return None

    @reference.on(Request)
    def handle_request(self, msg, sender):
        if msg.op == "get" and self.primary():
            self.send(sender, Reply(msg.client, msg.seq, "", self.store.get(msg.key, "")))
            return
        super().handle_request(msg, sender)


PBClerk = reference.PBClerk
PBNode = reference.by_name("PBNode", {reference.VIEW_SERVICE: reference.ViewServer}, default=PBServer)
"""


def test_a_server_that_claims_no_role_still_meets_the_faults_aimed_at_its_role(tmp_path: Path) -> None:
    """Schedules aim at the primary the view service last announced (read from the replies the
    runtime saw it send), never at whoever says so: a primary that claims no role, so that
    `partition: [[primary, c1], [n1]]` would cut nobody off and its bug would never show, is
    cut off all the same, and caught."""
    impl = tmp_path / "claims-no-role" / "node.py"
    impl.parent.mkdir()
    impl.write_text(CLAIMS_NO_ROLE)
    outcome = run_test(_test("B-split-brain"), 1, "sim", impl)
    assert outcome.result is not None
    trace = outcome.result.trace
    assert not [e for e in trace if e["type"] == "skip"]
    (cut,) = [e for e in trace if e["type"] == "partition"]
    primary = views_in(trace[:trace.index(cut)])[-1].primary
    assert cut["groups"][0] == [primary, "c1"], cut
    assert not outcome.passed and "not linearizable" in str(outcome.findings[0])


CAUGHT = [
    ("vs_no_ack", "A-first-primary-and-backup", "had not acknowledged view 1"),
    ("vs_ignores_restarts", "A-restarted-primary-is-dead", "was not made primary within 1.5 s"),
    ("vs_keeps_dead_backup", "A-dead-backup-is-replaced", "but no view without it came within 1.5 s"),
    ("vs_promotes_idle", "A-both-die", "only the backup holds the data to take over"),
    ("vs_no_ack", "A-search-views", "had not acknowledged view 1"),
    ("vs_promotes_idle", "A-search-views", "only the backup holds the data to take over"),
    ("vs_silent", "A-backup-takes-over", "the view service announced no view with a backup"),
    ("vs_silent", "A-lossy-pings", "the view service announced no view with a backup"),
    ("vs_silent", "A-both-die", "the view service announced no view with a backup"),
    ("reads_locally", "B-split-brain", "not linearizable (key 'a')"),
    ("backup_takes_any_forward", "B-split-brain", "not linearizable (key 'a')"),
    ("no_state_transfer", "B-unreliable", "acknowledged it at t="),
    ("never_retries", "B-unreliable", "does the primary send a lost forward or transfer again"),
    ("acks_before_transfer", "B-primary-fails-while-a-backup-joins", "not linearizable"),
    ("no_state_transfer", "B-primary-fails-while-a-backup-joins", "not linearizable"),
]


@pytest.mark.parametrize(("variant", "name", "says"), CAUGHT)
def test_buggy_variants_fail_their_test_with_a_report_that_points_at_the_bug(variant: str, name: str,
                                                                             says: str) -> None:
    """Seeds in order until the first failure (as a student's `autograder test` stops at it)."""
    test = _test(name)
    found = failures("primary_backup", name, list(test.seeds), impl=VARIANTS / f"{variant}.py", first_only=True)
    assert found, f"{variant} passed {name} on all {len(test.seeds)} seeds"
    seed, messages = found[0]
    assert any(says in m for m in messages), (seed, messages[:3])


def test_the_picture_shows_the_views_announced_and_believed() -> None:
    """B-split-brain, seed 1: the old primary still believes it leads view 2 while the view
    service has announced view 3, whose primary is another server."""
    from autograder.runner import run_test
    from labs.pictures import picture_of

    outcome = run_test(_test("B-split-brain"), 1)
    assert outcome.result is not None and outcome.passed
    (timeline,) = [v for v in picture_of(outcome.result).views if v.name == "pb-views"]
    tracks = {t.label: t for t in timeline.tracks}
    assert timeline.tracks[0].label == "announced" and set(tracks) >= {"n2", "n3", "n4"}
    announced = tracks["announced"].segments
    assert [s.label.split(":")[0] for s in announced][:3] == ["view 1", "view 2", "view 3"]
    third = announced[2]
    old = next(n for n in ("n2", "n3", "n4") if f"view 2: {n} primary" in announced[1].label)
    believes_old = [s for s in tracks[old].segments if s.label == f"{old}: primary in view 2"]
    assert believes_old and believes_old[0].end > third.start + 0.5  # both primary at once, for a while


def test_release_holds_no_solution_and_its_skeleton_fails_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "release"
    stripped = release(ROOT, out)
    assert Path("labs/primary_backup/node.py") in stripped
    released = (out / "labs/primary_backup/node.py").read_text()
    assert BEGIN not in released and END not in released
    assert "def maybe_change" not in released and "def transfer" not in released
    env = dict(os.environ, PYTHONPATH=str(out))
    done = subprocess.run([sys.executable, "-m", "autograder", "test", "primary_backup", "--seeds", "1", "--no-shrink"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    assert "property: not implemented yet: ViewServer.on_start (see the lab's handout)" in done.stdout, \
        done.stdout[-2000:]
    assert done.stdout.count("FAILED primary_backup") == len(SUITE.tests)
    assert re.search(rf"^total\s+0 / {SUITE.points}$", done.stdout, re.MULTILINE), done.stdout[-300:]
    assert "Traceback" not in done.stderr


def test_the_handout_lists_every_test_with_its_points() -> None:
    handout = (ROOT / "site" / "labs" / "primary-backup.md").read_text()
    for test in SUITE.tests:
        assert f"| `{test.name}` | {test.points} |" in handout, test.name
