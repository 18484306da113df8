"""Anything a student may hold after a run, turned into a :class:`~labs.pictures.picture.Picture`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labs.runtime.lab import RunResult
from labs.runtime.trace import Event

from .build import build_picture
from .load import TraceError, check_events, read_events
from .picture import Picture

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
