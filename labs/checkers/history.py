"""Operations: a client history turned into intervals, the unit the linearizability checker reads.

A history records each client operation twice, when it was invoked and when it completed. The
checker wants one record per operation with both times; this module pairs them up, and is the
one place that does: :func:`pair_calls` (a history) and :func:`pair_trace_calls` (a trace) give
each invocation with its completion to every check, checker and picture that reads operations.

* An operation that completed ``ok`` has a known output and a return time.
* An operation that ``fail``-ed certainly did not happen: it is left out.
* An operation whose outcome is unknown (``info``: a timeout, a crashed client, the run ended)
  may take effect at any time after its invocation, or never. It gets the return time infinity
  and the output :data:`UNKNOWN`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar


class _Unknown:
    """The output of an operation whose outcome nobody saw."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "?"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""Output of an operation whose outcome is unknown: a model must accept it from any state (the
operation took effect if it could, and its caller never saw the result)."""


class Input(NamedTuple):
    """What a client asked for: the function, and its key and argument where it has them."""

    f: str
    key: Any = None
    value: Any = None


@dataclass(frozen=True)
class Operation:
    """One client operation as an interval of time, with what it was asked and what it returned."""

    id: int
    client: Any
    input: Input
    output: Any
    call: float
    ret: float  # math.inf when the outcome is unknown

    @property
    def pending(self) -> bool:
        return self.ret == math.inf

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "client": self.client, "f": self.input.f, "key": self.input.key,
            "value": self.input.value, "output": None if self.output is UNKNOWN else self.output,
            "unknown": self.output is UNKNOWN, "call": self.call,
            "return": None if self.pending else self.ret,
        }


class HistoryError(ValueError):
    """A history that cannot be read, with the line (or entry) and what was wrong."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        super().__init__(f"{source}:{line}: {problem}")
        self.source, self.line, self.problem = source, line, problem


def _freeze(value: Any) -> Any:
    """JSON lists become tuples, so that inputs, outputs and states can be hashed."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


E = TypeVar("E", bound=Mapping[str, Any])

HISTORY_ENDS = ("ok", "fail", "info")
"""The entry types that complete an operation in a client history."""
TRACE_ENDS = ("complete",)
"""The event type that completes an operation in a trace."""


def pair_calls(history: Iterable[E], source: str | None = None) -> Iterator[tuple[E, E | None]]:
    """Each operation of a client history (the runtime's format, see ``labs.runtime.trace``) as
    ``(invocation, completion)``, matched by ``index``: in the order the operations completed,
    then ``(invocation, None)`` for each one that never did, in the order they were invoked.

    Without ``source``, a completion of an operation never invoked is passed over. With it (the
    history's name in messages) the history must be well formed: an entry that is not raises
    :class:`HistoryError` naming its line.
    """
    return _pair(history, HISTORY_ENDS, source)


def pair_trace_calls(events: Iterable[E]) -> Iterator[tuple[E, E | None]]:
    """The same pairs read straight from a trace's ``invoke`` and ``complete`` events (every
    other event is passed over), for readers that go through the trace once."""
    return _pair(events, TRACE_ENDS, None)


def _pair(entries: Iterable[E], ends: tuple[str, ...], source: str | None) -> Iterator[tuple[E, E | None]]:
    running: dict[Any, E] = {}
    for line, e in enumerate(entries, 1):
        kind = e.get("type")
        if source is not None:
            _check_entry(e, line, source, running)
        if kind == "invoke":
            running[e["index"]] = e
        elif kind in ends and e["index"] in running:
            yield running.pop(e["index"]), e
    for call in running.values():
        yield call, None


def _check_entry(e: Mapping[str, Any], line: int, source: str, running: Mapping[Any, Any]) -> None:
    kind = e.get("type")
    if kind != "invoke" and kind not in HISTORY_ENDS:
        raise HistoryError(source, line, f"type must be invoke, ok, fail or info, not {kind!r}")
    for field in ("index", "time", "f"):
        if field not in e:
            raise HistoryError(source, line, f"entry has no {field!r}: {dict(e)}")
    if kind == "invoke" and e["index"] in running:
        raise HistoryError(source, line, f"operation {e['index']} is invoked twice")
    if kind != "invoke" and e["index"] not in running:
        raise HistoryError(source, line, f"{kind} of operation {e['index']}, which was never invoked")


def from_history(entries: Iterable[Mapping[str, Any]], source: str = "history") -> list[Operation]:
    """Operations from a history in the runtime's format (see ``labs.runtime.trace``).

    Each entry has ``index`` (pairs an invocation with its completion), ``process``, ``type``
    (``invoke``, ``ok``, ``fail`` or ``info``), ``f``, ``key``, ``value`` and ``time``. An
    operation that failed is left out; one that ended ``info`` or never ended has an unknown
    outcome.
    """
    ops = [_operation(call, done if done is not None and done["type"] == "ok" else None)
           for call, done in pair_calls(entries, source) if done is None or done["type"] != "fail"]
    return sorted(ops, key=lambda o: o.call)


def _operation(call: Mapping[str, Any], done: Mapping[str, Any] | None) -> Operation:
    """An operation whose id is the history's ``index``, so that reports name what the trace does."""
    i = int(call["index"])
    inp = Input(str(call["f"]), _freeze(call.get("key")), _freeze(call.get("value")))
    client = call.get("process", call.get("client"))
    if done is None:
        return Operation(i, client, inp, UNKNOWN, float(call["time"]), math.inf)
    return Operation(i, client, inp, _freeze(done.get("value")), float(call["time"]), float(done["time"]))

