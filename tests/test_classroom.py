"""Grading a class: every submission a Ray task, scores in SQLite and a CSV as they land, a grader
killed mid-way resumes without regrading anything, and a two-node Ray cluster shares the work.

Real Ray, real submissions (copies of the reference and of the buggy variants), few seeds and one
test per grading (``pattern``) so that the file runs in a few minutes.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from submissions import standalone

from autograder.classroom import grade_all, grade_all_command
from autograder.grading_job import grade_job, pack, read_scores
from autograder.suite import load_graded_suite

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = Path(__file__).resolve().parent / "rpc_variants"

KILLS_ITS_GRADER = '''
"""Kills the process that imports it from (its parent): the grader, if it can reach it. (It
cannot: a node's process sees no process but its own.)"""
import os
import signal

os.kill(os.getppid(), signal.SIGKILL)
'''

CLUSTER_SCENARIO = '''
import json, os, sys
from pathlib import Path
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
from ray.cluster_utils import Cluster
from autograder.classroom import grade_all

cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
worker = cluster.add_node(num_cpus=1)
cluster.wait_for_nodes()
try:
    rows = grade_all(Path(sys.argv[1]), "rpc", Path(sys.argv[2]), address=cluster.address, sim_seeds=1,
                     ray_runs=True, pattern="appends", show_progress=False, echo=lambda line: None)
finally:
    nodes = [cluster.head_node.node_id, worker.node_id]
    cluster.shutdown()
print(json.dumps({"nodes": nodes, "rows": [{"student": r.student, "score": r.score, "status": r.status,
                                             "reason": r.reason, "node": r.node} for r in rows]}))
'''


def make_class(root: Path, variants: list[str], others: dict[str, str] | None = None) -> Path:
    """A submissions folder: ``ref`` (the reference's files), one folder per variant, and more."""
    subs = root / "submissions"
    (subs / "ref").mkdir(parents=True)
    for f in (ROOT / "labs" / "rpc").glob("*.py"):
        shutil.copy(f, subs / "ref" / f.name)
    for v in variants:
        standalone(VARIANTS / f"{v}.py", subs / v / "node.py")
    for name, code in (others or {}).items():
        standalone(code, subs / name / "node.py")
    return subs


def gradebook(out: Path) -> dict[str, dict[str, Any]]:
    db = sqlite3.connect(out / "gradebook.sqlite")
    db.row_factory = sqlite3.Row
    try:
        return {r["student"]: dict(r) for r in db.execute("SELECT * FROM grades")}
    finally:
        db.close()


def grades_csv(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "grades.csv", newline="") as f:
        return {r["student"]: r for r in csv.DictReader(f)}


def test_a_class_is_graded_in_parallel_and_every_result_is_recorded(tmp_path: Path, ray_session: None) -> None:
    subs = make_class(tmp_path, ["no_dedup", "forgets_early"], {"kills_its_grader": KILLS_ITS_GRADER})
    out = tmp_path / "grades"
    said: list[str] = []
    rows = grade_all(subs, "rpc", out, sim_seeds=2, ray_runs=False, pattern="appends", show_progress=False,
                     echo=said.append)
    got = {r.student: r for r in rows}
    assert sorted(got) == ["forgets_early", "kills_its_grader", "no_dedup", "ref"]
    assert (got["ref"].score, got["ref"].max_score, got["ref"].status) == (15, 15, "graded")
    assert got["no_dedup"].score == 0 and got["no_dedup"].status == "graded"
    assert got["forgets_early"].score == 0 and got["forgets_early"].status == "graded"
    # Its parent is out of its sight (a node's process is alone in a PID namespace of its own):
    # the kill reached nothing, the grader went on, and it is graded as the reference it otherwise is.
    killer = got["kills_its_grader"]
    assert (killer.score, killer.status) == (15, "graded"), killer.reason

    book = gradebook(out)
    assert {s: (r["score"], r["max_score"], r["status"], r["gradings"]) for s, r in book.items()} == {
        "ref": (15, 15, "graded", 1), "no_dedup": (0, 15, "graded", 1), "forgets_early": (0, 15, "graded", 1),
        "kills_its_grader": (15, 15, "graded", 1)}
    assert json.loads(book["ref"]["tests"]) == {"appends-under-loss": 15}
    assert all(r["lab"] == "rpc" and r["finished_at"] >= r["started_at"] for r in book.values())

    table = grades_csv(out)
    assert {s: (r["score"], r["appends-under-loss"], r["status"]) for s, r in table.items()} == {
        "ref": ("15", "15", "graded"), "no_dedup": ("0", "0", "graded"), "forgets_early": ("0", "0", "graded"),
        "kills_its_grader": ("15", "15", "graded")}
    assert "4 submission(s): 4 graded" in "\n".join(said)

    # Each graded submission has its whole results folder on the grader's disk.
    results = json.loads((Path(book["ref"]["results"]) / "results.json").read_text())
    assert results["score"] == 15
    failed = Path(book["no_dedup"]["results"])
    assert "took effect 2 times" in (failed / "feedback.html").read_text()
    assert list((failed / "pictures").glob("*.html"))

    # Started again: nothing to do. A submission whose files changed is graded again.
    said.clear()
    grade_all(subs, "rpc", out, sim_seeds=2, ray_runs=False, pattern="appends", show_progress=False,
              echo=said.append)
    assert said[0].startswith("4 of 4 submissions already graded")
    assert {s: r["gradings"] for s, r in gradebook(out).items()} == dict.fromkeys(book, 1)
    shutil.copy(ROOT / "labs" / "rpc" / "node.py", subs / "no_dedup" / "node.py")
    said.clear()
    rows = grade_all(subs, "rpc", out, sim_seeds=2, ray_runs=False, pattern="appends", show_progress=False,
                     echo=said.append)
    assert said[0].startswith("3 of 4 submissions already graded")
    after = gradebook(out)
    assert (after["no_dedup"]["score"], after["no_dedup"]["gradings"]) == (15, 2)
    assert after["ref"]["finished_at"] == book["ref"]["finished_at"]


def test_a_grading_that_failed_is_graded_again_when_asked(tmp_path: Path, ray_session: None) -> None:
    subs = make_class(tmp_path, [])
    out = tmp_path / "grades"
    (row,) = grade_all(subs, "rpc", out, sim_seeds=1, ray_runs=False, pattern="appends", timeout=0.5,
                       show_progress=False, echo=lambda _: None)
    assert (row.score, row.status) == (0, "error") and "did not finish within 0.5 s" in row.reason
    said: list[str] = []
    grade_all(subs, "rpc", out, sim_seeds=1, ray_runs=False, pattern="appends", show_progress=False,
              echo=said.append)
    assert said[0].startswith("1 of 1 submissions already graded")  # an error stays until asked
    (row,) = grade_all(subs, "rpc", out, sim_seeds=1, ray_runs=False, pattern="appends", show_progress=False,
                       echo=lambda _: None, regrade_errors=True)
    assert (row.score, row.status) == (15, "graded")
    assert gradebook(out)["ref"]["gradings"] == 2


def test_a_grading_past_its_time_limit_scores_zero_with_the_reason() -> None:
    files = pack(ROOT / "labs" / "rpc")
    settings = {"sim_seeds": 1, "ray": False, "pattern": "basic"}
    answer = grade_job("slow", "rpc", files, settings, timeout=0.2)
    assert "did not finish within 0.2 s" in answer["error"]
    assert "tests" not in answer


def test_a_forged_or_partial_report_is_not_read_as_scores(tmp_path: Path) -> None:
    tests = load_graded_suite("rpc").select("appends")
    report = tmp_path / "report.json"

    def scores(entries: object) -> dict[str, int]:
        report.write_text(json.dumps({"tests": entries}))
        return read_scores(report, tests)

    assert scores([{"name": "appends-under-loss", "score": 15}]) == {"appends-under-loss": 15}
    for forged in ([{"name": "appends-under-loss", "score": 1000}], [{"name": "appends-under-loss", "score": 15.0}],
                   [{"name": "appends-under-loss", "score": True}], [],
                   [{"name": "appends-under-loss", "score": 15}, {"name": "bonus", "score": 0}],
                   [{"name": "appends-under-loss", "score": 15}, {"name": "appends-under-loss", "score": 15}]):
        with pytest.raises(ValueError):
            scores(forged)
    report.write_text("not json")
    with pytest.raises(ValueError):
        read_scores(report, tests)


def test_a_killed_grader_resumes_without_regrading_and_loses_nothing(tmp_path: Path, ray_session: None) -> None:
    subs = make_class(tmp_path, ["no_dedup", "forgets_early", "non_atomic_put", "never_forgets", "no_retry"])
    for i in range(4):  # more to grade after the first result, however fast the machine
        shutil.copytree(subs / "ref", subs / f"ref-copy-{i}")
    out = tmp_path / "grades"
    args = [str(subs), "--lab", "rpc", "--out", str(out), "--sim-seeds", "1", "--no-ray", "-k", "racing"]
    code = "from autograder.classroom import grade_all_command; grade_all_command()"
    env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    grader = subprocess.Popen([sys.executable, "-c", code, *args], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    first: dict[str, dict[str, Any]] = {}
    try:
        while not first and grader.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            if (out / "gradebook.sqlite").exists():
                try:
                    first = gradebook(out)
                except sqlite3.OperationalError:  # created, its table not yet
                    first = {}
    finally:
        grader.kill()  # SIGKILL: no clean-up of any kind
        _, err = grader.communicate()
    assert first, f"no result was recorded before the grader stopped: {err.decode()[-2000:]}"
    first = gradebook(out)  # whatever was committed before the kill
    assert 1 <= len(first) < 10, "the grader finished before it was killed: nothing left to resume"
    stamps = {s: (Path(r["results"]) / "report.json").stat().st_mtime_ns for s, r in first.items()}

    said: list[str] = []
    rows = grade_all(subs, "rpc", out, sim_seeds=1, ray_runs=False, pattern="racing", show_progress=False,
                     echo=said.append)
    assert said[0].startswith(f"{len(first)} of 10 submissions already graded")
    final = gradebook(out)
    assert sorted(final) == sorted(r.student for r in rows) == sorted(p.name for p in subs.iterdir())
    assert all(r["gradings"] == 1 and r["status"] == "graded" for r in final.values()), final
    for student, row in first.items():  # not graded again: the same row, the same results files
        assert final[student] == row
        assert (Path(row["results"]) / "report.json").stat().st_mtime_ns == stamps[student]
    assert all(final[s]["score"] == 15 for s in final if s.startswith("ref"))
    assert final["non_atomic_put"]["score"] == 0
    assert set(grades_csv(out)) == set(final)
    assert not list((out / "results").glob(".*.partial"))
    assert all((Path(r["results"]) / "results.json").exists() for r in final.values())


def test_two_ray_nodes_share_a_class_graded_with_ray_runs(tmp_path: Path) -> None:
    subs = make_class(tmp_path, ["no_dedup"])
    out = tmp_path / "grades"
    env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    done = subprocess.run([sys.executable, "-c", CLUSTER_SCENARIO, str(subs), str(out)], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    rows = {r["student"]: r for r in outcome["rows"]}
    assert (rows["ref"]["score"], rows["ref"]["status"]) == (15, "graded"), rows["ref"]["reason"]
    assert (rows["no_dedup"]["score"], rows["no_dedup"]["status"]) == (0, "graded")
    # One CPU a node, one CPU a job: the two jobs ran at once, one on each node.
    used = {r["node"].split("/")[-1] for r in rows.values()}
    assert used == {n[:12] for n in outcome["nodes"]}
    report = json.loads((out / "results" / "ref" / "report.json").read_text())
    runs = [run for t in report["tests"] for run in t["runs"]]
    assert {(run["runtime"], run["passed"]) for run in runs} == {("sim", True), ("ray", True)}


def test_the_command_is_called_grade_all_and_documents_its_options() -> None:
    assert grade_all_command.name == "grade-all"
    result = CliRunner().invoke(grade_all_command, ["--help"])
    assert result.exit_code == 0
    for option in ("--lab", "--out", "--address", "--sim-seeds", "--no-ray", "--pattern", "--timeout",
                   "--regrade-errors"):
        assert option in result.output
