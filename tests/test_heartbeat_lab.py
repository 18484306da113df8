"""The heartbeat lab (the example lab): the reference passes its whole suite, hidden tests
included, in both runtimes; each buggy variant is caught by the test meant for it, with a report
that points at the bug; its picture shows the suspicions; and the release holds no solution."""

from __future__ import annotations

from pathlib import Path

import pytest
from seeds import CI_SEEDS, failures, reference_failure

from autograder.release import release
from autograder.runner import run_test
from autograder.suite import Test as SuiteTest
from autograder.suite import load_graded_suite, load_suite
from labs.heartbeat.checks import answers, members
from labs.pictures import picture_of
from labs.runtime.lab import RunResult, lab_names
from labs.runtime.nursery import isolation_available

GRADED = isolation_available() is None
"""Ray runs as the grader makes them: each node's code in a sealed process, where this machine can."""

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = Path(__file__).resolve().parent / "heartbeat_variants"
SUITE = load_suite("heartbeat")
GRADED = load_graded_suite("heartbeat")


def named(name: str) -> SuiteTest:
    return next(t for t in GRADED.tests if t.name == name)


def test_the_lab_is_found_by_its_declaration() -> None:
    assert any(t.hidden for t in GRADED.tests) and {t.part for t in GRADED.tests} == {"A", "B"}
    assert "heartbeat" in lab_names()
    assert not {"checkers", "pictures", "runtime"} & set(lab_names())


@pytest.mark.parametrize("name", [t.name for t in GRADED.tests])
def test_reference_passes_every_seed_in_the_simulator(name: str) -> None:
    test = named(name)
    assert len(test.seeds) >= 20
    failure = reference_failure("heartbeat", name, test.seeds[:CI_SEEDS], graded=True)
    assert failure is None, failure


@pytest.mark.slow
@pytest.mark.parametrize("name", [t.name for t in GRADED.tests])
def test_reference_passes_the_other_seeds_in_the_simulator(name: str) -> None:
    test = named(name)
    failure = reference_failure("heartbeat", name, test.seeds[CI_SEEDS:], graded=True)
    assert failure is None, failure


@pytest.mark.ray
# Crashes, restarts and loss on Ray here; every test: python benchmarks/ray_stability.py --lab heartbeat
@pytest.mark.parametrize("name", ["A-monitor-restart", "B-lossy"])
def test_reference_passes_on_ray(name: str, ray_session: None) -> None:
    test = named(name)
    for seed in test.ray_seeds:
        outcome = run_test(test, seed, "ray", sealed=GRADED)
        assert outcome.passed, f"seed {seed}: {outcome.findings[0]}"


CAUGHT = [
    ("never_suspects", "A-crash", "without n3, down since"),
    ("never_forgives", "A-crash-restart", "was up and reachable"),
    ("too_eager", "B-lossy", "suspect too soon?"),
    ("strangers_suspected", "A-monitor-restart", "was up and reachable"),
    ("no_retry", "B-lossy", "does the clerk ask again"),
    ("one_beat", "A-quiet", "was up and reachable"),
    ("stale_answer", "B-hidden-late-answers", "a late or duplicated answer to an earlier question was taken for this one"),
    ("ignores_client", "B-hidden-fresh-clerks", "take only an answer whose client and seq are this question's"),
    ("one_number", "B-lossy", "each question needs a number of its own"),
    ("reminders_pile_up", "B-hidden-late-answers", "sooner than RETRY = 0.1 s"),
    ("asks_after_answer", "B-lossy", "does the clerk stop asking once it has its answer"),
]


@pytest.mark.parametrize(("variant", "name", "says"), CAUGHT)
def test_buggy_variants_fail_with_a_report_that_points_at_the_bug(variant: str, name: str, says: str) -> None:
    found = [m for _, messages in failures("heartbeat", name, [1, 2, 3], graded=True, impl=VARIANTS / f"{variant}.py")
             for m in messages]
    assert found, f"{variant} passed {name} on seeds 1-3"
    assert any(says in m for m in found), found[:3]


def test_the_checks_read_what_happened_from_the_trace() -> None:
    test = named("A-crash-restart")
    run = run_test(test, 1).result
    assert run is not None
    happened = members(run)
    assert [[round(t, 3) for t in span] for span in happened["n2"].down] == [[1.0, 2.5]]
    assert [[round(t, 3) for t in span] for span in happened["n4"].down] == [[2.0, 3.0]]
    assert happened["n3"].down == [] and happened["n3"].unheard == []
    told = answers(run.trace)
    assert len(told) > 50
    assert any(a.members == ("n2",) for a in told) and any(a.members == ("n2", "n4") for a in told)
    assert told[-1].members == ()


def test_a_member_stays_unheard_while_any_cause_holds() -> None:
    """Causes overlap: n2 restarts while still cut off, n3 is paused while cut off and then healed,
    the monitor pauses; each span of silence ends only when its last cause does."""
    (test,) = SUITE.select("A-quiet")
    cut = [["n2", "n1"], ["n3", "n1"]]
    trace = [
        {"t": 1.0, "type": "partition", "blocked": cut},
        {"t": 1.2, "type": "crash", "node": "n2"},
        {"t": 1.4, "type": "restart", "node": "n2"},
        {"t": 1.5, "type": "pause", "node": "n3"},
        {"t": 2.0, "type": "heal"},
        {"t": 2.5, "type": "resume", "node": "n3"},
        {"t": 3.0, "type": "pause", "node": "n1"},
        {"t": 3.5, "type": "resume", "node": "n1"},
        {"t": 4.0, "type": "end"},
    ]
    run = RunResult(test.lab, "sim", 1, test.schedule, trace)
    happened = members(run)
    assert happened["n2"].down == [[1.2, 1.4]]
    assert happened["n2"].unheard == [[1.0, 2.0], [3.0, 3.5]]
    assert happened["n3"].unheard == [[1.0, 2.5], [3.0, 3.5]]
    assert happened["n4"].unheard == [[3.0, 3.5]]


def test_the_picture_shows_what_the_monitor_answered() -> None:
    test = named("A-crash")
    run = run_test(test, 1).result
    assert run is not None
    payload = picture_of(run, "heartbeat A-crash").to_payload()
    (view,) = [v for v in payload["views"] if v["name"] == "heartbeat-suspicions"]
    tracks = {t["label"]: t["segs"] for t in view["tracks"]}
    assert sorted(tracks) == ["n2", "n3", "n4"]
    assert [s[2] for s in tracks["n3"]] == ["trusted", "suspected"]
    assert 1.5e6 <= tracks["n3"][1][0] <= 1.8e6  # suspected from about TIMEOUT after the crash at 1 s
    assert [s[2] for s in tracks["n2"]] == ["trusted"]


def test_the_release_holds_no_solution_and_no_hidden_test(tmp_path: Path) -> None:
    out = tmp_path / "release"
    stripped = release(ROOT, out)
    assert Path("labs/heartbeat/node.py") in stripped
    released = (out / "labs/heartbeat/node.py").read_text()
    assert "self.heard[sender] = self.now()" not in released
    assert released.count("        raise NotImplementedError") == 9  # one per handler to write
    assert not (out / "labs/heartbeat/hidden").exists()
