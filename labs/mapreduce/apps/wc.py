"""Word count: how many times each word appears in all the inputs together."""

from __future__ import annotations

import re

from labs.runtime.files import Work

WORD = re.compile(r"[A-Za-z]+")


def map(work: Work, name: str, text: str) -> list[tuple[str, str]]:
    """One ``(word, "1")`` per word (no combining: the shuffle moves every occurrence)."""
    return [(w, "1") for w in WORD.findall(text)]


def reduce(work: Work, key: str, values: list[str]) -> str:
    return str(len(values))
