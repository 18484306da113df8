"""Chapter 4's search demo: the Figure 8 bug found by a machine, with no schedule written for it.

The chapter tells the Figure 8 story with a schedule someone wrote step by step. Here the same
commit rule (:func:`course.demos.raft_demos.counts_replicas`) meets two hunters that were told
nothing about the story:

* :func:`random_hunt`: the lab's own random crash schedule for Figure 8 (the leader crashes
  every 0.8 s, another server every 1.3 s), one run per seed, on three servers and one client;
* :func:`search`: the lab's search test ``C-search-figure8`` (every order to three steps, then
  random walks through deliveries, timeouts and crash-restarts), which reports the walk that
  broke the rule with every step it could do without left out.

Both run the servers of ``labs/raft/node.py`` with the commit rule swapped in: in a student's
copy, their own code (until it works, its servers crash with "not implemented yet" and the search
reports that instead).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

from labs.raft.checks import CHECKS
from labs.raft.node import RaftNode
from labs.runtime.lab import no_node_errors
from labs.runtime.node import Op
from labs.runtime.schedule import Schedule, builder
from labs.runtime.search import Exploration, SearchSpec, explore

from .charts import Table, table_of
from .raft_demos import raft_lab, run

BROKEN_BY = ("leader-commits-only-through-its-term", "state-machine-safety", "election-safety")
"""What the hunters look for: the Figure 8 rule, and what breaking it leads to."""


def crashes(duration: float = 10.0) -> Schedule:
    """The lab's random Figure 8 schedule: the leader crashes every 0.8 s for 0.4 s, another
    server every 1.3 s for 0.6 s, each restarting with its disk."""
    return (builder("raft-figure8-three", "The leader crashes every 0.8 s, another server every 1.3 s.")
            .delay(uniform=(0.001, 0.02)).duration(duration)
            .every(0.8, "crash", "leader", lasting=0.4, disk="keep")
            .every(1.3, "crash", "random", lasting=0.6, start=0.2, disk="keep").build())


def random_hunt(node: type[RaftNode], seeds: Iterable[int] = range(1, 21)) -> dict[str, Any]:
    """Three servers running ``node`` and one client under :func:`crashes`, one run per seed:
    how many runs broke one of :data:`BROKEN_BY`, the first seed that did, and how much
    happened in that run (what a reader must go through to see why)."""
    tried, broke, read = 0, [], 0
    for seed in seeds:
        tried += 1
        result = run(crashes(), seed, nodes=3, clients=1, think=0.3, node=node)
        if any(CHECKS[name](result) for name in BROKEN_BY):
            broke.append(seed)
            if len(broke) == 1:
                read = sum(e["type"] in ("deliver", "timer_fire", "crash") for e in result.trace)
    return {"hunter": "random crash schedules", "tried": f"{tried} runs", "broke a rule": len(broke),
            "first that did": f"seed {broke[0]}" if broke else "none",
            "to read": f"{read:,} deliveries, firings and crashes" if broke else "-"}


def search(node: type[RaftNode], walks: int = 3000) -> Exploration:
    """The lab's ``C-search-figure8`` on three servers running ``node``: one client's command,
    every order to three steps, then ``walks`` random walks of up to 40 steps with up to two
    crash-restarts."""
    lab = dataclasses.replace(raft_lab(nodes=3, clients=1), node=node)
    spec = SearchSpec(operations=((Op("start", None, "v1"),),),
                      invariants=(no_node_errors, *(CHECKS[name] for name in BROKEN_BY)),
                      depth=3, restarts=2, walks=walks, walk_depth=40)
    return explore(lab, spec)


def summary(found: Exploration) -> dict[str, Any]:
    """One row on what the search did and found, beside :func:`random_hunt`'s."""
    walks = found.walk if found.walk is not None else found.walks
    how = (f"walk {found.walk}, in {found.walked} steps" if found.walk is not None
           else f"depth {found.depth}")
    broke = found.verdict == "violation"
    return {"hunter": "search", "tried": f"{found.states:,} states, then {walks:,} walks",
            "broke a rule": 1 if broke else 0, "first that did": how if broke else found.verdict,
            "to read": f"{len(found.path)} steps" if broke else "-"}


def steps(found: Exploration, width: int = 70) -> Table:
    """The path the search reports, one row per step: what happened, in the words the search
    uses (``autograder search --replay`` follows the same words)."""
    rows = []
    for n, step in enumerate(found.path, 1):
        kind, _, rest = step.partition(" ")
        what, _, body = rest.partition(" {")
        fields = {}
        if body:
            try:
                fields = json.loads("{" + body)
            except json.JSONDecodeError:
                fields = {}
        shown = ", ".join(f"{k}={json.dumps(v)}" for k, v in fields.items() if k != "@type")
        rows.append({"step": n, "what": kind, "of": what,
                     "carrying": shown if len(shown) <= width else shown[:width - 1] + "…"})
    broke = found.findings[0].message if found.findings else f"nothing broke ({found.verdict})"
    return table_of(rows, title=f"The search's path, {len(found.path)} steps", note=f"After the last step: {broke}")
