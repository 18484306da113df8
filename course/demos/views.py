"""A picture view for the chapter's queueing demos: how full the server is, under the diagram.

Registered for the labs ``ch0-queue`` and ``ch0-retries`` when :mod:`course.demos` is imported,
so :class:`~labs.pictures.TraceWidget` draws it beside the messages (see the pictures' reference
page, "a view of your own").
"""

from __future__ import annotations

from collections.abc import Sequence

from labs.pictures import Picture, Segment, Timeline, Track, register_view
from labs.runtime.trace import Event

LEVELS = ((100, "100 or more requests inside", "#c62828"),
          (10, "10 to 99 requests inside", "#f9a825"),
          (1, "1 to 9 requests inside", "#9ccc65"))


class Backlog:
    """The number of requests inside the server (``n1``), as colored bands by size."""

    title = "Requests inside the server (waiting or being served)"

    def __init__(self, name: str, request: str, reply: str) -> None:
        self.name = name
        self.request = request
        self.reply = reply

    def build(self, events: Sequence[Event], picture: Picture) -> Timeline | None:
        kinds: dict[int, str] = {}
        level = 0
        segments: list[Segment] = []
        band: tuple[float, int] | None = None  # (start, index into LEVELS)
        for e in events:
            before = level
            if e["type"] == "send":
                kinds[e["id"]] = e["msg"]
                if e["node"] == "n1" and e["msg"] == self.reply:
                    level -= 1
            elif e["type"] == "deliver" and e["node"] == "n1" and kinds.get(e["id"]) == self.request:
                level += 1
            if level == before:
                continue
            which = next((i for i, (low, _, _) in enumerate(LEVELS) if level >= low), None)
            if band is None or which != band[1]:
                if band is not None:
                    segments.append(_segment(band, e["t"]))
                band = None if which is None else (e["t"], which)
        if band is not None:
            segments.append(_segment(band, picture.duration))
        if not segments:
            return None
        return Timeline(self.title, [Track("n1", segments=segments)], self.name)


def _segment(band: tuple[float, int], end: float) -> Segment:
    _, label, color = LEVELS[band[1]]
    return Segment(band[0], end, label, color)


register_view(Backlog("ch0-queue-backlog", "Job", "Done"), labs="ch0-queue")
register_view(Backlog("ch0-retries-backlog", "Call", "Reply"), labs="ch0-retries")
