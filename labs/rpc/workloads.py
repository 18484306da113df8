"""What the RPC lab's clients ask for: a few named workloads that the test suite picks from.

Each is a function ``(rng, client) -> Op``. Written values are unique (a random tag from the
workload's seeded generator), so that a value in a reply names the operation that wrote it.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from labs.runtime.kv_workloads import KEYS, appends, unique_value
from labs.runtime.node import Op


def mixed(rng: random.Random, client: int) -> Op:
    """Gets, conditional puts and appends over three keys."""
    key = rng.choice(KEYS)
    r = rng.random()
    if r < 0.4:
        return Op("get", key)
    if r < 0.7:
        return Op("put", key, [unique_value(rng, client), rng.randint(0, 5)])
    return Op("append", key, unique_value(rng, client))


def one_key_appends(rng: random.Random, client: int) -> Op:
    """Appends to one key, with a get now and then: every append must show up exactly once."""
    return appends(rng, client, gets=0.2)


def racing_puts(rng: random.Random, client: int) -> Op:
    """Conditional puts on one key, each for a version that is likely current: at most one put
    per version may win. Gets show which did."""
    if rng.random() < 0.25:
        return Op("get", "x")
    return Op("put", "x", [unique_value(rng, client), rng.randint(0, 3)])


def fresh_puts(rng: random.Random, client: int) -> Op:
    """Puts over a few keys that keep no history (puts replace the value): the store stays the
    same size however long the run, so whatever grows is bookkeeping."""
    key = rng.choice(KEYS)
    if rng.random() < 0.3:
        return Op("get", key)
    return Op("put", key, [unique_value(rng, client), rng.randint(0, 2)])


WORKLOADS: dict[str, Callable[[random.Random, int], Op]] = {
    "mixed": mixed,
    "one-key-appends": one_key_appends,
    "racing-puts": racing_puts,
    "fresh-puts": fresh_puts,
}
