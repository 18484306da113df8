"""Reading a suite document's fields: each problem is added to a list, named by its place, with
the names that would have been accepted (shared by :mod:`.suite` and :mod:`.search_tests`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labs.runtime.validate import did_you_mean


def count(raw: Any, where: str, problems: list[str]) -> int:
    """A whole number, 0 or more (0 after a problem)."""
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 0:
        problems.append(f"{where}: a whole number (0 or more), not {raw!r}")
        return 0
    return raw


def known_keys(raw: dict[str, Any], allowed: set[str] | Sequence[str], where: str, problems: list[str]) -> None:
    """Every key of ``raw`` is one of ``allowed``."""
    for key in raw:
        if key not in allowed:
            hint = did_you_mean(str(key), allowed) or f" (known: {', '.join(sorted(allowed))})"
            problems.append(f"{where}: unknown field {key!r}{hint}")
