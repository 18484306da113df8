"""The ``heartbeat`` lab: a monitor that suspects members whose heartbeats stop (see
:mod:`labs.heartbeat.node` and the handout). It is also the example of a lab: every part a lab
can have is here, small enough to copy (the instructors' page "Adding a lab" walks through it).

``python -m labs run heartbeat --schedule crash-restart`` runs the reference; ``python -m
autograder test heartbeat`` runs the lab's suite (``suite.yaml``) against it, or a student's
``--impl``.
"""

from __future__ import annotations

from labs.runtime.lab import Lab, Workload, no_node_errors

from .checks import answers_arrive, crashed_members_suspected, living_members_trusted
from .node import HeartbeatClerk, HeartbeatNode
from .workloads import ask

LAB = Lab(
    name="heartbeat",
    description="a monitor that suspects the members whose heartbeats stop, and only those",
    node=HeartbeatNode,
    clerk=HeartbeatClerk,
    workload=Workload(generate=ask, clients=2, timeout=1.0, think=0.1),
    nodes=4,
    min_duration=4.0,
    settle=1.0,
    checks=(no_node_errors, answers_arrive, crashed_members_suspected, living_members_trusted),
    default_schedule="crash-restart",
)

__all__ = ["LAB", "HeartbeatClerk", "HeartbeatNode"]
