"""The extension point for per-lab views: extra time lines drawn under the space-time diagram.

Each lab has its own story to tell beside the messages: Raft's terms, leaders and commit indexes,
CRAQ's clean and dirty versions, Spanner's TrueTime intervals. A *view* reads the trace and returns
a :class:`Timeline`: a few labelled tracks of segments (a state that lasted, e.g. "n2 leads term
4"), points (a moment, e.g. "n3 is elected") and levels (a number that steps up and down over
time, drawn as a line, e.g. the highest index n3 has applied). The diagram draws every timeline
on its own time axis, so it zooms, pans and filters with the messages, and the JavaScript needs
no code of the lab's: a view is pure Python over plain data.

A lab adds views by registering them, from its package (``labs/<lab>/__init__.py`` imports the
module that registers them) or from a ``labs/<lab>/pictures.py`` module. :func:`views_for`
imports both the first time that lab's trace is drawn, so that a trace file drawn by a fresh
process (``python -m labs picture``, the grader's feedback) gets its lab's views::

    from labs.pictures import Segment, Timeline, Track, register_view

    class Terms:
        name = "raft-terms"
        title = "Terms and leaders"

        def build(self, events, picture):
            ...
            return Timeline(self.title, [Track("n1", segments=[Segment(0.4, 2.1, "leader, term 3", 3)])])

    register_view(Terms(), labs="raft")
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from labs.runtime.trace import Event

if TYPE_CHECKING:
    from .model import Picture

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
                 "segs": [[_us(s.start), _us(s.end), s.label, s.color] for s in tr.segments],
                 "pts": [[_us(p.t), p.label, p.color] for p in tr.points],
                 **({"lv": [[_us(lv.t), lv.value, lv.label] for lv in tr.levels]} if tr.levels else {})}
                for tr in self.tracks
            ],
        }


def _us(t: float) -> int:
    return round(t * 1_000_000)


class View(Protocol):
    """A per-lab view: ``build`` reads the trace's events (header excluded) and the picture
    built so far (lanes, duration, crash spans...) and returns a timeline, or ``None`` when it
    has nothing to show for this run."""

    name: str
    title: str

    def build(self, events: Sequence[Event], picture: Picture) -> Timeline | None: ...


_registry: list[tuple[View, frozenset[str] | None]] = []
_discovered: set[str] = set()


def register_view(view: View, labs: str | Iterable[str] | None = None) -> View:
    """Draw ``view`` under the diagram of runs of ``labs`` (a lab name, several, or ``None`` for
    every lab). Registering a view with the name of a registered one replaces it."""
    which = None if labs is None else frozenset([labs] if isinstance(labs, str) else labs)
    unregister_view(view.name)
    _registry.append((view, which))
    return view


def unregister_view(name: str) -> None:
    _registry[:] = [(v, labs) for v, labs in _registry if v.name != name]


def views_for(lab: str | None) -> list[View]:
    """The views drawn for a run of ``lab``: those for every lab, then the lab's own."""
    if lab and lab not in _discovered and lab.isidentifier():
        _discovered.add(lab)
        try:
            importlib.import_module(f"labs.{lab}")
        except ModuleNotFoundError as exc:
            if exc.name != f"labs.{lab}":
                raise  # the lab is here but cannot be imported: say why
            return _registered(lab)  # no such lab here: a trace from elsewhere
        if importlib.util.find_spec(f"labs.{lab}.pictures") is not None:
            importlib.import_module(f"labs.{lab}.pictures")
    return _registered(lab)


def _registered(lab: str | None) -> list[View]:
    return [v for v, labs in _registry if labs is None] + [
        v for v, labs in _registry if labs is not None and lab in labs]
