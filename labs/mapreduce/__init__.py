"""The ``mapreduce`` lab: a coordinator and workers that run MapReduce jobs over the shared files,
surviving workers that crash or crawl (see :mod:`labs.mapreduce.node` and the handout).

``python -m labs run mapreduce`` runs the reference on a word count; ``python -m autograder test
mapreduce`` runs the lab's test suite (``suite.yaml``) against it, or against a student's ``--impl``.
"""

from __future__ import annotations

from labs.runtime.lab import Lab, Workload

from .checks import job_completes, no_node_errors, output_correct
from .node import JobClient, MapReduceNode
from .workloads import WORKLOADS

LAB = Lab(
    name="mapreduce",
    description="a MapReduce coordinator and workers that survive crashed and slow workers",
    node=MapReduceNode,
    clerk=JobClient,
    workload=Workload(generate=WORKLOADS["word-count"], clients=1, timeout=5.5, think=60.0),
    nodes=4,
    min_duration=5.0,
    settle=1.0,
    checks=(no_node_errors, job_completes, output_correct),
    default_schedule="none",
)

__all__ = ["LAB", "JobClient", "MapReduceNode"]
