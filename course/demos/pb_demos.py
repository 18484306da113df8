"""Chapter 3's live demos: the primary-backup lab's cluster (``labs/primary_backup``) under
schedules that tell the chapter's stories, designs that break one rule each, and readings of
their traces.

The demos run the lab's own ``ViewServer`` and ``PBServer`` from ``labs/primary_backup/node.py``.
In the course's copy that is the reference solution; in a student's copy it is the student's own
code: until it works, its servers crash with "not implemented yet" (:func:`run` says so) and the
tables come out empty. The course site shows the demos run on the reference.

* :func:`run`: a run of the cluster in the simulator, with a chosen view service and server;
* schedules: :func:`failover` and :func:`split_brain`;
* designs that break one rule: :func:`reads_locally` (the primary answers reads alone) and
  :func:`impatient` (the view service does not wait for the primary's acknowledgement);
* readings: :func:`verdicts`, :func:`announced`, :func:`believed_primary`, :func:`messages`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from labs.primary_backup import LAB
from labs.primary_backup.checks import CHECKS, views
from labs.primary_backup.node import (
    VIEW_SERVICE,
    PBServer,
    Reply,
    ViewServer,
)
from labs.primary_backup.pictures import learned
from labs.primary_backup.workloads import WORKLOADS
from labs.runtime.lab import RunResult, no_node_errors
from labs.runtime.roles import by_name
from labs.runtime.run import run as run_lab
from labs.runtime.schedule import Schedule, builder

from .charts import Table, table_of

SAFETY = ("linearizable", "views-step-by-one", "views-wait-for-the-ack", "only-the-backup-is-promoted")
"""The lab's checks the demos report, by name."""


def run(schedule: Schedule, seed: int = 1, server: type[PBServer] = PBServer,
        view_server: type[ViewServer] = ViewServer, workload: str = "reader-and-writers",
        clients: int = 3) -> RunResult:
    """One run in the simulator: ``n1`` runs ``view_server``, ``n2``-``n4`` run ``server``. The
    default workload has ``c1`` only read key ``a`` while the others append to it."""
    node = by_name(f"Demo_{view_server.__name__}_{server.__name__}", {VIEW_SERVICE: view_server}, default=server)
    ops = dataclasses.replace(LAB.workload, generate=WORKLOADS[workload], clients=clients) if LAB.workload else None
    result = run_lab(dataclasses.replace(LAB, node=node, workload=ops), "sim", schedule, seed)
    problems = no_node_errors(result)
    if problems:
        print(f"(the servers of this run raised {len(result.errors)} times; first: {problems[0]}. The demos "
              "run labs/primary_backup/node.py: the course site shows them on the reference.)")
    return result


# -- schedules ----------------------------------------------------------------------------------


def failover(at: float = 1.0, duration: float = 2.5) -> Schedule:
    """The primary crashes for good at ``at``."""
    return (builder("failover", "The primary crashes at 1 s.").delay(uniform=(0.001, 0.01))
            .at(at).crash("primary", disk="lose").duration(duration).build())


def split_brain(start: float = 1.0, end: float = 3.0) -> Schedule:
    """The primary and ``c1`` cannot reach the view service from ``start`` to ``end``; they still
    reach everyone else. Half a second after the heal, the primary then crashes for good (what
    its backup holds is all that is left)."""
    return (builder("split-brain", "The primary and c1 cannot reach the view service from 1 s to 3 s; "
                    "the primary crashes at 3.5 s.")
            .delay(uniform=(0.001, 0.01))
            .at(start).partition(["primary", "c1"], [VIEW_SERVICE])
            .at(end).heal()
            .at(end + 0.5).crash("primary", disk="lose").duration(end + 1.5).build())


# -- designs that break one rule ------------------------------------------------------------------


def reads_locally(server: type[PBServer] = PBServer) -> type[PBServer]:
    """``server``, except that a primary answers a get waiting in its queue from its own store,
    without asking the backup: reads seem to need no copy, since they change nothing. (It
    replaces the reference's ``pump``, which sends the queue's head to the backup; a server that
    does that in a method of another name runs unchanged.)"""

    class ReadsLocally(server):  # type: ignore[valid-type,misc]
        def pump(self) -> None:  # answer the gets first, alone
            while self.queue and self.queue[0][1].op == "get" and self.view.primary == self.id:
                asker, request = self.queue.pop(0)
                self.send(asker, Reply(request.client, request.seq, "", self.store.get(request.key, "")))
            super().pump()

    return ReadsLocally


def impatient(view_server: type[ViewServer] = ViewServer) -> type[ViewServer]:
    """``view_server``, except that it takes every view as acknowledged at once. (It replaces the
    reference's ``maybe_change``.)"""

    class Impatient(view_server):  # type: ignore[valid-type,misc]
        def maybe_change(self) -> None:  # as if the primary had acknowledged the view
            self.acked = True
            super().maybe_change()

    return Impatient


# -- readings -------------------------------------------------------------------------------------


def verdicts(result: RunResult, checks: Sequence[str] = SAFETY, width: int = 100) -> dict[str, str]:
    """Check name -> "ok" or the first thing it found wrong, on one line of at most ``width``."""
    out = {}
    for name in checks:
        found = CHECKS[name](result)
        line = "ok" if not found else str(found[0]).splitlines()[0]
        out[name] = line if len(line) <= width else line[:width - 1] + "…"
    return out


def announced(result: RunResult) -> Table:
    """The views the view service announced, with when."""
    return table_of([{"view": v.viewnum, "announced at (s)": round(v.t, 3), "primary": v.primary or "-",
                      "backup": v.backup or "-"} for v in views(result)],
                    title="The views the view service announced")


def believed_primary(result: RunResult, t: float) -> list[str]:
    """The servers that believed, at ``t``, that they were primary (from the views they had learned)."""
    return sorted(server for server, seen in learned(result.trace).items()
                  if [role for when, _, role in seen if when <= t][-1:] == ["primary"])


PROTOCOL = ("Ping", "PingReply", "Transfer", "TransferReply")


def messages(result: RunResult, start: float, end: float, kinds: Sequence[str] = PROTOCOL,
             limit: int = 24) -> Table:
    """The protocol's messages sent between ``start`` and ``end`` (pings that say nothing new
    left out: only those whose view number differs from the sender's last one), one row each."""
    rows: list[dict[str, Any]] = []
    last_ping: dict[str, Any] = {}
    for e in result.trace:
        if e["type"] != "send" or not start <= float(e["t"]) <= end or e.get("msg") not in kinds:
            continue
        body = e.get("body") if isinstance(e.get("body"), dict) else {}
        if e["msg"] in ("Ping", "PingReply"):
            said = body.get("viewnum") if e["msg"] == "Ping" else (body.get("view") or {}).get("viewnum")
            if last_ping.get((e["node"], e["msg"], e["dst"])) == said:
                continue
            last_ping[(e["node"], e["msg"], e["dst"])] = said
        rows.append({"t (s)": round(float(e["t"]), 3), "from": e["node"], "to": e["dst"], "message": e["msg"],
                     "says": _says(str(e["msg"]), body)})
        if len(rows) >= limit:
            break
    return table_of(rows, title=f"The protocol's messages from {start:g} s to {end:g} s")


def _says(kind: str, body: dict[str, Any]) -> str:
    view = body.get("view") if isinstance(body.get("view"), dict) else {}
    where = f"view {view.get('viewnum')}: {view.get('primary') or '-'} primary, {view.get('backup') or '-'} backup"
    if kind == "Ping":
        return f"I hold view {body.get('viewnum')}"
    if kind == "PingReply":
        return f"the view is {where}"
    if kind == "Transfer":
        return f"the whole state, {len(body.get('store') or {})} keys, for {where}"
    if kind == "TransferReply":
        return f"I hold the state of view {body.get('viewnum')}"
    if kind == "Forward":
        request = body.get("request") if isinstance(body.get("request"), dict) else {}
        return f"execute {request.get('op')} {request.get('key')} too ({where})"
    return f"done in view {body.get('viewnum')}: {'yes' if body.get('ok') else 'refused'}"
