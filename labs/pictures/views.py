"""The extension point for per-lab views: extra time lines drawn under the space-time diagram.

Each lab has its own story to tell beside the messages: Raft's terms, leaders and commit indexes,
CRAQ's clean and dirty versions, Spanner's TrueTime intervals. A *view* reads the trace and returns
a :class:`Timeline`: a few labelled tracks of segments (a state that lasted, e.g. "n2 leads term
4") and points (a moment, e.g. "n3 commits index 7"). The diagram draws every timeline on its own
time axis, so it zooms, pans and filters with the messages, and the JavaScript needs no code of the
lab's: a view is pure Python over plain data.

A lab adds views by registering them, preferably from a ``labs/<lab>/pictures.py`` module, which
:func:`views_for` imports the first time that lab's trace is drawn::

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
    start: float
    end: float
    label: str
    color: Color = 0


@dataclass(frozen=True)
class Point:
    t: float
    label: str
    color: Color = 0


@dataclass
class Track:
    """One row of a timeline, usually one node."""

    label: str
    segments: list[Segment] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)


@dataclass
class Timeline:
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
                 "pts": [[_us(p.t), p.label, p.color] for p in tr.points]}
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
            spec = importlib.util.find_spec(f"labs.{lab}.pictures")
        except ModuleNotFoundError:  # no such lab here: a trace from elsewhere
            spec = None
        if spec is not None:
            importlib.import_module(f"labs.{lab}.pictures")
    return [v for v, labs in _registry if labs is None] + [
        v for v, labs in _registry if labs is not None and lab in labs]
