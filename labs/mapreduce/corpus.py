"""The lab's input: a library of made-up books, generated from a seed, never downloaded.

Why generated: the course runs offline (and in a browser), the tests need the same bytes on every
machine, and a real job wants megabytes of text whose words follow the skewed frequencies of real
language (a few words everywhere, most words rare), because that skew is what makes some reduce
partitions bigger than others. Each book draws its words from one shared vocabulary with Zipf's
law (the k-th most common word appears about 1/k as often as the first), plus a few words of its
own, so an inverted index has both words found in every book and words found in one.

The same name and seed give the same text on every machine and Python version: the generator uses
only ``random.Random(seed).random()``, whose sequence Python keeps stable.

Corpora (``CORPORA``): ``tiny`` for unit tests, ``small`` for the test suite (the simulator runs it
hundreds of times), ``full`` (about 6 MB) for the chapter's demos and the benchmark on Ray.
"""

from __future__ import annotations

import bisect
import itertools
import os
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CORPORA", "Corpus", "corpus", "read_books"]

_COMMON_TEXT = (
    "the of and to a in that it is was he for on are as with his they at be this from have or by "
    "one had not but what all were when we there can an your which their said if do will each about "
    "how up out them then she many some so these would other into has more her two like him see time "
    "could no make than first been its who now people my made over did down only way find use may "
    "water long little very after words called just where most know get through back much go good "
    "new write our me man too any day same right look think also around another came come work three "
    "word must because does part even place well such here take why things help put years different "
    "away again off went old number great tell men say small every found still between name should "
    "home big give air line set own under read last never us left end along while might next sound "
    "below saw something thought both few those always looked show large often together asked house "
    "world going want school important until form food keep children feet land side without boy once "
    "animals life enough took sometimes four head above kind began almost live page got earth need far "
    "hand high year mother light parts country father let night following picture being study second "
    "eyes soon times story boys since white days ever paper hard near sentence better best across "
    "during today others however sure means knew try told young miles sun ways thing whole hear example "
    "heard several change answer room sea against top turned learn point city play toward five using "
    "himself usually river ship mountain winter market bridge garden window letter lantern harbor"
)
COMMON = _COMMON_TEXT.split()
SYLLABLES = ("ka", "lo", "ri", "ten", "mar", "vel", "os", "dun", "ish", "pra", "qua", "zel", "bo",
             "fen", "gar", "hel", "ith", "jor", "kel", "lum", "nor", "pel", "ros", "sta", "tor",
             "ul", "vin", "wen", "yar", "ze")


VERSION = 1
"""Bump when the generator changes, so that cached corpora are made again."""


@dataclass(frozen=True)
class Corpus:
    name: str
    books: int
    words_per_book: int
    vocabulary: int
    seed: int


CORPORA = {
    "tiny": Corpus("tiny", 3, 400, 300, 11),
    "small": Corpus("small", 8, 3_000, 2_000, 12),
    "full": Corpus("full", 12, 90_000, 12_000, 13),
}


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """``size`` distinct words: common English first, then made-up words of two to four syllables."""
    words = list(dict.fromkeys(COMMON))[:size]
    seen = set(words)
    while len(words) < size:
        n = 2 + int(rng.random() * 3)
        w = "".join(SYLLABLES[int(rng.random() * len(SYLLABLES))] for _ in range(n))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def book(spec: Corpus, index: int, words: list[str], cumulative: list[float]) -> str:
    """One book: a title line, then paragraphs of sentences, words drawn by Zipf's law."""
    rng = random.Random(spec.seed * 1_000 + index)
    own = [f"{w}{SYLLABLES[index % len(SYLLABLES)]}" for w in words[-20:]]  # words of this book only
    total = cumulative[-1]
    lines = [f"Book {index + 1} of the {spec.name} library", ""]
    sentence: list[str] = []
    line: list[str] = []
    for _ in range(spec.words_per_book):
        r = rng.random()
        if r < 0.01:
            w = own[int(rng.random() * len(own))]
        else:
            w = words[bisect.bisect(cumulative, rng.random() * total)]
        sentence.append(w)
        if len(sentence) > 4 and rng.random() < 0.12:
            text = " ".join(sentence)
            line.append(text[0].upper() + text[1:] + ("." if rng.random() < 0.8 else ","))
            sentence = []
            if rng.random() < 0.15:
                lines.append(" ".join(line))
                line = []
                if rng.random() < 0.3:
                    lines.append("")
    if sentence:
        line.append(" ".join(sentence) + ".")
    lines.append(" ".join(line))
    return "\n".join(lines) + "\n"


def generate(spec: Corpus) -> dict[str, str]:
    """The corpus's books, by file name (``book-01.txt``...)."""
    words = vocabulary(spec.vocabulary, random.Random(spec.seed))
    cumulative = list(itertools.accumulate(1.0 / (k + 1) for k in range(len(words))))
    return {f"book-{i + 1:02d}.txt": book(spec, i, words, cumulative) for i in range(spec.books)}


def cache_dir() -> Path:
    """Where generated corpora are kept (``$DS_COURSE_CACHE`` or the user's cache directory)."""
    root = os.environ.get("DS_COURSE_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ds-course"
    return Path(root) / "corpus"


def corpus(name: str) -> Path:
    """The folder holding corpus ``name``, generated on first use (atomically, so that processes
    generating it at once never see half a book)."""
    try:
        spec = CORPORA[name]
    except KeyError:
        raise LookupError(f"no corpus {name!r}; corpora: {', '.join(CORPORA)}") from None
    leaf = f"{name}-{spec.books}x{spec.words_per_book}-{spec.vocabulary}-{spec.seed}-v{VERSION}"
    folder = cache_dir() / leaf
    if folder.is_dir():
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # no writable cache (a sandboxed grading user): a private temporary one
        folder = Path(tempfile.gettempdir()) / f"ds-course-corpus-{os.getuid()}" / leaf
        if folder.is_dir():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
    for file, text in generate(spec).items():
        (tmp / file).write_text(text, encoding="utf-8")
    try:
        os.rename(tmp, folder)
    except OSError:  # another process got there first: theirs is the same
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    return folder


def read_books(name: str) -> dict[str, str]:
    """Corpus ``name`` as ``{file name: text}``."""
    folder = corpus(name)
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))}
