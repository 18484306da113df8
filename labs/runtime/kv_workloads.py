"""Key-value workloads the labs share: what a client asks for next.

Each workload is a function ``(rng, client) -> Op`` that a lab's ``WORKLOADS`` names. Written
values are unique (the client's number and a random tag from the workload's seeded generator),
so a value read names the operation that wrote it, and an append done twice or lost shows.
"""

from __future__ import annotations

import random

from .node import Op

KEYS = ("a", "b", "c")


def unique_value(rng: random.Random, client: int) -> str:
    """A value no other operation writes: ``c<client>.<six hex digits>;``."""
    return f"c{client}.{rng.getrandbits(24):06x};"


def mixed(rng: random.Random, client: int) -> Op:
    """Gets, puts and appends over three keys (two in five of each of gets and appends)."""
    key = rng.choice(KEYS)
    r = rng.random()
    if r < 0.4:
        return Op("get", key)
    if r < 0.6:
        return Op("put", key, unique_value(rng, client))
    return Op("append", key, unique_value(rng, client))


def appends(rng: random.Random, client: int, gets: float, key: str = "log") -> Op:
    """Appends to one key, with a get for a share ``gets`` of the operations."""
    if rng.random() < gets:
        return Op("get", key)
    return Op("append", key, unique_value(rng, client))


__all__ = ["KEYS", "appends", "mixed", "unique_value"]
