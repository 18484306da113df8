"""Reading histories: the runtime's own format, and those recorded by Jepsen, Knossos and Porcupine.

Three formats, told apart by their first line when the format is ``auto``:

* ``native``: JSON Lines, either a client history (see ``labs.runtime.trace``) or a whole
  trace, whose history is taken from its ``invoke`` and ``complete`` events;
* ``edn``: Clojure maps, ``{:process 0, :type :invoke, :f :get, :key "3", :value nil}``, either
  one per line as Porcupine (and newer Jepsen) write them, or all in one vector (or list) spread
  over many lines, as in Knossos' published histories and older Jepsen ``history.edn`` files:
  ``[{:process 0, :type :invoke, :f :read, :value nil} {:process 0, :type :ok, ...} ...]``. The
  whole of EDN is read (comments, sets, ``#jepsen.history.Op{...}`` and other tagged values, whose
  tag is dropped): see :mod:`labs.checkers.edn`. ``:time`` and ``:index`` fields are ignored;
* ``jepsen-log``: Jepsen's log lines, ``INFO  jepsen.util - 3	:ok	:read	2``.

``auto`` takes a file whose first line (after blank lines and ``;`` comments) starts with ``{:``,
``[``, ``(`` or ``#`` for EDN, one starting with ``{`` for native, and one that looks like a
Jepsen log line for a log.

In Jepsen's histories a process runs one operation at a time: an ``:invoke`` is completed by the
next ``:ok``, ``:fail`` or ``:info`` of the same process. ``:fail`` means the operation certainly
did not happen, so it is left out, with two exceptions: a failed ``cas`` ran and returned false,
and a ``:read`` that failed with the value ``:timed-out`` is completed without its result (the
convention of Jepsen's etcd test, which Porcupine follows; a read changes nothing, so whether it
happened does not matter). ``:info`` means nobody knows whether the operation happened: it may
take effect at any time after its invocation, or never. Entries of the nemesis process
(``:process :nemesis``) are the faults Jepsen injected, not client operations: skipped.
These files record order, not times: an entry's position stands in for its time, the line number
for the one-entry-per-line forms, the position in the vector for the one-vector form.

Transactional histories (Elle's, and the course's own) are read by
:mod:`labs.checkers.txn_files`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, NamedTuple

from labs.runtime.trace import history_from_trace

from . import edn
from .history import UNKNOWN, HistoryError, Input, Operation, from_history

Format = Literal["auto", "native", "edn", "jepsen-log"]
FORMATS: tuple[str, ...] = ("auto", "native", "edn", "jepsen-log")

_JEPSEN_LOG = re.compile(r"(?:jepsen\.util\s+-\s+)?(\S+)\s+:(invoke|ok|fail|info)\s+:(\S+)\s*(.*)$")


def read_history(path: str | Path, fmt: Format = "auto") -> list[Operation]:
    """The operations of the history in ``path``; :class:`HistoryError` names any bad line."""
    p = Path(path)
    text = read_text(p)
    lines = text.splitlines()
    if fmt == "auto":
        fmt = detect(lines, str(p))
    if fmt == "native":
        return _native(lines, str(p))
    if fmt == "edn":
        return _jepsen(edn_entries(text, str(p)), str(p))
    if fmt == "jepsen-log":
        return _jepsen(_log_entries(lines, str(p)), str(p))
    raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def read_text(path: Path) -> str:
    """The file's text, or :class:`HistoryError` saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(str(path), 0, f"cannot read the file: {exc}") from None


def detect(lines: list[str], source: str = "history") -> Format:
    """The format of a history, from its first line that is neither blank nor a ``;`` comment."""
    for number, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith(";"):
            continue
        if s.startswith(("{:", "[", "(", "#")):
            return "edn"
        if s.startswith("{"):
            return "native"
        if "jepsen.util" in s or _JEPSEN_LOG.match(s):
            return "jepsen-log"
        raise HistoryError(source, number, "not a history this checker knows: expected JSON "
                           "lines, EDN maps ({:process ...} or [{:process ...} ...]) or Jepsen "
                           "log lines; give --format if it is one of them")
    raise HistoryError(source, 0, "the file is empty")


# -- native -----------------------------------------------------------------------------------


def _native(lines: list[str], source: str) -> list[Operation]:
    entries = [e for _, e in json_lines(lines, source)]
    if entries and entries[0].get("type") == "run":  # a whole trace
        entries = history_from_trace(entries)
    return from_history(entries, source)


def json_lines(lines: Iterable[str], source: str) -> list[tuple[int, dict[str, Any]]]:
    """The JSON object of each non-blank line, with its line number."""
    entries: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as exc:
            raise HistoryError(source, number, f"not JSON: {exc.msg} at column {exc.colno}") from None
        if not isinstance(entry, dict):
            raise HistoryError(source, number, "each line must be a JSON object")
        entries.append((number, entry))
    return entries


# -- Jepsen -----------------------------------------------------------------------------------


class Entry(NamedTuple):
    """One entry of a Jepsen history: where it is, the time it stands for, and its fields."""

    line: int
    time: float
    fields: dict[str, Any]


def _jepsen(entries: Iterable[Entry], source: str) -> list[Operation]:
    ops: list[Operation] = []

    def add(call: Entry, output: Any, ret: float) -> None:
        e = call.fields
        inp = Input(str(e["f"]), e.get("key"), e.get("value"))
        ops.append(Operation(len(ops), e["process"], inp, output, call.time, ret))

    for call, done in pair_processes(entries, source):
        f = call.fields["f"]
        kind = "info" if done is None else done.fields.get("type")
        if kind == "info" or done is None:
            add(call, UNKNOWN, math.inf)
        elif kind == "fail" and f == "cas":
            add(call, False, done.time)
        elif kind == "fail" and f == "read" and done.fields.get("value") == "timed-out":
            add(call, UNKNOWN, done.time)
        elif kind == "ok":
            add(call, True if f == "cas" else done.fields.get("value"), done.time)
    return ops


def pair_processes(entries: Iterable[Entry], source: str) -> Iterator[tuple[Entry, Entry | None]]:
    """Each operation of a Jepsen history as ``(invocation, completion)``, in the order they
    completed, then ``(invocation, None)`` for those that never did, in the order they were
    invoked. A process runs one operation at a time; the nemesis's entries are skipped.
    """
    running: dict[Any, Entry] = {}
    for entry in entries:
        line, e = entry.line, entry.fields
        process, kind = e.get("process"), e.get("type")
        if process == "nemesis" or kind not in ("invoke", "ok", "fail", "info"):
            continue
        if not isinstance(process, int) or isinstance(process, bool):
            raise HistoryError(source, line, f"the process must be a number or :nemesis, not {process!r}")
        if kind == "invoke":
            if "f" not in e:
                raise HistoryError(source, line, "an invocation without :f, the function it "
                                   "calls (such as :read or :txn)")
            if process in running:
                raise HistoryError(source, line, f"process {process} invokes while its operation "
                                   f"of line {running[process].line} is still running")
            running[process] = entry
            continue
        if process not in running:
            raise HistoryError(source, line, f"{kind} of process {process}, which invoked nothing")
        call = running.pop(process)
        if call.fields.get("f") != e.get("f"):
            raise HistoryError(source, line, f"completes {e.get('f')!r}, but process {process} "
                               f"invoked {call.fields.get('f')!r} on line {call.line}")
        yield call, entry
    for call in sorted(running.values(), key=lambda c: c.line):
        yield call, None


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
        value = _log_value(rest.strip(), source, number) if rest.strip() else None
        yield Entry(number, float(number), {"process": _process(process), "type": kind, "f": f,
                                            "value": value})


def _process(text: str) -> Any:
    if text.lstrip(":") == "nemesis":
        return "nemesis"
    try:
        return int(text)
    except ValueError:
        return text


def _log_value(text: str, source: str, line: int) -> Any:
    try:
        forms = edn.read_all(text, first_line=line)
    except edn.EdnError as exc:
        raise HistoryError(source, exc.line, f"cannot read EDN at column {exc.column}: {exc.problem}") from None
    if len(forms) != 1:
        raise HistoryError(source, line, f"expected one value after the operation, found {len(forms)}")
    return forms[0].value


def edn_entries(text: str, source: str) -> list[Entry]:
    """The maps of an EDN history, either one vector (or list) of them, each timed by its
    position, or a sequence of them, each timed by its line."""
    try:
        forms = edn.read_all(text)
    except edn.EdnError as exc:
        raise HistoryError(source, exc.line, f"cannot read EDN at column {exc.column}: {exc.problem}") from None
    if not forms:
        raise HistoryError(source, 0, "the file holds no EDN value")
    if len(forms) == 1 and isinstance(forms[0].value, tuple):  # one vector of maps
        items = [(line, float(n), value)
                 for n, (line, value) in enumerate(zip(forms[0].item_lines, forms[0].value, strict=True), 1)]
    else:
        items = [(form.line, float(form.line), form.value) for form in forms]
    entries = []
    for line, time, value in items:
        if not isinstance(value, dict):
            raise HistoryError(source, line, f"each entry of the history must be an EDN map, "
                               f"{{:process ...}}, not {_shown(value)}")
        entries.append(Entry(line, time, value))
    return entries


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
