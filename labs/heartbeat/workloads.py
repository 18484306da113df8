"""What the heartbeat lab's clients do: ask the monitor whom it suspects, again and again.

Each workload is a function ``(rng, client) -> Op``, named here for ``suite.yaml``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from labs.runtime.node import Op


def ask(rng: random.Random, client: int) -> Op:
    """One question: whom does the monitor suspect?"""
    return Op("suspects")


WORKLOADS: dict[str, Callable[[random.Random, int], Op]] = {"ask": ask}
