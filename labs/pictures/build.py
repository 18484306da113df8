"""A picture worked out from a trace: what each event means to the diagram.

Which copy of a message a delivery belongs to, where a dropped message was lost, which messages
overtook others, how long a node was down, which operations never returned: all decided here,
from the checked events (:func:`labs.pictures.load.check_events`), into a
:class:`~labs.pictures.picture.Picture`. Then the views of the run's lab
(:mod:`labs.pictures.views`) add their timelines.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from labs.checkers.history import pair_trace_calls
from labs.runtime.schedule import library
from labs.runtime.trace import Event

from .dashboard import build_dashboard
from .picture import Mark, Message, Operation, PartitionSpan, Picture, Span
from .views import views_for


def build_picture(events: Sequence[Event], title: str | None = None) -> Picture:
    """The picture of a checked trace (see :func:`labs.pictures.load.check_events`), with the
    timelines of its lab's views."""
    header = events[0] if events and events[0].get("type") == "run" else {}
    body = [e for e in events if e.get("type") != "run"]
    duration = max((e["t"] for e in body), default=0.0)
    nodes = [str(n) for n in header.get("nodes", [])]
    clients = [str(c) for c in header.get("clients", [])]
    lanes = _lanes(body, nodes, clients)
    clients = [c for c in lanes if c in clients or (not nodes and c.startswith("c"))]
    messages = _messages(body)
    meta = _meta(header, len(events), duration)
    first_network = next((e for e in body if e["type"] == "network"), None)
    if first_network is not None and first_network["t"] == 0:
        meta["network"] = describe_network(first_network.get("network") or {})
    picture = Picture(
        title=title or _title(meta),
        meta=meta,
        lanes=lanes,
        clients=clients,
        messages=messages,
        spans=_spans(body, duration),
        partitions=_partitions(body, duration),
        operations=_operations(body, duration),
        marks=_marks(body),
        duration=duration,
        dashboard=build_dashboard(body, duration),
    )
    picture.views = [v for v in (view.build(body, picture) for view in views_for(meta.get("lab")))
                     if v is not None and v.tracks]
    return picture


def _lanes(events: Sequence[Event], nodes: list[str], clients: list[str]) -> list[str]:
    """Servers, then clients, then any other name the events mention, in order of appearance."""
    lanes = list(dict.fromkeys([*nodes, *clients]))
    seen = set(lanes)
    extra: list[str] = []
    for e in events:
        for key in ("node", "dst", "src"):
            name = e.get(key)
            if isinstance(name, str) and name not in seen:
                seen.add(name)
                extra.append(name)
    # Without a header, put servers before clients as the runtime names them (n1.., c1..).
    extra.sort(key=lambda n: (n.startswith("c"), len(n), n))
    return lanes + extra


def _meta(header: Event, n_events: int, duration: float) -> dict[str, Any]:
    schedule = header.get("schedule") or {}
    meta: dict[str, Any] = {
        "lab": header.get("lab"),
        "runtime": header.get("runtime"),
        "seed": header.get("seed"),
        "schedule": schedule.get("name") if isinstance(schedule, dict) else None,
        "description": schedule.get("description") if isinstance(schedule, dict) else None,
        "events": n_events,
        "duration": duration,
    }
    # A replay command only for schedules of the library: a file's or a builder's name says
    # nothing about where the schedule is.
    if (meta["lab"] and meta["schedule"] in library() and meta["runtime"]
            and meta["seed"] is not None):
        meta["replay"] = (f"python -m labs run {meta['lab']} --runtime {meta['runtime']} "
                          f"--schedule {meta['schedule']} --seed {meta['seed']}")
    return meta


def _title(meta: dict[str, Any]) -> str:
    parts = [str(meta[k]) for k in ("lab", "runtime") if meta.get(k)]
    if meta.get("schedule"):
        parts.append(f"schedule {meta['schedule']}")
    if meta.get("seed") is not None:
        parts.append(f"seed {meta['seed']}")
    return " · ".join(parts) or "a run"


def _messages(events: Sequence[Event]) -> list[Message]:
    sends: dict[int, Event] = {}
    copies: dict[int, int] = defaultdict(lambda: 1)
    ends: dict[int, list[Event]] = defaultdict(list)
    for e in events:
        kind = e["type"]
        if kind == "send":
            sends[e["id"]] = e
        elif kind in ("deliver", "drop"):
            ends[e["id"]].append(e)
        elif kind == "duplicate":
            copies[e["id"]] += 1
    delays = [ends[i][0]["t"] - s["t"] for i, s in sends.items()
              if ends[i] and ends[i][0]["type"] == "deliver"]
    # A message lost as it was sent, or that never arrived, has no delivery time: its stub is
    # drawn half a typical delay long, so that it points at where it was going.
    stub = statistics.median(delays) if delays else 0.001
    out: list[Message] = []
    for mid, s in sends.items():
        outcomes = ends.get(mid, [])
        n = max(copies[mid], len(outcomes))
        for copy in range(n):
            m = Message(id=mid, src=s["node"], dst=s["dst"], type=str(s["msg"]), send=s["t"],
                        end=s["t"] + stub, outcome="lost", duplicate=copy > 0, body=s.get("body"))
            if copy < len(outcomes):
                end = outcomes[copy]
                if end["type"] == "deliver":
                    m.outcome, m.end = "delivered", end["t"]
                else:
                    reason = end.get("reason")
                    m.outcome = reason if reason in ("loss", "partition", "crashed") else "loss"
                    m.at_sender = end["node"] == m.src and end["t"] <= m.send
                    m.end = m.send + stub if m.at_sender else end["t"]
            out.append(m)
    _mark_reordered(out)
    return out


def _mark_reordered(messages: list[Message]) -> None:
    """Flag each delivery that came after a delivery of a message sent later on its link."""
    links: dict[tuple[str, str], list[Message]] = defaultdict(list)
    for m in messages:
        if m.outcome == "delivered":
            links[(m.src, m.dst)].append(m)
    for ms in links.values():
        # Walk the link from the latest send backwards, keeping the earliest arrival seen so far
        # among later sends: arriving after it means being overtaken.
        ms.sort(key=lambda m: (m.send, m.id, m.duplicate))
        earliest_later = float("inf")
        i = len(ms) - 1
        while i >= 0:
            j = i
            while j > 0 and ms[j - 1].send == ms[i].send:
                j -= 1  # messages sent at the same instant do not overtake each other
            group = ms[j : i + 1]
            for m in group:
                m.reordered = m.end > earliest_later
            earliest_later = min(earliest_later, *(m.end for m in group))
            i = j - 1


def _spans(events: Sequence[Event], duration: float) -> list[Span]:
    out: list[Span] = []
    down: dict[str, Event] = {}
    paused: dict[str, Event] = {}
    for e in events:
        kind, node = e["type"], e.get("node")
        if kind == "crash" and isinstance(node, str):
            down[node] = e
        elif kind == "restart" and node in down:
            out.append(_crash_span(down.pop(node), e["t"]))
        elif kind == "pause" and isinstance(node, str):
            paused[node] = e
        elif kind == "resume" and node in paused:
            p = paused.pop(node)
            out.append(Span(node, p["t"], e["t"], "pause", "paused"))
    out.extend(_crash_span(c, duration) for c in down.values())
    out.extend(Span(n, p["t"], duration, "pause", "paused") for n, p in paused.items())
    out.sort(key=lambda s: (s.start, s.node))
    return out


def _crash_span(crash: Event, end: float) -> Span:
    reason = crash.get("reason", "")
    if reason == "replaced":
        label = "clerk replaced (its operation timed out)"
    elif reason == "error":
        err = str(crash.get("error") or "").strip().splitlines()
        label = "crashed: " + (err[-1] if err else "error in a handler")
    else:
        disk = crash.get("disk")
        label = "crashed" + (f" ({'disk kept' if disk == 'keep' else 'disk lost'})" if disk else "")
    return Span(crash["node"], crash["t"], end, "crash", label)


def _partitions(events: Sequence[Event], duration: float) -> list[PartitionSpan]:
    out: list[PartitionSpan] = []
    current: Event | None = None
    for e in events:
        if e["type"] in ("partition", "heal") and current is not None:
            out.append(_partition_span(current, e["t"]))
            current = None
        if e["type"] == "partition":
            current = e
    if current is not None:
        out.append(_partition_span(current, duration))
    return out


def _partition_span(e: Event, end: float) -> PartitionSpan:
    groups = [[str(n) for n in g] for g in e.get("groups") or []]
    blocked = e.get("blocked") or []
    if groups:
        label = "partition " + " | ".join(" ".join(g) for g in groups)
    else:
        cut = sorted({str(a) for a, _ in blocked} | {str(b) for _, b in blocked})
        label = f"partition: {len(blocked)} links cut among {' '.join(cut)}"
    return PartitionSpan(e["t"], end, groups, label)


def _operations(events: Sequence[Event], duration: float) -> list[Operation]:
    out: list[Operation] = []
    for inv, e in pair_trace_calls(events):
        if e is None:
            out.append(Operation(inv["node"], inv["t"], duration, "pending", _op_label(inv) + " (never returned)"))
            continue
        outcome = str(e["outcome"])
        result = f" → {_short(e.get('value'))}" if outcome == "ok" else f" ({outcome})"
        out.append(Operation(inv["node"], inv["t"], e["t"], outcome, _op_label(inv) + result))
    out.sort(key=lambda o: (o.start, o.client))
    return out


def _op_label(inv: Event) -> str:
    parts = [str(inv.get("f"))]
    for k in ("key", "value"):
        if inv.get(k) is not None:
            parts.append(_short(inv[k]))
    return " ".join(parts)


def _short(v: Any, limit: int = 40) -> str:
    text = v if isinstance(v, str) else json.dumps(v, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _marks(events: Sequence[Event]) -> list[Mark]:
    out: list[Mark] = []
    for e in events:
        kind, t = e["type"], e["t"]
        if kind == "network" and t > 0:
            out.append(Mark(t, "network", "network: " + describe_network(e.get("network") or {})))
        elif kind == "heal":
            out.append(Mark(t, "heal", "final heal" if e.get("final") else "heal"))
        elif kind == "skip":
            out.append(Mark(t, "skip", f"skipped {e.get('what')}: {e.get('why')}"))
        elif kind == "skew":
            out.append(Mark(t, "skew", f"clock of {e['node']}: {e.get('offset', 0):+g}s, "
                                       f"rate ×{e.get('rate', 1):g}", e["node"]))
    return out


def describe_network(n: dict[str, Any]) -> str:
    """``loss 0.1, delay uniform [0.001, 0.03], duplicate 0.01`` from a trace's network dict."""
    parts = []
    if n.get("loss"):
        parts.append(f"loss {n['loss']:g}")
    delay = n.get("delay")
    if isinstance(delay, dict):
        for kind, arg in list(delay.items())[:1]:
            if arg:
                parts.append(f"delay {kind} {arg}")
    if n.get("duplicate"):
        parts.append(f"duplicate {n['duplicate']:g}")
    if n.get("reorder") is False:
        parts.append("in order")
    return ", ".join(parts) or "clean"
