"""What the Raft lab's clients submit: batches of commands, each unique, so that a command seen
in the log names the client operation that started it.

Each workload is a function ``(rng, client) -> Op``; the clerk (:class:`~labs.raft.harness.RaftClerk`)
submits ``Op("start", value=[commands...])`` to the leader and completes with their indexes.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from labs.runtime.node import Op

from .kv import kv_appends, kv_mixed


def _command(rng: random.Random, client: int) -> str:
    return f"c{client}.{rng.getrandbits(32):08x}"


def one_at_a_time(rng: random.Random, client: int) -> Op:
    """One command per operation: agreement, one entry at a time."""
    return Op("start", value=[_command(rng, client)])


def bursts(rng: random.Random, client: int) -> Op:
    """Five to twenty commands at once: logs grow fast, so a follower left behind is far
    behind, and a leader cut off with its clients piles up entries that must be thrown away."""
    return Op("start", value=[_command(rng, client) for _ in range(rng.randint(5, 20))])


WORKLOADS: dict[str, Callable[[random.Random, int], Op]] = {
    "one-at-a-time": one_at_a_time,
    "bursts": bursts,
    "kv-mixed": kv_mixed,  # part E: gets, puts and appends
    "kv-appends": kv_appends,
}
