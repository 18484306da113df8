"""``python -m labs``: run a lab under a schedule, list and check schedules."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
import yaml

from .runtime.lab import get_lab, lab_names
from .runtime.run import RUNTIMES, resolve, run
from .runtime.schedule import ScheduleError, library, load
from .runtime.sim import first_difference
from .runtime.trace import dumps_event, read_trace


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Labs of "Distributed Systems, by Breaking Them"."""


def rerun_command_line(lab: str, runtime: str, schedule: str, seed: int, impl: str | None) -> str:
    """The ``python -m labs run ...`` command line that runs this lab, schedule and seed again."""
    parts = ["python", "-m", "labs", "run", lab, "--runtime", runtime, "--schedule", schedule,
             "--seed", str(seed)]
    if impl:
        parts += ["--impl", impl]
    return shlex.join(parts)


@main.command("run")
@click.argument("lab")
@click.option("--runtime", type=click.Choice(RUNTIMES), default="sim", show_default=True,
              help="sim: deterministic, virtual time. ray: one OS process per node, real time.")
@click.option("--schedule", "schedule_name", default=None,
              help="A library schedule name (see `python -m labs schedules`) or a YAML/JSON file.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--impl", type=click.Path(exists=True), default=None,
              help="Your implementation: the lab's node.py (or its folder). Default: the reference.")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False), default=None,
              help="Write the run's trace (JSON Lines) here.")
@click.option("--address", default=None, help="Ray cluster address (ray runtime); default: local.")
@click.option("--check-determinism", is_flag=True,
              help="Run the seed again in a fresh process (other hash seed) and compare traces.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def run_command(lab: str, runtime: str, schedule_name: str | None, seed: int, impl: str | None,
                trace_path: str | None, address: str | None, check_determinism: bool,
                as_json: bool) -> None:
    """Run LAB's standard workload under a fault schedule and print what happened."""
    try:
        the_lab = get_lab(lab)
        schedule_name = schedule_name or the_lab.default_schedule
        resolve(the_lab, schedule_name, impl)  # fail early on a bad schedule or implementation
    except (LookupError, ScheduleError, FileNotFoundError, AttributeError) as exc:
        raise click.UsageError(str(exc)) from None
    if runtime == "ray":
        # kept here: the Ray runtime (Ray, and the nursery's Linux-only calls) loads only for a Ray run
        from .runtime.ray_runtime import ensure_ray

        ensure_ray(address)
    result = run(the_lab, runtime, schedule_name, seed, impl, trace_path)
    problems = result.violations()
    replay = rerun_command_line(lab, runtime, schedule_name, seed, impl)
    summary = result.summary()
    if as_json:
        click.echo(json.dumps({"summary": summary.to_data(), "violations": [str(p) for p in problems], "replay": replay}))
    else:
        click.echo(f"{lab} on {runtime}, schedule {result.schedule.name!r}, seed {seed}")
        click.echo(summary.render())
        if trace_path:
            click.echo(f"trace: {trace_path}")
        if problems:
            click.echo(click.style(f"FAILED: {len(problems)} violation(s)", fg="red"))
            for p in problems:
                click.echo(f"  - {p}")
            click.echo(f"  schedule: {result.schedule.describe()}")
        else:
            click.echo(click.style("all checks passed", fg="green"))
        click.echo(f"replay: {replay}")
    if check_determinism:
        if runtime != "sim":
            raise click.UsageError("--check-determinism needs --runtime sim (Ray runs in real time)")
        diff = _rerun_elsewhere(lab, schedule_name, seed, impl, result.trace)
        if diff is None:
            click.echo(f"deterministic: a fresh process replayed all {len(result.trace)} trace events identically")
        else:
            i, here, there = diff
            click.echo(click.style(f"NOT deterministic: the traces differ first at event {i}", fg="red"))
            click.echo(f"  this run:  {dumps_event(here) if here else '(trace ended)'}")
            click.echo(f"  the rerun: {dumps_event(there) if there else '(trace ended)'}")
            click.echo("  look for iteration over sets or dicts built from sets, time.time(), "
                       "the random module instead of self.random, or id()")
            sys.exit(3)
    sys.exit(1 if problems else 0)


def _rerun_elsewhere(lab: str, schedule: str, seed: int, impl: str | None,
                     trace: list[dict[str, Any]]) -> tuple[int, Any, Any] | None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rerun.jsonl"
        cmd = [sys.executable, "-m", "labs", "run", lab, "--runtime", "sim", "--schedule", schedule,
               "--seed", str(seed), "--trace", str(out), "--json"]
        if impl:
            cmd += ["--impl", impl]
        env = dict(os.environ, PYTHONHASHSEED=str(12345 + seed))
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=False)
        if not out.exists():
            raise click.ClickException("the rerun in a fresh process failed to write its trace")
        return first_difference(trace, read_trace(out))


@main.command("schedules")
@click.argument("name", required=False)
def schedules_command(name: str | None) -> None:
    """List the schedule library, or show one schedule as YAML."""
    if name is None:
        for n in library():
            s = load(n)
            click.echo(f"{n:28} {s.description}")
        return
    try:
        s = load(name)
    except ScheduleError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(yaml.safe_dump(s.to_data(), sort_keys=False, default_flow_style=None).rstrip())


@main.command("check-schedule")
@click.argument("path")
@click.option("--lab", default="demo", show_default=True, help="Check node names against this lab.")
def check_schedule_command(path: str, lab: str) -> None:
    """Check a schedule file (shape, values and node names) without running anything."""
    try:
        the_lab = get_lab(lab)
        s = load(path)
        expanded = s.expand(the_lab.node_names(), the_lab.client_names(), 0, the_lab.min_duration, the_lab.roles)
    except ScheduleError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    click.echo(f"{path}: a valid schedule for {lab}, {len(expanded.events)} events over "
               f"{expanded.end():g}s")
    click.echo(expanded.describe())


@main.command("labs")
def labs_command() -> None:
    """List the labs."""
    for n in lab_names():
        click.echo(f"{n:12} {get_lab(n).description}")


@main.command("picture")
@click.argument("trace", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="The HTML file to write. Default: the trace's name with .html.")
@click.option("--shared-js", is_flag=True,
              help="Write pictures.js beside the page and load it from there instead of inlining "
                   "it (for a folder of pages: a site, a feedback bundle).")
@click.option("--title", default=None, help="The page's title. Default: lab, runtime, schedule, seed.")
def picture_command(trace: str, output: str | None, shared_js: bool, title: str | None) -> None:
    """Draw TRACE (a run's .jsonl) as one HTML page: space-time diagram and dashboard, offline."""
    # kept here: the pictures (and the checkers they draw with) double the start-up; this command only
    from .pictures import TraceError, picture_of, write_html

    try:
        picture = picture_of(Path(trace), title)
    except TraceError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    out = write_html(picture, output or Path(trace).with_suffix(".html"), shared_js=shared_js)
    kb = out.stat().st_size / 1024
    views = f", views: {', '.join(v.title for v in picture.views)}" if picture.views else ""
    click.echo(f"wrote {out} ({kb:.0f} KB): {picture.arrows} message arrows, {picture.drops} "
               f"dropped, {len(picture.lanes)} lanes{views}")
    if shared_js:
        click.echo(f"it loads {out.parent / 'pictures.js'}: keep the two together")
