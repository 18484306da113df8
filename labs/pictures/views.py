"""The extension point for per-lab views: extra time lines drawn under the space-time diagram.

Each lab has its own story to tell beside the messages: Raft's terms, leaders and commit indexes,
CRAQ's clean and dirty versions, Spanner's TrueTime intervals. A *view* reads the trace and returns
a :class:`~labs.pictures.timeline.Timeline`: a few labelled tracks of segments (a state that
lasted, e.g. "n2 leads term 4"), points (a moment, e.g. "n3 is elected") and levels (a number
that steps up and down over time, drawn as a line, e.g. the highest index n3 has applied). The
diagram draws every timeline on its own time axis, so it zooms, pans and filters with the
messages, and the JavaScript needs no code of the lab's: a view is pure Python over plain data.

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
from typing import Protocol

from labs.runtime.trace import Event

from .picture import Picture
from .timeline import Timeline


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
