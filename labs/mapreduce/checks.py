"""What the MapReduce lab's tests check, each reading a finished run (its trace and history) only.

The job's output comes from the job client's completed operation (the text of every ``mr-out-*``
file when the coordinator said the job was done); the expected output is a sequential run of the
same application over the same corpus, computed here. Everything else is read from the protocol's
messages and the runtime's ``file`` events.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from functools import lru_cache
from typing import Any

from labs.checkers.history import pair_calls
from labs.runtime.lab import Check, Finding, RunResult
from labs.runtime.lab import no_node_errors as any_errors

from .attempts import COORDINATOR, attempts, job_times, messages, task_sends
from .client import digest
from .corpus import read_books
from .mr import ihash, load_app, output_name, sequential
from .timing_checks import TIMEOUT, tasks_wait_their_timeout, workers_ask_no_faster

FINAL = re.compile(r"mr-(out-\d+|\d+-\d+)")
"""Names readers trust: intermediate files (``mr-3-1``) and outputs (``mr-out-1``)."""
QUIET = 1.0
"""Seconds an idle worker may go without asking for a task before it counts as gone."""


def no_node_errors(run: RunResult) -> list[Finding]:
    """No handler or work raised, apart from the crashes the crash application makes on purpose."""
    real = [e for e in run.errors if "AppCrash" not in e]
    return any_errors(dataclasses.replace(run, errors=real))


def _job(run: RunResult) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The job's invocation and its completion (``None`` when it never completed): the first
    operation invoked, as a run submits one job."""
    return min(pair_calls(run.history), key=lambda call: call[0]["index"], default=(None, None))


def job_completes(run: RunResult) -> list[Finding]:
    """The job finishes (the client hears it is done) within the workload's time limit."""
    invoke, done = _job(run)
    if invoke is None:
        return [Finding("no job was submitted")]
    if done is not None and done["type"] == "ok":
        return []
    limit = run.lab.workload.timeout if run.lab.workload else 0.0
    tasks = attempts(run.trace)
    finished = {(a.kind, a.number) for a in tasks if a.outcome == "done"}
    sends = messages(run.trace)
    spec = [e for e in sends.values() if e.get("msg") == "SubmitJob"][:1]
    body = spec[0].get("body", {}) if spec else {}
    maps = len(body.get("inputs", [])) if isinstance(body, dict) else 0
    reduces = int(body.get("reduces", 0)) if isinstance(body, dict) else 0
    m = sum(1 for k, _ in finished if k == "map")
    r = sum(1 for k, _ in finished if k == "reduce")
    last = {(a.kind, a.number): a for a in tasks}
    stuck = [a for key, a in last.items()
             if (key not in finished and a.outcome == "crashed") or a.end - a.given > 2 * TIMEOUT]
    if stuck:
        a = stuck[0]
        what = ("crashed" if a.outcome == "crashed" else
                f"took {a.end - a.given:.1f} s" if a.outcome == "done" else "never reported it done")
        hint = (f"{a.kind} task {a.number} was last given to {a.worker} at {a.given:.3f}, which "
                f"{what}, and to no one after that: does the coordinator give a task to another "
                "worker after TIMEOUT?")
    else:
        hint = "are the workers still asking for tasks, and does the coordinator tell the client?"
    return [Finding(f"the job did not finish within {limit:g} s ({m} of {maps} map tasks and {r} of "
                    f"{reduces} reduce tasks reported done): {hint}",
                    "\n".join(f"{a.worker}: {a.label} {a.start:.3f}..{a.end:.3f}" for a in tasks))]


def _reports(run: RunResult, kind: str) -> dict[int, list[tuple[str, float]]]:
    """Every report of a ``kind`` task that reached the coordinator, by task: (who sent it, when
    it arrived), in the order they arrived."""
    sends = messages(run.trace)
    out: dict[int, list[tuple[str, float]]] = {}
    for e in run.trace:
        if e["type"] == "deliver" and e["node"] == COORDINATOR:
            s = sends.get(e["id"])
            b = (s or {}).get("body") or {}
            if s is not None and s.get("msg") == "TaskDone" and b.get("kind") == kind:
                out.setdefault(int(b["number"]), []).append((str(s["node"]), e["t"]))
    return out


def _job_size(run: RunResult) -> tuple[int, int]:
    """The job's number of map tasks and of reduce tasks (0, 0 when no job was submitted)."""
    submit = next((e for e in run.trace if e["type"] == "send" and e.get("msg") == "SubmitJob"), None)
    b = (submit or {}).get("body") or {}
    return len(b.get("inputs", [])), int(b.get("reduces", 0))


def _twice(reports: dict[int, list[tuple[str, float]]], kind: str, before: float) -> str:
    """A hint when some task was reported done twice before ``before``: a coordinator that counts
    reports, rather than tasks, takes the second for another task done."""
    for number, got in sorted(reports.items()):
        early = [(w, t) for w, t in got if t <= before]
        if len(early) >= 2:
            (w1, t1), (w2, t2) = early[:2]
            return (f" ({kind} task {number} was reported done twice, by {w1} at {t1:.3f} and by {w2} "
                    f"at {t2:.3f}: does a second report of the same task count as another task done?)")
    return ""


def reduces_after_maps(run: RunResult) -> list[Finding]:
    """No reduce task is handed out before every map task is done: a reduce reads the output of
    every map task."""
    maps, _ = _job_size(run)
    reports = _reports(run, "map")
    for e, task in task_sends(run.trace, "reduce"):
        undone = [m for m in range(maps) if min((t for _, t in reports.get(m, [])), default=float("inf")) > e["t"]]
        if undone:
            return [Finding(f"{COORDINATOR} gave reduce task {task.get('number')} to {e['dst']} at "
                            f"{e['t']:.3f}, before map task(s) {', '.join(map(str, undone[:5]))} were "
                            "done: a reduce task reads the output of every map task"
                            + _twice(reports, "map", e["t"]))]
    return []


def done_after_reduces(run: RunResult) -> list[Finding]:
    """The coordinator tells the client the job is done only once every reduce task is: the client
    reads the output as soon as it hears it."""
    _, reduces = _job_size(run)
    reports = _reports(run, "reduce")
    for e in run.trace:
        if e["type"] == "send" and e.get("msg") == "JobDone" and e["node"] == COORDINATOR:
            undone = [r for r in range(reduces)
                      if min((t for _, t in reports.get(r, [])), default=float("inf")) > e["t"]]
            if undone:
                return [Finding(f"{COORDINATOR} told {e['dst']} the job was done at {e['t']:.3f}, before "
                                f"reduce task(s) {', '.join(map(str, undone[:5]))} were reported done: the "
                                "client reads the output as soon as it hears it"
                                + _twice(reports, "reduce", e["t"]))]
    return []


@lru_cache(maxsize=16)
def expected(app: str, corpus: str) -> tuple[str, ...]:
    """The sorted output lines of a sequential run (of the application the app says to match)."""
    module: Any = importlib.import_module(f"labs.mapreduce.apps.{load_app(app).name}")
    inputs = {f"input/{name}": text for name, text in read_books(corpus).items()}  # as the client names them
    return tuple(sequential(getattr(module, "SEQUENTIAL", app), inputs))


def _value(run: RunResult) -> dict[str, Any] | None:
    _, done = _job(run)
    if done is None or done["type"] != "ok" or not isinstance(done.get("value"), dict):
        return None
    value: dict[str, Any] = done["value"]
    return value


def output_lines(run: RunResult) -> list[str] | None:
    """The output's lines, sorted (``None`` when the job did not finish or the client reported
    only digests, for a big output)."""
    value = _value(run)
    if value is None or not isinstance(value.get("outputs"), dict):
        return None
    return sorted(line for text in value["outputs"].values() for line in str(text).splitlines() if line.strip())


def output_correct(run: RunResult) -> list[Finding]:
    """The output, read when the coordinator says the job is done, equals a sequential run's."""
    invoke, _ = _job(run)
    value = _value(run)
    if invoke is None or value is None:
        return [Finding("the job did not finish, so there is no output to compare")]
    spec = invoke.get("value") or {}
    want = list(expected(str(invoke["key"]), str(spec.get("corpus", "small"))))
    lines = output_lines(run)
    if lines is None:
        return _compare_digests(value.get("files") or {}, want, int(spec.get("reduces", 1)))
    if lines == want:
        return []
    got_by_key = _by_key(lines)
    want_by_key = _by_key(want)
    wrong = [k for k in sorted(set(got_by_key) | set(want_by_key)) if got_by_key.get(k) != want_by_key.get(k)]
    details = [f"{k!r}: output {got_by_key.get(k, '(missing)')!r}, sequential run {want_by_key.get(k, '(none)')!r}"
               for k in wrong[:20]]
    missing = sum(1 for k in wrong if k not in got_by_key)
    summary = (f"the output differs from a sequential run for {len(wrong)} of {len(want_by_key)} keys "
               f"({missing} missing); first: {details[0]}")
    if missing == len(wrong) and missing:
        summary += " (output read when the coordinator said the job was done: was it really done?)"
    return [Finding(summary, f"output files: {', '.join(sorted(value.get('outputs', {}))) or '(none)'}\n"
                    + "\n".join(details))]


def _compare_digests(files: dict[str, Any], want: list[str], reduces: int) -> list[Finding]:
    """A big output, reported as digests: each ``mr-out-r`` must hold partition r's lines."""
    parts: dict[str, list[str]] = {output_name(r): [] for r in range(reduces)}
    for line in want:
        parts[output_name(ihash(line.partition(" ")[0]) % reduces)].append(line)
    for name, lines in parts.items():
        got = files.get(name)
        if not isinstance(got, dict) or got.get("digest") != digest(lines):
            have = "is missing" if not isinstance(got, dict) else f"has {got.get('lines')} lines"
            return [Finding(f"the output differs from a sequential run: {name} {have}, and a sequential "
                            f"run gives {len(lines)} different ones for that partition")]
    return []


def _by_key(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        key, _, value = line.partition(" ")
        out[key] = value if key not in out else f"{out[key]} | {value}"  # a key twice shows as such
    return out


def _output_values(run: RunResult, prefix: str) -> dict[str, str]:
    return {k: v for k, v in _by_key(output_lines(run) or []).items() if k.startswith(prefix)}


def parallel_maps(run: RunResult) -> list[Finding]:
    """Map tasks run on several workers at once (the parallel app counts who is inside a map)."""
    if output_lines(run) is None:
        return [Finding("the job did not finish, so nothing shows whether maps ran in parallel")]
    seen = int(_output_values(run, "parallel-maps").get("parallel-maps", "0") or 0)
    ran = sorted(k.removeprefix("ran-map-") for k in _output_values(run, "ran-map-"))
    if seen >= 2 and len(ran) >= 2:
        return []
    return [Finding(f"map tasks did not run in parallel: at most {seen} worker(s) were inside a map "
                    f"task at once, and maps ran on {', '.join(ran) or 'no worker'}; does the "
                    "coordinator hand out a map task to every worker that asks?")]


def parallel_reduces(run: RunResult) -> list[Finding]:
    """Reduce tasks run on several workers at once."""
    if output_lines(run) is None:
        return [Finding("the job did not finish, so nothing shows whether reduces ran in parallel")]
    values = _output_values(run, "phase-")
    seen = max((int(v) for v in values.values() if v.isdigit()), default=0)
    if seen >= 2:
        return []
    return [Finding(f"reduce tasks did not run in parallel: at most {seen} worker(s) were inside a "
                    "reduce task at once; does the coordinator hand out a reduce task to every "
                    "worker that asks?")]


def workers_stay(run: RunResult) -> list[Finding]:
    """No worker leaves before the job is done: the coordinator says ``exit`` only after every
    reduce task is done, and an idle worker keeps asking (at least every ``QUIET`` seconds)."""
    _, job_done = job_times(run.trace)
    stop = job_done if job_done is not None else run.trace[-1]["t"]
    sends = messages(run.trace)
    submit = next((e for e in sends.values() if e.get("msg") == "SubmitJob"), None)
    reduces = int((submit or {}).get("body", {}).get("reduces", 0)) if submit else 0
    done_at: dict[int, float] = {}
    for e in run.trace:
        if e["type"] == "deliver" and e["node"] == COORDINATOR:
            s = sends.get(e["id"])
            if s is not None and s.get("msg") == "TaskDone" and (s.get("body") or {}).get("kind") == "reduce":
                done_at.setdefault(int(s["body"]["number"]), e["t"])
    for e, _ in task_sends(run.trace, "exit"):
        undone = [r for r in range(reduces) if done_at.get(r, float("inf")) > e["t"]]
        if undone:
            return [Finding(f"{COORDINATOR} told {e['dst']} to exit at {e['t']:.3f}, when reduce "
                            f"task(s) {', '.join(map(str, undone))} were not done yet: a worker must "
                            "stay while any task may still need running again")]
    workers = [n for n in _workers(run) if n != COORDINATOR]
    for w in workers:
        gap = _longest_silence(run, w, stop)
        if gap is not None:
            start, length = gap
            return [Finding(f"{w} stopped asking for tasks at {start:.3f} and was silent for "
                            f"{length:.2f} s before the job was done (at {stop:.3f}): an idle worker "
                            "must keep asking until the coordinator says the job is over")]
    return []


def workers_leave_when_told(run: RunResult) -> list[Finding]:
    """A worker told to exit (a ``Task`` of kind ``exit`` delivered to it while it ran no task)
    asks for no task again in that process: the job is over, and a worker that goes on asking
    keeps the coordinator answering it for nothing. (Told while still running a task, it may ask
    once more when that task ends, and be told again.)"""
    sends = messages(run.trace)
    told: dict[str, float] = {}  # worker -> when it was told to exit, idle, in its current process
    busy: set[str] = set()
    for e in run.trace:
        kind, node = e["type"], str(e.get("node"))
        if "node" not in e or node == COORDINATOR:
            continue
        if kind in ("start", "restart", "crash"):
            told.pop(node, None)
            busy.discard(node)
        elif kind == "work":
            (busy.add if e.get("op") == "start" else busy.discard)(node)
        elif kind == "deliver" and node not in busy:
            s = sends.get(e["id"])
            if s is not None and s.get("msg") == "Task" and ((s.get("body") or {}).get("kind")) == "exit":
                told.setdefault(node, float(e["t"]))
        elif kind == "send" and e.get("msg") == "GetTask" and node in told:
            return [Finding(f"{node} was told to exit (the job is over) at {told[node]:.3f}, and asked "
                            f"{e.get('dst')} for a task again at {float(e['t']):.3f}: a worker told to exit "
                            "must stop asking (does handle_task note the exit, and does the reminder check it?)")]
    return []


def _workers(run: RunResult) -> list[str]:
    header = run.trace[0] if run.trace and run.trace[0]["type"] == "run" else {}
    return [str(n) for n in header.get("nodes", [])]


def _longest_silence(run: RunResult, worker: str, stop: float) -> tuple[float, float] | None:
    """The first stretch longer than ``QUIET`` in which ``worker`` was up, idle and silent."""
    sends = messages(run.trace)
    busy, up, told_exit = False, False, False
    quiet_since = 0.0
    for e in run.trace:
        if e["type"] == "run" or (e.get("node") != worker and e["type"] != "end"):
            continue
        t = e["t"]
        if up and not busy and not told_exit and min(t, stop) - quiet_since > QUIET:
            return quiet_since, min(t, stop) - quiet_since
        if t > stop:
            return None
        kind = e["type"]
        if kind in ("start", "restart"):
            up, busy, told_exit, quiet_since = True, False, False, t
        elif kind == "crash":
            up = False
        elif kind == "send" and e.get("msg") == "GetTask":
            quiet_since = t
        elif kind == "send" and e.get("msg") == "TaskDone":
            busy, quiet_since = False, t
        elif kind == "deliver":
            s = sends.get(e["id"])
            task = (s or {}).get("body") or {}
            if s is not None and s.get("msg") == "Task":
                if task.get("kind") in ("map", "reduce"):
                    busy = True
                elif task.get("kind") == "exit":
                    told_exit = True
    if up and not busy and not told_exit and stop - quiet_since > QUIET:
        return quiet_since, stop - quiet_since
    return None


def no_torn_files(run: RunResult) -> list[Finding]:
    """No crash leaves a half-written file under a name readers trust (``mr-*``): outputs are
    written under a temporary name and renamed, so a crash only ever tears a temporary file."""
    writing: dict[str, dict[str, tuple[float, int]]] = {}
    copies: dict[str, dict[int, str]] = {}  # per node, the other files it wrote whole, by size
    for e in run.trace:
        kind, node = e["type"], e.get("node")
        if kind == "file" and e.get("op") == "written" and not FINAL.fullmatch(str(e.get("name", ""))):
            copies.setdefault(str(node), {})[int(e.get("bytes", 0))] = str(e["name"])
        if kind == "file" and FINAL.fullmatch(str(e.get("name", ""))):
            if e.get("op") == "write":
                writing.setdefault(str(node), {})[e["name"]] = (e["t"], int(e.get("bytes", 0)))
            elif e.get("op") == "written":
                writing.get(str(node), {}).pop(e["name"], None)
        elif kind == "crash" and writing.get(str(node)):
            name, (began, size) = next(iter(writing[str(node)].items()))
            torn = next((int(x.get("bytes", 0)) for x in run.trace if x["type"] == "file" and x.get("op") == "torn"
                         and x.get("node") == node and x.get("name") == name and x["t"] == e["t"]), None)
            left = f"{torn:,} of its {size:,} bytes" if torn is not None else f"part of its {size:,} bytes"
            copied = copies.get(str(node), {}).get(size)
            how = (f"copying {copied} into {name} (a copy is a write: it tears as any write does)"
                   if copied is not None else f"writing {name} in place")
            return [Finding(f"{node} crashed at {e['t']:.3f} while {how} (since "
                            f"{began:.3f}): {left} were left under a name that readers take for a "
                            "whole file; write to a temporary name, then rename")]
    return []


CHECKS: dict[str, Check] = {
    "no-node-errors": no_node_errors,
    "job-completes": job_completes,
    "output-correct": output_correct,
    "reduces-after-maps": reduces_after_maps,
    "done-after-reduces": done_after_reduces,
    "parallel-maps": parallel_maps,
    "parallel-reduces": parallel_reduces,
    "workers-stay": workers_stay,
    "workers-leave-when-told": workers_leave_when_told,
    "workers-ask-no-faster": workers_ask_no_faster,
    "tasks-wait-their-timeout": tasks_wait_their_timeout,
    "no-torn-files": no_torn_files,
}
