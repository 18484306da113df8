"""How fast is the search over the simulator (labs/runtime/search.py)? Fixed searches of the
references, each to its depth: states explored per second, distinct states, and the memory the
process holds.

    python benchmarks/search.py [--raft-depth 7] [--rpc-depth 8] [--walks 3000] [--sealed]

* ``raft-A``: the Raft lab, three servers, no clients (elections only), election safety after
  every step;
* ``rpc``: the RPC lab, one client that appends then reads (the suite's search test), one copy
  of a message allowed, linearizability after every step;
* ``raft-walks``: Raft's Figure 8 search test (three servers, one command, two restarts), one
  step of every order, then ``--walks`` random walks of up to 40 steps: walk steps per second.

Memory is the benchmark process's peak resident size after each search (the searches run one
after the other, so a later figure includes the earlier ones' peak): what the search keeps per
state is a 32-byte digest and its path of choices.

``--sealed`` runs each node in a sealed process of its own, as grading does (forked once per
search, then reused: each state is rebuilt by running its path again in them).
DSLabs and AnySystem publish no rates to compare with. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import resource
import time
from typing import Any

from labs.raft import LAB as RAFT
from labs.raft.checks import CHECKS as RAFT_CHECKS
from labs.rpc import LAB as RPC
from labs.rpc.checks import linearizable
from labs.runtime.lab import Lab, no_node_errors
from labs.runtime.node import Op
from labs.runtime.search import SearchSpec, explore


def searches(raft_depth: int, rpc_depth: int, walks: int) -> list[tuple[str, Lab, SearchSpec]]:
    raft = dataclasses.replace(RAFT, nodes=3)
    one = ((Op("append", "a", "x;"), Op("get", "a")),)
    figure8 = (no_node_errors, *(RAFT_CHECKS[c] for c in ("election-safety", "state-machine-safety",
                                                           "leader-commits-only-through-its-term")))
    return [
        ("raft-A", raft, SearchSpec(operations=(), invariants=(no_node_errors, RAFT_CHECKS["election-safety"]),
                                    depth=raft_depth, timeout=3600)),
        ("rpc", RPC, SearchSpec(operations=one, invariants=(no_node_errors, linearizable), depth=rpc_depth,
                                duplicate=1, timeout=3600)),
        ("raft-walks", raft, SearchSpec(operations=((Op("start", None, "v1"),),), invariants=figure8, depth=1,
                                        restarts=2, walks=walks, walk_depth=40, timeout=3600)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raft-depth", type=int, default=7)
    parser.add_argument("--rpc-depth", type=int, default=8)
    parser.add_argument("--walks", type=int, default=3000)
    parser.add_argument("--sealed", action="store_true", help="each node in a sealed process")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    print(f"{'search':<11}{'depth':>6}{'verdict':>9}{'states':>9}{'seconds':>9}{'states/s':>10}"
          f"{'walk steps/s':>14}{'peak RSS MiB':>14}")
    for name, lab, spec in searches(args.raft_depth, args.rpc_depth, args.walks):
        with contextlib.ExitStack() as stack:
            nodes = None
            if args.sealed:
                from autograder.grade import start_nursery
                from labs.runtime.nursery import one_core
                nursery = stack.enter_context(start_nursery(None))
                core = stack.enter_context(one_core())
                nodes = nursery.search_nodes(lab, spec, spec.timeout, core)
            started = time.perf_counter()
            found = explore(lab, spec, nodes=nodes)
            seconds = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
        row = {"search": name, "depth": spec.depth, "verdict": found.verdict, "states": found.states,
               "seconds": round(seconds, 2), "states_per_second": round(found.states / seconds, 1),
               "walks": found.walks, "walk_steps": found.walk_steps,
               "walk_steps_per_second": round(found.walk_steps / seconds, 1),
               "peak_rss_mib": round(peak / 2**20, 1), "sealed": args.sealed}
        rows.append(row)
        walking = row["walk_steps_per_second"] if spec.walks else "-"
        print(f"{name:<11}{spec.depth:>6}{found.verdict:>9}{found.states:>9}{seconds:>9.2f}"
              f"{row['states_per_second']:>10}{walking:>14}{row['peak_rss_mib']:>14}", flush=True)
    print(json.dumps({"searches": rows}))


if __name__ == "__main__":
    main()
