"""How fast is the linearizability checker on the published histories in tests/data/histories?

    python benchmarks/checkers.py [--histories DIR] [--limit SECONDS] [--only c50]

Each history is checked three ways in one run: as shipped (partitions and memo on), with
partitioning off, and with memoization off. Shrinking is off: these are the times of the
verdict alone. Porcupine (Go) checks the c50 histories in about 0.2 s and each etcd log in under
0.2 s on a machine like this one; the target is within 3x of those times. A search that hits
--limit is reported as "unknown" (the checker never hangs). The last line printed is one JSON
object with every figure.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from labs.checkers.importers import read_history
from labs.checkers.linearizability import check
from labs.checkers.standard_models import KV, REGISTER

PORCUPINE_SECONDS = {"c50-ok": 0.2, "c50-bad": 0.05, "etcd": 0.2}
"""Porcupine's times on a 2-core machine like this one (from ../shared/histories/README.md)."""


def _relative(run: dict[str, object], base: float, limit: float) -> str:
    if run["verdict"] == "unknown":
        return f">{limit:g} s"
    return f"{float(run['seconds']) / max(base, 1e-4):.1f}x"  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[1] / "tests" / "data" / "histories"
    parser.add_argument("--histories", type=Path, default=default)
    parser.add_argument("--limit", type=float, default=20.0, help="seconds per check")
    parser.add_argument("--only", default="", help="only files whose name contains this")
    args = parser.parse_args()

    files = sorted((args.histories / "porcupine-kv").glob("*.txt")) + sorted((args.histories / "jepsen-etcd").glob("*.log"))
    files = [f for f in files if args.only in f.name]
    rows = []
    print(f"{'history':<14}{'ops':>6}{'verdict':>9}{'time s':>9}{'no partitions':>15}{'no memo':>10}{'porcupine x':>13}")
    for path in files:
        model = KV if path.suffix == ".txt" else REGISTER
        ops = read_history(path)
        runs: dict[str, dict[str, object]] = {}
        for name, options in (("default", {}), ("no_partitions", {"partition": False}), ("no_memo", {"memo": False})):
            started = time.perf_counter()
            result = check(ops, model, timeout=args.limit, shrink=False, **options)
            runs[name] = {"verdict": result.verdict, "seconds": round(time.perf_counter() - started, 4)}
        base = float(runs["default"]["seconds"])  # type: ignore[arg-type]
        reference = PORCUPINE_SECONDS.get(path.stem, PORCUPINE_SECONDS["etcd"] if "etcd" in path.stem else None)
        vs = None if reference is None else round(base / reference, 2)

        print(f"{path.stem:<14}{len(ops):>6}{runs['default']['verdict']!s:>9}{base:>9.3f}"
              f"{_relative(runs['no_partitions'], base, args.limit):>15}"
              f"{_relative(runs['no_memo'], base, args.limit):>10}{'' if vs is None else f'{vs:.2f}':>13}",
              flush=True)
        figures = {"history": path.stem, "operations": len(ops), **runs, "vs_porcupine": vs}
        rows.append(figures)
    print("(no partitions / no memo: time relative to the default check; porcupine x: our time / Porcupine's)")
    print(json.dumps({"histories": rows}))


if __name__ == "__main__":
    main()
