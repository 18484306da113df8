"""How many small bugs in each lab's reference does its suite catch? The mutation score, with
Cosmic Ray (a maintained mutation-testing tool) making the mutants.

    python benchmarks/mutation.py [--lab rpc] [--seeds 2] [--sample N] [--workers 2] [--sealed]

For each lab, Cosmic Ray lists every mutant of the lab's student file (``labs/<lab>/node.py``)
its operators can make (a ``<`` turned into ``<=``, a number changed, a condition negated, a
``break`` turned into ``continue``...). Only mutants inside the solution markers count: the
skeleton a student is handed is not theirs to break. Each mutant is applied, by Cosmic Ray, in a
worker's own copy of the tree, and the lab's graded suite (hidden tests included) runs on the
simulator with ``--seeds`` seeds per test, stopping at the first failure (in one process; with
``--sealed`` each node runs in a sealed process of its own, as grading runs it, several times
slower):

* killed: some test failed (or the mutant could not even run, or ran out of time);
* survived: every test passed. A survivor is a bug the suite misses, or an equivalent mutant
  (one that changes nothing a run can show: a log line's wording, a bound never reached).

Mutants of type annotations are left out with the skeleton: under ``from __future__ import
annotations`` they are never evaluated, so every one of them is equivalent.

Some survivors are *equivalent*: no run can tell them from the reference (``seq >= self.seq``
where the invariants make it ``==``, a flag nothing reads). Those are listed, each with why, in
``benchmarks/mutation_equivalent.yaml``: an entry gives the source line and the line the
mutant makes of it, so it follows the line when the file moves around it. The score is killed / (killed +
survived - equivalent); the raw killed / run is printed beside it. A listed mutant that is
killed, or an entry that matches no mutant any more, is printed too: the list is data about the
reference and goes stale with it.

``--sample N`` checks a seeded random sample of N mutants per lab (the Raft lab has hundreds).
The surviving mutants are printed as diffs; the last line printed is one JSON object with every
figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LABS = tuple(sorted(p.parent.name for p in (ROOT / "labs").glob("*/suite.yaml")))
"""Every lab with a suite (found, as the graders find them, by its suite.yaml)."""
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
EQUIVALENT = Path(__file__).resolve().with_name("mutation_equivalent.yaml")


def equivalent_mutants(lab: str) -> list[dict[str, str]]:
    """The lab's listed equivalent mutants: {line, mutant, why} each (see the module's doc)."""
    import yaml

    listed = (yaml.safe_load(EQUIVALENT.read_text(encoding="utf-8")) or {}).get(lab) or []
    for i, entry in enumerate(listed):
        missing = {"line", "mutant", "why"} - set(entry)
        if missing:
            raise SystemExit(f"{EQUIVALENT.name}: {lab} entry {i + 1} lacks {', '.join(sorted(missing))}")
    return [{k: " ".join(str(entry[k]).split()) for k in ("line", "mutant", "why")} for entry in listed]


def _changed(diff: str | None) -> tuple[str, str]:
    """The line a mutant's diff takes out and the one it puts in, whitespace evened out."""
    lines = [x for x in (diff or "").splitlines() if not x.startswith(("---", "+++"))]  # Cosmic Ray's headers
    gone = next((x[1:] for x in lines if x.startswith("-")), "")
    new = next((x[1:] for x in lines if x.startswith("+")), "")
    return " ".join(gone.split()), " ".join(new.split())


def _listed(diff: str | None, listed: list[dict[str, str]]) -> dict[str, str] | None:
    gone, new = _changed(diff)
    return next((e for e in listed if (e["line"], e["mutant"]) == (gone, new)), None)


def solution_lines(path: Path) -> set[int]:
    """The line numbers (from 1) strictly inside the file's solution markers."""
    inside, lines = False, set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        elif inside:
            lines.add(number)
    return lines


def annotations(path: Path) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The spans ((line, column), (line, column)) of the file's type annotations."""
    import ast

    spans = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        for a in found:
            if a is not None and a.end_lineno is not None and a.end_col_offset is not None:
                spans.append(((a.lineno, a.col_offset), (a.end_lineno, a.end_col_offset)))
    return spans


def run_suite(lab: str, seeds: int, sealed: bool) -> int:
    """The test command of one mutant: 1 at the first failing run of the graded suite, else 0.

    With ``sealed`` the runs are made as grading makes them: each node in a sealed process of its
    own, so a message crosses a process boundary as it does for a student (a mutant comparing
    strings with ``is`` instead of ``==`` is told apart there, not in one process). That costs
    several times the in-process runs' time."""
    # The worker's copy of the tree, mutated: PYTHONPATH puts it first, and it is the cwd.
    from autograder.grade import run_sim_isolated, start_nursery
    from autograder.runner import run_test
    from autograder.suite import load_graded_suite
    impl = Path.cwd() / "labs" / lab / "node.py"
    with contextlib.ExitStack() as stack:
        nursery = stack.enter_context(start_nursery(None)) if sealed else None
        for test in load_graded_suite(lab).tests:
            for seed in test.seeds[:seeds]:
                outcome = (run_sim_isolated(test, seed, impl, nursery=nursery) if nursery is not None
                           else run_test(test, seed, "sim"))
                if not outcome.passed:
                    print(f"killed by {test.name} seed {seed}: {outcome.findings[0].message[:300]}")
                    return 1
    return 0


def _copy_tree(into: Path) -> None:
    """The working tree as it is (tracked files and new ones git does not ignore) into ``into``."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, check=True).stdout
    for rel in files.decode().split("\0"):
        source = ROOT / rel
        if rel and source.is_file():
            target = into / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _start_worker(dirs: Any) -> None:
    where = Path(dirs.get())
    os.chdir(where)  # Cosmic Ray mutates the module path relative to here
    os.environ["PYTHONPATH"] = str(where)  # and the suite imports the mutated copy


def _suite_command(lab: str, seeds: int, sealed: bool) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--run-suite", lab, "--seeds", str(seeds),
            *(["--sealed"] if sealed else [])]


def _mutate_and_test(job: tuple[str, Any, str, int, bool, float]) -> tuple[str, Any]:
    from cosmic_ray.mutating import mutate_and_test

    job_id, mutation, lab, seeds, sealed, timeout = job
    command = " ".join(_suite_command(lab, seeds, sealed))
    return job_id, mutate_and_test([mutation], command, timeout)


def score_lab(lab: str, seeds: int, sample: int | None, workers: int, timeout: float, work: Path,
              sealed: bool) -> dict[str, Any]:
    from cosmic_ray.commands.init import init
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    module = Path("labs") / lab / "node.py"
    inside = solution_lines(ROOT / module)
    typed = annotations(ROOT / module)
    dirs = []
    for i in range(workers):
        d = work / f"{lab}-w{i}"
        _copy_tree(d)
        dirs.append(d)
    for d in dirs:  # the suite must pass on the reference as it is, or no mutant says anything
        baseline = subprocess.run(_suite_command(lab, seeds, sealed), cwd=d, env={**os.environ, "PYTHONPATH": str(d)},
                                  capture_output=True, text=True, timeout=timeout)
        if baseline.returncode != 0:
            raise SystemExit(f"{lab}: the reference fails its own suite in {d}, so no mutant can be judged:\n"
                             f"{baseline.stdout[-2000:]}{baseline.stderr[-2000:]}")
    started = time.monotonic()
    with use_db(str(work / f"{lab}.sqlite"), WorkDB.Mode.create) as db:
        os.chdir(dirs[0])
        init([module], db, {})
        os.chdir(ROOT)
        items = list(db.work_items)
        outside = [w for w in items if not all(m.start_pos[0] in inside and m.end_pos[0] in inside
                                               and not any(a <= tuple(m.start_pos) and tuple(m.end_pos) <= b
                                                           for a, b in typed)
                                               for m in w.mutations)]
        skipped = WorkResult(worker_outcome=WorkerOutcome.SKIPPED)
        db.set_multiple_results([w.job_id for w in outside], skipped)
        todo = [w for w in items if w not in outside]
        if sample is not None and sample < len(todo):
            todo = random.Random(0).sample(todo, sample)
        print(f"{lab}: {len(items)} mutants of {module}, {len(items) - len(outside)} inside the solution "
              "(type annotations aside); "
              f"running {len(todo)} with {seeds} seed(s) per test on {workers} worker(s), "
              f"{'each node sealed, as in grading' if sealed else 'in-process'}", flush=True)
        queue: Any = multiprocessing.Manager().Queue()
        for d in dirs:
            queue.put(str(d))
        results: dict[str, Any] = {}
        with multiprocessing.get_context("spawn").Pool(workers, _start_worker, (queue,)) as pool:
            jobs = [(w.job_id, w.mutations[0], lab, seeds, sealed, timeout) for w in todo]
            for done, (job_id, result) in enumerate(pool.imap_unordered(_mutate_and_test, jobs), 1):
                db.set_result(job_id, result)
                results[job_id] = result
                if done % 10 == 0 or done == len(jobs):
                    print(f"  {done}/{len(jobs)} mutants ({time.monotonic() - started:.0f} s)", flush=True)
    survived = [(w, results[w.job_id]) for w in todo if results[w.job_id].test_outcome == TestOutcome.SURVIVED]
    no_test = sum(1 for w in todo if results[w.job_id].worker_outcome == WorkerOutcome.NO_TEST)
    ran = len(todo) - no_test
    killed = ran - len(survived)
    listed = equivalent_mutants(lab)
    entries = {w.job_id: _listed(results[w.job_id].diff, listed) for w in todo}
    used: set[int] = set()
    equivalent, real = [], []
    for w in todo:
        result, entry = results[w.job_id], entries[w.job_id]
        if entry is None:
            continue
        used.add(id(entry))
        if result.test_outcome != TestOutcome.SURVIVED:
            print(f"  listed as equivalent but killed, take it off {EQUIVALENT.name}: {entry['line']}  ->  "
                  f"{entry['mutant']}")
    for w, result in survived:
        m = w.mutations[0]
        entry = entries[w.job_id]
        (equivalent if entry is not None else real).append(f"{m.operator_name}@{m.start_pos[0]}")
        print(f"  survived{' (equivalent: ' + entry['why'] + ')' if entry else ''}: {m.operator_name} at line "
              f"{m.start_pos[0]} ({m.definition_name})")
        for line in (result.diff or "").splitlines():
            if entry is None and line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
                print(f"      {line}")
    if sample is None:
        for entry in listed:
            if id(entry) not in used:
                print(f"  {EQUIVALENT.name} lists a mutant no longer made: {entry['line']}  ->  {entry['mutant']}")
    judged = ran - len(equivalent)
    return {"lab": lab, "mutants": len(items), "in_solution": len(items) - len(outside), "run": ran,
            "killed": killed, "survived": len(survived), "equivalent": len(equivalent),
            "score": round(killed / judged, 3) if judged else None,
            "raw_score": round(killed / ran, 3) if ran else None, "seeds_per_test": seeds, "sealed": sealed,
            "seconds": round(time.monotonic() - started, 1), "survivors": real, "equivalent_survivors": equivalent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", action="append", choices=LABS, help="a lab (repeatable; default: all)")
    parser.add_argument("--seeds", type=int, default=2, help="simulator seeds per test")
    parser.add_argument("--sample", type=int, default=None, help="mutants per lab, a seeded random sample")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds one mutant's suite may take")
    parser.add_argument("--sealed", action="store_true",
                        help="run each node in a sealed process, as grading does (slower; needs namespaces)")
    parser.add_argument("--run-suite", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_suite:
        sys.exit(run_suite(args.run_suite, args.seeds, args.sealed))
    if args.sealed:
        from labs.runtime.nursery import isolation_available

        if (why := isolation_available()) is not None:
            parser.error(f"--sealed needs Linux namespaces, which this machine refuses: {why}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        for lab in args.lab or LABS:
            rows.append(score_lab(lab, args.seeds, args.sample, args.workers, args.timeout, Path(tmp), args.sealed))
    print(f"{'lab':<11}{'mutants':>9}{'run':>6}{'killed':>8}{'survived':>10}{'equivalent':>12}{'score':>8}"
          f"{'raw':>7}")
    for r in rows:
        print(f"{r['lab']:<11}{r['in_solution']:>9}{r['run']:>6}{r['killed']:>8}{r['survived']:>10}"
              f"{r['equivalent']:>12}{r['score'] if r['score'] is not None else '-':>8}"
              f"{r['raw_score'] if r['raw_score'] is not None else '-':>7}")
    print(json.dumps({"labs": rows}))


if __name__ == "__main__":
    main()
