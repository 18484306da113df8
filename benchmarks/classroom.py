"""How long does grading take? One RPC submission, then a class of N copies of the reference
graded by ``grade-all`` on one Ray node and on two, in the same run.

    python benchmarks/classroom.py [--copies 50] [--sim-seeds 2] [--class-pattern basic]

1. *One submission*: every test of the RPC lab, hidden ones included, with ``--sim-seeds``
   simulator seeds each and its Ray run(s), through ``grade-all`` (so its own Ray instance is
   counted). From the per-run times it also estimates a grading with the suite's full seeds.
2. *A class*: ``--copies`` copies of the reference, each graded with ``--class-pattern`` and
   ``--class-sim-seeds`` (a class at full strength takes hours on two cores), first on a
   ``ray.cluster_utils.Cluster`` of one node, then with a second node added. Each node offers
   ``--cpus-per-node`` CPUs and each job reserves one, so two nodes run twice the jobs at once.
   All nodes live on this machine: the ratio shows how well the fan-out uses extra nodes when
   the cores are shared, not what extra machines would bring.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")

from autograder.classroom import grade_all
from autograder.gradebook import Row
from autograder.grading_job import start_ray
from autograder.suite import load_graded_suite

REFERENCE = Path(__file__).resolve().parents[1] / "labs" / "rpc"


def copy_reference(folder: Path) -> None:
    folder.mkdir(parents=True)
    for f in REFERENCE.glob("*.py"):
        shutil.copy(f, folder / f.name)


def timed_class(subs: Path, out: Path, args: argparse.Namespace, sim_seeds: int, pattern: str | None,
                cpus: float) -> tuple[float, list[Row]]:
    started = time.perf_counter()
    rows = grade_all(subs, "rpc", out, sim_seeds=sim_seeds, ray_runs=not args.no_ray, pattern=pattern,
                     cpus=cpus, show_progress=False, echo=lambda line: None)
    return time.perf_counter() - started, rows


def warm_up(node_id: str, workers: int) -> None:
    """Boot the new node's worker processes (and their imports) before the clock starts, as the
    first node's were by the grading before: the ratio is about grading, not booting."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    def boot() -> None:
        import autograder.classroom  # noqa: F401

    task = ray.remote(boot).options(num_cpus=1, scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False))
    ray.get([task.remote() for _ in range(workers)])


def run_times(report: Path) -> dict[str, list[float]]:
    """The seconds of each run of a graded submission, by runtime."""
    times: dict[str, list[float]] = {"sim": [], "ray": []}
    for test in json.loads(report.read_text())["tests"]:
        for run in test["runs"]:
            times[run["runtime"]].append(float(run["seconds"]))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--copies", type=int, default=50, help="submissions in the class")
    parser.add_argument("--sim-seeds", type=int, default=2, help="simulator seeds per test, one submission")
    parser.add_argument("--one-pattern", default=None, help="only these tests for the one submission")
    parser.add_argument("--class-sim-seeds", type=int, default=1, help="simulator seeds per test, the class")
    parser.add_argument("--class-pattern", default="basic", help="only these tests for the class")
    parser.add_argument("--cpus-per-node", type=float, default=1.0, help="CPUs each Ray node offers")
    parser.add_argument("--no-ray", action="store_true", help="simulator runs only (a quick smoke run)")
    args = parser.parse_args()

    from ray.cluster_utils import Cluster

    tmp = Path(tempfile.mkdtemp(prefix="bench-classroom-"))
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": args.cpus_per_node})
    try:
        start_ray(address=cluster.address)
        copy_reference(tmp / "one" / "ref")
        one_s, (one,) = timed_class(tmp / "one", tmp / "out-one", args, args.sim_seeds, args.one_pattern, 1.0)
        times = run_times(Path(one.results) / "report.json")
        suite = load_graded_suite("rpc").select(args.one_pattern)
        mean_sim = sum(times["sim"]) / max(1, len(times["sim"]))
        mean_ray = sum(times["ray"]) / max(1, len(times["ray"]))
        overhead = one_s - sum(times["sim"]) - sum(times["ray"])
        full_sim_runs = sum(len(t.seeds) for t in suite)
        full_ray_runs = 0 if args.no_ray else sum(len(t.ray_seeds) for t in suite)
        estimate = overhead + full_sim_runs * mean_sim + full_ray_runs * mean_ray

        for i in range(args.copies):
            copy_reference(tmp / "class" / f"student-{i + 1:03d}")
        one_node_s, one_node = timed_class(tmp / "class", tmp / "out-1", args, args.class_sim_seeds,
                                           args.class_pattern, 1.0)
        second = cluster.add_node(num_cpus=args.cpus_per_node)
        cluster.wait_for_nodes()
        warm_up(second.node_id, max(1, int(args.cpus_per_node)))
        two_nodes_s, two_nodes = timed_class(tmp / "class", tmp / "out-2", args, args.class_sim_seeds,
                                             args.class_pattern, 1.0)
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()  # type: ignore[no-untyped-call]
        shutil.rmtree(tmp, ignore_errors=True)

    def full(rows: list[Row]) -> int:
        return sum(r.status == "graded" and r.score == r.max_score for r in rows)

    from autograder.sandbox import unavailable

    figures: dict[str, Any] = {
        "student_code": "sandboxed" if unavailable() is None else f"not sandboxed: {unavailable()}",
        "one_submission_s": round(one_s, 2),
        "one_score": f"{one.score}/{one.max_score}",
        "one_sim_runs": len(times["sim"]),
        "one_ray_runs": len(times["ray"]),
        "mean_sim_run_s": round(mean_sim, 3),
        "mean_ray_run_s": round(mean_ray, 3),
        "overhead_s": round(overhead, 2),
        "estimated_full_grade_s": round(estimate, 1),
        "full_sim_runs": full_sim_runs,
        "full_ray_runs": full_ray_runs,
        "copies": args.copies,
        "class_one_node_s": round(one_node_s, 2),
        "class_two_nodes_s": round(two_nodes_s, 2),
        "scaling_ratio": round(one_node_s / two_nodes_s, 2),
        "per_submission_one_node_s": round(one_node_s / max(1, args.copies), 2),
        "per_submission_two_nodes_s": round(two_nodes_s / max(1, args.copies), 2),
        "full_marks_one_node": full(one_node),
        "full_marks_two_nodes": full(two_nodes),
        "cpus_per_node": args.cpus_per_node,
        "sim_seeds": args.sim_seeds,
        "class_sim_seeds": args.class_sim_seeds,
        "class_pattern": args.class_pattern,
        "ray_runs": not args.no_ray,
        "cores": os.cpu_count(),
    }
    print(f"one RPC submission ({len(suite)} tests, {len(times['sim'])} simulator runs, "
          f"{len(times['ray'])} Ray runs): {one_s:.1f} s, {figures['one_score']} points")
    print(f"  per run: simulator {mean_sim:.2f} s, Ray {mean_ray:.2f} s; own Ray instance and the rest "
          f"{overhead:.1f} s")
    print(f"  with the suite's full seeds ({full_sim_runs} simulator runs, {full_ray_runs} Ray runs): "
          f"about {estimate:.0f} s ({estimate / 60:.1f} min)")
    print(f"a class of {args.copies} copies of the reference ({args.class_pattern or 'all tests'}, "
          f"{args.class_sim_seeds} simulator seed(s){'' if args.no_ray else ' and the Ray run'}):")
    print(f"  one node:  {one_node_s:.1f} s ({figures['per_submission_one_node_s']} s a submission), "
          f"{figures['full_marks_one_node']}/{args.copies} full marks")
    print(f"  two nodes: {two_nodes_s:.1f} s ({figures['per_submission_two_nodes_s']} s a submission), "
          f"{figures['full_marks_two_nodes']}/{args.copies} full marks")
    print(f"  scaling: {figures['scaling_ratio']}x with twice the nodes ({args.cpus_per_node:g} CPU(s) a node, "
          f"{os.cpu_count()} cores shared by all)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
