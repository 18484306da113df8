"""The disks behind :class:`~labs.runtime.node.Storage`.

In the simulator the world keeps each node's disk, as a dict of encoded values (see
:mod:`.nodeside`): it outlives a crash exactly when the schedule says so. On Ray a node's disk is a
:class:`FileDisk`: an append-only log of JSON lines, flushed and ``fsync``-ed before an assignment
returns, replayed when a restarted node opens it, and compacted when it grows.

Both store encoded text, so a node can never keep a live reference into its own disk, and both
count their size with :func:`stored_bytes`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .codec import Codec
from .node import Storage


def stored_bytes(data: Mapping[str, str]) -> int:
    """What a disk's keys and values take, encoded (what a lab's memory test counts as disk)."""
    return sum(len(k) + len(v) for k, v in data.items())


class FileDisk(Storage):
    """Storage for Ray: a durable append-only log in ``directory/storage.jsonl``.

    Between :meth:`begin` and :meth:`commit` (the node's process brackets every handler with
    them) the writes are collected and then logged as one line, which a crash either leaves whole
    or cuts off (and a cut-off last line is ignored): a killed process never leaves half of a
    handler's writes, just as a crash in the simulator falls between two handlers.
    """

    COMPACT_AFTER = 10_000

    def __init__(self, codec: Codec, directory: str | os.PathLike[str]) -> None:
        self._codec = codec
        self._dir = Path(directory)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._path = self._dir / "storage.jsonl"
        self._data: dict[str, str] = {}
        self._lines = 0
        self._batch: list[dict[str, str]] | None = None
        if self._path.exists():
            for line in self._path.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    break  # a torn last write: everything before it was durable
                self._lines += 1
                for r in rec.get("batch", [rec]):
                    if "v" in r:
                        self._data[r["k"]] = r["v"]
                    else:
                        self._data.pop(r["k"], None)
        self._file = open(self._path, "a", encoding="utf-8")  # noqa: SIM115 - kept open

    def __getitem__(self, key: str) -> Any:
        return self._codec.loads(self._data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        _check_key(key)
        text = self._codec.dumps(value, f"storage[{key!r}]")
        self._append({"k": key, "v": text})
        self._data[key] = text

    def __delitem__(self, key: str) -> None:
        if key not in self._data:
            raise KeyError(key)
        self._append({"k": key})
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def used_bytes(self) -> int:
        """What the stored keys and values take, encoded (not the log's garbage)."""
        return stored_bytes(self._data)

    def wipe(self) -> None:
        """Lose everything stored, as a crash that loses the disk does."""
        self._file.close()
        self._path.unlink(missing_ok=True)
        self._data.clear()
        self._lines = 0
        self._batch = None
        self._file = open(self._path, "a", encoding="utf-8")  # noqa: SIM115 - kept open

    def texts(self) -> dict[str, str]:
        """Every key with its value as stored (encoded): what a sealed node is handed at its start."""
        return dict(self._data)

    def write_texts(self, writes: list[tuple[str, str | None]]) -> None:
        """One handler's writes, values already encoded (None: delete the key), as one line."""
        self.begin()
        for key, text in writes:
            if text is not None:
                self._append({"k": key, "v": text})
                self._data[key] = text
            elif key in self._data:
                self._append({"k": key})
                del self._data[key]
        self.commit()

    def begin(self) -> None:
        """Collect the writes from here on, until :meth:`commit`."""
        self._batch = []

    def commit(self) -> None:
        """Log the writes collected since :meth:`begin` as one line (all or nothing)."""
        batch, self._batch = self._batch, None
        if batch:
            self._log(batch[0] if len(batch) == 1 else {"batch": batch})

    def _append(self, rec: dict[str, str]) -> None:
        if self._batch is not None:
            self._batch.append(rec)
        else:
            self._log(rec)

    def _log(self, rec: dict[str, Any]) -> None:
        self._file.write(json.dumps(rec, separators=(",", ":")) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self._lines += 1
        if self._lines > self.COMPACT_AFTER and self._lines > 4 * len(self._data):
            self._compact()

    def _compact(self) -> None:
        tmp = self._path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for k, v in self._data.items():
                f.write(json.dumps({"k": k, "v": v}, separators=(",", ":")) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self._file.close()
        os.replace(tmp, self._path)
        dir_fd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._file = open(self._path, "a", encoding="utf-8")  # noqa: SIM115
        self._lines = len(self._data)

    def close(self) -> None:
        self._file.close()


def _check_key(key: object) -> None:
    if not isinstance(key, str):
        raise TypeError(f"storage keys are strings, got {type(key).__name__} {key!r}")
