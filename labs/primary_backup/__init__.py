"""The ``primary_backup`` lab: a view service that says who is primary and who is backup, and
key-value servers replicated primary to backup, with no split brain (see
:mod:`labs.primary_backup.node` and the handout).

``python -m labs run primary_backup`` runs the reference; ``python -m autograder test
primary_backup`` runs the lab's test suite (``suite.yaml``) against it, or a student's ``--impl``.
"""

from __future__ import annotations

from labs.runtime.lab import Lab, Workload, no_node_errors

from .checks import linearizable, roles_in
from .node import PBClerk, PBNode
from .workloads import mixed

LAB = Lab(
    name="primary_backup",
    description="a view service, and key-value servers replicated primary to backup with no split brain",
    node=PBNode,
    clerk=PBClerk,
    workload=Workload(generate=mixed, clients=3, timeout=2.0, think=0.02),
    nodes=4,
    min_duration=3.0,
    settle=2.0,
    checks=(no_node_errors, linearizable),
    roles=("primary", "backup"),
    role_holders=roles_in,  # the view the view service announced last, never a server's own word
    default_schedule="none",
)

__all__ = ["LAB", "PBClerk", "PBNode"]
