"""Word count whose tasks crash their worker at random (test-only).

A map task crashes with probability ``MAP_CRASH``; a reduce task may crash at any of its keys.
The crash is an :class:`AppCrash` raised inside the task, which takes the worker's process down as
any error in a work does; the lab's checks know these crashes are on purpose.
"""

from __future__ import annotations

from labs.runtime.files import Work

from . import wc

SEQUENTIAL = "wc"
"""The application whose sequential run this one's output must equal."""

MAP_CRASH = 0.15
REDUCE_CRASH_PER_KEY = 0.0001


class AppCrash(RuntimeError):
    """The crash application crashed this worker on purpose."""


def map(work: Work, name: str, text: str) -> list[tuple[str, str]]:
    if work.random.random() < MAP_CRASH:
        work.spend(0.05 * work.random.random())
        raise AppCrash(f"the crash app crashed {work.node} in the map of {name}, on purpose")
    return wc.map(work, name, text)


def reduce(work: Work, key: str, values: list[str]) -> str:
    if work.random.random() < REDUCE_CRASH_PER_KEY:
        raise AppCrash(f"the crash app crashed {work.node} in the reduce of {key!r}, on purpose")
    return wc.reduce(work, key, values)
