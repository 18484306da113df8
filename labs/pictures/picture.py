"""What a picture of a run shows, as plain data: the messages, crashes, partitions, client
operations and marks the diagram draws, the dashboard and the lab's timelines.

The browser code only draws: every decision about what an event means is made in Python, once,
where it can be tested against real traces (:func:`labs.pictures.build.build_picture`). The result
is a :class:`Picture` of plain dataclasses, and :meth:`Picture.to_payload` packs it into the
compact JSON the JavaScript reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .dashboard import Dashboard
from .timeline import Timeline, us

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
    """A moment worth a vertical line: the network changed, a heal, a skipped fault, a skew, or
    (``violation``, drawn red and labelled) the step of a search's path that broke an invariant."""

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


def body_text(body: Any) -> str:
    text = json.dumps(body, separators=(",", ":"), default=str)
    return text if len(text) <= MAX_BODY else text[: MAX_BODY - 1] + "…"
