"""The lab runtime: the node API, fault schedules, traces, and the two runtimes.

Pure Python: nothing here imports Ray or Jupyter at module level (only the Ray runtime's modules
import Ray, and only when a Ray run is asked for).
"""

from .codec import Codec, SerializationError
from .lab import Lab, RunResult, Workload, get_lab, lab_names
from .network import Delay, Network
from .node import (
    Clerk,
    Endpoint,
    Node,
    NodeDefinitionError,
    NodeError,
    Op,
    SharedFiles,
    Storage,
    TimerId,
    on,
    on_timer,
)
from .run import run
from .schedule import Schedule, ScheduleError, builder, library, load, loads, parse
from .sim import Simulation, first_difference, run_sim
from .trace import Summary, history_from_trace, read_trace, summarize, write_trace

__all__ = [
    "Clerk",
    "Codec",
    "Delay",
    "Endpoint",
    "Lab",
    "Network",
    "Node",
    "NodeDefinitionError",
    "NodeError",
    "Op",
    "RunResult",
    "Schedule",
    "ScheduleError",
    "SerializationError",
    "SharedFiles",
    "Simulation",
    "Storage",
    "Summary",
    "TimerId",
    "Workload",
    "builder",
    "first_difference",
    "get_lab",
    "history_from_trace",
    "lab_names",
    "library",
    "load",
    "loads",
    "on",
    "on_timer",
    "parse",
    "read_trace",
    "run",
    "run_sim",
    "summarize",
    "write_trace",
]
