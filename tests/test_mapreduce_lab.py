"""The MapReduce lab: the reference passes its whole suite in both runtimes, each buggy variant is
caught by the test aimed at it with a report that points at the bug, the release holds no solution
and its skeleton fails cleanly, and the full corpus runs for real on Ray."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from seeds import CI_SEEDS, failures, reference_failure

from autograder.release import BEGIN, END, release
from autograder.runner import run_test
from autograder.suite import Test as SuiteTest
from autograder.suite import load_suite
from labs.mapreduce.corpus import CORPORA, generate, read_books
from labs.runtime.nursery import isolation_available

GRADED = isolation_available() is None
"""Ray runs as the grader makes them: each node's code in a sealed process, where this machine can."""

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = Path(__file__).resolve().parent / "mapreduce_variants"
SUITE = load_suite("mapreduce")


def by_name(name: str) -> SuiteTest:
    return next(t for t in SUITE.tests if t.name == name)


@pytest.mark.parametrize("name", [t.name for t in SUITE.tests])
def test_reference_passes_every_seed_in_the_simulator(name: str) -> None:
    test = by_name(name)
    assert len(test.seeds) >= 50
    failure = reference_failure("mapreduce", name, test.seeds[:CI_SEEDS])
    assert failure is None, failure


@pytest.mark.slow
@pytest.mark.parametrize("name", [t.name for t in SUITE.tests])
def test_reference_passes_the_other_seeds_in_the_simulator(name: str) -> None:
    test = by_name(name)
    failure = reference_failure("mapreduce", name, test.seeds[CI_SEEDS:])
    assert failure is None, failure


@pytest.mark.ray
@pytest.mark.parametrize("name", ["word-count", "crash-partial-output", pytest.param("straggler", marks=pytest.mark.slow)])
def test_reference_passes_on_ray(name: str, ray_session: None) -> None:
    test = by_name(name)
    outcome = run_test(test, 1, "ray", sealed=GRADED)
    assert outcome.passed, outcome.findings[0]
    assert outcome.result is not None and outcome.result.runtime == "ray"


CAUGHT = [
    ("no_reissue", "straggler", "and to no one after that: does the coordinator give a task to another worker after TIMEOUT?"),
    ("no_reissue", "crash", "the job did not finish within 11.5 s"),
    ("non_atomic_output", "crash-partial-output", "in place"),
    ("early_reduce", "word-count", "before map task(s)"),
    ("exits_on_wait", "early-exit", "stopped asking for tasks"),
    ("one_at_a_time", "map-parallelism", "map tasks did not run in parallel"),
    ("one_at_a_time", "reduce-parallelism", "reduce tasks did not run in parallel"),
    ("counts_reports", "late-original", "was reported done twice, by n2 at"),
    ("in_place_reduce", "crash-while-committing", "while writing mr-out-"),
    ("copy_commit", "crash-while-committing", "(a copy is a write: it tears as any write does)"),
    ("done_when_handed_out", "word-count", "n1 told c1 the job was done at"),
    ("keeps_asking", "word-count", "a worker told to exit must stop asking"),
    ("reminders_pile_up", "word-count", "does ask() cancel the reminder it set last time"),
    ("timeout_from_first_handout", "late-original", "a task goes to another worker only after TIMEOUT = 2.0 s"),
]


@pytest.mark.parametrize(("variant", "name", "says"), CAUGHT)
def test_buggy_variants_fail_with_a_report_that_points_at_the_bug(variant: str, name: str, says: str) -> None:
    found = [m for _, messages in failures("mapreduce", name, [1, 2, 3, 4, 5], impl=VARIANTS / f"{variant}.py")
             for m in messages]
    assert found, f"{variant} passed {name} on seeds 1-5"
    assert any(says in m for m in found), found[:3]


def test_a_torn_file_is_reported_with_its_size_and_the_crash() -> None:
    test = by_name("crash-partial-output")
    outcome = next(o for o in (run_test(test, s, impl=VARIANTS / "non_atomic_output.py") for s in range(1, 6))
                   if not o.passed)
    first = outcome.findings[0].message
    assert "crashed at" in first and "bytes were left under a name that readers take for a whole file" in first
    assert outcome.result is not None
    torn = [e for e in outcome.result.trace if e["type"] == "file" and e.get("op") == "torn"]
    assert torn and all(e["bytes"] >= 0 for e in torn)


def test_the_corpus_is_generated_the_same_every_time_and_is_several_megabytes() -> None:
    tiny = CORPORA["tiny"]
    assert generate(tiny) == generate(tiny)
    full = read_books("full")
    size = sum(len(t.encode()) for t in full.values())
    assert 5_000_000 < size < 10_000_000, size
    assert len(full) == CORPORA["full"].books


@pytest.mark.ray
@pytest.mark.slow
def test_the_full_corpus_on_ray_gives_the_sequential_output(ray_session: None) -> None:
    """Real processes doing real work on real files: word count over the ~7 MB corpus."""
    import dataclasses

    from labs.mapreduce.checks import output_correct
    from labs.mapreduce.workloads import WORKLOADS
    from labs.runtime.lab import Workload, get_lab
    from labs.runtime.run import run
    from labs.runtime.schedule import parse

    lab = get_lab("mapreduce")
    lab = dataclasses.replace(lab, workload=Workload(WORKLOADS["word-count-full"], clients=1, timeout=29.0),
                              min_duration=29.0, settle=1.0)
    result = run(lab, "ray", parse({"name": "clean", "duration": 29.0}), seed=1)
    assert output_correct(result) == []
    workers = {e["node"] for e in result.trace if e["type"] == "send" and e.get("msg") == "TaskDone"}
    assert len(workers) >= 2, workers


def test_release_holds_no_solution_and_its_skeleton_fails_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "release"
    stripped = release(ROOT, out)
    assert Path("labs/mapreduce/node.py") in stripped
    original = (ROOT / "labs/mapreduce/node.py").read_text()
    released = (out / "labs/mapreduce/node.py").read_text()
    assert BEGIN not in released and END not in released
    solution = {line.strip() for line in _inside(original) if len(line.strip()) > 12 and not line.strip().startswith("#")}
    assert len(solution) > 30
    assert not [line for line in released.splitlines() if line.strip() in solution]
    env = dict(os.environ, PYTHONPATH=str(out))
    done = subprocess.run([sys.executable, "-m", "autograder", "test", "mapreduce", "--seeds", "1", "--no-shrink"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    assert "property: not implemented yet: " in done.stdout, done.stdout[-2000:]
    assert done.stdout.count("FAILED mapreduce") == len(SUITE.tests)
    assert "total                                  0 / 130" in done.stdout
    assert "Traceback" not in done.stderr


def _inside(text: str) -> list[str]:
    inside, lines = False, []
    for line in text.splitlines():
        if BEGIN in line:
            inside = True
        elif END in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def test_the_handout_lists_every_test_with_its_points() -> None:
    handout = (ROOT / "site" / "labs" / "mapreduce.md").read_text()
    for test in SUITE.tests:
        assert f"| `{test.name}` | {test.points} |" in handout, test.name
    assert f"{len(SUITE.tests[0].seeds)} seeds" in handout


def test_the_picture_shows_who_ran_which_task() -> None:
    from labs.pictures import picture_of

    test = by_name("straggler")
    outcome = run_test(test, 1)
    assert outcome.result is not None
    view = next(v for v in picture_of(outcome.result).views if v.name == "mapreduce-tasks")
    labels = [s.label for tr in view.tracks for s in tr.segments]
    assert any("attempt 2" in label for label in labels)  # the straggler's task, run again
    assert any(p.label == "the client hears the job is done" for tr in view.tracks for p in tr.points)


@pytest.mark.ray
@pytest.mark.slow
def test_the_benchmark_prints_its_figures() -> None:
    import json

    env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    # The tiny job takes well under a second; the run's length is only its time limit, and 8 s
    # once was not enough on CI's machine (the benchmark now says what the run did when it fails).
    done = subprocess.run([sys.executable, "benchmarks/mapreduce.py", "--corpus", "tiny", "--workers", "1", "2",
                           "--duration", "20", "--reduces", "2"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["ray_1_workers_s"] > 0 and figures["ray_2_workers_s"] > 0 and figures["sequential_s"] >= 0
    assert figures["speedup_2_vs_1_worker"] > 0
