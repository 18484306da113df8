"""Who ran which task, when: task attempts read from a run's trace, for the checks and the picture.

Read from the protocol's messages (``Task`` deliveries and ``TaskDone`` sends) and crashes, which
both runtimes record, rather than from the runtime's ``work`` events, so that a picture of a Ray
run shows the same as one of a simulator run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from labs.runtime.trace import Event

COORDINATOR = "n1"


@dataclass
class Attempt:
    """One worker's attempt at one task: from the moment the task reached it until it reported the
    task done (``end`` is then that moment and ``outcome`` is ``done``), crashed (``crashed``), or
    the run ended (``running``)."""

    worker: str
    kind: str
    number: int
    start: float
    end: float
    outcome: str = "running"
    nth: int = 1
    given: float = 0.0
    """When the coordinator sent the task (it may reach the worker much later: a paused worker)."""
    """1 for the first attempt at this task, 2 for the second..."""

    @property
    def label(self) -> str:
        again = "" if self.nth == 1 else f", attempt {self.nth}"
        return f"{self.kind} {self.number}{again} ({self.outcome})"


def messages(trace: Sequence[Event]) -> dict[int, Event]:
    """Send events by message id."""
    return {e["id"]: e for e in trace if e["type"] == "send"}


def body(send: Event) -> dict[str, Any]:
    b = send.get("body")
    return b if isinstance(b, dict) else {}


def attempts(trace: Sequence[Event]) -> list[Attempt]:
    """Every task attempt of the run, in the order they began."""
    sends = messages(trace)
    end = max((e["t"] for e in trace if "t" in e), default=0.0)
    running: dict[str, Attempt] = {}
    out: list[Attempt] = []
    tried: dict[tuple[str, int], int] = {}
    for e in trace:
        kind = e["type"]
        if kind == "deliver" and e.get("src") == COORDINATOR:
            send = sends.get(e["id"])
            if send is None or send.get("msg") != "Task":
                continue
            task = body(send)
            if task.get("kind") not in ("map", "reduce") or e["node"] in running:
                continue  # a worker that is busy ignores a second task
            key = (str(task["kind"]), int(task.get("number", 0)))
            tried[key] = tried.get(key, 0) + 1
            a = Attempt(e["node"], key[0], key[1], e["t"], end, nth=tried[key], given=send["t"])
            running[e["node"]] = a
            out.append(a)
        elif kind == "send" and e.get("msg") == "TaskDone" and e["node"] in running:
            a = running.pop(e["node"])
            a.end, a.outcome = e["t"], "done"
        elif kind == "crash" and e.get("node") in running:
            a = running.pop(e["node"])
            a.end, a.outcome = e["t"], "crashed"
    return out


def job_times(trace: Sequence[Event]) -> tuple[float | None, float | None]:
    """When the job was submitted and when the client learned it was done (``None``: never)."""
    invoked = next((e["t"] for e in trace if e["type"] == "invoke"), None)
    done = next((e["t"] for e in trace if e["type"] == "complete" and e.get("outcome") == "ok"), None)
    return invoked, done


def task_sends(trace: Sequence[Event], kind: str) -> Iterator[tuple[Event, dict[str, Any]]]:
    """The coordinator's ``Task`` messages of one kind (``exit``, ``wait``...), with their bodies."""
    for e in trace:
        if e["type"] == "send" and e.get("msg") == "Task" and e["node"] == COORDINATOR:
            b = body(e)
            if b.get("kind") == kind:
                yield e, b
