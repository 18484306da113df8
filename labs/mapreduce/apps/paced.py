"""Word count with slow maps (test-only): every map attempt takes ``PACE`` seconds more, and the
last book's ``LAST`` seconds more.

A map phase of eight books then lasts more than twice the coordinator's timeout, so a worker paused
just past the timeout early in it comes back while other map tasks are still pending: its late
report and the report of the task's re-executed copy both reach the coordinator mid-phase.
"""

from __future__ import annotations

from labs.runtime.files import Work

from . import wc

SEQUENTIAL = "wc"
"""The application whose sequential run this one's output must equal."""

PACE = 1.0
LAST = 1.8


def map(work: Work, name: str, text: str) -> list[tuple[str, str]]:
    work.spend(LAST if name.endswith("book-08.txt") else PACE)
    return wc.map(work, name, text)


def reduce(work: Work, key: str, values: list[str]) -> str:
    return wc.reduce(work, key, values)
