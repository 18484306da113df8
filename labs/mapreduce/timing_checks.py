"""Checks on the handout's clocks, run on every test of the MapReduce lab: how often an idle
worker asks for a task (``ASK_EVERY``), and how long the coordinator waits before it hands a
silent task to another worker (``TIMEOUT``). Both read the trace's messages; on Ray a node's
sends are stamped by its host's clock, so the bounds there allow 50 ms.
"""

from __future__ import annotations

from labs.runtime.lab import Finding, RunResult

from .attempts import COORDINATOR, body, messages

ASK_EVERY = 0.1
"""How often an idle worker asks for a task, in the handout."""
TIMEOUT = 2.0
"""How long the coordinator lets a task run before it gives it to another worker, in the handout."""


def _slack(run: RunResult) -> float:
    return 0.0 if run.runtime == "sim" else 0.05


def workers_ask_no_faster(run: RunResult) -> list[Finding]:
    """An idle worker asks for a task once every ``ASK_EVERY`` seconds, not more often: one
    reminder at a time (the one set by the last ask is cancelled when the worker asks sooner,
    as it does when a task ends). Only asks with no task ended between them are compared."""
    slack = _slack(run)
    last: dict[str, float] = {}  # worker -> when it last asked, since its last start or task end
    for e in run.trace:
        kind, node = e["type"], str(e.get("node"))
        if "node" not in e or node == COORDINATOR:
            continue
        if kind in ("start", "restart", "crash") or (kind == "work" and e.get("op") != "start"):
            last.pop(node, None)
        elif kind == "send" and e.get("msg") == "GetTask":
            t = float(e["t"])
            before = last.get(node)
            if before is not None and t - before < 0.8 * ASK_EVERY - slack:
                return [Finding(f"{node} asked for a task at {before:.3f} and again at {t:.3f}, {t - before:.3f} s "
                                f"later, sooner than ASK_EVERY = {ASK_EVERY} s with no task ended in between: "
                                "does ask() cancel the reminder it set last time, so that only one is ever "
                                "pending?")]
            last[node] = t
    return []


def tasks_wait_their_timeout(run: RunResult) -> list[Finding]:
    """A task handed out is handed out again only after ``TIMEOUT`` seconds without its report,
    not sooner: a worker that is merely slow must not see its task run twice for nothing. (Once
    the worker holding it asks for a task again, it has plainly dropped it, and the task may go
    at once; a restarted coordinator starts over.)"""
    slack = _slack(run)
    sends = messages(run.trace)
    given: dict[tuple[str, int], tuple[float, str]] = {}  # task -> (when, to whom) it was last handed out
    for e in run.trace:
        kind = e["type"]
        if e.get("node") != COORDINATOR:
            continue
        if kind in ("crash", "restart"):
            given.clear()
        elif kind == "deliver" and (sends.get(e["id"]) or {}).get("msg") == "GetTask":
            asker = (sends.get(e["id"]) or {}).get("node")
            given = {task: held for task, held in given.items() if held[1] != asker}
        elif kind == "send" and e.get("msg") == "Task":
            b = body(e)
            if b.get("kind") not in ("map", "reduce") or not isinstance(b.get("number"), int):
                continue
            task, t = (str(b["kind"]), int(b["number"])), float(e["t"])
            before = given.get(task)
            if before is not None and t - before[0] < TIMEOUT - slack:
                return [Finding(f"{COORDINATOR} gave {task[0]} task {task[1]} to {e.get('dst')} at {t:.3f}, "
                                f"{t - before[0]:.3f} s after it gave it to {before[1]} (at {before[0]:.3f}), "
                                f"which had not reported it nor asked for another: a task goes to another "
                                f"worker only after TIMEOUT = {TIMEOUT} s (how is the time since it was "
                                "handed out measured?)")]
            given[task] = (t, str(e.get("dst")))
    return []
