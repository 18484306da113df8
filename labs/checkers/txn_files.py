"""Reading histories of transactions for the strict-serializability checker: Elle's and the course's.

Two models, as Elle (Jepsen's checker of transactions) names them:

* ``rw-register``: each key is a register. ``[:r k v]`` read ``k`` and saw ``v`` (``nil``: never
  written); ``[:w k v]`` wrote ``v``. Every write of a key writes a value of its own.
* ``list-append``: each key is a list. ``[:append k e]`` appended ``e`` (every element is
  appended to a key once); ``[:r k [1 2 3]]`` read the whole list (``nil`` or ``[]``: empty).

Two formats, told apart as :func:`labs.checkers.importers.detect` does:

* ``edn``: Elle's (Jepsen's) histories, one vector of operations or one per line,
  ``{:type :invoke, :f :txn, :process 3, :value [[:r 1 nil] [:w 2 5]]}`` and then the same
  process's ``:ok`` (with the values read), ``:fail`` (aborted: none of it happened) or ``:info``
  (unknown). As for single registers, an entry's position stands in for its time (its line, for
  one entry per line). A transaction is called ``T`` and its invocation's ``:index``, or, without
  one, the invocation's position from 0, as Jepsen numbers them.
* ``native``: the course's JSON Lines (:mod:`labs.checkers.txn_history`); a list-append history
  writes ``["append", key, e]`` and ``["r", key, [1, 2, 3]]``.

A list-append history, checked as registers
===========================================

The checker (:mod:`labs.checkers.serializability`) knows registers whose every version names its
writer. A list-append history is one, with more to tell:

* each append is a write, and the version it makes is named by its element (unique per key);
* a read of ``[1 2 3]`` read the version the transaction appending 3 made: ``[:r k 3]``, and the
  empty list is the initial version, ``[:r k nil]``;
* the list also shows the order in which the appends of 1, 2 and 3 were installed: the
  checker takes it as a :class:`~labs.checkers.txn_history.KnownOrder` of the key's versions.

This is sound: a committed read of ``[1 2 3]`` saw a state in which 1, 2 and 3 had been appended
in that order, so in any serial order explaining it the appender of 1 comes before that of 2, and
so on. Only committed (``:ok``) reads give orders, and a key gets one only if every such read of it
is a prefix of the longest: reads that disagree (``[1 2]`` and ``[2 1]``) are an
``incompatible-order`` anomaly, and their key gets no order at all rather than a wrong one. A read
showing an element nobody appended (``garbage-read``), one an aborted transaction appended
(``G1a``) or an element twice (``duplicate-elements``) is reported here, and left out of the
checker's reads, which only removes information.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .history import HistoryError
from .importers import detect, edn_entries, json_lines, pair_processes, read_text
from .serializability import Anomaly, SerializabilityReport, check_strict_serializability
from .txn_history import Key, KnownOrder, Outcome, Txn, TxnOp, txn_from_dict, validate

TXN_MODELS: tuple[str, ...] = ("rw-register", "list-append")
_OPS = {"rw-register": ("r", "w"), "list-append": ("r", "append")}

MicroOp = tuple[str, Key, Any]


@dataclass(frozen=True)
class TxnFile:
    """A history of transactions read from a file, ready for the checker.

    ``lines`` gives the line of each transaction (its invocation's); ``known_orders`` and
    ``anomalies`` are what the reads of a list-append history show on their own.
    """

    txns: list[Txn]
    lines: dict[str, int]
    known_orders: list[KnownOrder]
    anomalies: list[Anomaly]


@dataclass(frozen=True)
class _Recorded:
    """A transaction as the file has it: its micro-operations not checked yet."""

    line: int  # where it was invoked
    ops_line: int  # where its micro-operations are (the completion's, for an ok one)
    txn: Txn  # with no operations yet
    ops: Any


def check_transactions(path: str | Path, model: str, fmt: str = "auto") -> tuple[SerializabilityReport, TxnFile]:
    """The strict-serializability report on the history in ``path``, and the history read.

    Raises :class:`HistoryError` (or ``TxnHistoryError`` for the course's JSON) naming the line
    of anything malformed.
    """
    history = read_transactions(path, model, fmt)
    report = check_strict_serializability(history.txns, known_orders=history.known_orders)
    return SerializabilityReport(tuple(history.anomalies) + report.anomalies, report.transactions,
                                 report.edges), history


def read_transactions(path: str | Path, model: str, fmt: str = "auto") -> TxnFile:
    """The history of transactions in ``path``, of ``model`` (``rw-register`` or
    ``list-append``), written as ``fmt`` (``auto``, ``edn`` or ``native``)."""
    if model not in TXN_MODELS:
        raise ValueError(f"model must be one of {', '.join(TXN_MODELS)}, not {model!r}")
    p = Path(path)
    source = str(p)
    text = read_text(p)
    if fmt == "auto":
        fmt = detect(text.splitlines(), source)
    if fmt == "edn":
        recorded = _from_edn(text, source)
    elif fmt == "native":
        recorded = _from_json(text, source)
    else:
        raise HistoryError(source, 0, f"a {fmt} history holds no transactions: transactions are "
                                      f"read from EDN (Elle's) or the course's JSON Lines")
    lines: dict[str, int] = {}
    for r in recorded:
        if r.txn.id in lines:
            field = ":index" if fmt == "edn" else '"id"'
            raise HistoryError(source, r.line, f"two transactions are called {r.txn.id}, here and "
                                               f"on line {lines[r.txn.id]}: give each its own {field}")
        lines[r.txn.id] = r.line
    ops = [_micro_ops(r, model, source) for r in recorded]
    _unique_writes(recorded, ops, source)
    if model == "rw-register":
        txns = [dataclasses.replace(r.txn, ops=tuple(TxnOp("r" if f == "r" else "w", k, v)
                                                     for f, k, v in o))
                for r, o in zip(recorded, ops, strict=True)]
        validate(txns)
        return TxnFile(txns, lines, [], [])
    return _list_append(recorded, ops, lines)


def _from_edn(text: str, source: str) -> list[_Recorded]:
    entries = edn_entries(text, source)
    position = {id(e): n for n, e in enumerate(entries)}
    recorded = []
    for call, done in pair_processes(entries, source):
        index = call.fields.get("index")
        number = index if isinstance(index, int) and not isinstance(index, bool) else position[id(call)]
        kind = "info" if done is None else done.fields["type"]
        outcome: Outcome = "ok" if kind == "ok" else "fail" if kind == "fail" else "info"
        holder = done if done is not None and outcome == "ok" else call
        txn = Txn(f"T{number}", call.fields["process"], call.time,
                  None if done is None else done.time, outcome, ())
        recorded.append(_Recorded(call.line, holder.line, txn, holder.fields.get("value")))
    return recorded


def _from_json(text: str, source: str) -> list[_Recorded]:
    recorded = []
    for line, d in json_lines(text.splitlines(), source):
        txn = txn_from_dict({**d, "ops": []} if "ops" in d else d, f"{source}:{line}")
        recorded.append(_Recorded(line, line, txn, d["ops"]))
    return recorded


def _micro_ops(r: _Recorded, model: str, source: str) -> list[MicroOp]:
    """The transaction's micro-operations, each checked against the model."""
    t, where = r.txn, r.ops_line
    if not isinstance(r.ops, tuple | list):
        raise HistoryError(source, where, f"{t.id}: a transaction's value is a vector of "
                           f"micro-operations, such as [[:r 1 nil] [:w 2 5]], not {_short(r.ops)}")
    allowed = _OPS[model]
    ops: list[MicroOp] = []
    for op in r.ops:
        if not isinstance(op, tuple | list) or len(op) != 3:
            raise HistoryError(source, where, f"{t.id}: each micro-operation is [f key value], "
                               f"such as [:r 1 nil], not {_short(op)}")
        f, key, value = op
        if f not in allowed:
            other = next((m for m, fs in _OPS.items() if f in fs and m != model), None)
            hint = f": is it a {other} history? Give --model {other}" if other else ""
            raise HistoryError(source, where, f"{t.id}: {_short(op)} is not a micro-operation of "
                               f"{model}, which knows {' and '.join(':' + a for a in allowed)}{hint}")
        _scalar(key, "a key", op, t, source, where)
        if f == "r" and model == "list-append" and value is not None:
            if not isinstance(value, tuple | list):
                raise HistoryError(source, where, f"{t.id}: {_short(op)} reads a list, so its value "
                                   f"is a vector of elements, such as [1 2 3], or nil")
            for e in value:
                _scalar(e, "an element", op, t, source, where)
            value = tuple(value)
        elif f != "r" or value is not None:
            _scalar(value, "a value", op, t, source, where)
        ops.append((f, key, value))
    return ops


def _scalar(x: Any, what: str, op: Any, t: Txn, source: str, line: int) -> None:
    if isinstance(x, bool) or not isinstance(x, str | int):
        raise HistoryError(source, line, f"{t.id}: in {_short(op)}, {what} must be an integer, a "
                           f"keyword or a string, not {_short(x)}")


def _unique_writes(recorded: Sequence[_Recorded], ops: Sequence[list[MicroOp]], source: str) -> None:
    """Refuse two writes (or appends) of one value to one key: a read must name its writer."""
    first: dict[tuple[Key, Any], _Recorded] = {}
    for r, micro in zip(recorded, ops, strict=True):
        for f, k, v in micro:
            if f == "r":
                continue
            other = first.setdefault((k, v), r)
            if other is r and micro.count((f, k, v)) == 1:
                continue
            verb, what = ("appends", "an element") if f == "append" else ("writes", "a value")
            who = "twice" if other is r else f"as {other.txn.id} (line {other.ops_line}) does"
            raise HistoryError(source, r.ops_line, f"{r.txn.id} {verb} {v!r} to key {k!r} {who}: "
                               f"each {verb[:-1]} to a key needs {what} of its own, so that a "
                               f"read names the one transaction it saw")


def _list_append(recorded: Sequence[_Recorded], ops: Sequence[list[MicroOp]],
                 lines: dict[str, int]) -> TxnFile:
    """List-append as registers plus known orders (see the module docstring)."""
    appender = {(k, e): r.txn for r, micro in zip(recorded, ops, strict=True)
                for f, k, e in micro if f == "append"}
    anomalies: list[Anomaly] = []
    reads: dict[Key, list[tuple[tuple[Any, ...], str]]] = defaultdict(list)
    txns = []
    for r, micro in zip(recorded, ops, strict=True):
        t = r.txn
        translated = []
        for f, k, v in micro:
            if f == "append":
                translated.append(TxnOp("w", k, v))
            elif t.outcome != "ok":
                translated.append(TxnOp("r", k, None))  # the checker ignores what it read
            elif (bad := _bad_read(t, k, v or (), appender)) is not None:
                anomalies.append(bad)
            else:
                reads[k].append((v or (), t.id))
                translated.append(TxnOp("r", k, v[-1] if v else None))
        txns.append(dataclasses.replace(t, ops=tuple(translated)))
    orders = []
    for k, seen in reads.items():
        longest, by = max(seen, key=lambda s: len(s[0]))
        clash = next(((s, who) for s, who in seen if longest[:len(s)] != s), None)
        if clash is None:
            orders.append(KnownOrder(k, longest, f"{by} read key {k!r} as {_show(longest)}"))
            continue
        s, who = clash
        anomalies.append(Anomaly("incompatible-order", f"{who} read key {k!r} as {_show(s)} and "
                                 f"{by} as {_show(longest)}: neither is a prefix of the other",
                                 (who, by)))
    validate(txns)
    return TxnFile(txns, lines, orders, anomalies)


def _bad_read(t: Txn, key: Key, seen: tuple[Any, ...], appender: dict[tuple[Key, Any], Txn]) -> Anomaly | None:
    """The anomaly a read of a whole list shows on its own, if any."""
    if len(set(seen)) != len(seen):
        twice = next(e for e in seen if seen.count(e) > 1)
        return Anomaly("duplicate-elements", f"{t.id} read key {key!r} as {_show(seen)}, in which "
                       f"{twice!r} comes {seen.count(twice)} times", (t.id,))
    for e in seen:
        w = appender.get((key, e))
        if w is None:
            return Anomaly("garbage-read", f"{t.id} read key {key!r} as {_show(seen)}, but no "
                           f"transaction appended {e!r} to it", (t.id,))
        if w.outcome == "fail":
            return Anomaly("G1a", f"{t.id} read key {key!r} as {_show(seen)}, with {e!r}, which "
                           f"{w.id} appended but aborted", (w.id, t.id))
    return None


def _show(items: Sequence[Any]) -> str:
    """A list as EDN writes it, its middle left out when long: ``[1 2 3 … 9 10] (10 elements)``."""
    shown = [repr(e) for e in items]
    if len(shown) <= 8:
        return "[" + " ".join(shown) + "]"
    return "[" + " ".join([*shown[:3], "…", *shown[-2:]]) + f"] ({len(shown)} elements)"


def _short(value: Any) -> str:
    """A value of the file as EDN shows it (keywords read as strings come back quoted)."""
    text = _edn(value)
    return text if len(text) <= 50 else text[:47] + "..."


def _edn(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list):
        if len(value) == 3 and value[0] in ("r", "w", "append"):  # a micro-operation
            return f"[:{value[0]} {_edn(value[1])} {_edn(value[2])}]"
        return "[" + " ".join(_edn(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_edn(k)} {_edn(v)}" for k, v in value.items()) + "}"
    return repr(value)
