"""What a view draws: a timeline of labelled tracks, each of segments, points and levels.

A view (:mod:`labs.pictures.views`) reads a trace and returns a :class:`Timeline`, plain data the
diagram draws under the messages, on the same time axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Color = int | str
"""An index into the picture's palette (stable per value, e.g. a term number) or a CSS color."""


@dataclass(frozen=True)
class Segment:
    """A state that lasted from ``start`` to ``end`` (seconds), drawn as a bar with ``label``
    on it where it fits, and on hover."""

    start: float
    end: float
    label: str
    color: Color = 0


@dataclass(frozen=True)
class Point:
    """A moment, drawn as a diamond; ``label`` shows on hover."""

    t: float
    label: str
    color: Color = 0


@dataclass(frozen=True)
class Level:
    """From ``t`` on (until the next level of its track), the track's number is ``value``;
    ``None`` means it has none (the line breaks: a node that is down has no commit index)."""

    t: float
    value: float | None
    label: str = ""
    """What the value means, shown on hover (default: the value itself)."""


@dataclass
class Track:
    """One row of a timeline, usually one node."""

    label: str
    segments: list[Segment] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    levels: list[Level] = field(default_factory=list)
    """A step line, in time order, with each value written beside its step where there is
    room. The tracks of one timeline share one scale, from the smallest to the largest of their
    values in the time window shown, so that their lines can be compared at a glance and, zoomed
    in, a step of one is still visible."""


@dataclass
class Timeline:
    """What a view returns: its ``title`` and its tracks, drawn under the diagram in that order;
    ``name`` is the view's, so that tests and the page's script can find it."""

    title: str
    tracks: list[Track]
    name: str = ""

    def to_payload(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "tracks": [
                {"label": tr.label,
                 "segs": [[us(s.start), us(s.end), s.label, s.color] for s in tr.segments],
                 "pts": [[us(p.t), p.label, p.color] for p in tr.points],
                 **({"lv": [[us(lv.t), lv.value, lv.label] for lv in tr.levels]} if tr.levels else {})}
                for tr in self.tracks
            ],
        }


def us(t: float) -> int:
    """Seconds to whole microseconds, the payload's unit of time."""
    return round(t * 1_000_000)
