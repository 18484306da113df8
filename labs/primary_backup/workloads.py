"""The primary-backup lab's workloads: what each client asks for next (see
:mod:`labs.runtime.kv_workloads`)."""

from __future__ import annotations

import random

from labs.runtime.kv_workloads import appends, mixed, unique_value
from labs.runtime.node import Op


def one_key(rng: random.Random, client: int) -> Op:
    """Appends to one key with a get now and then: an append executed twice, or lost, shows."""
    return appends(rng, client, gets=0.3)


def reader_and_writers(rng: random.Random, client: int) -> Op:
    """Client 0 only reads key ``a``; the others append to it: a read that misses an append
    finished before it began shows, and so does an append lost later."""
    if client == 0:
        return Op("get", "a")
    return Op("append", "a", unique_value(rng, client))


WORKLOADS = {"mixed": mixed, "one-key": one_key, "reader-and-writers": reader_and_writers}

__all__ = ["WORKLOADS", "mixed", "one_key", "reader_and_writers"]
