"""Histories of transactions: the data the strict-serializability checker reads.

Format (JSON Lines, one transaction a line; or the same objects as Python dicts)
===============================================================================

::

    {"id": "t1", "process": 0, "invoke": 0.10, "complete": 0.25, "outcome": "ok",
     "ops": [["r", "x", null], ["w", "y", 1]], "commit_ts": 17}

=============  ==========================================================================
field          meaning
=============  ==========================================================================
``id``         a name for the transaction, unique in the history (string or integer)
``process``    the client that ran it (string or integer); only shown in reports
``invoke``     when the client sent it (seconds, any clock shared by all clients)
``complete``   when the client got the answer; may be ``null`` for ``info``
``outcome``    ``ok`` (committed), ``fail`` (certainly aborted: none of its writes happened)
               or ``info`` (unknown: the client gave up waiting; it may have committed, even
               after ``complete``)
``ops``        the micro-operations, in the order the transaction ran them:
               ``["r", key, value]`` read ``key`` and saw ``value`` (``null``: the key had
               never been written), ``["w", key, value]`` wrote ``value`` to ``key``
``commit_ts``  optional: the commit timestamp the system gave the transaction (Spanner's);
               the checker takes it as the order of writes to each key
=============  ==========================================================================

Keys are strings or integers; values are strings or integers. **Every write of a key must
write a value no other write of that key writes** (a counter, or the transaction id, will do):
then each read names the one write it saw, and the checker can tell who depended on whom.
A history that breaks this rule is refused with :class:`TxnHistoryError`, which says which
transactions, which key and what to change.

The reads of ``fail`` and ``info`` transactions are not used (the client never learned what they
saw), so their values may be ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Key = str | int
Value = str | int
Outcome = Literal["ok", "fail", "info"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "fail", "info")


class TxnHistoryError(ValueError):
    """A transaction history that does not follow the format (the message says how to fix it)."""


@dataclass(frozen=True)
class TxnOp:
    """One micro-operation: ``f`` is ``"r"`` (read ``key``, saw ``value``) or ``"w"`` (wrote it)."""

    f: Literal["r", "w"]
    key: Key
    value: Value | None

    def __str__(self) -> str:
        return f"{self.f} {self.key}={show_value(self.value)}"


@dataclass(frozen=True)
class Txn:
    """One transaction of a history (see the module docstring for the fields)."""

    id: str
    process: str | int
    invoke: float
    complete: float | None
    outcome: Outcome
    ops: tuple[TxnOp, ...]
    commit_ts: float | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise TxnHistoryError(f"transaction {self.id}: outcome must be ok, fail or info, got {self.outcome!r}")
        if self.complete is None and self.outcome != "info":
            raise TxnHistoryError(f"transaction {self.id}: an {self.outcome} transaction needs a complete time")
        if self.complete is not None and self.complete < self.invoke:
            raise TxnHistoryError(
                f"transaction {self.id}: complete ({self.complete}) is before invoke ({self.invoke})"
            )

    @property
    def end(self) -> float:
        """The time by which the transaction had certainly taken effect (if it ever did).

        Infinite for an unknown outcome: an ``info`` transaction may commit after its client gave
        up, so it precedes nothing in real time.
        """
        if self.outcome == "info" or self.complete is None:
            return math.inf
        return self.complete

    def final_writes(self) -> dict[Key, Value]:
        """The value each key has when this transaction commits (its last write of the key)."""
        out: dict[Key, Value] = {}
        for op in self.ops:
            if op.f == "w" and op.value is not None:
                out[op.key] = op.value
        return out

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id, "process": self.process, "invoke": self.invoke,
            "complete": self.complete, "outcome": self.outcome,
            "ops": [[op.f, op.key, op.value] for op in self.ops],
        }
        if self.commit_ts is not None:
            d["commit_ts"] = self.commit_ts
        return d


@dataclass(frozen=True)
class KnownOrder:
    """Versions of ``key`` in the order the system installed them, known from the history itself
    rather than inferred: a read of a whole list in a list-append history shows every element
    appended before the last, in order. ``why`` names that evidence (``"T9 read key 'x' as [1 2 3]"``).

    The strict-serializability checker takes these as facts, so give only what a committed
    transaction saw (see :mod:`labs.checkers.txn_files`).
    """

    key: Key
    values: tuple[Value, ...]
    why: str


def show_value(value: Value | None) -> str:
    """A value as reports print it: strings quoted, and ``(nothing)`` for the initial state."""
    return "(nothing)" if value is None else repr(value) if isinstance(value, str) else str(value)


# -- loading ------------------------------------------------------------------------------


def _number(d: Mapping[str, Any], name: str, where: str, *, optional: bool = False) -> float | None:
    x = d.get(name)
    if x is None and optional:
        return None
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
        raise TxnHistoryError(f"{where}: {name!r} must be a finite number, got {x!r}")
    return float(x)


def _scalar(x: Any, what: str, where: str) -> str | int:
    if isinstance(x, bool) or not isinstance(x, str | int):
        raise TxnHistoryError(f"{where}: {what} must be a string or an integer, got {x!r}")
    return x


def _op(raw: Any, where: str) -> TxnOp:
    if not isinstance(raw, list | tuple) or len(raw) != 3 or raw[0] not in ("r", "w"):
        raise TxnHistoryError(
            f"{where}: each op must be [\"r\", key, value] or [\"w\", key, value], got {raw!r}"
        )
    f, key, value = raw
    key = _scalar(key, "a key", where)
    if value is None:
        if f == "w":
            raise TxnHistoryError(f"{where}: [\"w\", {key!r}, null] writes nothing: give a value")
        return TxnOp("r", key, None)
    return TxnOp(f, key, _scalar(value, "a value", where))


def txn_from_dict(d: Mapping[str, Any], where: str = "transaction") -> Txn:
    """One transaction from its dict form; ``where`` prefixes error messages (e.g. a line number)."""
    if not isinstance(d, Mapping):
        raise TxnHistoryError(f"{where}: a transaction is a JSON object, got {d!r}")
    missing = [k for k in ("id", "invoke", "outcome", "ops") if k not in d]
    if missing:
        raise TxnHistoryError(f"{where}: missing {', '.join(missing)}")
    tid = str(_scalar(d["id"], "the id", where))
    where = f"{where}, transaction {tid}"
    ops = d["ops"]
    if not isinstance(ops, list | tuple):
        raise TxnHistoryError(f"{where}: 'ops' must be a list of [f, key, value], got {ops!r}")
    invoke = _number(d, "invoke", where)
    assert invoke is not None
    return Txn(
        id=tid,
        process=_scalar(d.get("process", tid), "the process", where),
        invoke=invoke,
        complete=_number(d, "complete", where, optional=True),
        outcome=d["outcome"],
        ops=tuple(_op(op, where) for op in ops),
        commit_ts=_number(d, "commit_ts", where, optional=True),
    )


def txns_from_dicts(dicts: Iterable[Mapping[str, Any]]) -> list[Txn]:
    """A checked history from dicts (see the module docstring), refused with a clear message."""
    txns = [txn_from_dict(d, f"item #{i + 1}") for i, d in enumerate(dicts)]
    validate(txns)
    return txns


def load_txns(path: str | Path) -> list[Txn]:
    """A checked history from a JSON Lines file (errors name the line)."""
    txns: list[Txn] = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                d = json.loads(line)
            except json.JSONDecodeError as exc:
                raise TxnHistoryError(f"{where}: not JSON ({exc.msg})") from None
            txns.append(txn_from_dict(d, where))
    validate(txns)
    return txns


def validate(txns: Sequence[Txn]) -> None:
    """Refuse duplicate ids and writes that do not name themselves (the same value twice per key)."""
    ids: set[str] = set()
    writer: dict[tuple[Key, Value], str] = {}
    for t in txns:
        if t.id in ids:
            raise TxnHistoryError(f"two transactions are called {t.id!r}: give each a unique id")
        ids.add(t.id)
        for op in t.ops:
            if op.f != "w" or op.value is None:
                continue
            first = writer.get((op.key, op.value))
            if first == t.id:
                raise TxnHistoryError(
                    f"transaction {t.id} writes {op.key}={op.value!r} twice: give each write of "
                    f"a key a value of its own"
                )
            if first is not None:
                raise TxnHistoryError(
                    f"transactions {first} and {t.id} both write {op.key}={op.value!r}: every write "
                    f"of a key needs a value of its own (a counter or the transaction id), so that "
                    f"a read of {op.key} names the one write it saw"
                )
            writer[(op.key, op.value)] = t.id
