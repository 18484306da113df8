"""The benchmarks still run and end with their JSON line.

These check that the scripts work, not how fast: the figures live in the benchmarks' output.
The site's strict build is tested with the site itself, in test_site.py (one build for both).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_script(*args: str) -> dict[str, float]:
    env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_simulator_benchmark_prints_its_figures() -> None:
    figures = run_script("benchmarks/sim.py", "--virtual-seconds", "5")
    assert figures["deliveries_per_s"] > 0 and figures["speedup_vs_real_time"] > 0
    assert figures["deliveries"] > 1000


def test_search_benchmark_prints_its_figures() -> None:
    figures = run_script("benchmarks/search.py", "--raft-depth", "4", "--rpc-depth", "4", "--walks", "300")
    rows = {r["search"]: r for r in figures["searches"]}  # type: ignore[attr-defined]
    assert {r["verdict"] for r in rows.values()} == {"ok"} and rows["raft-A"]["states"] > 50
    assert rows["raft-walks"]["walks"] == 300 and rows["raft-walks"]["walk_steps"] > 3000


@pytest.mark.slow
def test_ray_layer_benchmark_prints_its_figures() -> None:
    figures = run_script("benchmarks/ray_layer.py", "--pings", "200", "--messages", "1000")
    assert figures["rtt_ratio_vs_raw_ray"] > 0 and figures["msgs_per_s"] > 0


def test_checker_benchmark_prints_its_figures() -> None:
    figures = run_script("benchmarks/checkers.py", "--only", "c10", "--limit", "5")
    rows = {r["history"]: r for r in figures["histories"]}  # type: ignore[attr-defined]
    assert rows["c10-ok"]["default"]["verdict"] == "ok"
    assert rows["c10-bad"]["default"]["verdict"] == "illegal"


def test_the_suites_benchmark_times_any_lab() -> None:
    figures = run_script("benchmarks/suites.py", "--lab", "primary-backup", "--random-seeds", "1")
    assert figures["lab"] == "primary_backup" and figures["sim_one_seed_failed"] == 0 == figures["random_failed"]
    assert "A-search-views" in figures["sim_per_test"] and "B-unreliable" in figures["random_tests"]


@pytest.mark.slow
def test_raft_suite_benchmark_prints_its_figures() -> None:
    figures = run_script("benchmarks/suites.py", "--random-seeds", "2")
    assert "sim_one_seed_failed" in figures and figures["sim_speedup_vs_real_time"] > 1
    assert figures["sim_one_seed_virtual_s"] > figures["sim_one_seed_wall_s"] > 0
    assert "C-figure8" in figures["random_tests"] and "B-basic-agreement" not in figures["random_tests"]
    assert figures["random_runs"] == 2 * len(figures["random_tests"]) and figures["random_100_seeds_extrapolated"]


@pytest.mark.slow
def test_classroom_benchmark_prints_its_figures() -> None:
    figures = run_script("benchmarks/classroom.py", "--copies", "2", "--sim-seeds", "1", "--one-pattern", "basic",
                         "--no-ray")
    assert figures["one_score"] == "5/5" and figures["one_sim_runs"] == 1
    assert figures["full_marks_one_node"] == figures["full_marks_two_nodes"] == 2
    assert figures["class_one_node_s"] > 0 and figures["scaling_ratio"] > 0


@pytest.mark.ray
@pytest.mark.slow
def test_ray_stability_benchmark_counts_failures_and_late_restarts() -> None:
    """One RPC test with a restart, run twice on Ray: the reference fails none, and the restart
    is timed against the schedule."""
    figures = run_script("benchmarks/ray_stability.py", "--lab", "rpc", "-k", "restart-with-disk", "--repeat", "2",
                         "--visible-only")
    assert figures["runs"] == 2 and figures["failed_runs"] == 0
    assert figures["failed_per_test"] == {"rpc restart-with-disk": 0}
    assert figures["restarts"] == 2 and figures["restart_late_max_s"] is not None


def test_isolation_benchmark_compares_both_paths() -> None:
    """A few runs of each lab on the sealed path and on the path before it, the same runs."""
    figures = run_script("benchmarks/isolation.py", "--labs", "rpc,raft", "-k", "restart", "--seeds", "1")
    assert figures["rpc"]["runs"] == 2 and figures["raft"]["runs"] >= 3
    assert all(f["sealed_seconds"] > 0 and f["child_seconds"] > 0 and f["ratio"] > 0 for f in figures.values())


def test_mutation_benchmark_scores_mutants_of_the_solution_only() -> None:
    """Cosmic Ray's mutants of the heartbeat lab's solution, a few of them, through the suite."""
    figures = run_script("benchmarks/mutation.py", "--lab", "heartbeat", "--sample", "6", "--seeds", "1",
                         "--workers", "1")
    (lab,) = figures["labs"]  # type: ignore[misc]
    assert lab["lab"] == "heartbeat" and 0 < lab["in_solution"] < lab["mutants"]
    assert lab["run"] == lab["killed"] + lab["survived"] <= 6 and lab["killed"] >= 1
    assert len(lab["survivors"]) + lab["equivalent"] == lab["survived"]
    judged = lab["run"] - lab["equivalent"]
    assert lab["score"] == (round(lab["killed"] / judged, 3) if judged else None)


def test_every_listed_equivalent_mutant_is_of_a_line_of_the_solution() -> None:
    """The list of equivalent mutants names lines of each lab's solution as they stand, with a reason:
    a line edited since is noticed here, not by a score that quietly counts a real mutant out."""
    import yaml

    listed = yaml.safe_load((ROOT / "benchmarks" / "mutation_equivalent.yaml").read_text(encoding="utf-8"))
    assert set(listed) <= {"heartbeat", "rpc", "mapreduce", "raft"}
    for lab, entries in listed.items():
        source = (ROOT / "labs" / lab / "node.py").read_text(encoding="utf-8").splitlines()
        inside, solution = False, set()
        for line in source:
            if line.strip() in ("### BEGIN SOLUTION", "### END SOLUTION"):
                inside = line.strip() == "### BEGIN SOLUTION"
            elif inside:
                solution.add(" ".join(line.split()))
        for entry in entries:
            assert entry["line"] in solution, (lab, entry["line"])
            assert entry["mutant"] != entry["line"] and len(entry["why"]) > 20, (lab, entry)


def test_a_listed_equivalent_mutant_is_recognised_in_cosmic_rays_diff() -> None:
    """The benchmark matches a mutant to the list by the lines its diff (in Cosmic Ray's own
    format, headers and all) takes out and puts in."""
    from cosmic_ray.mutating import _make_diff

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import mutation

    source = (ROOT / "labs" / "heartbeat" / "node.py").read_text(encoding="utf-8")
    line = "        self.seq += 1\n"
    assert line in source
    diff = "\n".join(_make_diff(source, source.replace(line, "        self.seq += 2\n"), "labs/heartbeat/node.py"))
    entry = mutation._listed(diff, mutation.equivalent_mutants("heartbeat"))
    assert entry is not None and entry["mutant"] == "self.seq += 2"
    other = "\n".join(_make_diff(source, source.replace(line, "        self.seq += 0\n"), "labs/heartbeat/node.py"))
    assert mutation._listed(other, mutation.equivalent_mutants("heartbeat")) is None
