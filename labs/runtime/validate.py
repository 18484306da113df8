"""Reading documents written by people: every problem found at once, each naming its field.

Schedules, networks and fault events are read with a :class:`Checker`, which collects problems
instead of stopping at the first one, so that one error message lists them all::

    events[2].loss: must be between 0 and 1, got 1.5
    events[3].crash: unknown node 'n9' (did you mean 'n3'?); this cluster has n1, n2, n3
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["Checker", "did_you_mean"]


def did_you_mean(word: str, options: set[str] | Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options``, or nothing."""
    m = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {m[0]!r}?)" if m else ""


class Checker:
    """Collects problems while reading a document, so one error lists them all."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def number(self, v: Any, where: str, lo: float | None = None, hi: float | None = None) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            self.fail(where, f"must be a number, got {v!r}")
            return lo if lo is not None else 0.0
        if lo is not None and v < lo:
            self.fail(where, f"must be {'at least ' + format(lo, 'g') if lo else 'non-negative'}, got {v!r}")
        if hi is not None and v > hi:
            self.fail(where, f"must be at most {hi:g}, got {v!r}")
        return float(v)

    def probability(self, v: Any, where: str) -> float:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not 0 <= v <= 1:
            self.fail(where, f"must be between 0 and 1, got {v!r}")
            return 0.0
        return self.number(v, where, 0.0, 1.0)

    def name(self, v: Any, where: str) -> str:
        if not isinstance(v, str) or not v:
            self.fail(where, f"must be a node name, got {v!r}")
            return "?"
        return v

    def keys(self, d: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for k in d:
            if k not in allowed:
                hint = did_you_mean(str(k), allowed)
                self.fail(f"{where}.{k}" if where else str(k), f"unknown key{hint}; allowed: {', '.join(sorted(allowed))}")
