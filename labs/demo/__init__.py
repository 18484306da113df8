"""The ``demo`` lab: a replicated counter with a leader lease (see :mod:`labs.demo.node`).

It is the runtime's own first lab: chapters use it for live demos, and the tests drive the whole
path (schedules, both runtimes, traces, checks) through it before the course's labs exist.
"""

from __future__ import annotations

import random

from labs.runtime.lab import Lab, Workload
from labs.runtime.node import Op

from .checks import counter_is_consistent, no_node_errors, recovers_after_heal
from .node import CounterClerk, CounterNode


def next_op(rng: random.Random, client: int) -> Op:
    """Half increments, half reads."""
    return Op("incr") if rng.random() < 0.5 else Op("read")


LAB = Lab(
    name="demo",
    description="a counter replicated on a majority, led by a node holding a lease",
    node=CounterNode,
    clerk=CounterClerk,
    workload=Workload(generate=next_op, clients=3, timeout=1.0, think=0.02),
    nodes=5,
    min_duration=3.0,
    settle=3.0,
    checks=(no_node_errors, counter_is_consistent, recovers_after_heal),
    default_schedule="none",
)

__all__ = ["LAB", "CounterClerk", "CounterNode"]
