"""Anything a student may hold after a run, turned into a :class:`~labs.pictures.picture.Picture`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labs.runtime.lab import RunResult
from labs.runtime.search import Exploration
from labs.runtime.trace import Event

from .build import build_picture
from .load import TraceError, check_events, read_events
from .picture import Mark, Picture

Source = Picture | RunResult | Sequence[Event] | str | Path
"""A finished run, its trace (a list of events), a trace file's path, or a picture already built."""


def picture_of(source: Source, title: str | None = None) -> Picture:
    """The picture of ``source`` (see :data:`Source`); bad input raises :class:`TraceError`."""
    if isinstance(source, Picture):
        return source
    return build_picture(events_of(source), title)


def events_of(source: RunResult | Sequence[Event] | str | Path | Any) -> list[Event]:
    """The checked events of a run, a list of events or a trace file."""
    if isinstance(source, RunResult):
        return check_events(source.trace, source="the run's trace")
    if isinstance(source, str | Path):
        return read_events(source)
    if isinstance(source, Sequence):
        return check_events(source)
    raise TraceError(f"cannot draw a {type(source).__name__}: give a RunResult, a list of trace "
                     "events or the path of a trace file (.jsonl)")


def path_picture(found: Exploration, title: str) -> Picture:
    """The picture of a search's path to a violation (:mod:`labs.runtime.search`): one step per
    millisecond, and a red line at the step that broke an invariant, labelled with what broke."""
    if found.run is None:
        raise TraceError(f"the search ended '{found.verdict}' with no path to draw")
    picture = picture_of(found.run, f"{title}: a path of {len(found.path)} steps, one per millisecond")
    if found.verdict == "violation" and found.findings:
        broke = found.findings[0].message
        broke = broke if len(broke) <= 140 else broke[:139] + "…"
        picture.marks.append(Mark(float(found.run.trace[-1]["t"]), "violation",
                                  f"step {len(found.path)} breaks it: {broke}"))
    return picture
