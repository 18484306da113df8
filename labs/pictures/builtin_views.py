"""The views that come with the pictures: log lines for every lab, and leaders for the demo lab.

:class:`DemoLeaders` is the worked example of a per-lab view (see :mod:`labs.pictures.views`): it
shows, per server, when it acted as leader and in which epoch, read from the ``Heartbeat`` messages
a leader sends. Two overlapping bars are two nodes that both believe they lead, which is what the
demo's lease is there to make harmless, and what a clock-skew schedule shows breaking. Raft's
term/leader/commit-index time line is built the same way, in ``labs/raft/timeline.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from labs.runtime.trace import Event

from .picture import Picture
from .timeline import Point, Segment, Timeline, Track
from .views import register_view


class LogLines:
    """Every ``self.log(...)`` line, as a point on its node's track: a node's own account of
    what it was doing, lined up with the messages that made it do so."""

    name = "log-lines"
    title = "Log lines (self.log)"

    def build(self, events: Sequence[Event], picture: Picture) -> Timeline | None:
        by_node: dict[str, list[Point]] = defaultdict(list)
        for e in events:
            if e["type"] == "log":
                node = str(e["node"])
                by_node[node].append(Point(e["t"], f"{node}: {e.get('text', '')}",
                                           _lane_color(picture, node)))
        tracks = [Track(n, points=by_node[n]) for n in picture.lanes if n in by_node]
        return Timeline(self.title, tracks, self.name) if tracks else None


def _lane_color(picture: Picture, node: str) -> int:
    return picture.lanes.index(node) if node in picture.lanes else 0


class DemoLeaders:
    """Who leads the demo cluster, and in which epoch: a bar per run of heartbeats."""

    name = "demo-leaders"
    title = "Leaders (from Heartbeat messages): who leads, in which epoch"
    gap = 0.2
    """A pause in a node's heartbeats longer than this ends its bar (heartbeats go every 50 ms)."""
    tail = 0.05

    def build(self, events: Sequence[Event], picture: Picture) -> Timeline | None:
        beats: dict[str, list[tuple[float, int]]] = defaultdict(list)
        for e in events:
            if e["type"] == "send" and e["msg"] == "Heartbeat":
                epoch = (e.get("body") or {}).get("epoch")
                sent = beats[e["node"]]
                if isinstance(epoch, int) and not (sent and sent[-1] == (e["t"], epoch)):
                    sent.append((e["t"], epoch))
        tracks = []
        for node in picture.lanes:
            if node in beats:
                tracks.append(Track(node, segments=self._bars(beats[node])))
        return Timeline(self.title, tracks, self.name) if tracks else None

    def _bars(self, beats: list[tuple[float, int]]) -> list[Segment]:
        bars: list[Segment] = []
        start, last, epoch = beats[0][0], beats[0][0], beats[0][1]
        for t, e in beats[1:]:
            if e != epoch or t - last > self.gap:
                bars.append(Segment(start, last + self.tail, f"leads epoch {epoch}", epoch))
                start, epoch = t, e
            last = t
        bars.append(Segment(start, last + self.tail, f"leads epoch {epoch}", epoch))
        return bars


register_view(LogLines())
register_view(DemoLeaders(), labs="demo")
