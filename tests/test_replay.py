"""A failure report's replay line reproduces that very report, and shrinking keeps the failure.

For a buggy variant of each lab: the report of its first failing seed is made as ``autograder
test`` makes it (shrunk, its schedule written next to the pictures); then the report's own
``replay:`` command is run, and must report the same property, the same evidence and the same
schedule, and print the same replay line again. Shrinking must keep what the check found, not
only that the check failed: ``finding_kind`` tells a different failure of the same check apart.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.failure_report import report
from autograder.runner import run_test
from autograder.shrink import finding_kind
from autograder.suite import load_suite
from labs.runtime.lab import Finding

TESTS = Path(__file__).resolve().parent

FAILING = [
    ("rpc", "unreliable", "rpc_variants/no_dedup.py"),
    pytest.param("raft", "C-restart-all", "raft_variants/log_not_persisted.py", marks=pytest.mark.slow),  # ~40 s
    ("mapreduce", "crash", "mapreduce_variants/no_reissue.py"),
    ("heartbeat", "A-crash-restart", "heartbeat_variants/never_forgives.py"),
]


def _lines(text: str, *prefixes: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith(prefixes)]


@pytest.mark.parametrize(("lab", "name", "variant"), FAILING, ids=["rpc", "raft", "mapreduce", "heartbeat"])
def test_the_replay_line_reproduces_exactly_its_report(lab: str, name: str, variant: str, tmp_path: Path) -> None:
    suite = load_suite(lab)
    (test,) = [t for t in suite.select(name) if t.name == name]
    impl = TESTS / variant
    failed = next(o for o in (run_test(test, seed, "sim", impl) for seed in range(1, 6)) if not o.passed)
    first = report(suite, failed, tmp_path, impl, shrink_budget=5.0)
    (replay,) = _lines(first, "replay:")
    args = shlex.split(replay.removeprefix("replay:"))
    assert args[:3] == ["python", "-m", "autograder"] and "--no-shrink" in args

    again = CliRunner().invoke(main, [*args[3:], "--out", str(tmp_path / "again")])
    assert again.exit_code == 1, again.output
    assert _lines(again.output, "property:", "also:") == _lines(first, "property:", "also:")
    assert _lines(again.output, "evidence:") == _lines(first, "evidence:")
    shown = _lines(first, "schedule")[0].split(": ", 1)[1]  # what the report says it ran
    assert _lines(again.output, "schedule")[0].endswith(shown.split(" runs: ")[-1])
    assert _lines(again.output, "replay:") == [replay]


def test_a_finding_s_kind_leaves_out_its_particulars() -> None:
    same = [Finding("not linearizable (key 'a'): get('a') -> 'x' can no longer come true"),
            Finding("not linearizable (key 'c'): put('c', 'y') ... returns at 2.5")]
    assert len({finding_kind(f) for f in same}) == 1
    assert finding_kind(Finding("the schedule never restarted the server")) != finding_kind(same[0])
    assert finding_kind(Finding("after the restart at 2.000 the server does not behave as an empty store: x")) == \
        finding_kind(Finding("after the restart at 3.5 the server does not behave as an empty store: y"))


def test_shrinking_keeps_the_finding_not_only_the_check(tmp_path: Path) -> None:
    """On the RPC lab's restart-without-disk, a server that keeps executing retried requests
    fails because the store is not empty after the restart; dropping the restart from the
    schedule fails the same check with "the schedule never restarted the server", which is
    not this bug. The shrunk report must still show the first."""
    suite = load_suite("rpc")
    (test,) = suite.select("restart-without-disk")
    impl = TESTS / "rpc_variants/no_dedup.py"
    failed = run_test(test, 1, "sim", impl)
    assert "does not behave as an empty store" in failed.findings[0].message
    text = report(suite, failed, tmp_path, impl, shrink_budget=10.0)
    assert "does not behave as an empty store" in _lines(text, "property:")[0]
    assert "never restarted" not in text
    assert "restart n1" in _lines(text, "schedule")[0]
    (said,) = _lines(text, "shrinking:")
    assert "->" in said or "dropped" in said
