"""Word count with one slow map and one slow reduce (test-only), as in 6.824's early-exit test.

While those tasks run, the other workers have nothing to do: the coordinator must tell them to
wait, and they must keep asking until the job is done. ``SLOW`` stays below the coordinator's
timeout, so the slow tasks are not given to anyone else.
"""

from __future__ import annotations

from labs.runtime.files import Work

from . import wc

SEQUENTIAL = "wc"
"""The application whose sequential run this one's output must equal."""

SLOW = 1.5


def map(work: Work, name: str, text: str) -> list[tuple[str, str]]:
    if name.endswith("book-01.txt"):
        work.spend(SLOW)
    return wc.map(work, name, text)


def reduce(work: Work, key: str, values: list[str]) -> str:
    if key == "the":
        work.spend(SLOW)
    return wc.reduce(work, key, values)
