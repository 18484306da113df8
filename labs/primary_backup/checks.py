"""The primary-backup lab's checks, read from the trace: the clients' history, and the views the
view service announced (the replies it sent, as the runtime saw them) against the pings it had
been delivered when it announced them.

* :func:`linearizable`: the clients' history is linearizable as a key-value store (no split
  brain: an old primary cut off with some clients must not answer them);
* :func:`views_step_by_one`: views are numbered 1, 2, 3..., each changing one thing;
* :func:`views_wait_for_the_ack`: a new view only once the primary of the current one pinged
  with its number;
* :func:`acks_after_the_transfer`: a primary acknowledges a view only once its backup answered
  the transfer of the state;
* :func:`only_the_backup_is_promoted`: a new primary is the old primary or the old backup;
* :func:`crashed_primary_is_replaced`, :func:`crashed_backup_is_replaced`: a server that
  crashes is out of the views soon after;
* :func:`operations_complete`: a share of the operations complete.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from labs.checkers.findings import linearizability_findings
from labs.checkers.findings import operations_complete as completes
from labs.checkers.standard_models import KV
from labs.runtime.lab import Check, Finding, RunResult, no_node_errors
from labs.runtime.trace import Event

from .node import VIEW_SERVICE


@dataclass(frozen=True)
class Announced:
    """A view the view service announced: when, and at which place in the trace."""

    t: float
    pos: int
    viewnum: int
    primary: str
    backup: str


def views(run: RunResult) -> list[Announced]:
    """The views the view service announced, in order."""
    return views_in(run.trace)


def views_in(trace: Sequence[Event]) -> list[Announced]:
    """The views the view service announced in ``trace``, in order: each new view is the first
    reply (``PingReply`` or ``GetViewReply``) it sent holding it. Read from the messages the
    runtime saw it send, never from what its code says of itself."""
    out: list[Announced] = []
    for pos, e in enumerate(trace):
        if e["type"] != "send" or e.get("node") != VIEW_SERVICE or e.get("msg") not in ("PingReply", "GetViewReply"):
            continue
        body = e.get("body")
        view = body.get("view") if isinstance(body, dict) else None
        if not isinstance(view, dict) or not isinstance(view.get("viewnum"), int) or view["viewnum"] < 1:
            continue
        seen = (view["viewnum"], str(view.get("primary") or ""), str(view.get("backup") or ""))
        if not out or (out[-1].viewnum, out[-1].primary, out[-1].backup) != seen:
            out.append(Announced(float(e["t"]), pos, *seen))
    return out


def roles_in(trace: Sequence[Event]) -> dict[str, str]:
    """Who is ``primary`` and who ``backup`` now: the view the view service announced last.
    Schedules aim their faults by it (``crash: primary``), not by what a server says of itself."""
    seen = views_in(trace)
    if not seen:
        return {}
    return {role: holder for role, holder in (("primary", seen[-1].primary), ("backup", seen[-1].backup)) if holder}


def _where(run: RunResult, a: Announced) -> str:
    return f"line {a.pos + 1}  t={a.t:.3f}  view {a.viewnum}: primary {a.primary or '-'}, backup {a.backup or '-'}"


def views_step_by_one(run: RunResult) -> list[Finding]:
    """Views are numbered 1, 2, 3... and each differs from the one before."""
    seen = views(run)
    for before, after in itertools.pairwise(seen):
        if after.viewnum != before.viewnum + 1:
            return [Finding(f"view {after.viewnum} followed view {before.viewnum} (t={after.t:.3f}): views are "
                            "numbered one after the other", _where(run, after))]
        if (after.primary, after.backup) == (before.primary, before.backup):
            return [Finding(f"view {after.viewnum} has the same primary and backup as view {before.viewnum}: a "
                            "view changes only when something changed", _where(run, after))]
    if seen and seen[0].viewnum != 1:
        return [Finding(f"the first view announced is view {seen[0].viewnum}, not view 1", _where(run, seen[0]))]
    return []


def _pings_delivered(run: RunResult) -> list[tuple[int, str, int]]:
    """(position, sender, viewnum) of each Ping delivered to the view service."""
    sent: dict[Any, int] = {}
    out = []
    for pos, e in enumerate(run.trace):
        if e["type"] == "send" and e.get("msg") == "Ping" and e.get("dst") == VIEW_SERVICE:
            body = e.get("body")
            sent[e["id"]] = int(body["viewnum"]) if isinstance(body, dict) else -1
        elif e["type"] == "deliver" and e.get("node") == VIEW_SERVICE and e.get("id") in sent:
            out.append((pos, str(e.get("src")), sent[e["id"]]))
    return out


def views_wait_for_the_ack(run: RunResult) -> list[Finding]:
    """The view service announces view N+1 only after the primary of view N pinged with N: a
    primary that has not acknowledged a view may not know of it, and may still serve in the
    one before."""
    pings = _pings_delivered(run)
    seen = views(run)
    for before, after in itertools.pairwise(seen):
        acked = any(before.pos < pos < after.pos and src == before.primary and n == before.viewnum
                    for pos, src, n in pings)
        if not acked:
            return [Finding(f"view {after.viewnum} was announced at t={after.t:.3f} though {before.primary}, primary "
                            f"of view {before.viewnum}, had not acknowledged view {before.viewnum} (pinged with "
                            f"{before.viewnum}): does the view service wait for the primary's acknowledgement "
                            "before the next view?", _where(run, after))]
    return []


def acks_after_the_transfer(run: RunResult) -> list[Finding]:
    """The primary of a view with a backup acknowledges it (sends a Ping with its number) only
    once that backup answered its Transfer for the view (a TransferReply with that number
    reached it): a backup promoted before it held the state would serve an empty store."""
    sent: dict[Any, tuple[str, str, int]] = {}  # TransferReply id -> (from, to, viewnum)
    answered: set[tuple[str, str, int]] = set()  # (backup, primary, viewnum) delivered so far
    by_view = {v.viewnum: v for v in views(run)}
    for pos, e in enumerate(run.trace):
        raw = e.get("body")
        body: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if e["type"] == "send" and e.get("msg") == "TransferReply" and isinstance(body.get("viewnum"), int):
            sent[e["id"]] = (str(e["node"]), str(e.get("dst")), body["viewnum"])
        elif e["type"] == "deliver" and e.get("id") in sent:
            answered.add(sent[e["id"]])
        elif e["type"] == "send" and e.get("msg") == "Ping" and e.get("dst") == VIEW_SERVICE:
            v = by_view.get(body.get("viewnum", 0))
            if v is None or v.primary != e["node"] or not v.backup or (v.backup, v.primary, v.viewnum) in answered:
                continue
            return [Finding(f"{v.primary}, primary of view {v.viewnum}, acknowledged it at t={float(e['t']):.3f} "
                            f"before its backup {v.backup} answered a Transfer for view {v.viewnum}: does the "
                            "primary wait until its backup holds the state before it acknowledges a view?",
                            f"line {pos + 1}  t={float(e['t']):.3f}  {v.primary} -> {VIEW_SERVICE}: Ping "
                            f"viewnum={v.viewnum}")]
    return []


def only_the_backup_is_promoted(run: RunResult) -> list[Finding]:
    """A new view's primary is the old view's primary or its backup: only they hold the data."""
    seen = views(run)
    for before, after in itertools.pairwise(seen):
        if after.primary not in (before.primary, before.backup) or not after.primary:
            return [Finding(f"view {after.viewnum} made {after.primary or 'nobody'} primary, though view "
                            f"{before.viewnum}'s primary was {before.primary} and its backup "
                            f"{before.backup or 'nobody'}: only the backup holds the data to take over",
                            _where(run, after))]
    return []


REPLACED_WITHIN = 1.5
"""Seconds within which the backup takes over from a primary that crashed (or restarted): the
view service takes a silent server for dead after DEAD_PINGS pings' time, and a restarted one at
its first ping."""


def crashed_primary_is_replaced(run: RunResult) -> list[Finding]:
    """A primary that crashes, or restarts, after acknowledging its view is replaced by its
    backup within REPLACED_WITHIN seconds (when the backup stays up that long)."""
    seen = views(run)
    pings = _pings_delivered(run)
    crashes = [(pos, float(e["t"]), str(e["node"])) for pos, e in enumerate(run.trace) if e["type"] == "crash"]
    for pos, t, node in crashes:
        current = [v for v in seen if v.pos < pos]
        if not current or current[-1].primary != node or not current[-1].backup:
            continue
        v = current[-1]
        if not any(v.pos < p < pos and src == node and n == v.viewnum for p, src, n in pings):
            continue  # never acknowledged: the view service may not move on
        if any(n == v.backup and t <= t2 <= t + REPLACED_WITHIN for _, t2, n in crashes):
            continue
        if float(run.trace[-1]["t"]) < t + REPLACED_WITHIN:
            continue
        if not any(t < a.t <= t + REPLACED_WITHIN and a.primary == v.backup for a in seen):
            return [Finding(f"{node}, primary of view {v.viewnum}, crashed at t={t:.3f}, but its backup {v.backup} "
                            f"was not made primary within {REPLACED_WITHIN} s: does the view service take a "
                            "server that stops pinging, or pings from a new life, for dead, and promote the "
                            "backup?", _where(run, v))]
    return []


def crashed_backup_is_replaced(run: RunResult) -> list[Finding]:
    """A backup that crashes, while its primary has acknowledged the view, is out of the views
    within REPLACED_WITHIN seconds: the primary stays, with an idle server as backup or none
    (when the primary stays up that long)."""
    seen = views(run)
    pings = _pings_delivered(run)
    crashes = [(pos, float(e["t"]), str(e["node"])) for pos, e in enumerate(run.trace) if e["type"] == "crash"]
    for pos, t, node in crashes:
        current = [v for v in seen if v.pos < pos]
        if not current or current[-1].backup != node:
            continue
        v = current[-1]
        if not any(v.pos < p < pos and src == v.primary and n == v.viewnum for p, src, n in pings):
            continue  # never acknowledged: the view service may not move on
        if any(n == v.primary and t <= t2 <= t + REPLACED_WITHIN for _, t2, n in crashes):
            continue
        if float(run.trace[-1]["t"]) < t + REPLACED_WITHIN:
            continue
        if not any(t < a.t <= t + REPLACED_WITHIN and a.primary == v.primary and a.backup != node for a in seen):
            return [Finding(f"{node}, backup of view {v.viewnum}, crashed at t={t:.3f}, but no view without it "
                            f"came within {REPLACED_WITHIN} s: does the view service take a backup that stops "
                            "pinging for dead, and put an idle server in its place (or none)?", _where(run, v))]
    return []


def linearizable(run: RunResult) -> list[Finding]:
    """The clients' history is linearizable as a key-value store (get / put / append)."""
    return linearizability_findings(
        run.history, KV, hint="does the primary forward every request, reads included, to the backup and wait "
        "for its answer, and does a backup refuse forwards from a primary of another view?")


def operations_complete(share: float) -> Check:
    """At least ``share`` of the clients' operations complete in time."""
    return completes(share, "does the clerk ask the view service again when the primary does not answer, does "
                            "the primary send a lost forward or transfer again, and does a new primary serve "
                            "once its backup holds the state?")


def views_reach(primary_and_backup: bool) -> Check:
    """By the end of the run the last view has a primary (and, with ``primary_and_backup``, a
    backup) that were alive at the end."""

    def check(run: RunResult) -> list[Finding]:
        seen = views(run)
        if not seen:
            return [Finding("the view service announced no view: does it make the first server that pings "
                            "the primary of view 1?")]
        last = seen[-1]
        if primary_and_backup and not last.backup:
            return [Finding(f"the last view, {last.viewnum}, has no backup though servers were idle: does the "
                            "view service add an idle server as backup once the primary acknowledged the view?",
                            _where(run, last))]
        return []

    check.__doc__ = "The last view has a primary" + (" and a backup." if primary_and_backup else ".")
    return check


def backup_holds_the_state(run: RunResult) -> bool:
    """A view with a backup has been acknowledged by its primary (who acknowledges only once its
    backup holds the state)."""
    pings = _pings_delivered(run)
    return any(v.backup and any(pos > v.pos and src == v.primary and n == v.viewnum for pos, src, n in pings)
               for v in views(run))


GOALS = {"backup-holds-the-state": backup_holds_the_state}
"""States a staged search test may aim for first (``stages: [{goal: ..., depth: ..., calm: true}]``)."""

def a_view_names_a_backup(run: RunResult) -> list[Finding]:
    """Some view the view service announced had a backup (a view service that announces nothing
    breaks no rule about views, and must not pass for one that keeps them)."""
    if any(v.backup for v in views(run)):
        return []
    return [Finding("the view service announced no view with a backup: does it make the first server that pings "
                    "the primary of view 1, and once that view is acknowledged, add an idle server as backup?")]


CHECKS: dict[str, Check] = {
    "no-node-errors": no_node_errors,
    "linearizable": linearizable,
    "views-step-by-one": views_step_by_one,
    "views-wait-for-the-ack": views_wait_for_the_ack,
    "only-the-backup-is-promoted": only_the_backup_is_promoted,
    "acks-after-the-transfer": acks_after_the_transfer,
    "crashed-primary-is-replaced": crashed_primary_is_replaced,
    "crashed-backup-is-replaced": crashed_backup_is_replaced,
    "views-end-with-a-backup": views_reach(True),
    "a-view-names-a-backup": a_view_names_a_backup,
    "half-of-operations-complete": operations_complete(0.5),
    "most-operations-complete": operations_complete(0.8),
    "every-operation-completes": operations_complete(1.0),
}

__all__ = ["CHECKS", "GOALS", "Announced", "linearizable", "roles_in", "views", "views_in"]
