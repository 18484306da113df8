"""What a picture of a run shows, worked out from the trace in Python.

The browser code only draws: every decision about what an event means (which copy of a message a
delivery belongs to, where a dropped message was lost, which messages overtook others, how long a
node was down) is made here, once, where it can be tested against real traces. The result is a
:class:`Picture` of plain dataclasses, and :meth:`Picture.to_payload` packs it into the compact
JSON the JavaScript reads.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from labs.runtime.schedule import library
from labs.runtime.trace import Event

from .dashboard import Dashboard, build_dashboard
from .views import Timeline, views_for

# How a message copy ended. "lost" means it never arrived before the trace ended (on Ray: sent to
# a dead process, or still in flight when the run stopped): it is drawn as a stub, like a message
# dropped as it was sent, rather than as a line running to the end of the run.
OUTCOMES = ("delivered", "loss", "partition", "crashed", "lost")
# Flag bits of a message in the payload (bits 0-2 hold the outcome's index in OUTCOMES).
DUPLICATE = 8
REORDERED = 16
STUB = 32  # drawn half-way to the receiver: dropped as it was sent, or never arrived

MAX_BODY = 4000
PAYLOAD_VERSION = 1


@dataclass(slots=True)
class Message:
    """One copy of a message, drawn as one arrow from its send to where it ended."""

    id: int
    src: str
    dst: str
    type: str
    send: float
    end: float
    outcome: str = "delivered"
    duplicate: bool = False
    """The second copy of a message the network duplicated."""
    reordered: bool = False
    """Arrived after a message sent later on the same link."""
    at_sender: bool = False
    """Dropped as it was sent (loss, or a partition at the sender): drawn as a stub."""
    body: Any = None

    @property
    def dropped(self) -> bool:
        return self.outcome in ("loss", "partition", "crashed")


@dataclass(slots=True)
class Span:
    """A time a node spent crashed or paused."""

    node: str
    start: float
    end: float
    kind: str  # "crash" or "pause"
    label: str


@dataclass(slots=True)
class PartitionSpan:
    start: float
    end: float
    groups: list[list[str]]
    label: str


@dataclass(slots=True)
class Operation:
    """A client operation, from its invocation to its completion (or the end of the trace)."""

    client: str
    start: float
    end: float
    outcome: str  # ok, fail, info, or "pending" when it never completed
    label: str


@dataclass(slots=True)
class Mark:
    """A moment worth a vertical line: the network changed, a heal, a skipped fault, a skew."""

    t: float
    kind: str
    label: str
    node: str | None = None


@dataclass
class Picture:
    """Everything a picture of one run shows."""

    title: str
    meta: dict[str, Any]
    lanes: list[str]
    clients: list[str]
    messages: list[Message]
    spans: list[Span]
    partitions: list[PartitionSpan]
    operations: list[Operation]
    marks: list[Mark]
    duration: float
    dashboard: Dashboard
    views: list[Timeline] = field(default_factory=list)

    @property
    def arrows(self) -> int:
        """How many message arrows the diagram draws (one per copy of a message)."""
        return len(self.messages)

    @property
    def drops(self) -> int:
        """How many drop marks the diagram draws."""
        return sum(1 for m in self.messages if m.dropped)

    def counts(self) -> dict[str, int]:
        return {
            "arrows": self.arrows,
            "drops": self.drops,
            "duplicates": sum(1 for m in self.messages if m.duplicate),
            "reordered": sum(1 for m in self.messages if m.reordered),
            "lost": sum(1 for m in self.messages if m.outcome == "lost"),
            "operations": len(self.operations),
            "crashes": sum(1 for s in self.spans if s.kind == "crash"),
            "pauses": sum(1 for s in self.spans if s.kind == "pause"),
            "partitions": len(self.partitions),
        }

    def to_payload(self) -> dict[str, Any]:
        """The compact JSON the JavaScript draws from (see ``pictures.js``, ``decode``).

        Times are whole microseconds. Messages are stored column by column, sorted by send time,
        with send times as differences from the previous one, so that thousands of arrows cost a
        few bytes each; message bodies are stored once each, however often they were sent.
        """
        lane_index = {name: i for i, name in enumerate(self.lanes)}
        types = sorted({m.type for m in self.messages})
        type_index = {name: i for i, name in enumerate(types)}
        bodies: list[str] = []
        body_index: dict[str, int] = {}
        cols: dict[str, list[int]] = {k: [] for k in ("s", "d", "a", "b", "k", "f", "y", "i")}
        last = 0
        for m in sorted(self.messages, key=lambda m: (m.send, m.id, m.duplicate)):
            s = us(m.send)
            cols["s"].append(s - last)
            last = s
            cols["d"].append(max(0, us(m.end) - s))
            cols["a"].append(lane_index[m.src])
            cols["b"].append(lane_index[m.dst])
            cols["k"].append(type_index[m.type])
            flags = OUTCOMES.index(m.outcome)
            flags |= DUPLICATE if m.duplicate else 0
            flags |= REORDERED if m.reordered else 0
            flags |= STUB if m.at_sender or m.outcome == "lost" else 0
            cols["f"].append(flags)
            text = body_text(m.body)
            if text not in body_index:
                body_index[text] = len(bodies)
                bodies.append(text)
            cols["y"].append(body_index[text])
            cols["i"].append(m.id)
        return {
            "v": PAYLOAD_VERSION,
            "title": self.title,
            "meta": self.meta,
            "unit": 1e-6,
            "duration": us(self.duration),
            "lanes": self.lanes,
            "clients": [lane_index[c] for c in self.clients],
            "types": types,
            "outcomes": list(OUTCOMES),
            "m": cols,
            "bodies": bodies,
            "spans": [[lane_index[s.node], us(s.start), us(s.end), s.kind, s.label]
                      for s in self.spans],
            "parts": [[us(p.start), us(p.end), [[lane_index[n] for n in g if n in lane_index]
                                                for g in p.groups], p.label]
                      for p in self.partitions],
            "ops": [[lane_index[o.client], us(o.start), us(o.end), o.outcome, o.label]
                    for o in self.operations],
            "marks": [[us(k.t), k.kind, k.label, lane_index.get(k.node, -1) if k.node else -1]
                      for k in self.marks],
            "dash": self.dashboard.to_payload(),
            "views": [v.to_payload() for v in self.views],
            "counts": self.counts(),
        }


def us(t: float) -> int:
    """Seconds to whole microseconds, the payload's unit of time."""
    return round(t * 1_000_000)


def body_text(body: Any) -> str:
    text = json.dumps(body, separators=(",", ":"), default=str)
    return text if len(text) <= MAX_BODY else text[: MAX_BODY - 1] + "…"


# -- building -----------------------------------------------------------------------------


def build_picture(events: Sequence[Event], title: str | None = None) -> Picture:
    """The picture of a checked trace (see :func:`labs.pictures.load.check_events`)."""
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
    open_ops: dict[int, Event] = {}
    out: list[Operation] = []
    for e in events:
        if e["type"] == "invoke":
            open_ops[e["index"]] = e
        elif e["type"] == "complete" and e["index"] in open_ops:
            inv = open_ops.pop(e["index"])
            outcome = str(e["outcome"])
            result = f" → {_short(e.get('value'))}" if outcome == "ok" else f" ({outcome})"
            out.append(Operation(inv["node"], inv["t"], e["t"], outcome, _op_label(inv) + result))
    out.extend(Operation(i["node"], i["t"], duration, "pending", _op_label(i) + " (never returned)")
               for i in open_ops.values())
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
