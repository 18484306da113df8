"""The primary-backup lab's workloads: what each client asks for next."""

from __future__ import annotations

import random

from labs.runtime.node import Op

KEYS = ("a", "b", "c")


def _tag(rng: random.Random, client: int) -> str:
    return f"c{client}.{rng.getrandbits(24):06x};"


def mixed(rng: random.Random, client: int) -> Op:
    """Gets, puts and appends over three keys; written values are unique, so a value read names
    the operations that wrote it."""
    key = rng.choice(KEYS)
    r = rng.random()
    if r < 0.4:
        return Op("get", key)
    if r < 0.6:
        return Op("put", key, _tag(rng, client))
    return Op("append", key, _tag(rng, client))


def one_key(rng: random.Random, client: int) -> Op:
    """Appends to one key with a get now and then: an append executed twice, or lost, shows."""
    if rng.random() < 0.3:
        return Op("get", "log")
    return Op("append", "log", _tag(rng, client))


def reader_and_writers(rng: random.Random, client: int) -> Op:
    """Client 0 only reads key ``a``; the others append to it: a read that misses an append
    finished before it began shows, and so does an append lost later."""
    if client == 0:
        return Op("get", "a")
    return Op("append", "a", _tag(rng, client))


WORKLOADS = {"mixed": mixed, "one-key": one_key, "reader-and-writers": reader_and_writers}
