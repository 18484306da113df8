"""The run's shared file system, and work that takes time: what batch labs (MapReduce) build on.

Why a shared file system: a batch job moves its data through files that every machine can read,
as MapReduce does through GFS. Every node of a run sees the same files (``self.files``), and each
change is a ``file`` event in the trace, so that a checker can tell, for example, that a crash left
half a file under a name that readers trust.

Why work: a handler must return at once, but a map task reads and writes megabytes. A node hands
such a job to :meth:`~labs.runtime.node.Node.start_work`; it runs in the background while the node
keeps handling messages and timers, and its result comes back as a message from the node to
itself. A crash kills the work with the node: its result never arrives, and a file it was writing
stays as far as it got.

* In the simulator the work's function runs step by step in virtual time (see :mod:`.simwork`):
  reading and writing cost time by the byte (:data:`SIM_BYTES_PER_SECOND`, times a speed between
  0.7 and 1.3 drawn from the seed for each work), ``spend(s)`` costs ``s`` seconds, and each file
  operation happens at its moment. A crash in the middle of a write leaves the part written so far.
* On Ray the function runs for real, in a thread of the node's process, on a real directory that the
  node processes of the run share (one machine; several machines need that directory on a shared
  file system). ``spend(s)`` sleeps.

Names are relative paths such as ``"mr-out-1"`` or ``"input/book-01.txt"``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

__all__ = ["SIM_BYTES_PER_SECOND", "DirFiles", "Files", "MemoryFiles", "Work", "WorkBase", "check_name"]

SIM_BYTES_PER_SECOND = 500_000
"""How fast a work reads and writes in the simulator: a slow disk. Simulated tasks take longer than
on a laptop (word count over the lab's full corpus: about 50 simulated seconds with three workers,
5 real seconds on Ray), which leaves room to crash a worker in the middle of a small task."""

Emit = Callable[..., None]
"""How a file system reports a change: ``emit("file", op=..., name=..., bytes=...)``."""


class Files(Protocol):
    """The shared file system as a node or a work sees it."""

    def read(self, name: str) -> str:
        """The file's text; ``FileNotFoundError`` when there is none."""
        ...

    def write(self, name: str, text: str) -> None:
        """Create or replace the file. Not atomic: until it returns the file holds part of
        ``text``, and a crash meanwhile leaves that part. Write elsewhere and :meth:`rename` to
        publish a file whole."""
        ...

    def rename(self, src: str, dst: str) -> None:
        """Move ``src`` to ``dst`` in one step, replacing ``dst``: readers see the old file or
        the new one, never a mix."""
        ...

    def remove(self, name: str) -> None:
        """Delete the file (nothing happens if there is none)."""
        ...

    def exists(self, name: str) -> bool: ...

    def list(self, prefix: str = "") -> list[str]:
        """The names that start with ``prefix``, sorted."""
        ...


FILE_OPERATIONS = frozenset({"read", "write", "rename", "remove", "exists", "list"})
"""The methods of :class:`Files`: what a node's process, which may say anything, may call by name."""


class Work(Protocol):
    """What a work's function is given (its first argument)."""

    @property
    def node(self) -> str:
        """The node running the work."""
        ...

    @property
    def files(self) -> Files: ...

    @property
    def random(self) -> random.Random:
        """Seeded random numbers, for this work only."""
        ...

    def spend(self, seconds: float) -> None:
        """Take ``seconds`` of time, as a slow computation or a slow disk does."""
        ...


def check_name(name: object) -> str:
    """``name`` if it is a usable file name, else a ``ValueError`` that says what is allowed."""
    if (not isinstance(name, str) or not name or name.startswith("/") or name.endswith("/")
            or any(part in ("", ".", "..") for part in name.split("/"))):
        raise ValueError(f"file names are relative paths like 'mr-out-1' or 'input/a.txt', not {name!r}")
    return name


MAX_FILES = 128 << 20
"""Characters the simulator's shared files may hold in all (they live in the grader's memory)."""


def check_room(held: Iterable[str], replaced: str | None, text: str) -> None:
    """A ``ValueError`` when writing ``text`` (over ``replaced``, when the file exists) would take
    the files, ``held`` being all they hold, past :data:`MAX_FILES`."""
    total = sum(map(len, held)) - len(replaced or "") + len(text)
    if total > MAX_FILES:
        raise ValueError(f"no room: this write would take the run's files to {total >> 20} MiB, more than the "
                         f"{MAX_FILES >> 20} MiB they may hold in all (a map task's output is a few KiB; "
                         "is something written over and over?)")


class MemoryFiles:
    """The simulator's shared files as handlers see them: text in memory, changed at once."""

    def __init__(self, data: dict[str, str], emit: Emit) -> None:
        self.data = data
        self._emit = emit

    def read(self, name: str) -> str:
        try:
            return self.data[check_name(name)]
        except KeyError:
            raise FileNotFoundError(f"no file {name!r}") from None

    def write(self, name: str, text: str) -> None:
        name, text = check_name(name), _text(text)
        check_room(self.data.values(), self.data.get(name), text)
        self.data[name] = text
        size = _size(text)
        self._emit("file", op="write", name=name, bytes=size)
        self._emit("file", op="written", name=name, bytes=size)

    def rename(self, src: str, dst: str) -> None:
        text = self.read(src)
        del self.data[src]
        self.data[check_name(dst)] = text
        self._emit("file", op="rename", name=src, to=dst, bytes=_size(text))

    def remove(self, name: str) -> None:
        if self.data.pop(check_name(name), None) is not None:
            self._emit("file", op="remove", name=name)

    def exists(self, name: str) -> bool:
        return check_name(name) in self.data

    def list(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self.data if n.startswith(prefix))


class DirFiles:
    """Ray's shared files: a real directory. Writes go out in blocks, each flushed, so that a
    process killed in the middle of one leaves part of the file, as a real crash does."""

    BLOCK = 64 * 1024

    def __init__(self, root: str | os.PathLike[str], emit: Emit) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._emit = emit

    def _path(self, name: str) -> Path:
        return self.root / check_name(name)

    def read(self, name: str) -> str:
        try:
            return self._path(name).read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError):
            raise FileNotFoundError(f"no file {name!r}") from None

    def write(self, name: str, text: str) -> None:
        self.write_begins(name, text)
        self.write_ends(name, text)

    def write_begins(self, name: str, text: str) -> None:
        """A write that takes a while begins (a sealed node's work, see ``ray_hosted``): the file
        is empty until :meth:`write_ends`, and stays so if its node crashes meanwhile."""
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._emit("file", op="write", name=name, bytes=len(_text(text).encode("utf-8")))
        path.write_bytes(b"")

    def write_ends(self, name: str, text: str) -> None:
        data = _text(text).encode("utf-8")
        with open(self._path(name), "wb") as f:
            for i in range(0, len(data), self.BLOCK):
                f.write(data[i:i + self.BLOCK])
                f.flush()
        self._emit("file", op="written", name=name, bytes=len(data))

    def rename(self, src: str, dst: str) -> None:
        target = self._path(dst)
        target.parent.mkdir(parents=True, exist_ok=True)
        source = self._path(src)
        try:
            size = source.stat().st_size
            os.replace(source, target)
        except FileNotFoundError:
            raise FileNotFoundError(f"no file {src!r} to rename") from None
        self._emit("file", op="rename", name=src, to=dst, bytes=size)

    def remove(self, name: str) -> None:
        try:
            self._path(name).unlink()
        except FileNotFoundError:
            return
        self._emit("file", op="remove", name=name)

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def list(self, prefix: str = "") -> list[str]:
        return sorted(n for n in _walk(self.root, "") if n.startswith(prefix))


def _walk(directory: Path, prefix: str) -> Iterator[str]:
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.is_dir():
            yield from _walk(Path(entry.path), f"{prefix}{entry.name}/")
        else:
            yield f"{prefix}{entry.name}"


class WorkBase:
    """What every kind of :class:`Work` shares: its node's name, the files it sees, its random numbers."""

    _node: str
    _files: Files
    _random: random.Random

    @property
    def node(self) -> str:
        return self._node

    @property
    def files(self) -> Files:
        return self._files

    @property
    def random(self) -> random.Random:
        return self._random


def _check_seconds(seconds: object) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise ValueError(f"spend({seconds!r}): a number of seconds >= 0")
    return float(seconds)


def _text(text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError(f"files hold text (str), not {type(text).__name__}")
    return text


def _size(text: str) -> int:
    return len(text.encode("utf-8"))
