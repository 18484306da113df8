"""The dependency graph of a transaction history, and the graph algorithms the checker needs.

Nodes are transactions (numbered 0..n-1); an edge ``a -> b`` says "a must come before b in any
serial order that explains what the clients saw", for one of four reasons (Adya's, as in Elle):

* ``ww`` (write-write): b overwrote a version of a key that a wrote;
* ``wr`` (write-read): b read a value a wrote;
* ``rw`` (read-write, an anti-dependency): a read a version of a key that b later overwrote;
* ``rt`` (real time): a completed before b was invoked (only strict serializability needs this).

A cycle means no serial order exists. This module knows nothing of keys and values beyond what
an edge carries for its explanation: :mod:`labs.checkers.serializability` infers the edges.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .txn_history import Key, Value, show_value

EdgeKind = Literal["ww", "wr", "rw", "rt"]
_KIND_RANK = {"ww": 0, "wr": 1, "rw": 2, "rt": 3}


@dataclass(frozen=True)
class DepEdge:
    """Why transaction ``src`` must be ordered before ``dst``.

    ``before`` and ``after`` are the values that make the edge: for ``ww`` the two versions
    (src's, then dst's); for ``wr`` the value read (``after``); for ``rw`` the version src read
    (``None``: the key's initial state) and dst's later one. ``why`` says how the order of the two
    versions is known, and ``realtime`` is true when that rests on real-time order (so the edge
    only binds a *strictly* serializable system).
    """

    src: str
    dst: str
    kind: EdgeKind
    key: Key | None = None
    before: Value | None = None
    after: Value | None = None
    why: str = ""
    realtime: bool = False

    @property
    def needs_realtime(self) -> bool:
        return self.realtime or self.kind == "rt"

    def rank(self) -> tuple[bool, int]:
        """Preference among parallel edges: the one resting on fewest assumptions first."""
        return (self.needs_realtime, _KIND_RANK[self.kind])

    def describe(self) -> str:
        """The edge in plain words."""
        k = self.key
        if self.kind == "wr":
            text = f"{self.dst} read {k}={show_value(self.after)}, which {self.src} wrote"
        elif self.kind == "ww":
            text = (f"{self.src} wrote {k}={show_value(self.before)} and {self.dst} overwrote it "
                    f"with {k}={show_value(self.after)}")
        elif self.kind == "rw" and self.before is None:
            text = f"{self.src} read {k} before anyone wrote it, and {self.dst} wrote {k}={show_value(self.after)}"
        elif self.kind == "rw":
            text = (f"{self.src} read {k}={show_value(self.before)}, and {self.dst} wrote a later "
                    f"version {k}={show_value(self.after)}")
        else:
            text = self.why
        return text if self.kind in ("rt", "wr") or not self.why else f"{text} ({self.why})"

    def label(self) -> str:
        """A short tag for arrows: ``rw x``, ``rt``."""
        return self.kind if self.key is None else f"{self.kind} {self.key}"

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.src, "to": self.dst, "type": self.kind, "key": self.key,
                "before": self.before, "after": self.after, "why": self.why,
                "realtime": self.needs_realtime, "text": self.describe()}


EdgeFilter = Callable[[DepEdge], bool]


class DepGraph:
    """A directed multigraph over transactions 0..n-1; parallel edges keep every reason."""

    def __init__(self, n: int, times: Sequence[float] | None = None) -> None:
        self.n = n
        self.out: list[dict[int, list[DepEdge]]] = [{} for _ in range(n)]
        self.times = list(times) if times is not None else [0.0] * n
        """When each transaction was invoked: cycles are looked for first through the edges that
        point furthest back in time, which is where an anomaly usually sits."""

    def add(self, u: int, v: int, edge: DepEdge) -> None:
        if u == v:
            return  # a transaction is not ordered against itself
        edges = self.out[u].setdefault(v, [])
        if edge not in edges:
            edges.append(edge)

    def edges(self) -> Iterator[tuple[int, int, DepEdge]]:
        for u, targets in enumerate(self.out):
            for v, edges in targets.items():
                for e in edges:
                    yield u, v, e

    def edge_count(self) -> int:
        return sum(len(es) for targets in self.out for es in targets.values())

    def best(self, u: int, v: int, allowed: EdgeFilter) -> DepEdge | None:
        """The allowed edge u -> v resting on fewest assumptions, if any."""
        ok = [e for e in self.out[u].get(v, ()) if allowed(e)]
        return min(ok, key=DepEdge.rank) if ok else None


def strongly_connected(graph: DepGraph, allowed: EdgeFilter) -> list[list[int]]:
    """The strongly connected components with more than one transaction (Tarjan, iterative).

    Only they can hold a cycle (the graph has no self-loops), and in a healthy history there are
    none, which keeps checking linear.
    """
    index: list[int] = [-1] * graph.n
    low = [0] * graph.n
    on_stack = [False] * graph.n
    stack: list[int] = []
    components: list[list[int]] = []
    counter = 0
    succ = [[v for v, es in targets.items() if any(allowed(e) for e in es)] for targets in graph.out]
    for root in range(graph.n):
        if index[root] != -1:
            continue
        work = [(root, 0)]
        while work:
            u, i = work.pop()
            if i == 0:
                index[u] = low[u] = counter
                counter += 1
                stack.append(u)
                on_stack[u] = True
            descended = False
            while i < len(succ[u]):
                v = succ[u][i]
                i += 1
                if index[v] == -1:
                    work.append((u, i))
                    work.append((v, 0))
                    descended = True
                    break
                if on_stack[v]:
                    low[u] = min(low[u], index[v])
            if descended:
                continue
            if low[u] == index[u]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    component.append(w)
                    if w == u:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[u])
    return components


def shortest_path(
    graph: DepGraph, src: int, dst: int, allowed: EdgeFilter, within: set[int]
) -> list[DepEdge] | None:
    """The fewest allowed edges leading from ``src`` to ``dst`` inside ``within`` (BFS)."""
    parent: dict[int, tuple[int, DepEdge]] = {}
    seen = {src}
    queue = deque([src])
    while queue:
        u = queue.popleft()
        for v in graph.out[u]:
            if v in seen or v not in within:
                continue
            edge = graph.best(u, v, allowed)
            if edge is None:
                continue
            seen.add(v)
            parent[v] = (u, edge)
            if v == dst:
                path = []
                while v != src:
                    v, e = parent[v]
                    path.append(e)
                return path[::-1]
            queue.append(v)
    return None


def realtime_order(intervals: Sequence[tuple[float, float]]) -> list[tuple[int, int]]:
    """Pairs (a, b) with a ending strictly before b starts, enough to imply all others by transitivity.

    ``intervals[i]`` is (start, end), ``end`` may be infinite (never known to end). Sweeping the
    starts and ends in time order, we keep the *frontier*: intervals that ended and are not yet
    implied by a later ended one. A start gets an edge from each frontier member; an end removes
    from the frontier whatever preceded its own start. The result has about n x (number of
    concurrent intervals) pairs instead of n², which keeps the checker linear-ish (Elle does the
    same).
    """
    events: list[tuple[float, int, int]] = []
    for i, (start, end) in enumerate(intervals):
        events.append((start, 0, i))  # at equal times, starts first: "strictly before"
        if end != math.inf:
            events.append((end, 1, i))
    events.sort()
    frontier: set[int] = set()
    before: dict[int, list[int]] = {}
    pairs: list[tuple[int, int]] = []
    for _time, kind, i in events:
        if kind == 0:
            before[i] = sorted(frontier)
            pairs.extend((a, i) for a in before[i])
        else:
            frontier.difference_update(before[i])
            frontier.add(i)
    return pairs
