"""What sealing the nodes costs: grading the reference's simulator runs of a lab with each node in a
sealed process of its own (today's graded path), against the path before it, in the same run.

    python benchmarks/isolation.py [--labs rpc,raft] [--seeds 2] [-k NAME]

* *sealed*: the world in this process, each node incarnation forked by a nursery into namespaces
  of its own (``autograder.grade.run_sim_isolated``), the checks here;
* *child*: the path before: one child process per run that runs the whole simulator, student code
  included, and hands back its trace as JSON lines, which this process reads and checks.

Both run every test of the lab (hidden ones too) on its first ``--seeds`` seeds, as this user (the
sandbox's user switch costs both the same). With ``--ray``, each test's first Ray run too, sealed
(each node's code in a sealed child of its Ray process: ``labs.runtime.ray_hosted``) and not.
Per lab it prints the times and their ratios; the last line printed is one JSON object with the
figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from autograder.grade import run_sim_isolated
from autograder.runner import Outcome, apply_checks, run_test
from autograder.suite import Test, load_graded_suite
from labs.runtime.lab import RunResult
from labs.runtime.nursery import Nursery, isolation_available

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys
from pathlib import Path
from autograder.suite import parse_suite
from labs.runtime.lab import get_lab
from labs.runtime.run import run
from labs.runtime.trace import dumps_event
spec = json.load(sys.stdin)
lab = get_lab(spec["lab"])
test = parse_suite({"lab": lab.name, "seeds": 1, "ray_seeds": 0, "tests": [spec["test"]]}, lab, Path("x")).tests[0]
result = run(test.lab.with_impl(spec["impl"]), "sim", test.schedule, seed=spec["seed"])
sys.stdout.write("".join(dumps_event(e) + "\\n" for e in result.trace))
"""


def run_in_child(test: Test, seed: int, impl: Path) -> Outcome:
    """The path before: the whole simulator in a child, its trace read back and checked here."""
    outcome = Outcome(test, seed, "sim")
    spec = {"lab": test.lab.name, "test": test.raw, "seed": seed, "impl": str(impl)}
    done = subprocess.run([sys.executable, "-c", CHILD], input=json.dumps(spec), capture_output=True, text=True,
                          check=True)
    trace = [json.loads(line) for line in done.stdout.splitlines()]
    outcome.result = RunResult(test.lab, "sim", seed, test.schedule, trace, [])
    apply_checks(outcome)
    return outcome


def _ray(lab: str, tests: list[Test], impl: Path) -> dict[str, Any]:
    """Each test's first Ray run, sealed and not: seconds, and how many failed."""
    from labs.runtime.ray_runtime import ensure_ray

    ensure_ray()
    times: dict[str, float] = {}
    for sealed in (True, False):
        started, failed = time.monotonic(), 0
        for test in tests:
            o = run_test(test, test.ray_seeds[0] if test.ray_seeds else 1, "ray", impl, sealed=sealed)
            failed += not o.passed
            if not o.passed:
                print(f"  {test.name} failed on Ray (sealed={sealed}): {o.findings[:1]}", flush=True)
        path = "sealed" if sealed else "open"
        times[path] = time.monotonic() - started
        print(f"{lab}: {len(tests)} Ray runs {path}: {times[path]:.1f} s ({failed} failed)", flush=True)
    ratio = times["sealed"] / times["open"]
    print(f"{lab}: Ray sealed / open = {ratio:.2f}", flush=True)
    return {"runs": len(tests), "sealed_seconds": round(times["sealed"], 2),
            "open_seconds": round(times["open"], 2), "ratio": round(ratio, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", default="rpc,raft")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per test")
    parser.add_argument("-k", dest="pattern", default=None, help="only the tests whose name contains this")
    parser.add_argument("--ray", action="store_true", help="also each test's first Ray run, sealed and not")
    args = parser.parse_args()
    why = isolation_available()
    if why is not None:
        sys.exit(f"cannot seal node processes here: {why}")
    figures: dict[str, Any] = {}
    with Nursery() as nursery:
        for lab in args.labs.split(","):
            suite = load_graded_suite(lab)
            impl = ROOT / "labs" / lab
            runs = [(t, s) for t in suite.select(args.pattern) for s in t.seeds[: args.seeds]]
            times: dict[str, float] = {}
            for path in ("sealed", "child"):
                started = time.monotonic()
                failed = 0
                for test, seed in runs:
                    o = (run_sim_isolated(test, seed, impl, None, nursery) if path == "sealed"
                         else run_in_child(test, seed, impl))
                    failed += not o.passed
                times[path] = time.monotonic() - started
                print(f"{lab}: {len(runs)} runs {path}: {times[path]:.1f} s ({failed} failed)", flush=True)
                if failed:
                    sys.exit(f"{lab}: the reference failed {failed} run(s) on the {path} path")
            ratio = times["sealed"] / times["child"]
            print(f"{lab}: sealed / child = {ratio:.2f}", flush=True)
            figures[lab] = {"runs": len(runs), "sealed_seconds": round(times["sealed"], 2),
                            "child_seconds": round(times["child"], 2), "ratio": round(ratio, 2)}
            if args.ray:
                figures[lab]["ray"] = _ray(lab, list(suite.select(args.pattern)), impl)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
