"""Word count with a combiner: each map task adds up its own words before the shuffle.

The output is the same as ``wc``'s; the intermediate files are several times smaller, because a
map task emits each distinct word once with its count instead of once per occurrence. A combiner
works when reduce is associative and commutative (a sum is; a median is not).
"""

from __future__ import annotations

from collections import Counter

from labs.runtime.files import Work

from .wc import WORD

SEQUENTIAL = "wc"
"""The application whose sequential run this one's output must equal."""


def map(work: Work, name: str, text: str) -> list[tuple[str, str]]:
    return [(w, str(n)) for w, n in sorted(Counter(WORD.findall(text)).items())]


def reduce(work: Work, key: str, values: list[str]) -> str:
    return str(sum(int(v) for v in values))
