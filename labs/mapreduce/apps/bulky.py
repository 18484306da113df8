"""Document frequency with bulky output (test-only): in how many inputs each word appears.

A map emits each distinct word of its input once, so the intermediate files are small; a reduce
writes a long line per word (the count, then the word's inputs' initials, padded to ``LINE``
bytes), so that writing its output file takes most of a reduce task, as a real job's big outputs
do, and a crash in the reduce phase most likely lands in the middle of that write.
"""

from __future__ import annotations

from labs.runtime.files import Work

from . import wc

LINE = 200
"""Bytes of each output value."""


def map(work: Work, name: str, text: str) -> list[tuple[str, str]]:
    book = name.rsplit("/", 1)[-1].removesuffix(".txt")
    return [(w, book) for w in sorted(set(wc.WORD.findall(text)))]


def reduce(work: Work, key: str, values: list[str]) -> str:
    books = sorted(set(values))
    return f"{len(books)} {','.join(b.removeprefix('book-') for b in books)} ".ljust(LINE, ".")
