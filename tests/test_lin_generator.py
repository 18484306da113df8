"""The seeded generator of long key-value histories (benchmarks/lin_histories.py): the same
history for a seed, and the verdict its flavour promises."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from labs.checkers.linearizability import check
from labs.checkers.standard_models import KV

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


def test_a_stale_read_is_found_hopeless_by_the_last_write_before_it() -> None:
    """A stale read among 800 operations on one key: the search without the 'hopeless' shortcut
    tries every order before it and runs out of time; with it, the read is asked once whether
    the last write before it can leave its value (a write that returned before the read was
    called comes first, and the last write follows it), and the answer ends the search."""
    ops = generate(8000, 40, "stale", seed=1)
    parts = {}
    for o in ops:
        parts.setdefault(o.input.key, []).append(o)
    verdicts = {key: check(part, KV, timeout=20, shrink=False).verdict for key, part in parts.items()}
    (broken,) = [key for key, verdict in verdicts.items() if verdict == "illegal"]
    assert set(verdicts.values()) == {"ok", "illegal"}
    assert check(parts[broken], KV, timeout=2, shrink=False, hopeless=False).verdict == "unknown"
