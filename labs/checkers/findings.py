"""Checkers' verdicts as a lab's findings: what a lab check reports when a history is not linearizable.

A lab check (``Lab.checks``) returns its violations as :class:`~labs.runtime.lab.Finding` s: one
line naming what went wrong, with the evidence behind it. Every lab whose clients must see one
linearizable object (the RPC lab's versioned store, the Raft lab's key-value service) says it the
same way, written here once: the line names the partition (a key) and why no order of its
operations works; the details are the shrunk counterexample in words, the html its picture.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from labs.runtime.lab import Check, Finding, RunResult

from .history import pair_calls
from .linearizability import check
from .model import Model

TIMEOUT = 20.0
"""Seconds the search may take before the verdict is "unknown": far more than a lab's histories
need, so that running out of time says the history itself is tangled."""


def linearizability_findings(history: Iterable[Mapping[str, Any]], model: Model, hint: str = "",
                             timeout: float = TIMEOUT) -> list[Finding]:
    """Nothing when ``history`` (a run's client history) is linearizable under ``model``; else
    one finding: that the check ran out of time, or that the history is not linearizable, with
    why, the lab's ``hint`` (what to look at in one's code) in brackets, the counterexample as
    details and its picture as html."""
    result = check(history, model, timeout=timeout)
    if result.verdict == "ok":
        return []
    if result.verdict == "unknown":
        return [Finding("the linearizability check ran out of time (the history is too tangled to "
                        "decide: are operations taking very long?)", result.explain())]
    cx = result.counterexample
    assert cx is not None
    why = result.explain().splitlines()[-1]
    also = f" ({hint})" if hint else ""
    return [Finding(f"not linearizable ({cx.partition}): {why}{also}", result.explain(), result.to_html())]


def operations_complete(share: float, hint: str) -> Check:
    """A lab check: at least ``share`` of the clients' operations complete in time; if not, the
    finding ends with the lab's ``hint`` (what to look at in one's code)."""

    def completes(run: RunResult) -> list[Finding]:
        ops = [end for _, end in pair_calls(run.history) if end is not None]
        if not ops:
            return [Finding("no client operation ended at all")]
        done = sum(1 for end in ops if end["type"] == "ok")
        if done >= share * len(ops):
            return []
        return [Finding(f"only {done} of {len(ops)} operations completed ({done / len(ops):.0%}, expected at "
                        f"least {share:.0%}): {hint}")]

    completes.__doc__ = f"At least {share:.0%} of the clients' operations complete in time."
    return completes
