"""Strict serializability of transaction histories, with anomalies named as Adya and Elle name them.

A history (format: :mod:`labs.checkers.txn_history`) is *serializable* when some serial
order of its committed transactions gives every read the value it saw, and *strictly
serializable* when, in addition, that order keeps real time: a transaction that completed before
another was invoked comes first. We build the dependency graph of
:mod:`labs.checkers.txn_graph` and look for cycles, and we report each "no" as an anomaly a
student can follow, with the smallest cycle of transactions we can find.

What we infer, and why it is sound
==================================

Reads name their writes (values are unique per key), so ``wr`` edges are facts. ``ww`` and ``rw``
edges need the order of versions of a key, which a black box does not show. We only use orders
that hold in *every* serial order that could explain the history:

1. **The initial state comes first.** A read of nothing (``null``) precedes every write of the key.
2. **Writes follow the reads before them.** A transaction that read ``x=1`` and then wrote ``x=2``
   put 2 after 1: in a serial order it saw 1 as the latest version.
3. **Commit timestamps**, when the history has them, are the system's own claim of the order of
   writes (Spanner serializes in timestamp order). Pass ``use_commit_ts=False`` not to trust them.
4. **Known orders** (:class:`~labs.checkers.txn_history.KnownOrder`): in a list-append history,
   a committed read of ``[1 2 3]`` shows that the appends of 1, 2 and 3 were installed in that
   order; consecutive writers become ``ww`` edges, and an ``info`` writer in the list committed.
5. **Real time.** If one writer completed before another was invoked, a strictly serializable
   system installed its version first. Edges known only this way are marked ``realtime``, and a
   cycle that needs one is a *real-time* violation rather than a serializability one.

Only the last write of a key in a transaction is a version; earlier ones are intermediate. Aborted
(``fail``) transactions are left out of the graph, and so are transactions of unknown outcome
(``info``) unless a committed transaction read one of their writes (or a known order holds one),
which shows they committed.

The checker is sound (every anomaly it reports is real, taking commit timestamps, when used, as
the order the system claims) but, like any black-box checker that must infer version orders, not
complete: blind writes nobody reads may hide an anomaly.

Anomalies
=========

Besides cycles (G0, G1c, G-single, G2, real-time), single reads can be wrong on their own:
G1a (read a write of an aborted transaction), G1b (read an intermediate write), ``garbage-read``
(read a value nobody wrote) and ``internal`` (a transaction that does not see its own writes, or
reads one key twice and sees two values).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

from .txn_graph import (
    DepEdge,
    DepGraph,
    EdgeFilter,
    realtime_order,
    shortest_path,
    strongly_connected,
)
from .txn_history import Key, KnownOrder, Txn, Value, show_value, txn_from_dict, validate

ANOMALIES: dict[str, tuple[str, str]] = {
    "G0": ("write cycle", "transactions overwrote each other's writes in a circle: no order of "
           "them installs the versions in the order the history shows"),
    "G1a": ("aborted read", "a committed transaction read a value written by a transaction that "
            "aborted: that value never existed"),
    "G1b": ("intermediate read", "a transaction read a value that its writer overwrote before "
            "committing: it saw the middle of another transaction"),
    "G1c": ("circular information flow", "each transaction in a circle read or overwrote what "
            "the one before it wrote"),
    "G-single": ("read skew", "a cycle with exactly one anti-dependency (rw): a transaction "
                 "missed a write, yet saw (directly or through others) effects that came after it"),
    "G2": ("write skew", "a cycle with two or more anti-dependencies (rw): transactions each "
           "missed a write of another"),
    "real-time": ("not strictly serializable", "the only orders that explain the reads put a "
                  "transaction before one that had completed before it was invoked"),
    "garbage-read": ("garbage read", "a transaction read a value that no transaction wrote"),
    "internal": ("internal inconsistency", "a transaction did not see its own writes, or read "
                 "one key twice and saw two values"),
    "incompatible-order": ("incompatible order", "two reads of one list disagree on the order of "
                           "its elements: neither is a prefix of the other, so no single order "
                           "of appends explains both"),
    "duplicate-elements": ("duplicate elements", "a read of a list saw one element twice, though "
                           "each element is appended once"),
}
"""Each anomaly's name, its short title and what it means, in plain words."""

_CYCLE_NAMES = ("G0", "G1c", "G-single", "G2", "real-time")


@dataclass(frozen=True)
class Anomaly:
    """One reason the history is not strictly serializable.

    ``summary`` says what happened in this history; ``cycle`` lists the edges of the cycle of
    transactions that shows it (empty for the anomalies of a single read).
    """

    name: str
    summary: str
    txns: tuple[str, ...]
    cycle: tuple[DepEdge, ...] = ()

    def render(self) -> str:
        """Several lines: the anomaly, each edge of its cycle in plain words, why that is wrong."""
        title, meaning = ANOMALIES[self.name]
        lines = [f"{self.name} ({title}): {self.summary}"]
        for e in self.cycle:
            lines.append(f"  {e.src} -{e.label()}-> {e.dst}: {e.describe()}")
        if self.cycle:
            order = " before ".join([*(e.src for e in self.cycle), self.cycle[0].src])
            kind = "serial order that keeps real time" if self.name == "real-time" else "serial order"
            lines.append(f"  so {order}: no {kind} can do that")
        lines.append(f"  ({self.name}: {meaning})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        title, meaning = ANOMALIES[self.name]
        return {"name": self.name, "title": title, "meaning": meaning, "summary": self.summary,
                "txns": list(self.txns), "cycle": [e.to_dict() for e in self.cycle]}


@dataclass(frozen=True)
class SerializabilityReport:
    """The checker's verdict: ``ok`` (strictly serializable, as far as the checker can tell) or
    ``illegal`` with the anomalies that show it."""

    anomalies: tuple[Anomaly, ...]
    transactions: int
    edges: int = 0

    @property
    def verdict(self) -> Literal["ok", "illegal"]:
        return "illegal" if self.anomalies else "ok"

    @property
    def ok(self) -> bool:
        return not self.anomalies

    @property
    def serializable(self) -> bool:
        """No anomaly but real-time ones: some serial order exists, just not one keeping real time."""
        return all(a.name == "real-time" for a in self.anomalies)

    def names(self) -> set[str]:
        return {a.name for a in self.anomalies}

    def render(self) -> str:
        if self.ok:
            return f"strictly serializable: {self.transactions} transactions, no anomaly found"
        what = "serializable, but not strictly" if self.serializable else "not serializable"
        lines = [f"illegal ({what}): {len(self.anomalies)} anomal{'y' if len(self.anomalies) == 1 else 'ies'} "
                 f"in {self.transactions} transactions"]
        for a in self.anomalies:
            lines.append(a.render())
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "serializable": self.serializable,
                "transactions": self.transactions, "edges": self.edges,
                "anomalies": [a.to_dict() for a in self.anomalies]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


# -- reading the history: single-read anomalies and wr edges -------------------------------


@dataclass
class _Reads:
    """What the committed transactions' reads show, before any graph is built."""

    external: list[list[tuple[Key, Value | None]]]
    """Per transaction, its reads of keys it had not written yet (what it saw of others)."""
    writer: dict[tuple[Key, Value], int]
    """Who wrote each version (a transaction's last write of a key)."""
    wr: list[tuple[int, int, Key, Value]] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)


def _read_everything(txns: Sequence[Txn]) -> _Reads:
    final: dict[tuple[Key, Value], int] = {}
    intermediate: dict[tuple[Key, Value], int] = {}
    for i, t in enumerate(txns):
        last = t.final_writes()
        for op in t.ops:
            if op.f == "w" and op.value is not None:
                table = final if last[op.key] == op.value else intermediate
                table[(op.key, op.value)] = i
    reads = _Reads(external=[[] for _ in txns], writer=final)
    seen: set[tuple[int, int, Key]] = set()
    for i, t in enumerate(txns):
        if t.outcome != "ok":
            continue  # the client never learned what a failed or unknown transaction read
        known: dict[Key, tuple[str, Value | None]] = {}  # what t last did to each key
        for op in t.ops:
            k, v = op.key, op.value
            if op.f == "w":
                known[k] = ("wrote", v)
                continue
            if k in known:  # t already knows this key's value: it must see that again
                did, before = known[k]
                if v != before:
                    reads.anomalies.append(Anomaly(
                        "internal", f"{t.id} {did} {k}={show_value(before)} and then read {k}={show_value(v)}: a "
                        f"transaction sees its own writes and one state of the others'", (t.id,)))
                continue
            known[k] = ("read", v)
            reads.external[i].append((k, v))
            if v is None:
                continue
            w = final.get((k, v), intermediate.get((k, v)))
            if w is None:
                reads.anomalies.append(Anomaly(
                    "garbage-read", f"{t.id} read {k}={v!r}, a value no transaction wrote", (t.id,)))
            elif w == i:
                reads.anomalies.append(Anomaly(
                    "internal", f"{t.id} read {k}={v!r} before it wrote that value itself", (t.id,)))
            elif txns[w].outcome == "fail":
                reads.anomalies.append(Anomaly(
                    "G1a", f"{t.id} read {k}={v!r}, written by {txns[w].id}, which aborted",
                    (txns[w].id, t.id)))
            elif (k, v) in intermediate:
                later = txns[w].final_writes()[k]
                reads.anomalies.append(Anomaly(
                    "G1b", f"{t.id} read {k}={v!r}, which {txns[w].id} wrote but then overwrote "
                    f"with {k}={later!r} before committing", (txns[w].id, t.id)))
            elif (w, i, k) not in seen:
                seen.add((w, i, k))
                reads.wr.append((w, i, k, v))
    return reads


# -- version order and the graph ----------------------------------------------------------


@dataclass(frozen=True)
class _Order:
    """Writer ``a``'s version of ``key`` precedes writer ``b``'s, known because of ``why``."""

    key: Key
    a: int
    b: int
    why: str
    realtime: bool = False


def _version_orders(txns: Sequence[Txn], finals: Sequence[dict[Key, Value]], included: list[int],
                    reads: _Reads, use_commit_ts: bool, known: Sequence[KnownOrder],
                    written: Mapping[tuple[Key, Value], int]) -> list[_Order]:
    """The orders of versions we can infer (see the module docstring), key by key."""
    members = set(included)
    orders = _known_orders(known, written, members, finals)
    # Writes follow the reads before them.
    for i in included:
        for k, v in reads.external[i]:
            w = reads.writer.get((k, v)) if v is not None else None
            if w is not None and w != i and w in members and k in finals[i]:
                orders.append(_Order(k, w, i, f"{txns[i].id} read {k}={v!r} and then wrote "
                                              f"{k}={finals[i][k]!r}"))
    writers: dict[Key, list[int]] = defaultdict(list)
    for i in included:
        for k in finals[i]:
            writers[k].append(i)
    for k, ws in writers.items():
        if use_commit_ts:
            orders.extend(_timestamp_orders(txns, k, ws))
        spans = [(txns[i].invoke, txns[i].end) for i in ws]
        for a, b in realtime_order(spans):
            orders.append(_Order(k, ws[a], ws[b], _realtime_why(txns[ws[a]], txns[ws[b]]), True))
    return orders


def _known_orders(known: Sequence[KnownOrder], written: Mapping[tuple[Key, Value], int],
                  members: set[int], finals: Sequence[dict[Key, Value]]) -> list[_Order]:
    """Each pair of consecutive writers of a known order, a run of one writer's values counting
    once. A run not ending with its writer's version (another's value came between two of its
    own) orders nothing after it: the version is not where the run ends."""
    orders: list[_Order] = []
    for k in known:
        runs: list[list[Any]] = []  # [writer, its first value in the run, its last]
        for v in k.values:
            w = written.get((k.key, v))
            if w is None or w not in members:
                continue
            if runs and runs[-1][0] == w:
                runs[-1][2] = v
            else:
                runs.append([w, v, v])
        for (a, _, va), (b, vb, _) in pairwise(runs):
            if finals[a][k.key] != va:
                continue
            orders.append(_Order(k.key, a, b, f"{k.why}, where {show_value(va)} comes before "
                                              f"{show_value(vb)}"))
    return orders


def _timestamp_orders(txns: Sequence[Txn], key: Key, writers: list[int]) -> list[_Order]:
    """Writers of ``key`` in commit-timestamp order (each group of equal stamps before the next)."""
    groups: dict[float, list[int]] = defaultdict(list)
    for i in writers:
        ts = txns[i].commit_ts
        if ts is not None:
            groups[ts].append(i)
    orders: list[_Order] = []
    for ta, tb in pairwise(sorted(groups)):
        why = f"commit timestamps {ta:g} < {tb:g}"
        orders.extend(_Order(key, a, b, why) for a in groups[ta] for b in groups[tb])
    return orders


def _realtime_why(a: Txn, b: Txn) -> str:
    return f"{a.id} completed at {a.end:g}, before {b.id} was invoked at {b.invoke:g}"


def _build_graph(txns: Sequence[Txn], reads: _Reads, use_commit_ts: bool,
                 known: Sequence[KnownOrder]) -> DepGraph:
    finals = [t.final_writes() for t in txns]
    written = {(op.key, op.value): i for i, t in enumerate(txns) for op in t.ops
               if op.f == "w" and op.value is not None} if known else {}
    saw = {w for w, _, _, _ in reads.wr}  # transactions a committed one saw, so committed
    saw.update(w for k in known for v in k.values if (w := written.get((k.key, v))) is not None)
    included = [i for i, t in enumerate(txns)
                if t.outcome == "ok" or (t.outcome == "info" and i in saw)]
    graph = DepGraph(len(txns), [t.invoke for t in txns])
    ids = [t.id for t in txns]
    for w, r, k, seen in reads.wr:
        graph.add(w, r, DepEdge(ids[w], ids[r], "wr", k, None, seen))
    later: dict[tuple[Key, int], list[_Order]] = defaultdict(list)
    has_earlier: set[tuple[Key, int]] = set()
    for o in _version_orders(txns, finals, included, reads, use_commit_ts, known, written):
        graph.add(o.a, o.b, DepEdge(ids[o.a], ids[o.b], "ww", o.key, finals[o.a][o.key],
                                    finals[o.b][o.key], o.why, o.realtime))
        later[(o.key, o.a)].append(o)
        if not o.realtime:
            has_earlier.add((o.key, o.b))
    # Anti-dependencies: a reader precedes whoever wrote a later version than the one it read.
    # Edges to the next versions suffice (ww edges lead on to the rest); a read of the initial
    # state precedes the writers no order without real time puts after another writer.
    firsts: dict[Key, list[int]] = defaultdict(list)
    for i in included:
        for k in finals[i]:
            if (k, i) not in has_earlier:
                firsts[k].append(i)
    for r in included:
        for k, v in reads.external[r]:
            if v is None:
                for b in firsts.get(k, ()):
                    graph.add(r, b, DepEdge(ids[r], ids[b], "rw", k, None, finals[b][k]))
                continue
            w = reads.writer.get((k, v), -1)
            for o in later.get((k, w), ()):
                graph.add(r, o.b, DepEdge(ids[r], ids[o.b], "rw", k, v, finals[o.b][k], o.why,
                                          o.realtime))
    spans = [(txns[i].invoke, txns[i].end) for i in included]
    for a, b in realtime_order(spans):
        ta, tb = txns[included[a]], txns[included[b]]
        graph.add(included[a], included[b], DepEdge(ta.id, tb.id, "rt", why=_realtime_why(ta, tb)))
    return graph


# -- cycles -------------------------------------------------------------------------------


def _no_rt(e: DepEdge) -> bool:
    return not e.needs_realtime


def _kinds(*kinds: str) -> EdgeFilter:
    return lambda e: e.kind in kinds and not e.needs_realtime


def _any(e: DepEdge) -> bool:
    return True


_SEARCHES: tuple[tuple[EdgeFilter, EdgeFilter, EdgeFilter], ...] = (
    # (graph to find components in, the edge a cycle must use, the edges for the way back)
    (_kinds("ww"), _kinds("ww"), _kinds("ww")),                                    # G0
    (_kinds("ww", "wr"), _kinds("wr"), _kinds("ww", "wr")),                        # G1c
    (_kinds("ww", "wr", "rw"), _kinds("rw"), _kinds("ww", "wr")),                  # G-single
    (_no_rt, _kinds("rw"), _no_rt),                                                # G2
    (_any, lambda e: e.needs_realtime, _any),                                     # real-time
)


def classify(cycle: Sequence[DepEdge]) -> str:
    """The anomaly a cycle shows: real-time if it needs real-time order, else by its edge kinds."""
    if any(e.needs_realtime for e in cycle):
        return "real-time"
    rw = sum(1 for e in cycle if e.kind == "rw")
    if rw == 0:
        return "G0" if all(e.kind == "ww" for e in cycle) else "G1c"
    return "G-single" if rw == 1 else "G2"


def _cycle_summary(name: str, cycle: Sequence[DepEdge]) -> str:
    ids = [e.src for e in cycle]
    who = " and ".join(ids) if len(ids) == 2 else ", ".join(ids[:-1]) + " and " + ids[-1]
    counts = [f"{n} {k}" for k in ("ww", "wr", "rw", "rt")
              if (n := sum(1 for e in cycle if e.kind == k))]
    text = f"{who} depend on each other in a circle ({', '.join(counts)} edges)"
    if name == "real-time":
        needs = sum(1 for e in cycle if e.needs_realtime)
        text += f"; {needs} of the edges hold{'s' if needs == 1 else ''} only in real-time order"
    return text


def find_cycles(graph: DepGraph, txns: Sequence[Txn], tries: int = 8) -> list[Anomaly]:
    """One smallest cycle we can find per anomaly kind and strongly connected component.

    The kinds are searched from the most to the least severe, and a set of transactions is
    reported once, under the first kind that finds a cycle through it.
    """
    found: list[Anomaly] = []
    reported: set[frozenset[str]] = set()
    by_id = {t.id: t for t in txns}
    for component_edges, must_use, way_back in _SEARCHES:
        for component in strongly_connected(graph, component_edges):
            cycle = _smallest_cycle(graph, component, component_edges, must_use, way_back, tries)
            if cycle is None:
                continue
            name = classify(cycle)
            if name == "real-time":
                cycle = _shortcut(cycle, by_id)
            if frozenset(e.src for e in cycle) in reported:
                continue
            reported.add(frozenset(e.src for e in cycle))
            found.append(Anomaly(name, _cycle_summary(name, cycle), tuple(e.src for e in cycle),
                                 tuple(cycle)))
    return found


def _shortcut(cycle: list[DepEdge], by_id: Mapping[str, Txn]) -> list[DepEdge]:
    """The cycle with runs of edges replaced by one real-time edge wherever real time allows.

    The graph keeps only enough real-time edges to imply the others (see
    :func:`~labs.checkers.txn_graph.realtime_order`), so a cycle found in it may walk a long
    chain of them; "t3 completed before t9 was invoked" says the same in one step.
    """
    nodes = [e.src for e in cycle] + [cycle[0].src]
    out: list[DepEdge] = []
    i = 0
    while i < len(cycle):
        a = by_id[nodes[i]]
        j = max((j for j in range(i + 2, len(nodes)) if a.end < by_id[nodes[j]].invoke), default=None)
        if j is None or (i == 0 and j == len(cycle)):
            out.append(cycle[i])
            i += 1
        else:
            b = by_id[nodes[j]]
            out.append(DepEdge(a.id, b.id, "rt", why=_realtime_why(a, b)))
            i = j
    return out


def _smallest_cycle(graph: DepGraph, component: list[int], component_edges: EdgeFilter,
                    must_use: EdgeFilter, way_back: EdgeFilter, tries: int) -> list[DepEdge] | None:
    """The shortest cycle found through up to ``tries`` edges u -> v of the component that
    ``must_use`` accepts (the shortest way back v -> u by BFS).

    A pair of transactions counts as such an edge only if ``must_use`` accepts the edge between
    them resting on fewest assumptions: a pair ordered by a ww edge as well as an rw edge is not a
    place where a cycle needs an anti-dependency. Edges pointing furthest back in time are tried
    first: in a large component (a long run gone wrong) they lead to the short cycles.
    """
    members = set(component)
    starts: list[tuple[float, int, int, DepEdge]] = []
    for u in component:
        for v in graph.out[u]:
            first = graph.best(u, v, component_edges) if v in members else None
            if first is not None and must_use(first):
                starts.append((graph.times[v] - graph.times[u], u, v, first))
    starts.sort(key=lambda s: s[:3])
    best: list[DepEdge] | None = None
    for _, u, v, first in starts[:tries]:
        path = shortest_path(graph, v, u, way_back, members)
        if path is not None and (best is None or len(path) + 1 < len(best)):
            best = [first, *path]
            if len(best) == 2:
                break
    return best


# -- the checker --------------------------------------------------------------------------


def check_strict_serializability(
    history: Iterable[Txn | Mapping[str, Any]], *, use_commit_ts: bool = True,
    known_orders: Iterable[KnownOrder] = (),
) -> SerializabilityReport:
    """Check a transaction history for strict serializability.

    ``history`` holds :class:`Txn` objects or their dicts (see
    :mod:`labs.checkers.txn_history`); a malformed one raises ``TxnHistoryError``.
    ``known_orders`` are orders of versions the history shows directly (a list-append history's
    reads of whole lists), taken as facts.
    """
    txns = [t if isinstance(t, Txn) else txn_from_dict(t, f"item #{n}")
            for n, t in enumerate(history, 1)]
    validate(txns)
    reads = _read_everything(txns)
    graph = _build_graph(txns, reads, use_commit_ts, list(known_orders))
    anomalies = reads.anomalies + find_cycles(graph, txns)
    return SerializabilityReport(tuple(anomalies), len(txns), graph.edge_count())
