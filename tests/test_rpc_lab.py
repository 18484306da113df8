"""The RPC lab: the reference passes its whole suite in both runtimes, buggy variants are caught
with reports that point at the bug, and the release holds no solution and fails cleanly."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from seeds import CI_SEEDS, failures, reference_failure

from autograder.release import BEGIN, END, ReleaseError, _marker_lines, release, strip_solutions
from autograder.runner import run_test
from autograder.suite import SuiteError, load_graded_suite, load_suite, parse_suite
from labs.runtime.lab import get_lab
from labs.runtime.nursery import isolation_available

GRADED = isolation_available() is None
"""Ray runs as the grader makes them: each node's code in a sealed process, where this machine can."""

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = Path(__file__).resolve().parent / "rpc_variants"
SUITE = load_suite("rpc")
HIDDEN = [t for t in load_graded_suite("rpc").tests if t.hidden]


SEEDED = [t.name for t in SUITE.tests if t.search is None]
SEARCHES = [t.name for t in SUITE.tests if t.search is not None]


@pytest.mark.parametrize("name", SEEDED)
def test_reference_passes_every_seed_in_the_simulator(name: str) -> None:
    test = next(t for t in SUITE.tests if t.name == name)
    assert len(test.seeds) >= 50
    failure = reference_failure("rpc", name, test.seeds[:CI_SEEDS])
    assert failure is None, failure


@pytest.mark.parametrize("name", [t.name for t in HIDDEN])
def test_reference_passes_the_hidden_tests_in_the_simulator(name: str) -> None:
    test = next(t for t in HIDDEN if t.name == name)
    assert len(test.seeds) >= 20
    failure = reference_failure("rpc", name, test.seeds[:CI_SEEDS], graded=True)
    assert failure is None, failure


@pytest.mark.parametrize("name", SEARCHES)
def test_reference_passes_its_searches_to_their_depth(name: str) -> None:
    test = next(t for t in SUITE.tests if t.name == name)
    outcome = run_test(test, 1)
    assert outcome.passed and outcome.search is not None, [f.message for f in outcome.findings]
    assert outcome.search.verdict == "ok" and test.search is not None and outcome.search.depth == test.search.depth


@pytest.mark.slow
@pytest.mark.parametrize("name", SEEDED)
def test_reference_passes_the_other_seeds_in_the_simulator(name: str) -> None:
    test = next(t for t in SUITE.tests if t.name == name)
    failure = reference_failure("rpc", name, test.seeds[CI_SEEDS:])
    assert failure is None, failure


@pytest.mark.ray
# Loss, a crash that loses the disk (memory measured from outside: test_sealed_ray); every test,
# hidden ones too, again and again: python benchmarks/ray_stability.py --lab rpc
@pytest.mark.parametrize("name", ["unreliable", "restart-without-disk"])
def test_reference_passes_on_ray(name: str, ray_session: None) -> None:
    (test,) = SUITE.select(name)
    for seed in test.ray_seeds:
        outcome = run_test(test, seed, "ray", sealed=GRADED)
        assert outcome.passed, f"seed {seed}: {outcome.findings[0]}"


CAUGHT = [
    ("no_dedup", "appends-under-loss", "took effect 2 times"),
    ("no_dedup", "unreliable", "not linearizable"),
    ("forgets_early", "appends-under-loss", "took effect 2 times"),
    ("forgets_early", "restart-with-disk", "not linearizable"),
    ("non_atomic_put", "racing-puts", "both succeeded"),
    ("never_forgets", "memory-bounded", "does it forget clients that went quiet?"),
    ("no_retry", "unreliable", "does the clerk retry"),
    ("reuses_seq", "unreliable", "sent two different requests as sequence number"),
    ("no_retry", "unreliable", "no request was ever sent twice"),
    ("non_atomic_put", "racing-puts", "they ran at the same time"),
    ("wrong_types", "basic", "a put returns whether it took effect, True or False, never ["),
    ("forgets_on_clock_step", "hidden-clock-steps-back", "took effect 2 times"),
    ("retries_pile_up", "unreliable", "sooner than RETRY = 0.1 s: does a retry timer left over"),
    ("ignores_client", "hidden-fresh-clients", "a late or duplicated reply to another request was taken for this one"),
    ("no_dedup", "search-at-most-once", "get('a') -> ('y;y;', 2)"),
    ("reuses_seq", "search-at-most-once", "get('a') -> None"),
    ("forgets_early", "search-at-most-once", "get('a') -> ('y;y;', 2)"),
    ("ignores_client", "search-at-most-once", "get('a') -> None"),
    ("silent", "search-at-most-once", "did the clients finish their 3 operation(s)"),
]


@pytest.mark.parametrize(("variant", "name", "says"), CAUGHT)
def test_buggy_variants_fail_with_a_report_that_points_at_the_bug(variant: str, name: str, says: str) -> None:
    seeds = [1] if name in SEARCHES else [1, 2, 3, 4, 5]  # a search has no seeds: it runs once
    found = [m for _, messages in failures("rpc", name, seeds, graded=True, impl=VARIANTS / f"{variant}.py")
             for m in messages]
    assert found, f"{variant} passed {name} on seeds 1-5"
    assert any(says in m for m in found), found[:3]


def test_release_holds_no_solution_and_its_skeleton_fails_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "release"
    stripped = release(ROOT, out)
    assert Path("labs/rpc/node.py") in stripped
    assert not (out / "tests").exists()
    original = (ROOT / "labs/rpc/node.py").read_text()
    solution = _solution_lines(original)
    assert len(solution) > 40
    released = (out / "labs/rpc/node.py").read_text()
    assert BEGIN not in released and END not in released
    leaked = [line for line in released.splitlines() if line.strip() in solution]
    assert not leaked, leaked[:5]
    for path in out.rglob("*.py"):  # no marker comment left anywhere (strings may name them)
        assert not _marker_lines(path.read_text(), str(path)), path

    env = dict(os.environ, PYTHONPATH=str(out))
    done = subprocess.run([sys.executable, "-m", "autograder", "test", "rpc", "--seeds", "1"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    assert f"{out}/labs/rpc/node.py" in done.stdout  # the skeleton ran, not the reference
    assert "property: not implemented yet: KVServer.on_start (see the lab's handout)" in done.stdout
    assert done.stdout.count("FAILED rpc") == len(SUITE.tests)
    assert re.search(rf"^total\s+0 / {SUITE.points}$", done.stdout, re.MULTILINE), done.stdout[-300:]
    assert "Traceback" not in done.stderr


def _solution_lines(text: str) -> set[str]:
    inside, lines = False, set()
    for line in text.splitlines():
        if BEGIN in line:
            inside = True
        elif END in line:
            inside = False
        elif inside and len(line.strip()) > 12 and not line.strip().startswith("#"):
            lines.add(line.strip())
    return lines


def test_unbalanced_markers_are_named() -> None:
    with pytest.raises(ReleaseError, match=r"f\.py:2: ### BEGIN SOLUTION is never closed"):
        strip_solutions("x = 1\n    ### BEGIN SOLUTION\n    y = 2\n", "f.py")
    with pytest.raises(ReleaseError, match=r"f\.py:1: ### END SOLUTION without"):
        strip_solutions("### END SOLUTION\n", "f.py")


def test_a_failure_prints_everything_needed_and_its_replay_reproduces_it(tmp_path: Path) -> None:
    impl = VARIANTS / "non_atomic_put.py"
    cmd = [sys.executable, "-m", "autograder", "test", "rpc", "-k", "racing", "--seeds", "5", "--impl", str(impl)]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    out = done.stdout
    for needed in ("FAILED rpc racing-puts (15 pts), seed ", "property: two puts for version",
                   "schedule, shrunk from ", "picture: rpc-reports/rpc-racing-puts-sim-",
                   "replay: python -m autograder test rpc", "--schedule rpc-reports/rpc-racing-puts-"):
        assert needed in out, out
    picture = re.search(r"picture: (\S+\.html)", out)
    assert picture and (tmp_path / picture.group(1)).stat().st_size > 10_000
    replay = re.search(r"replay: python (.*)", out)
    assert replay
    again = subprocess.run([sys.executable, *replay.group(1).split()], cwd=tmp_path, capture_output=True,
                           text=True, timeout=600)
    first = re.search(r"property: (.*)", out)
    assert first and first.group(0) in again.stdout


def test_suite_mistakes_are_named_with_their_place(tmp_path: Path) -> None:
    lab = get_lab("rpc")
    doc = {"lab": "rpc", "seeds": 2, "tests": [
        {"name": "t", "points": 5, "description": "d", "workload": {"generate": "mixd"},
         "schedule": "lossy", "checks": ["linearizable", "linearisable"], "seed": 3},
    ]}
    with pytest.raises(SuiteError) as info:
        parse_suite(doc, lab, tmp_path / "suite.yaml")
    text = str(info.value)
    assert "tests[0].workload.generate: no workload 'mixd'" in text
    assert "tests[0].checks[1]: no check 'linearisable'" in text
    assert "tests[0]: unknown field 'seed' (did you mean 'seeds'?)" in text


def test_the_handout_lists_every_test_with_its_points() -> None:
    handout = (ROOT / "site" / "labs" / "rpc.md").read_text()
    for test in SUITE.tests:
        assert f"| `{test.name}` | {test.points} |" in handout, test.name
    assert f"{len(SUITE.tests[0].seeds)} seeds" in handout


def test_markers_count_only_as_comments_and_notebooks_are_stripped_too(tmp_path: Path) -> None:
    source = 'DOC = """\n### BEGIN SOLUTION\nnot a marker\n### END SOLUTION\n"""\nB = "### BEGIN SOLUTION"\n'
    assert strip_solutions(source, "f.py") == source
    out = tmp_path / "release"
    stripped = release(ROOT, out)
    notebooks = [p for p in stripped if p.suffix == ".ipynb"]
    assert notebooks, "no chapter notebook had a solution to strip"
    for rel in notebooks:
        text = (out / rel).read_text()
        assert BEGIN not in text and "NotImplementedError" in text


def test_a_failing_schedule_shrinks_to_one_that_still_fails() -> None:
    from autograder.shrink import concrete, shrink, size

    (test,) = SUITE.select("unreliable")
    impl = VARIANTS / "no_dedup.py"
    outcome = run_test(test, 1, impl=impl)
    assert outcome.failed_checks[:1] == ["linearizable"]
    shrunk = shrink(outcome, impl)
    assert shrunk is not None
    assert shrunk.after < shrunk.before == size(concrete(test, 1))
    assert "linearizable" in shrunk.outcome.failed_checks
    # The shrunk schedule replays: the same failure, from the schedule alone.
    again = run_test(shrunk.outcome.test, 1, impl=impl)
    assert [f.message for f in again.findings[:1]] == [f.message for f in shrunk.outcome.findings[:1]]
    # And the reference passes under it.
    assert run_test(shrunk.outcome.test, 1).passed


def test_exploring_random_schedules_finds_a_bug_and_spares_the_reference(tmp_path: Path) -> None:
    from autograder.explore import explore, random_schedule

    assert random_schedule(7, ["n1"]) == random_schedule(7, ["n1"])  # a seed is a schedule
    (test,) = SUITE.select("appends-under-loss")
    assert all(o.passed for o in explore(test, range(1, 21)))
    found = next(o for o in explore(test, range(1, 21), VARIANTS / "forgets_early.py") if not o.passed)
    assert "took effect 2 times" in found.findings[0].message
    cmd = [sys.executable, "-m", "autograder", "explore", "rpc", "--like", "appends", "--seeds", "20",
           "--impl", str(VARIANTS / "forgets_early.py")]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1 and "schedule, shrunk from" in done.stdout
    replay = re.search(r"replay: python (.*)", done.stdout)
    assert replay
    again = subprocess.run([sys.executable, *replay.group(1).split()], cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 1 and "took effect 2 times" in again.stdout
