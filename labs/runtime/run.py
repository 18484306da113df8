"""One entry point for both runtimes: ``run(lab, runtime="sim" | "ray", ...)``."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

from .lab import Lab, RunResult, get_lab, load_submission
from .schedule import Schedule, load
from .sim import run_sim

RUNTIMES = ("sim", "ray")


def resolve(
    lab: str | Lab, schedule: str | Path | Schedule | None, impl: str | Path | None
) -> tuple[Lab, Schedule]:
    """The lab (with a student's implementation swapped in) and the schedule to run."""
    the_lab = get_lab(lab) if isinstance(lab, str) else lab
    if impl is not None:
        the_lab = the_lab.with_impl(impl)
    if schedule is None:
        schedule = the_lab.default_schedule
    the_schedule = schedule if isinstance(schedule, Schedule) else load(schedule)
    return the_lab, the_schedule


def run(
    lab: str | Lab,
    runtime: str = "sim",
    schedule: str | Path | Schedule | None = None,
    seed: int = 0,
    impl: str | Path | None = None,
    trace: str | Path | None = None,
    **ray_options: Any,
) -> RunResult:
    """Run a lab's standard workload under a schedule and return the result.

    ``schedule`` is a library name, a path to a YAML/JSON file or a :class:`Schedule`;
    ``impl`` is a student's implementation (its file or folder); ``trace`` is where to write the
    trace. ``ray_options`` go to :func:`labs.runtime.ray_runtime.run_ray`.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    the_lab, the_schedule = resolve(lab, schedule, impl)
    if runtime == "sim":
        if the_lab.impl_source is not None:  # the simulator imports student code where it runs
            server, clerk = load_submission(the_lab.impl_source, Path(tempfile.mkdtemp(prefix="submission-")))
            the_lab = dataclasses.replace(the_lab, node=server, clerk=clerk, impl_source=None)

        result = run_sim(the_lab, the_schedule, seed)
    else:
        # kept here: the Ray runtime (Ray, and the nursery's Linux-only calls) loads only for a Ray run
        from .ray_runtime import run_ray

        result = run_ray(the_lab, the_schedule, seed, **ray_options)
    if trace is not None:
        result.write_trace(trace)
    return result
