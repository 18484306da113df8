"""What the RPC lab's tests check, each reading a finished run (its history and trace) only.

Every check returns the violations it found, each a :class:`~labs.runtime.lab.Finding`: one
line that names the property, with the evidence (operation numbers are the history's ``index``,
as in the trace and its picture).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from labs.checkers.findings import linearizability_findings
from labs.checkers.history import pair_calls
from labs.checkers.linearizability import check as check_linearizability
from labs.checkers.standard_models import VERSIONED_KV
from labs.runtime.lab import Check, Finding, RunResult, no_node_errors, unreadable_memory

from .node import RETRY


def _ops(run: RunResult) -> Iterator[dict[str, Any]]:
    """Completed operations: f, key, value (the input), out, start, end, index, client."""
    return _completed(run.history)


def _completed(history: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for call, h in pair_calls(history):
        if h is not None:
            yield {"f": call["f"], "key": call["key"], "value": call["value"], "type": h["type"],
                   "out": h["value"], "start": call["time"], "end": h["time"],
                   "index": h["index"], "client": call["client"]}


def linearizable(run: RunResult) -> list[Finding]:
    """The history is linearizable as a versioned key-value store."""
    return linearizability_findings(run.history, VERSIONED_KV, hint=_reused_name(_requests(run)))


def most_operations_complete(share: float) -> Check:
    """At least ``share`` of the operations complete: retries get through a lossy network."""

    def check(run: RunResult) -> list[Finding]:
        ops = list(_ops(run))
        if not ops:
            return [Finding("no operation completed at all")]
        done = sum(1 for o in ops if o["type"] == "ok")
        if done >= share * len(ops):
            return []
        return [Finding(f"only {done} of {len(ops)} operations completed ({done / len(ops):.0%}, "
                        f"expected at least {share:.0%}){_retry_evidence(run)}")]

    check.__doc__ = f"At least {share:.0%} of the operations complete."
    return check


def _requests(run: RunResult) -> dict[tuple[str, Any], list[str]]:
    """The clerks' requests in the trace by name (client id, sequence number): what was sent
    under that name, in words, once per send."""
    sent: dict[tuple[str, Any], list[str]] = {}
    for e in run.trace:
        body = e.get("body")
        if e["type"] != "send" or not str(e.get("msg", "")).endswith("Request") or not isinstance(body, dict):
            continue
        said = f"{e['msg']}({', '.join(f'{k}={v!r}' for k, v in body.items() if k not in ('@type', 'client', 'seq'))})"
        sent.setdefault((str(body.get("client")), body.get("seq")), []).append(said)
    return sent


def _reused_name(sent: dict[tuple[str, Any], list[str]]) -> str:
    """Two different requests sent under one name, in words ("" when there are none): the server
    takes the second for a retry of the first and answers it with the first's reply."""
    for (client, seq), sends in sent.items():
        different = list(dict.fromkeys(sends))
        if len(different) > 1:
            a, b = different[:2]
            return (f"client {client} sent two different requests as sequence number {seq}, {a} and {b}: "
                    "the server takes the second for a retry of the first")
    return ""


def _retry_evidence(run: RunResult) -> str:
    """What the clerks' requests say about why operations did not complete, as the end of a
    finding's line; nothing when they say nothing clear."""
    sent = _requests(run)
    reused = _reused_name(sent)
    if reused:
        return f": {reused}"
    if sent and max(len(sends) for sends in sent.values()) == 1:
        return (f": no request was ever sent twice ({len(sent)} requests, each sent once), so a lost "
                "request or reply loses its operation: does the clerk retry until it gets an answer?")
    return ""


def every_operation_completes(run: RunResult) -> list[Finding]:
    """On a reliable network every operation completes in time. On Ray, where a busy machine
    can hold a process up past the clerk's timeout now and then, 99% of them must."""
    ops = list(_ops(run))
    late = [o for o in ops if o["type"] != "ok"]
    allowed = 0 if run.runtime == "sim" else len(ops) // 100
    if len(late) <= allowed:
        return []
    o = late[0]
    return [Finding(f"{len(late)} of {len(ops)} operation(s) did not complete in time on a reliable network, "
                    f"the first {o['f']}({o['key']!r}) #{o['index']} by {o['client']} at {o['start']:.3f}")]


def appends_show_once(run: RunResult) -> list[Finding]:
    """Every value a get returns holds each append at most once, and holds every append that
    finished before the get began."""
    ops = list(_ops(run))
    appends = [o for o in ops if o["f"] == "append" and o["type"] == "ok"]
    for g in (o for o in ops if o["f"] == "get" and o["type"] == "ok"):
        text = str(g["out"][0]) if isinstance(g["out"], list) else ""
        for a in appends:
            if a["key"] != g["key"]:
                continue
            n = text.count(a["value"])
            if n > 1:
                return [Finding(f"append {a['value']!r} (#{a['index']} by {a['client']}) took effect "
                                f"{n} times: get({g['key']!r}) #{g['index']} at {g['end']:.3f} shows it "
                                "more than once (a retried request executed again?)", text)]
            if n == 0 and a["end"] < g["start"]:
                return [Finding(f"append {a['value']!r} (#{a['index']} by {a['client']}) finished at "
                                f"{a['end']:.3f}, but get({g['key']!r}) #{g['index']}, begun at "
                                f"{g['start']:.3f}, does not show it", text)]
    return []


def one_winner_per_version(run: RunResult) -> list[Finding]:
    """Of the conditional puts for one version of a key, at most one succeeds."""
    winners: dict[tuple[str, int], dict[str, Any]] = {}
    for o in _ops(run):
        if o["f"] == "put" and o["type"] == "ok" and o["out"] is True:
            slot = (o["key"], int(o["value"][1]))
            if slot in winners:
                w = winners[slot]
                first, then = sorted((w, o), key=lambda x: x["start"])
                why = ("they ran at the same time: is the version compared and the value written in one step?"
                       if then["start"] < first["end"] else
                       f"#{then['index']} began after #{first['index']} had succeeded, when version {slot[1]} "
                       "was no longer the key's")
                return [Finding(f"two puts for version {slot[1]} of {slot[0]!r} both succeeded: "
                                f"#{w['index']} by {w['client']} at {w['start']:.3f}..{w['end']:.3f} and "
                                f"#{o['index']} by {o['client']} at {o['start']:.3f}..{o['end']:.3f} ({why})")]
            winners[slot] = o
    return []


RECENT = 3.0
"""Seconds a client counts as recent after its last operation, for :func:`memory_stays_bounded`:
the handout's ``FORGET_AFTER`` (2 s) and ``SWEEP`` (0.5 s), and some slack."""

PROCESS_GROWTH = 32 << 10
"""Bytes a server's process may grow by from the middle third of the memory test to the last,
where the grader measures the process from outside (a server that forgets nobody grows by
about 100 KiB there; one that forgets grows by a few pages at most)."""


def memory_stays_bounded(run: RunResult) -> list[Finding]:
    """The server's memory and disk do not grow with the number of clients that came and went.

    The disk is the bytes the runtime stores for it. The memory is, where the grader runs the
    server in a process of its own, what that process holds, read from outside it (``of:
    process``), else the size of the server's fields (``of: fields``). Judged from the middle
    third of the run to the last: the fields and the disk may grow by a quarter (+1 KB), the
    process by :data:`PROCESS_GROWTH`, each allowing for more clients at once in the last third
    than in the middle one (on Ray the rate at which clients come and go follows the machine's
    load; a server must remember the recent ones)."""
    samples = [e for e in run.trace if e["type"] == "memory" and e["node"] == "n1"]
    if len(samples) < 6:
        return [Finding(f"too few memory samples ({len(samples)}) to judge: did the server crash?")]
    unread = unreadable_memory(samples)
    if unread:
        return unread
    third = len(samples) // 3
    middle, last = samples[third:2 * third], samples[2 * third:]
    activity = [(h["time"], h["client"]) for h in run.history]

    def recent(t: float) -> int:
        return len({client for u, client in activity if t - RECENT < u <= t})

    busier = max(1.0, max(recent(e["t"]) for e in last) / max(1, max(recent(e["t"]) for e in middle)))

    def peak(part: list[dict[str, Any]], *fields: str) -> int:
        return max(sum(int(e[f]) for f in fields) for e in part)

    if samples[-1].get("of") == "process":
        grew = peak(last, "bytes") - peak(middle, "bytes")
        memory_ok = grew <= PROCESS_GROWTH * busier
        before, after = peak(middle, "disk"), peak(last, "disk")
        what = "disk"
    else:
        memory_ok, grew = True, 0
        before, after = peak(middle, "bytes", "disk"), peak(last, "bytes", "disk")
        what = "memory and disk"
    if memory_ok and after <= 1.25 * before * busier + 1024:
        return []
    sessions = sum(1 for e in run.trace if e["type"] == "restart" and str(e.get("node", "")).startswith("c"))
    also = f" (with {busier:.2f} times as many recent clients)" if busier > 1.0 else ""
    if not memory_ok:
        said = (f"the server's process grew by {grew:,} bytes in the last third of the run{also} while "
                f"{sessions} clients came and went (measured from outside it; at most {PROCESS_GROWTH:,} "
                "allowed)")
    else:
        said = f"the server's {what} grew from {before:,} to {after:,} bytes{also} while {sessions} clients came and went"
    table = "\n".join(f"t={e['t']:7.2f}  memory {int(e['bytes']):>11,}  disk {int(e['disk']):>9,}  "
                      f"{recent(e['t']):>4} recent clients" for e in samples)
    return [Finding(f"{said}: does it forget clients that went quiet?", table)]


def serves_again_after_disk_loss(run: RunResult) -> list[Finding]:
    """After a restart without its disk the server starts empty and serves again: what happens
    from the restart on is linearizable from an empty store (operations still running at the
    restart may or may not have taken effect)."""
    restarts = [e["t"] for e in run.trace if e["type"] == "restart" and e.get("node") == "n1"]
    if not restarts:
        return [Finding("the schedule never restarted the server")]
    at = restarts[-1]
    history = run.history
    ops = {o["index"]: o for o in _completed(history)}
    if not any(o["type"] == "ok" and o["start"] > at for o in ops.values()):
        return [Finding(f"no operation completed after the server restarted at {at:.3f}")]
    keep = {i for i, o in ops.items() if o["end"] > at}  # running at the restart, or later
    # Operations invoked before the restart and finished after it: their outcome is unknown
    # from the fresh store's point of view (their effect may have been lost with the disk).
    entries = [h if h["type"] == "invoke" or ops[h["index"]]["start"] > at else {**h, "type": "info"}
               for h in history if h["index"] in keep and (h["type"] == "invoke" or h["time"] > at)]
    result = check_linearizability(entries, VERSIONED_KV, timeout=20.0)
    if result.verdict == "illegal":
        return [Finding(f"after the restart at {at:.3f} the server does not behave as an empty store: "
                        f"{result.explain().splitlines()[-1]}", result.explain(), result.to_html())]
    return []


def answered_by_the_server(run: RunResult) -> list[Finding]:
    """Every operation that succeeded heard from a server while it was in progress: a clerk that
    answers by itself (from a store of its own, or one shared outside the network) is not a
    client of the service. Read from the trace the runtime wrote: deliveries, not claims."""
    servers = set(run.trace[0].get("nodes", ()))
    heard: dict[str, bool] = {}  # clerk -> whether a server's message reached it since its invoke
    invoked: dict[str, dict[str, Any]] = {}
    for e in run.trace:
        kind, node = e["type"], str(e.get("node"))
        if kind == "invoke":
            heard[node], invoked[node] = False, e
        elif kind == "deliver" and node in heard and e.get("src") in servers:
            heard[node] = True
        elif kind == "complete" and e.get("outcome") == "ok" and not heard.get(node, True):
            call = invoked[node]
            return [Finding(f"operation {e['index']} ({call['f']} of key {call['key']!r}) completed at t={e['t']:.3f} "
                            f"though no message from a server reached {node} since it was invoked at "
                            f"t={call['t']:.3f}: a clerk asks the server, it never answers by itself")]
    return []


def _name(body: object) -> tuple[str, int] | None:
    """A request's or reply's name, (client, seq), when its body has one."""
    if isinstance(body, dict) and isinstance(body.get("client"), str) and isinstance(body.get("seq"), int):
        return body["client"], body["seq"]
    return None


def retries_spaced(run: RunResult) -> list[Finding]:
    """A clerk sends a request again no sooner than RETRY after it last sent it: one retry timer
    per request, not one more for each request before it."""
    slack = 0.0 if run.runtime == "sim" else 0.05  # Ray stamps sends with a host's clock
    last: dict[tuple[str, int], float] = {}
    for e in run.trace:
        if e["type"] != "send" or not str(e.get("msg", "")).endswith("Request"):
            continue
        name = _name(e.get("body"))
        if name is None:
            continue
        t = float(e["t"])
        before = last.get(name)
        if before is not None and t - before < 0.8 * RETRY - slack:
            return [Finding(f"{e['node']} sent request {name[1]} of client {name[0]} at {before:.3f} and again at "
                            f"{t:.3f}, {t - before:.3f} s later, sooner than RETRY = {RETRY} s: does a retry "
                            "timer left over from an earlier request also resend this one? (check the "
                            "timer's seq against the request's)")]
        last[name] = t
    return []


def reply_is_to_this_request(run: RunResult) -> list[Finding]:
    """An operation completes with the reply to a request it sent itself, never with a late or
    duplicated reply to another request: an earlier one of this clerk, or one of the clerk it
    replaced on the same node (which numbered its requests from 1 too).

    The simulator records the message a clerk handled right before the completion it caused; a
    Ray trace mixes the hosts' and the driver's stamps, so there the check has nothing to go on."""
    if run.runtime != "sim":
        return []
    clerks = set(run.lab.client_names())
    replies: dict[int, tuple[float, tuple[str, int] | None]] = {}  # reply id -> (sent at, its name)
    asked: dict[str, set[tuple[str, int]]] = {}  # clerk -> the requests of its operation in progress
    handled: dict[str, dict[str, Any]] = {}
    for e in run.trace:
        kind, node = e["type"], str(e.get("node"))
        if kind == "send" and str(e.get("msg", "")).endswith("Reply"):
            replies[int(e["id"])] = (float(e["t"]), _name(e.get("body")))
        if node not in clerks:
            continue
        if kind == "invoke":
            asked[node] = set()
            handled[node] = e
        elif kind in ("deliver", "timer_fire", "start"):
            handled[node] = e
        elif kind == "send" and str(e.get("msg", "")).endswith("Request") and node in asked:
            name = _name(e.get("body"))
            if name is not None:
                asked[node].add(name)
        elif kind == "complete":
            mine = asked.pop(node, None)
            cause = handled.get(node)
            if mine is None or e.get("outcome") != "ok" or cause is None or cause["type"] != "deliver":
                continue
            sent, name = replies.get(int(cause["id"]), (0.0, None))
            if name is None or name in mine:
                continue
            own = ", ".join(f"request {s} of client {c}" for c, s in sorted(mine)) or "no request yet"
            return [Finding(f"operation {e['index']} of {node} sent {own}, but it completed at t={float(e['t']):.3f} "
                            f"with the reply to request {name[1]} of client {name[0]} (sent at t={sent:.3f}): a "
                            "late or duplicated reply to another request was taken for this one; a clerk takes "
                            "only a reply whose client and seq are its request's")]
    return []


CHECKS: dict[str, Check] = {
    "answered-by-the-server": answered_by_the_server,
    "retries-spaced": retries_spaced,
    "reply-is-to-this-request": reply_is_to_this_request,
    "no-node-errors": no_node_errors,
    "linearizable": linearizable,
    "most-operations-complete": most_operations_complete(0.95),
    "every-operation-completes": every_operation_completes,
    "appends-show-once": appends_show_once,
    "one-winner-per-version": one_winner_per_version,
    "memory-stays-bounded": memory_stays_bounded,
    "serves-again-after-disk-loss": serves_again_after_disk_loss,
}
