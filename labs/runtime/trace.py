"""Traces, client histories and run summaries: what a run leaves behind, as plain data.

Trace format (JSON Lines, one object per line)
==============================================

The first line is the header; every other line is an event with a time ``t`` (seconds since the run
started: virtual time in the simulator, real time on Ray) and a ``type``. Node events name their
node in ``node``.

======================  ========================================================================
type                    fields
======================  ========================================================================
``run`` (header)        ``version``, ``lab``, ``runtime``, ``seed``, ``nodes``, ``clients``,
                        ``schedule`` (the expanded schedule document)
``start``               ``node``: on_start ran (first start of the node)
``send``                ``node`` (sender), ``dst``, ``id``, ``msg`` (type name), ``body`` (encoded)
``deliver``             ``node`` (receiver), ``src``, ``id``
``drop``                ``node`` (where it was decided), ``src``, ``dst``, ``id``,
                        ``reason`` (``loss``, ``partition``, ``crashed``, or ``search``: a search's choice)
``duplicate``           ``node`` (sender), ``dst``, ``id``: a second copy is on its way
``timer_set``           ``node``, ``id``, ``timer`` (type name), ``delay``
``timer_fire``          ``node``, ``id``, ``timer``
``timer_cancel``        ``node``, ``id``
``crash``               ``node``, ``reason`` (``schedule``, ``error``, ``process-died``, ``search``),
                        ``disk`` (``keep``/``lose``), and ``error`` (a traceback) for ``error``
``restart``             ``node``: a new process, with the disk it kept
``pause`` / ``resume``  ``node`` (``pause`` also has ``duration``)
``skew``                ``node``, ``offset``, ``rate``
``partition``           ``blocked`` (list of ``[src, dst]`` links cut), ``groups`` when given
``heal``                ``final`` is true for the heal that ends every schedule
``network``             ``network`` (loss, delay, duplicate, reorder)
``invoke``              ``node`` (the clerk), ``process``, ``index``, ``f``, ``key``, ``value``
``complete``            ``node``, ``process``, ``index``, ``outcome`` (``ok``/``fail``/``info``),
                        ``value``
``log``                 ``node``, ``text``
``memory``              ``node``, ``bytes``, ``disk`` (bytes stored), ``of``: ``fields`` (``bytes``
                        are the node's fields, pickled) or ``process`` (the anonymous memory of
                        the node's own process, read by the grader from outside it; null when
                        it could not be read); every ``Lab.memory_every`` seconds
``skip``                ``what``, ``why``: a schedule event that could not apply (no leader...)
``end``                 the run stopped
======================  ========================================================================

On Ray a message sent to a node whose process is dead has a ``send`` and never a ``deliver``.

History format
==============

The client history is a list of entries in the style of Jepsen, one per invocation and one per
completion, in time order::

    {"index": 4, "process": 1, "client": "c2", "type": "invoke", "f": "put", "key": "x", "value": "3", "time": 0.51}
    {"index": 4, "process": 1, "client": "c2", "type": "ok", "f": "put", "key": "x", "value": null, "time": 0.55}

``index`` pairs an invocation with its completion. ``type`` is ``invoke``, then one of ``ok`` (it
happened, ``value`` is the result), ``fail`` (it certainly did not happen) or ``info`` (unknown:
the clerk timed out or the run ended; it may have happened, or may still happen). A process runs
one operation at a time; after an ``info`` its clerk is replaced and continues as a new process.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRACE_VERSION = 1

Event = dict[str, Any]


def dumps_event(e: Event) -> str:
    return json.dumps(e, separators=(",", ":"), allow_nan=False)


def write_trace(events: Iterable[Event], path: str | Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for e in events:
            f.write(dumps_event(e) + "\n")


def read_trace(path: str | Path) -> list[Event]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def history_from_trace(events: Iterable[Event]) -> list[Event]:
    """The client history (see the module docstring) held in a trace."""
    out: list[Event] = []
    ops: dict[int, Event] = {}
    for e in events:
        if e["type"] == "invoke":
            op = {"f": e["f"], "key": e.get("key"), "value": e.get("value")}
            ops[e["index"]] = op
            out.append({"index": e["index"], "process": e["process"], "client": e["node"],
                        "type": "invoke", **op, "time": e["t"]})
        elif e["type"] == "complete":
            op = ops.get(e["index"], {"f": None, "key": None})
            out.append({"index": e["index"], "process": e["process"], "client": e["node"],
                        "type": e["outcome"], "f": op["f"], "key": op["key"],
                        "value": e.get("value"), "time": e["t"]})
    return out


# -- summaries ----------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


PERCENTILES = (50.0, 90.0, 99.0, 99.9)


@dataclass
class Summary:
    """What happened in a run, in numbers. Latencies are of completed (``ok``) operations."""

    duration: float = 0.0
    messages: Counter[str] = field(default_factory=Counter)
    drops: Counter[str] = field(default_factory=Counter)
    per_node: dict[str, Counter[str]] = field(default_factory=dict)
    per_type: Counter[str] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def latency_percentiles(self) -> dict[str, float]:
        xs = sorted(self.latencies)
        out = {f"p{q:g}": percentile(xs, q) for q in PERCENTILES}
        out["max"] = xs[-1] if xs else math.nan
        return out

    def to_data(self) -> dict[str, Any]:
        return {
            "duration": self.duration,
            "messages": dict(self.messages),
            "drops": dict(self.drops),
            "per_node": {n: dict(c) for n, c in sorted(self.per_node.items())},
            "per_type": dict(self.per_type),
            "operations": dict(self.operations),
            "latency": {k: (None if math.isnan(v) else v) for k, v in self.latency_percentiles().items()},
            "errors": list(self.errors),
        }

    def render(self) -> str:
        """A short human-readable report (what ``python -m labs run`` prints)."""
        m = self.messages
        lines = [
            f"run of {self.duration:.2f}s",
            f"messages: {m['sent']} sent, {m['delivered']} delivered, {m['dropped']} dropped"
            + (f" ({', '.join(f'{k} {v}' for k, v in sorted(self.drops.items()))})" if self.drops else "")
            + f", {m['duplicated']} duplicated",
        ]
        ops = self.operations
        total = sum(ops.values())
        lines.append(
            f"client operations: {total} completed: {ops['ok']} ok, {ops['fail']} fail, {ops['info']} unknown"
        )
        if self.latencies:
            pct = self.latency_percentiles()
            lines.append(
                "latency (ok ops): "
                + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in pct.items())
            )
        lines.append("per node: " + "; ".join(
            f"{n}: {c['sent']} sent, {c['delivered']} recv" + (f", {c['crash']} crash" if c["crash"] else "")
            + (f", {c['restart']} restart" if c["restart"] else "")
            for n, c in sorted(self.per_node.items())
        ))
        for err in self.errors:
            lines.append("node error: " + err)
        return "\n".join(lines)


def summarize(events: Iterable[Event]) -> Summary:
    s = Summary()
    invoked: dict[int, float] = {}
    node_counts = s.per_node
    for e in events:
        kind = e["type"]
        node = str(e.get("node"))
        if node not in node_counts and "node" in e:
            node_counts[node] = Counter()
        t = e.get("t", 0.0)
        s.duration = max(s.duration, t)
        if kind == "send":
            s.messages["sent"] += 1
            s.per_type[e["msg"]] += 1
            node_counts[node]["sent"] += 1
        elif kind == "deliver":
            s.messages["delivered"] += 1
            node_counts[node]["delivered"] += 1
        elif kind == "drop":
            s.messages["dropped"] += 1
            s.drops[e["reason"]] += 1
        elif kind == "duplicate":
            s.messages["duplicated"] += 1
        elif kind in ("crash", "restart", "pause"):
            node_counts[node][kind] += 1
            if kind == "crash" and e.get("error"):
                s.errors.append(f"{node} at t={t:.3f}: {e['error'].strip().splitlines()[-1]}")
        elif kind == "invoke":
            invoked[e["index"]] = t
        elif kind == "complete":
            s.operations[e["outcome"]] += 1
            if e["outcome"] == "ok" and e["index"] in invoked:
                s.latencies.append(t - invoked[e["index"]])
    return s


def iter_node_events(events: Iterable[Event], node: str) -> Iterator[Event]:
    return (e for e in events if e.get("node") == node)
