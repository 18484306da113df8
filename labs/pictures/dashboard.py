"""The numbers beside the diagram: latency percentiles, a latency histogram, throughput over time
and message counts per type and node.

They are computed here, with the runtime's own :func:`~labs.runtime.trace.summarize` and
:func:`~labs.runtime.trace.percentile`, so that the picture shows exactly the figures
``python -m labs run`` prints, and the JavaScript only draws bars.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from labs.runtime.trace import Event, Summary, summarize

HISTOGRAM_BINS = 30
THROUGHPUT_BINS = 80
CDF_POINTS = 200
NICE_STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0,
              30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass
class Dashboard:
    percentiles: dict[str, float | None]
    """p50, p90, p99, p99.9 and max of the latencies of ``ok`` operations, in seconds."""
    operations: dict[str, int]
    latencies: int
    histogram_edges: list[float] = field(default_factory=list)
    """Bin edges in seconds, spaced evenly on a log scale (latencies have long tails)."""
    histogram: list[int] = field(default_factory=list)
    cdf: list[tuple[float, float]] = field(default_factory=list)
    bin_width: float = 1.0
    throughput: dict[str, list[int]] = field(default_factory=dict)
    """Completed operations per time bin of ``bin_width`` seconds, by outcome."""
    types: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    sent: dict[str, dict[str, int]] = field(default_factory=dict)
    """Messages sent, by type then by sender."""
    per_node: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per node: sent, delivered (received), dropped (of its sends), crash, restart, pause."""
    dropped_by_type: dict[str, int] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        return {
            "pct": self.percentiles,
            "ops": self.operations,
            "n": self.latencies,
            "hist": {"edges": [round(x, 7) for x in self.histogram_edges], "counts": self.histogram},
            "cdf": [[round(x, 7), round(p, 5)] for x, p in self.cdf],
            "tp": {"width": self.bin_width, **self.throughput},
            "types": self.types,
            "nodes": self.nodes,
            "sent": self.sent,
            "per_node": self.per_node,
            "dropped_by_type": self.dropped_by_type,
            "drops": self.drops,
        }


def build_dashboard(events: Sequence[Event], duration: float) -> Dashboard:
    summary = summarize(events)
    pct = {k: (None if math.isnan(v) else v) for k, v in summary.latency_percentiles().items()}
    ops = dict(summary.operations)
    pending = sum(1 for e in events if e["type"] == "invoke") - sum(ops.values())
    ops["pending"] = max(0, pending)
    d = Dashboard(percentiles=pct, operations=ops, latencies=len(summary.latencies))
    _latency(d, sorted(summary.latencies))
    _throughput(d, events, duration)
    _messages(d, events, summary)
    return d


def _latency(d: Dashboard, xs: list[float]) -> None:
    if not xs:
        return
    lo, hi = max(xs[0], 1e-6), max(xs[-1], 1e-6)
    if hi <= lo * 1.0001:
        lo, hi = lo / 1.5, hi * 1.5
    a, b = math.log10(lo), math.log10(hi)
    edges = [10 ** (a + (b - a) * i / HISTOGRAM_BINS) for i in range(HISTOGRAM_BINS + 1)]
    edges[0], edges[-1] = lo, hi  # exactly, not as rounded through log10
    counts = [0] * HISTOGRAM_BINS
    for x in xs:
        i = int((math.log10(max(x, 1e-6)) - a) / (b - a) * HISTOGRAM_BINS)
        counts[min(max(i, 0), HISTOGRAM_BINS - 1)] += 1
    d.histogram_edges, d.histogram = edges, counts
    n = len(xs)
    step = max(1, n // CDF_POINTS)
    idx = sorted({*range(0, n, step), n - 1})
    d.cdf = [(xs[i], (i + 1) / n) for i in idx]


def nice_step(span: float, bins: int) -> float:
    """The smallest round bin width that cuts ``span`` seconds into at most ``bins`` bins."""
    raw = span / bins if span > 0 else 0.1
    return next((s for s in NICE_STEPS if s >= raw), NICE_STEPS[-1])


def _throughput(d: Dashboard, events: Sequence[Event], duration: float) -> None:
    width = nice_step(duration, THROUGHPUT_BINS)
    n = max(1, math.ceil(duration / width + 1e-9))
    series = {k: [0] * n for k in ("ok", "fail", "info")}
    for e in events:
        if e["type"] == "complete" and e["outcome"] in series:
            series[e["outcome"]][min(n - 1, int(e["t"] / width))] += 1
    d.bin_width, d.throughput = width, series


def _messages(d: Dashboard, events: Sequence[Event], summary: Summary) -> None:
    """Sends by type and sender, and drops by type and sender (``summarize`` has the rest)."""
    sent: dict[str, Counter[str]] = defaultdict(Counter)
    per_node: dict[str, Counter[str]] = defaultdict(Counter, summary.per_node)
    type_of: dict[int, str] = {}
    dropped_by_type: Counter[str] = Counter()
    for e in events:
        if e["type"] == "send":
            sent[e["msg"]][e["node"]] += 1
            type_of[e["id"]] = e["msg"]
        elif e["type"] == "drop":
            per_node[e["src"]]["dropped"] += 1
            dropped_by_type[type_of.get(e["id"], "?")] += 1
    d.types = sorted(sent, key=lambda t: (-sum(sent[t].values()), t))
    d.nodes = sorted(per_node, key=lambda n: (n.startswith("c"), len(n), n))
    d.sent = {t: dict(sent[t]) for t in d.types}
    d.per_node = {n: dict(per_node[n]) for n in d.nodes}
    d.dropped_by_type = dict(dropped_by_type)
    d.drops = dict(summary.drops)
