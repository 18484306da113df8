"""Word count with stragglers (test-only): two task attempts take ``SLOW`` seconds more.

The first attempt at the map of ``book-01.txt`` and at the reduce of the word ``the`` straggle, as
on a machine with a failing disk; every other first attempt at a map is a little slow, by a random
amount under a second. Later attempts (the coordinator's re-issues) run at normal speed, so a
coordinator that gives a silent task to another worker finishes long before the stragglers would
have. Which attempts came first is noted in the shared files (``slow/<task>``).
"""

from __future__ import annotations

from labs.runtime.files import Work

from . import wc

SEQUENTIAL = "wc"
"""The application whose sequential run this one's output must equal."""

SLOW = 8.0
P_SLOW = 0.9
"""The longest a first attempt at another map is slowed down."""


def _first_attempt(work: Work, task: str) -> bool:
    marker = f"slow/{task}"
    if work.files.exists(marker):
        return False
    work.files.write(marker, work.node)
    return True


def map(work: Work, name: str, text: str) -> list[tuple[str, str]]:
    if _first_attempt(work, name.replace("/", "_")):
        work.spend(SLOW if name.endswith("book-01.txt") else work.random.random() * P_SLOW)
    return wc.map(work, name, text)


def reduce(work: Work, key: str, values: list[str]) -> str:
    if key == "the" and _first_attempt(work, "reduce-the"):
        work.spend(SLOW)
    return wc.reduce(work, key, values)
