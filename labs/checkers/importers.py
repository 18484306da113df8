"""Reading histories: the runtime's own format, and those recorded by Jepsen and Porcupine.

Three formats, told apart by their first line when the format is ``auto``:

* ``native``: JSON Lines, either a client history (see ``labs.runtime.trace``) or a whole
  trace, whose history is taken from its ``invoke`` and ``complete`` events;
* ``edn``: one Clojure map per line, as Jepsen and Porcupine write them,
  ``{:process 0, :type :invoke, :f :get, :key "3", :value nil}``;
* ``jepsen-log``: Jepsen's log lines, ``INFO  jepsen.util - 3	:ok	:read	2``.

In Jepsen's histories a process runs one operation at a time: an ``:invoke`` is completed by the
next ``:ok``, ``:fail`` or ``:info`` of the same process. ``:fail`` means the operation did not
happen, with one exception: a failed ``cas`` ran and returned false. A ``:fail`` with the value
``:timed-out`` completed without its result. ``:info`` means nobody knows. Lines of the nemesis
process (``:process :nemesis``) are the faults Jepsen injected, not client operations: skipped.
The line number stands in for time, since these files record order, not times.

The EDN reader understands the part of EDN these files use (maps, vectors, keywords, strings,
numbers, nil, booleans). A general EDN library was tried and is about ten times slower than
the whole check of a history; this reader also names the line of any error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from labs.runtime.trace import history_from_trace

from .history import UNKNOWN, HistoryError, Input, Operation, from_history

Format = Literal["auto", "native", "edn", "jepsen-log"]
FORMATS: tuple[str, ...] = ("auto", "native", "edn", "jepsen-log")

_TOKEN = re.compile(r"""
    (?P<space>[\s,]+)
  | (?P<open>[{\[(])
  | (?P<close>[}\])])
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w.])
  | (?P<keyword>:[^\s,{}\[\]()"]+)
  | (?P<symbol>[^\s,{}\[\]()"]+)
""", re.VERBOSE)
_CLOSING = {"{": "}", "[": "]", "(": ")"}
_JEPSEN_LOG = re.compile(r"(?:jepsen\.util\s+-\s+)?(\S+)\s+:(invoke|ok|fail|info)\s+:(\S+)\s*(.*)$")


def read_history(path: str | Path, fmt: Format = "auto") -> list[Operation]:
    """The operations of the history in ``path``; :class:`HistoryError` names any bad line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(str(p), 0, f"cannot read the file: {exc}") from None
    lines = text.splitlines()
    if fmt == "auto":
        fmt = detect(lines, str(p))
    if fmt == "native":
        return _native(lines, str(p))
    if fmt == "edn":
        return _jepsen(_edn_entries(lines, str(p)), str(p))
    if fmt == "jepsen-log":
        return _jepsen(_log_entries(lines, str(p)), str(p))
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def detect(lines: list[str], source: str = "history") -> Format:
    for number, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("{:"):
            return "edn"
        if s.startswith("{"):
            return "native"
        if "jepsen.util" in s or _JEPSEN_LOG.match(s):
            return "jepsen-log"
        raise HistoryError(source, number, "not a history this checker knows: expected JSON "
                           "lines, EDN maps ({:process ...}) or Jepsen log lines; "
                           "give --format if it is one of them")
    raise HistoryError(source, 0, "the file is empty")


# -- native -----------------------------------------------------------------------------------


def _native(lines: list[str], source: str) -> list[Operation]:
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HistoryError(source, number, f"not JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(entry, dict):
            raise HistoryError(source, number, "each line must be a JSON object")
        entries.append(entry)
    if entries and entries[0].get("type") == "run":  # a whole trace
        entries = history_from_trace(entries)
    return from_history(entries, source)


# -- Jepsen -----------------------------------------------------------------------------------


Entry = tuple[int, dict[str, Any]]  # line number, {process, type, f, key, value}


def _jepsen(entries: Iterator[Entry], source: str) -> list[Operation]:
    running: dict[Any, tuple[int, dict[str, Any]]] = {}
    ops: list[Operation] = []

    def add(call: tuple[int, dict[str, Any]], output: Any, ret: float) -> None:
        line, e = call
        inp = Input(str(e["f"]), e.get("key"), e.get("value"))
        ops.append(Operation(len(ops), e["process"], inp, output, float(line), ret))

    for line, e in entries:
        process, kind = e.get("process"), e.get("type")
        if process == "nemesis" or kind not in ("invoke", "ok", "fail", "info"):
            continue
        if not isinstance(process, int):
            raise HistoryError(source, line, f"the process must be a number or :nemesis, not {process!r}")
        if kind == "invoke":
            if process in running:
                raise HistoryError(source, line, f"process {process} invokes while its operation "
                                   f"of line {running[process][0]} is still running")
            running[process] = (line, e)
            continue
        if process not in running:
            raise HistoryError(source, line, f"{kind} of process {process}, which invoked nothing")
        call = running.pop(process)
        if call[1]["f"] != e.get("f"):
            raise HistoryError(source, line, f"completes {e.get('f')!r}, but process {process} "
                               f"invoked {call[1]['f']!r} on line {call[0]}")
        f, value = e.get("f"), e.get("value")
        if kind == "info":
            add(call, UNKNOWN, math.inf)
        elif kind == "fail" and f == "cas":
            add(call, False, float(line))
        elif kind == "fail" and value == "timed-out":
            add(call, UNKNOWN, float(line))
        elif kind == "ok":
            add(call, True if f == "cas" else value, float(line))
    for call in sorted(running.values(), key=lambda c: c[0]):
        add(call, UNKNOWN, math.inf)
    return ops


def _log_entries(lines: list[str], source: str) -> Iterator[Entry]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if "jepsen.util" not in line and not _JEPSEN_LOG.match(line.strip()):
            continue  # Jepsen logs hold other lines (setup, nemesis messages)
        m = _JEPSEN_LOG.search(line)
        if m is None:
            raise HistoryError(source, number, "a jepsen.util line that is not "
                               "'<process> :<type> :<f> <value>'")
        process, kind, f, rest = m.groups()
        value = _parse_value(rest.strip(), source, number) if rest.strip() else None
        yield number, {"process": _process(process), "type": kind, "f": f, "value": value}


def _process(text: str) -> Any:
    if text.lstrip(":") == "nemesis":
        return "nemesis"
    try:
        return int(text)
    except ValueError:
        return text


def _edn_entries(lines: list[str], source: str) -> Iterator[Entry]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        value = _parse_value(line.strip(), source, number)
        if not isinstance(value, dict):
            raise HistoryError(source, number, "each line must be an EDN map, {:process ...}")
        yield number, value


def _parse_value(text: str, source: str, line: int) -> Any:
    tokens: list[tuple[str | None, str]] = []
    at = 0
    for m in _TOKEN.finditer(text):
        if m.start() != at:
            break
        at = m.end()
        if m.lastgroup != "space":
            tokens.append((m.lastgroup, m.group()))
    if at != len(text):
        raise HistoryError(source, line, f"cannot read EDN at column {at + 1}: {text[at:at + 20]!r}")
    value, end = _value(tokens, 0, source, line)
    if end != len(tokens):
        raise HistoryError(source, line, f"unexpected {tokens[end][1]!r} after a complete value")
    return value


def _value(tokens: list[tuple[str | None, str]], i: int, source: str, line: int) -> tuple[Any, int]:
    if i >= len(tokens):
        raise HistoryError(source, line, "the line ends in the middle of a value")
    kind, text = tokens[i]
    if kind == "open":
        items: list[Any] = []
        i += 1
        while i < len(tokens) and tokens[i] != ("close", _CLOSING[text]):
            if tokens[i][0] == "close":
                raise HistoryError(source, line, f"{tokens[i][1]!r} closes a {text!r}")
            item, i = _value(tokens, i, source, line)
            items.append(item)
        if i >= len(tokens):
            raise HistoryError(source, line, f"a {text!r} is never closed")
        if text != "{":
            return tuple(items), i + 1
        if len(items) % 2:
            raise HistoryError(source, line, "a map needs a value for every key")
        return dict(zip(items[::2], items[1::2], strict=True)), i + 1
    if kind == "string":
        try:
            return json.loads(text), i + 1
        except json.JSONDecodeError:
            raise HistoryError(source, line, f"bad string {text}") from None
    if kind == "number":
        return (float(text) if any(c in text for c in ".eE") else int(text)), i + 1
    if kind == "keyword":
        return text[1:], i + 1
    if kind == "symbol" and text in ("nil", "true", "false"):
        return {"nil": None, "true": True, "false": False}[text], i + 1
    raise HistoryError(source, line, f"unexpected {text!r}")
