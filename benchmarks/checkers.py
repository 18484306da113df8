"""How fast is the linearizability checker on the published histories in tests/data/histories?

    python benchmarks/checkers.py [--histories DIR] [--limit SECONDS] [--only c50]

Each history is checked three ways in one run: as shipped (partitions and memo on), with
partitioning off, and with memoization off. Shrinking is off: these are the times of the
verdict alone. Porcupine (Go) checks the c50 histories in about 0.2 s and each etcd log in under
0.2 s on a machine like this one; the target is within 3x of those times. A search that hits
--limit is reported as "unknown" (the checker never hangs).

Then generated key-value histories (benchmarks/lin_histories.py, seeded): 5k operations by 50
clients, 20k by 100 and 50k by 200, each ``ok`` (linearizable), ``junk`` (a get of a value never
written) and ``stale`` (a get of an overwritten value); about 1% of operations have an unknown
outcome. Each is checked as ``python -m autograder check`` does (--gen-limit, 30 s by default,
shrinking on): the search's time, the shrinking's, and our search time over Porcupine's upper
figure for such a history on this kind of machine. The last line printed is one JSON object with
every figure.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from lin_histories import FLAVOURS, generate  # benchmarks/, beside this script

from labs.checkers.importers import read_history
from labs.checkers.linearizability import check
from labs.checkers.standard_models import KV, REGISTER

PORCUPINE_SECONDS = {"c50-ok": 0.2, "c50-bad": 0.05, "etcd": 0.2}
"""Porcupine's times on a 2-core machine like this one (from ../shared/histories/README.md)."""
GENERATED = ((5000, 50), (20000, 100), (50000, 200))
"""(operations, clients) of the generated histories."""
PORCUPINE_GENERATED = {5000: (0.2, 1.3), 20000: (4.0, 36.0), 50000: (2.0, 3.0)}
"""Porcupine's range of times on generated histories of each size (project issue 16)."""


def _relative(run: dict[str, object], base: float, limit: float) -> str:
    if run["verdict"] == "unknown":
        return f">{limit:g} s"
    return f"{float(run['seconds']) / max(base, 1e-4):.1f}x"  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[1] / "tests" / "data" / "histories"
    parser.add_argument("--histories", type=Path, default=default)
    parser.add_argument("--limit", type=float, default=20.0, help="seconds per check")
    parser.add_argument("--only", default="", help="only histories whose name contains this")
    parser.add_argument("--gen-limit", type=float, default=30.0, help="seconds per generated history")
    parser.add_argument("--seed", type=int, default=1)
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
    generated = _generated(args.only, args.gen_limit, args.seed)
    print(json.dumps({"histories": rows, "generated": generated}))


def _generated(only: str, limit: float, seed: int) -> list[dict[str, object]]:
    """The table of generated histories (see the module docstring)."""
    cases = [(n, c, f) for n, c in GENERATED for f in FLAVOURS if only in f"kv-{n // 1000}k-{c}c-{f}"]
    if not cases:
        return []
    print()
    print(f"{'generated':<16}{'ops':>7}{'verdict':>9}{'search s':>10}{'shrink s':>10}{'porcupine s':>13}"
          f"{'x upper':>9}")
    rows: list[dict[str, object]] = []
    for n, clients, flavour in cases:
        name = f"kv-{n // 1000}k-{clients}c-{flavour}"
        ops = generate(n, clients, flavour, seed)
        result = check(ops, KV, timeout=limit)
        low, high = PORCUPINE_GENERATED[n]
        ratio = None if result.verdict == "unknown" else round(result.search_seconds / high, 2)
        expected = "ok" if flavour == "ok" else "illegal"
        shown = "" if ratio is None else f"{ratio:.2f}"
        print(f"{name:<16}{n:>7}{result.verdict:>9}{result.search_seconds:>10.3f}{result.shrink_seconds:>10.3f}"
              f"{f'{low:g}-{high:g}':>13}{shown:>9}{'' if result.verdict in (expected, 'unknown') else '  WRONG':<7}", flush=True)
        rows.append({"history": name, "operations": n, "clients": clients, "flavour": flavour, "seed": seed,
                     "verdict": result.verdict, "expected": expected,
                     "search_seconds": round(result.search_seconds, 4),
                     "shrink_seconds": round(result.shrink_seconds, 4), "seconds": round(result.seconds, 4),
                     "porcupine_seconds": [low, high], "vs_porcupine_upper": ratio})
    print("(x upper: our search time / the upper end of Porcupine's range; unknown: the search ran out of time)")
    return rows


if __name__ == "__main__":
    main()
