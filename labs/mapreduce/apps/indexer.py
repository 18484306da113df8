"""Inverted index: for each word, how many inputs hold it and which ones."""

from __future__ import annotations

from labs.runtime.files import Work

from .wc import WORD


def map(work: Work, name: str, text: str) -> list[tuple[str, str]]:
    return [(w, name) for w in sorted(set(WORD.findall(text)))]


def reduce(work: Work, key: str, values: list[str]) -> str:
    names = sorted(set(values))
    return f"{len(names)} {','.join(names)}"
