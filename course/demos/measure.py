"""Numbers read from a finished run: latency percentiles, counts, backlogs over time.

Everything here reads a run's trace or client history, never a live node, like the autograder's
checkers. The percentile is the runtime's own (nearest rank), so the numbers match what
``python -m labs run`` prints and what the pictures' dashboard shows.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from labs.checkers import pair_calls
from labs.runtime.lab import RunResult
from labs.runtime.trace import Event, percentile

Series = list[tuple[float, float]]


def latencies(run: RunResult, start: float = 0.0, end: float = math.inf) -> list[float]:
    """Seconds each ``ok`` client operation took, for operations invoked in ``[start, end)``."""
    return [done["time"] - call["time"] for call, done in pair_calls(run.history)
            if done is not None and done["type"] == "ok" and start <= call["time"] < end]


def latency_stats(samples: Sequence[float]) -> dict[str, float]:
    """Mean, p50, p90, p99, p99.9 and max of latencies in seconds (NaN when there are none)."""
    xs = sorted(samples)
    if not xs:
        return {k: math.nan for k in ("mean", "p50", "p90", "p99", "p99.9", "max")}
    return {"mean": statistics.fmean(xs), "p50": percentile(xs, 50), "p90": percentile(xs, 90),
            "p99": percentile(xs, 99), "p99.9": percentile(xs, 99.9), "max": xs[-1]}


def in_ms(stats: dict[str, float]) -> dict[str, float]:
    """The same numbers in milliseconds, rounded to a tenth."""
    return {k: round(v * 1000, 1) for k, v in stats.items()}


def outcomes(run: RunResult) -> dict[str, int]:
    """How many client operations ended ``ok``, ``fail`` (certainly no effect) and ``info``
    (unknown: the client gave up waiting)."""
    out = {"ok": 0, "fail": 0, "info": 0}
    for h in run.history:
        if h["type"] in out:
            out[h["type"]] += 1
    return out


def bodies(run: RunResult) -> dict[int, Any]:
    """The encoded body of every message sent, by message id."""
    return {e["id"]: e["body"] for e in run.trace if e["type"] == "send"}


def sent(run: RunResult, msg: str, start: float = 0.0, end: float = math.inf,
         node: str | None = None) -> int:
    """How many messages of type ``msg`` were sent in ``[start, end)`` (by ``node`` if given)."""
    return sum(1 for e in run.trace if e["type"] == "send" and e["msg"] == msg
               and start <= e["t"] < end and (node is None or e["node"] == node))


def in_server(run: RunResult, node: str, request: str, reply: str) -> Series:
    """Requests inside ``node`` over time (waiting or being served), as a step series.

    It counts ``request`` messages delivered to ``node`` minus ``reply`` messages it sent: it
    assumes the node answers every request exactly once, as the demo servers do.
    """
    kinds: dict[int, str] = {}
    level = 0
    out: Series = [(0.0, 0.0)]
    for e in run.trace:
        kind = e["type"]
        if kind == "send":
            kinds[e["id"]] = e["msg"]
            if e["node"] == node and e["msg"] == reply:
                level -= 1
                out.append((e["t"], float(level)))
        elif kind == "deliver" and e["node"] == node and kinds.get(e["id"]) == request:
            level += 1
            out.append((e["t"], float(level)))
    return out


def time_average(series: Series, start: float, end: float) -> float:
    """The average height of a step series over ``[start, end)``."""
    if end <= start:
        return math.nan
    area = 0.0
    level = 0.0
    t = start
    for x, y in series:
        if x > start:
            area += level * (min(x, end) - t)
            t = min(x, end)
        if x >= end:
            break
        level = y
    area += level * (end - t)
    return area / (end - start)


def rate(events: Iterable[Event], width: float, end: float,
         keep: Callable[[Event], bool] = lambda e: True) -> Series:
    """Events per second in windows of ``width`` seconds up to ``end``, at each window's middle."""
    n = max(1, math.ceil(end / width))
    counts = [0] * n
    for e in events:
        if keep(e) and 0 <= e["t"] < n * width:
            counts[int(e["t"] / width)] += 1
    return [((i + 0.5) * width, c / width) for i, c in enumerate(counts)]


def ok_rate(run: RunResult, width: float = 0.25) -> Series:
    """Client operations completed ``ok`` per second, over time (the *goodput*)."""
    end = max((e["t"] for e in run.trace if "t" in e), default=0.0)
    return rate(run.trace, width, end, lambda e: e["type"] == "complete" and e["outcome"] == "ok")


def send_rate(run: RunResult, msg: str, width: float = 0.1) -> Series:
    """Messages of type ``msg`` sent per second, over time."""
    end = max((e["t"] for e in run.trace if "t" in e), default=0.0)
    return rate(run.trace, width, end, lambda e: e["type"] == "send" and e["msg"] == msg)


def log_lines(run: RunResult) -> dict[str, int]:
    """How many ``self.log`` lines each node wrote."""
    out: dict[str, int] = {}
    for e in run.trace:
        if e["type"] == "log":
            out[e["node"]] = out.get(e["node"], 0) + 1
    return out
