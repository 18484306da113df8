"""The command line as a student meets it, and the simulator's promise: same seed, same bytes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "labs" / "demo" / "node.py"


def labs_cli(*args: str, hash_seed: str = "0") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    return subprocess.run([sys.executable, "-m", "labs", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300, check=False)


def variant(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the demo's node.py with one change, as a student's implementation."""
    source = DEMO.read_text()
    assert old in source
    folder = tmp_path / "impl"
    folder.mkdir()
    (folder / "node.py").write_text(source.replace(old, new))
    return folder


def test_same_seed_gives_byte_identical_traces_in_separate_processes(tmp_path: Path) -> None:
    digests = []
    for i, hash_seed in enumerate(["1", "2"]):
        out = tmp_path / f"run{i}.jsonl"
        done = labs_cli("run", "demo", "--schedule", "churn", "--seed", "11", "--trace", str(out),
                        hash_seed=hash_seed)
        assert done.returncode == 0, done.stdout + done.stderr
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    other = tmp_path / "other.jsonl"
    labs_cli("run", "demo", "--schedule", "churn", "--seed", "12", "--trace", str(other))
    assert hashlib.sha256(other.read_bytes()).hexdigest() != digests[0]


def test_check_determinism_confirms_a_deterministic_lab() -> None:
    done = labs_cli("run", "demo", "--schedule", "lossy", "--seed", "4", "--check-determinism")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "deterministic: a fresh process replayed all" in done.stdout


def test_check_determinism_finds_the_first_differing_event(tmp_path: Path) -> None:
    # Iterating over a set of strings depends on the process's hash seed.
    impl = variant(tmp_path, "        for node in self.nodes:\n            self.send(node, Prepare(self.epoch))",
                   "        for node in set(self.nodes):\n            self.send(node, Prepare(self.epoch))")
    done = labs_cli("run", "demo", "--seed", "1", "--impl", str(impl), "--check-determinism")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "NOT deterministic: the traces differ first at event" in done.stdout
    assert "this run:" in done.stdout and "the rerun:" in done.stdout
    assert '"msg":"Prepare"' in done.stdout


def test_a_passing_run_prints_its_summary_and_replay_command() -> None:
    done = labs_cli("run", "demo", "--schedule", "leader-isolated", "--seed", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "messages:" in out and "latency (ok ops): p50" in out and "p99.9" in out
    assert "all checks passed" in out
    assert "replay: python -m labs run demo --runtime sim --schedule leader-isolated --seed 2" in out


def test_json_summary_has_percentiles_and_counts() -> None:
    done = labs_cli("run", "demo", "--schedule", "none", "--seed", "1", "--json")
    data = json.loads(done.stdout)
    assert set(data["summary"]["latency"]) == {"p50", "p90", "p99", "p99.9", "max"}
    assert data["summary"]["messages"]["sent"] >= data["summary"]["messages"]["delivered"] > 0
    assert data["violations"] == []


def test_a_buggy_implementation_fails_with_the_violation_schedule_and_replay(tmp_path: Path) -> None:
    # A new leader that forgets what the old one committed.
    impl = variant(tmp_path, "            self.write(newest.state)", "            self.write(State())")
    done = labs_cli("run", "demo", "--schedule", "leader-isolated", "--seed", "2", "--impl", str(impl))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAILED" in done.stdout
    assert "stale result" in done.stdout or "two increments returned" in done.stdout
    assert "schedule: network: clean; t=1.5 partition [leader] | [rest]; t=3.5 heal" in done.stdout
    assert f"--impl {impl}" in done.stdout


def test_a_raising_handler_is_reported_with_node_message_and_traceback(tmp_path: Path) -> None:
    impl = variant(tmp_path, "    def handle_accept(self, msg: Accept, sender: str) -> None:\n",
                   "    def handle_accept(self, msg: Accept, sender: str) -> None:\n"
                   "        if self.id == 'n3':\n            raise KeyError('oops')\n")
    done = labs_cli("run", "demo", "--seed", "1", "--impl", str(impl))
    assert done.returncode == 1
    assert "node error: n3 at t=" in done.stdout
    assert "a node raised: n3 crashed while handling Accept(epoch=" in done.stdout


@pytest.mark.parametrize(("args", "expected"), [
    (["run", "demo", "--schedule", "leader-isolatd"], "did you mean 'leader-isolated'?"),
    (["run", "nolab"], "no lab named 'nolab'"),
    (["run", "demo", "--impl", "/"], "no implementation at"),
])
def test_bad_arguments_are_usage_errors_that_say_what_to_do(args: list[str], expected: str) -> None:
    done = labs_cli(*args)
    assert done.returncode == 2
    assert expected in done.stderr


def test_a_bad_schedule_file_never_starts_a_run(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("events:\n  - {at: 1.0, crash: n9}\n  - {at: 2.0, pause: n1, for: -1}\n")
    done = labs_cli("run", "demo", "--schedule", str(bad))
    assert done.returncode == 2
    assert "events[1].for: must be non-negative, got -1" in done.stderr
    done = labs_cli("check-schedule", str(bad))
    assert done.returncode == 2
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("events:\n  - {at: 1.0, crash: n9}\n")
    done = labs_cli("check-schedule", str(unknown))
    assert done.returncode == 2
    assert "events[0].crash: unknown node 'n9'" in done.stderr and "n1, n2, n3, n4, n5" in done.stderr


def test_schedules_lists_the_library_and_shows_one() -> None:
    done = labs_cli("schedules")
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert {"none", "lossy", "leader-isolated", "churn", "clock-skew", "pause"} <= set(names)
    shown = labs_cli("schedules", "leader-isolated")
    assert "partition:" in shown.stdout and "leader" in shown.stdout
