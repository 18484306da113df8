"""The ``raft`` lab: leader election (A), log replication (B), persistence (C), snapshots (D)
and a linearizable key-value service on top (E, the lab's ``kv`` variant), see
:mod:`labs.raft.node` and the handout.

``python -m labs run raft --schedule leader-isolated`` runs the reference; ``python -m
autograder test raft --part A`` runs part A of the lab's test suite (``suite.yaml``).
"""

from __future__ import annotations

from labs.runtime.lab import Lab, Workload

from . import timeline  # noqa: F401  (registers the Raft time line drawn under this lab's pictures)
from .checks import DEFAULT_CHECKS
from .harness import RaftClerk
from .kv import kv_mixed, linearizable_kv
from .node import KVClerk, KVServer, RaftNode
from .parse import leader_in
from .workloads import one_at_a_time

KV_LAB = Lab(
    name="raft",
    description="Raft part E: a linearizable key-value service on Raft",
    node=KVServer,
    clerk=KVClerk,
    workload=Workload(generate=kv_mixed, clients=3, timeout=3.0, think=0.02),
    nodes=3,
    min_duration=4.0,
    settle=3.0,
    checks=(*DEFAULT_CHECKS, linearizable_kv),
    default_schedule="none",
    role_holders=leader_in,  # from the AppendEntries the runtime saw sent, never a node's word
)

LAB = Lab(
    name="raft",
    description="Raft: leader election, log replication, persistence and snapshots",
    node=RaftNode,
    clerk=RaftClerk,
    workload=Workload(generate=one_at_a_time, clients=3, timeout=3.0, think=0.02),
    nodes=5,
    min_duration=4.0,
    settle=3.0,
    checks=DEFAULT_CHECKS,
    default_schedule="none",
    role_holders=leader_in,  # from the AppendEntries the runtime saw sent, never a node's word
    variants={"kv": KV_LAB},
)

__all__ = ["KV_LAB", "LAB", "KVClerk", "KVServer", "RaftClerk", "RaftNode"]
