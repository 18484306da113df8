"""Does the reference pass on Ray every time? Each test run again and again, failures counted.

    python benchmarks/ray_stability.py [--repeat 20] [--lab raft] [-k fast-backup [-k ...]] [--visible-only] [--unsealed]

Grading runs every test of a lab's suite on Ray (its ``ray_seeds``), hidden tests included, so the
reference must pass each of them on Ray on *every* run, not most: a test it fails one time in ten
fails one good student in ten. This script runs each test of each lab's graded suite (visible and
hidden, or only the visible with ``--visible-only``) ``--repeat`` times on its Ray seeds, on a
local Ray started once, and prints per test how many runs failed and the first finding of each
failure, and how late the schedule's restarts landed (a restart is a new process: one that
comes up seconds after the schedule says makes a different run from the simulator's). Ray runs in real time: a full pass over the three labs takes about 12 minutes on a
2-core machine, so ``--repeat 20`` takes about four hours (use ``--lab`` and ``-k`` to narrow).

The runs are made as the grader makes them: each node's code in a sealed process, its crashes
killing that process (not its Ray actor), where this machine allows it; ``--unsealed`` measures
the other way (the node's code in its Ray actor, a crash killing the actor).

Run it on a quiet machine: it measures the reference and the Ray runtime, and a machine busy with
something else measures that too. The last line printed is one JSON object with the figures;
the exit code is 1 when any run failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")

from autograder.runner import run_test
from autograder.suite import Test, load_graded_suite, load_suite
from labs.runtime.lab import RunResult, lab_names
from labs.runtime.nursery import isolation_available
from labs.runtime.schedule import ALL, Heal, Restart

LABS = tuple(name for name in lab_names() if name != "demo")
"""The labs whose references are graded on Ray (the demo lab is the runtime's own example)."""


def chosen_tests(labs: list[str], only: list[str], visible_only: bool) -> list[tuple[str, Test]]:
    """(lab, test) for every test of the labs' graded suites whose name contains one of ``only``
    (every test if it is empty) and that runs on Ray (a search runs in the simulator only), in the
    suites' order."""
    picked: list[tuple[str, Test]] = []
    for lab in labs:
        suite = load_suite(lab) if visible_only else load_graded_suite(lab)
        picked += [(lab, t) for t in suite.tests if t.ray_seeds and (not only or any(o in t.name for o in only))]
    return picked


def restart_lateness(result: RunResult) -> list[float]:
    """For each server restarted by the schedule (a ``restart`` event, or the final heal that
    restarts every crashed server), how long after the scheduled time its process was up."""
    servers = set(result.lab.node_names())
    asked = [(e.at, e.node) for e in result.schedule.events if isinstance(e, Restart)]
    asked += [(e.at, ALL) for e in result.schedule.events if isinstance(e, Heal) and e.at >= result.schedule.end()]
    late: list[float] = []
    for e in result.trace:
        if e.get("type") != "restart" or e.get("node") not in servers:
            continue
        t = float(e["t"])
        when = [at for at, node in asked if at <= t + 1e-6 and node in (ALL, e["node"])]
        if when:
            late.append(max(0.0, t - max(when)))
    return late


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="runs of each test on each of its Ray seeds (20)")
    parser.add_argument("--lab", action="append", choices=LABS, help="only this lab (repeatable; default: all)")
    parser.add_argument("-k", dest="only", action="append", default=[],
                        help="only the tests whose name contains this (repeatable: any of them)")
    parser.add_argument("--visible-only", action="store_true", help="leave out the hidden tests")
    parser.add_argument("--unsealed", action="store_true",
                        help="run the nodes' code in their Ray actors, not in sealed processes")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    tests = chosen_tests(args.lab or list(LABS), args.only, args.visible_only)
    if not tests:
        parser.error("no test matches: check --lab and -k")

    from labs.runtime.ray_processes import ensure_ray

    sealed = not args.unsealed and isolation_available() is None
    started = time.perf_counter()
    ensure_ray()
    ray_start = time.perf_counter() - started

    failed: dict[str, int] = defaultdict(int)
    runs: dict[str, int] = defaultdict(int)
    seconds: dict[str, float] = defaultdict(float)
    examples: dict[str, list[str]] = defaultdict(list)
    late: dict[str, list[float]] = defaultdict(list)
    total = sum(len(t.ray_seeds) for _, t in tests) * args.repeat
    done = 0
    print(f"{len(tests)} tests, {args.repeat} runs of each on each of its Ray seeds: {total} Ray runs",
          flush=True)
    for lab, test in tests:
        name = f"{lab} {test.name}"
        for _ in range(args.repeat):
            for seed in test.ray_seeds:
                outcome = run_test(test, seed, "ray", sealed=sealed)
                done += 1
                runs[name] += 1
                seconds[name] += outcome.seconds
                if outcome.result is not None:
                    late[name] += restart_lateness(outcome.result)
                if not outcome.passed:
                    failed[name] += 1
                    examples[name].append(f"seed {seed}: {str(outcome.findings[0])[:300]}")
                print(f"  [{done}/{total}] {name} seed {seed}: {'pass' if outcome.passed else 'FAIL'} "
                      f"({outcome.seconds:.1f} s)", file=sys.stderr, flush=True)
        mark = "ok" if not failed[name] else "FAILED"
        restarts = f", restarts up to {max(late[name]):.2f} s late" if late[name] else ""
        print(f"{name:<44}{failed[name]:>3} of {runs[name]} runs failed  "
              f"({seconds[name] / runs[name]:.1f} s a run{restarts})  {mark}", flush=True)
        for line in examples[name][:3]:
            print(f"    {line}", flush=True)

    bad = {name: n for name, n in failed.items() if n}
    every_late = sorted(x for xs in late.values() for x in xs)
    figures: dict[str, Any] = {
        "tests": len(tests),
        "repeat": args.repeat,
        "runs": sum(runs.values()),
        "failed_runs": sum(bad.values()),
        "failed_per_test": {name: failed[name] for name in runs},
        "restarts": len(every_late),
        "restart_late_p50_s": round(every_late[len(every_late) // 2], 3) if every_late else None,
        "restart_late_max_s": round(every_late[-1], 3) if every_late else None,
        "wall_s": round(time.perf_counter() - started, 1),
        "ray_start_s": round(ray_start, 2),
        "sealed": sealed,
        "cores": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
    }
    print(f"{figures['failed_runs']} of {figures['runs']} Ray runs failed"
          + (f", in {len(bad)} test(s): {', '.join(bad)}" if bad else ""), flush=True)
    print(json.dumps(figures))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
