"""The demo lab's checks, read from a finished run's trace and history (never from live nodes).

``counter_is_consistent`` checks conditions every linearizable counter history meets; the full
linearizability checker lives in :mod:`labs.checkers`.
"""

from __future__ import annotations

import bisect
from typing import Any

from labs.checkers.history import pair_calls
from labs.runtime.lab import Finding, RunResult


def no_node_errors(run: RunResult) -> list[Finding]:
    """No handler raised."""
    return [Finding(f"a node raised: {e.strip().splitlines()[0]}", e) for e in run.errors]


def _ok_ops(run: RunResult) -> list[dict[str, Any]]:
    return [{"f": h["f"], "value": h["value"], "start": call["time"], "end": h["time"], "client": h["client"]}
            for call, h in pair_calls(run.history) if h is not None and h["type"] == "ok"]


def _show(op: dict[str, Any]) -> str:
    return f"{op['f']} by {op['client']} during [{op['start']:.3f}, {op['end']:.3f}] -> {op['value']}"


def counter_is_consistent(run: RunResult) -> list[Finding]:
    """Increments return distinct values, nothing goes back in time, nothing comes from nowhere."""
    ops = _ok_ops(run)
    problems: list[Finding] = []
    seen: dict[int, dict[str, Any]] = {}
    for op in ops:
        if not isinstance(op["value"], int):
            problems.append(Finding(f"{_show(op)}: the result is not an integer"))
            return problems
        if op["f"] == "incr":
            if op["value"] in seen:
                problems.append(Finding(f"two increments returned {op['value']}: {_show(seen[op['value']])} and {_show(op)}"))
            seen[op["value"]] = op
    # Whatever completed before an operation started bounds its result from below.
    by_end = sorted(ops, key=lambda o: o["end"])
    ends = [o["end"] for o in by_end]
    best: list[dict[str, Any]] = []
    for o in by_end:
        best.append(o if not best or o["value"] >= best[-1]["value"] else best[-1])
    for op in ops:
        i = bisect.bisect_left(ends, op["start"])
        if i == 0:
            continue
        before = best[i - 1]
        if op["value"] < before["value"] or (op["f"] == "incr" and op["value"] == before["value"]):
            problems.append(Finding(f"stale result: {_show(op)}, but {_show(before)} had already finished"))
    # No value higher than the number of increments started before the operation ended.
    starts = sorted(h["time"] for h in run.history if h["type"] == "invoke" and h["f"] == "incr")
    for op in ops:
        started = bisect.bisect_right(starts, op["end"])
        if op["value"] > started:
            problems.append(Finding(f"{_show(op)}: only {started} increments had started by then"))
    return problems[:5]


def recovers_after_heal(run: RunResult) -> list[Finding]:
    """Once the schedule has healed everything, clients get answers again."""
    healed = run.schedule.end()
    done = [h for h in run.history if h["type"] == "ok" and h["time"] > healed]
    if not done:
        return [Finding(f"no client operation succeeded after the final heal at t={healed:g}")]
    return []
