"""How much faster is word count over the full corpus with 1, 2 and 4 MapReduce workers on Ray,
and what does the framework cost, against a plain sequential Python run in the same process?

    python benchmarks/mapreduce.py [--workers 1 2 4] [--corpus full] [--duration 90]

Each Ray run is the lab's reference (labs/mapreduce) on a local Ray: a coordinator, the workers and
the job client, each its own process, sharing the run's files on this machine. The job's time is
measured by the driver, from the job's submission to the client's "done" (the client then has read
the output, which is checked against the sequential run). The sequential run is the same
application's map and reduce functions called in this process, with no files, no partitioning and
no JSON: the floor that the framework's overhead is measured from. The last line printed is one JSON
object with the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

from labs.mapreduce.checks import output_correct
from labs.mapreduce.corpus import read_books
from labs.mapreduce.mr import sequential
from labs.mapreduce.workloads import job
from labs.runtime.lab import Workload, get_lab
from labs.runtime.run import run
from labs.runtime.schedule import parse


def ray_job_seconds(workers: int, corpus: str, duration: float, reduces: int) -> float:
    """The job's time on Ray with ``workers`` workers (the run lasts ``duration`` seconds)."""
    lab = dataclasses.replace(get_lab("mapreduce"), nodes=workers + 1, min_duration=duration, settle=0.5,
                              workload=Workload(job("wc", corpus, reduces), clients=1, timeout=duration))
    result = run(lab, "ray", parse({"name": "clean", "duration": duration}), seed=1)
    bad = output_correct(result)
    if bad:  # say what happened, so that a failure seen once (in CI, say) can be understood
        said = [f"{e['t']:.3f} {e['type']} {e.get('node', '')} {e.get('reason', e.get('text', ''))}".rstrip()
                for e in result.trace if e["type"] in ("start", "restart", "crash", "invoke", "complete", "log")]
        raise SystemExit(f"{workers} worker(s): {bad[0]}\n" + "\n".join(said[-40:] + result.errors[:3]))
    history = result.history
    return float(history[1]["time"] - history[0]["time"])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--corpus", default="full")
    parser.add_argument("--duration", type=float, default=90.0, help="length of each Ray run (s)")
    parser.add_argument("--reduces", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    books = {f"input/{n}": t for n, t in read_books(args.corpus).items()}
    started = time.perf_counter()
    lines = sequential("wc", books)
    plain = time.perf_counter() - started
    figures: dict[str, object] = {
        "corpus": args.corpus,
        "corpus_bytes": sum(len(t.encode()) for t in books.values()),
        "distinct_words": len(lines),
        "cores": os.cpu_count(),
        "sequential_s": round(plain, 2),
    }
    for w in args.workers:
        seconds = ray_job_seconds(w, args.corpus, args.duration, args.reduces)
        figures[f"ray_{w}_workers_s"] = round(seconds, 2)
        figures[f"speedup_{w}_vs_1_worker"] = round(figures["ray_1_workers_s"] / seconds, 2) if "ray_1_workers_s" in figures else None  # type: ignore[operator]
        figures[f"ray_{w}_workers_vs_sequential"] = round(seconds / plain, 1)
        print(f"{w} worker(s): {seconds:.1f} s (sequential in-process: {plain:.1f} s)", flush=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
