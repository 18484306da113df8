"""The primary-backup lab: the reference passes its whole suite on every seed, each buggy variant
is caught by the test aimed at it with a report that points at the bug, and the release holds
no solution and its skeleton fails cleanly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from seeds import CI_SEEDS, failures, reference_failure

from autograder.release import BEGIN, END, release
from autograder.suite import load_graded_suite, load_suite

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = Path(__file__).resolve().parent / "primary_backup_variants"
SUITE = load_suite("primary_backup")
HIDDEN = [t for t in load_graded_suite("primary_backup").tests if t.hidden]


def _test(name: str):  # type: ignore[no-untyped-def]
    return next(t for t in SUITE.tests if t.name == name)


def test_the_lab_answers_to_its_name_with_a_dash_too() -> None:
    assert load_suite("primary-backup").lab.name == "primary_backup"
    assert len(load_graded_suite("primary-backup").tests) == len(SUITE.tests) + len(HIDDEN)


def test_two_parts_each_with_its_tests() -> None:
    assert [p.name for p in SUITE.parts] == ["A", "B"]
    assert len(SUITE.select("A-")) >= 5 and len(SUITE.select("B-")) >= 6
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


CAUGHT = [
    ("vs_no_ack", "A-first-primary-and-backup", "had not acknowledged view 1"),
    ("vs_ignores_restarts", "A-restarted-primary-is-dead", "was not made primary within 1.5 s"),
    ("vs_promotes_idle", "A-both-die", "only the backup holds the data to take over"),
    ("vs_silent", "A-backup-takes-over", "the view service announced no view with a backup"),
    ("vs_silent", "A-lossy-pings", "the view service announced no view with a backup"),
    ("vs_silent", "A-both-die", "the view service announced no view with a backup"),
    ("reads_locally", "B-split-brain", "not linearizable (key 'a')"),
    ("backup_takes_any_forward", "B-split-brain", "not linearizable (key 'a')"),
    ("no_state_transfer", "B-unreliable", "not linearizable"),
    ("acks_before_transfer", "B-primary-fails-while-a-backup-joins", "not linearizable"),
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
