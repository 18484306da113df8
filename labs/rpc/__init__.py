"""The ``rpc`` lab: a key-value server that executes each request at most once, over a network
that loses, delays, duplicates and reorders messages (see :mod:`labs.rpc.node` and the handout).

``python -m labs run rpc --schedule lossy`` runs the reference; ``python -m autograder test rpc``
runs the lab's test suite (``suite.yaml``) against it, or against a student's ``--impl``.
"""

from __future__ import annotations

from labs.runtime.lab import Lab, Workload, no_node_errors

from .checks import linearizable
from .node import KVClerk, KVServer
from .workloads import mixed

LAB = Lab(
    name="rpc",
    description="a key-value server with conditional puts that executes every request at most once",
    node=KVServer,
    clerk=KVClerk,
    workload=Workload(generate=mixed, clients=3, timeout=1.0, think=0.01),
    nodes=1,
    min_duration=3.0,
    settle=1.0,
    checks=(no_node_errors, linearizable),
    default_schedule="lossy",
)

__all__ = ["LAB", "KVClerk", "KVServer"]
