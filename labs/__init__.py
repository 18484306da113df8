"""Labs for "Distributed Systems, by Breaking Them".

What a student needs, in one import::

    from dataclasses import dataclass
    from labs import Node, Clerk, Op, on, on_timer

Running a lab: ``labs.run("demo", runtime="sim", schedule="lossy", seed=3)`` or, from a terminal,
``python -m labs run demo --runtime sim --schedule lossy --seed 3``.
"""

from .runtime import (
    Clerk,
    Endpoint,
    Lab,
    Node,
    NodeDefinitionError,
    NodeError,
    Op,
    RunResult,
    Schedule,
    ScheduleError,
    SerializationError,
    SharedFiles,
    Storage,
    Summary,
    TimerId,
    Workload,
    builder,
    get_lab,
    library,
    load,
    on,
    on_timer,
    read_trace,
    run,
    summarize,
)

__all__ = [
    "Clerk",
    "Endpoint",
    "Lab",
    "Node",
    "NodeDefinitionError",
    "NodeError",
    "Op",
    "RunResult",
    "Schedule",
    "ScheduleError",
    "SerializationError",
    "SharedFiles",
    "Storage",
    "Summary",
    "TimerId",
    "Workload",
    "builder",
    "get_lab",
    "library",
    "load",
    "on",
    "on_timer",
    "read_trace",
    "run",
    "summarize",
]
