"""What every MapReduce job shares, given to students: application plug-ins, partitioning, the
formats of intermediate and output files, their names, and the sequential run checks compare with.

An application is a module in ``labs/mapreduce/apps/`` with two functions::

    def map(work: Work, name: str, text: str) -> list[tuple[str, str]]: ...
    def reduce(work: Work, key: str, values: list[str]) -> str: ...

``work`` is the runtime's :class:`~labs.runtime.files.Work` of the task running them (most
applications ignore it; the test applications use it to be slow, to crash, or to watch who else
is running). Add a module there and a job can name it: that is the whole plug-in mechanism.
"""

from __future__ import annotations

import importlib
import json
import random
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labs.runtime.files import Work

__all__ = ["App", "decode_pairs", "encode_pairs", "format_output", "ihash", "intermediate_name",
           "load_app", "output_name", "sequential"]

Pair = tuple[str, str]


@dataclass(frozen=True)
class App:
    """A loaded application: its name and its two functions."""

    name: str
    map: Callable[[Work, str, str], list[Pair]]
    reduce: Callable[[Work, str, list[str]], str]


def app_names() -> list[str]:
    folder = Path(__file__).resolve().parent / "apps"
    return sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))


def load_app(name: str) -> App:
    """The application called ``name`` (``labs/mapreduce/apps/<name>.py``)."""
    if not name.isidentifier():
        raise LookupError(f"no application {name!r}; applications: {', '.join(app_names())}")
    try:
        module: Any = importlib.import_module(f"labs.mapreduce.apps.{name}")
    except ModuleNotFoundError:
        raise LookupError(f"no application {name!r}; applications: {', '.join(app_names())}") from None
    return App(name, module.map, module.reduce)


def ihash(key: str) -> int:
    """A key's hash, the same in every process (Python's ``hash`` of a string is not): the reduce
    task for ``key`` is ``ihash(key) % reduces``."""
    return zlib.crc32(key.encode("utf-8")) & 0x7FFFFFFF


def intermediate_name(map_task: int, reduce_task: int) -> str:
    """The file map task ``map_task`` writes for reduce task ``reduce_task``."""
    return f"mr-{map_task}-{reduce_task}"


def output_name(reduce_task: int) -> str:
    """The output file of reduce task ``reduce_task``."""
    return f"mr-out-{reduce_task}"


def encode_pairs(pairs: Iterable[Pair]) -> str:
    """Key-value pairs as the text of an intermediate file: one JSON array per line."""
    return "".join(json.dumps([k, v], ensure_ascii=False) + "\n" for k, v in pairs)


def decode_pairs(text: str) -> list[Pair]:
    """The pairs of an intermediate file's text."""
    out: list[Pair] = []
    for line in text.splitlines():
        k, v = json.loads(line)
        out.append((str(k), str(v)))
    return out


def format_output(results: Iterable[Pair]) -> str:
    """Reduce results as the text of an output file: ``key value`` lines."""
    return "".join(f"{k} {v}\n" for k, v in results)


class _Plain:
    """The work a sequential run gives applications: no files, no time."""

    node = "sequential"
    files: Any = None

    def __init__(self) -> None:
        self.random = random.Random(0)

    def spend(self, seconds: float) -> None:
        pass


def sequential(app: str, inputs: dict[str, str]) -> list[str]:
    """The output lines a correct job gives, sorted: one process, no partitions, no files."""
    the_app = load_app(app)
    work: Any = _Plain()
    groups: dict[str, list[str]] = defaultdict(list)
    for name in sorted(inputs):
        for k, v in the_app.map(work, name, inputs[name]):
            groups[k].append(v)
    return sorted(f"{k} {the_app.reduce(work, k, groups[k])}" for k in groups)
