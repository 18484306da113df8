"""The seeded generator of long key-value histories (benchmarks/lin_histories.py): the same
history for a seed, and the verdict its flavour promises."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from labs.checkers.history import Operation
from labs.checkers.linearizability import check
from labs.checkers.standard_models import KV
from labs.checkers.wgl import SLICE, SearchResult, searching

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from lin_histories import FLAVOURS, generate


def test_a_seed_gives_the_same_history_and_another_seed_another() -> None:
    assert generate(800, 12, "stale", seed=3) == generate(800, 12, "stale", seed=3)
    assert generate(800, 12, "stale", seed=3) != generate(800, 12, "stale", seed=4)


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_flavour_gets_its_verdict(flavour: str, seed: int) -> None:
    ops = generate(1500, 12, flavour, seed=seed, unknown=0.03)
    assert len(ops) == 1500 and any(o.pending for o in ops)
    result = check(ops, KV, timeout=60, shrink=False)
    assert result.verdict == ("ok" if flavour == "ok" else "illegal"), result.explain()
    assert result.seconds >= result.search_seconds + result.shrink_seconds - 1e-6
    if flavour == "ok":  # nothing to shrink; without shrinking, the counterexample is the search's
        assert result.shrink_seconds == 0


def _search_within(part: list[Operation], budget: int, hopeless: bool) -> SearchResult | None:
    """The search's result if it ends within ``budget`` steps, else None: a count of steps, not
    seconds, so the verdict does not depend on how busy the machine is."""
    run = searching(KV, part, hopeless=hopeless)
    try:
        for _ in range(budget // SLICE):
            next(run)
    except StopIteration as stop:
        result: SearchResult = stop.value
        return result
    run.close()
    return None


def test_a_stale_read_is_found_hopeless_by_the_last_write_before_it() -> None:
    """A stale read among 800 operations on one key: the search without the 'hopeless' shortcut
    tries order after order before it (71,284 steps) and is still trying after fifty times the
    steps the search with it takes at most (633 here); with it,
    the read is asked once whether the last write before it can leave its value (a write that
    returned before the read was called comes first, and the last write follows it), and the
    answer ends the search."""
    ops = generate(8000, 40, "stale", seed=1)
    parts: dict[str, list[Operation]] = {}
    for o in ops:
        parts.setdefault(o.input.key, []).append(o)
    results = {key: _search_within(part, 100_000, hopeless=True) for key, part in parts.items()}
    assert all(r is not None for r in results.values()), "a search of 800 operations ran out of steps"
    (broken,) = [key for key, r in results.items() if r is not None and r.legal is False]
    assert all(r is not None and r.legal for key, r in results.items() if key != broken)
    found = results[broken]
    assert found is not None and found.steps < 1_000
    assert _search_within(parts[broken], 50 * 1_000, hopeless=False) is None


@pytest.mark.parametrize(("flavour", "why"), [
    ("junk", "no operation left can bring the state to that result"),
    ("stale", "no write that can be that last one leaves this result"),
])
def test_the_report_names_the_broken_read_and_keeps_no_other(flavour: str, why: str) -> None:
    """The search says which read it found hopeless: shrinking cuts the history where that read
    returns and drops every other read (they played no part in the verdict), and the report
    names that read, marks it, and says why no order makes it true."""
    ops = generate(8000, 40, flavour, seed=1)
    result = check(ops, KV, timeout=60)
    cx = result.counterexample
    assert result.verdict == "illegal" and cx is not None
    reads = [o for o in cx.operations if o.input.f == "get"]
    assert reads == [cx.stuck], [str(o) for o in reads[:5]]
    assert cx.stuck.output == "{junk}" if flavour == "junk" else cx.stuck.output != "{junk}"
    assert f"#{cx.stuck.id}" in cx.reason and why in cx.reason, cx.reason
    assert max(o.call for o in cx.operations) <= cx.stuck.ret  # nothing called after it returned
