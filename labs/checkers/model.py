"""The model contract: what a linearizability checker needs to know about an object.

In the spirit of Porcupine, a model is a sequential specification and nothing more:

* ``init()``: the state before any operation;
* ``step(state, input, output) -> (legal, new_state)``: whether an operation that was asked
  ``input`` may return ``output`` in ``state``, and the state after it. ``step`` must be pure.
  When ``output`` is :data:`~labs.checkers.history.UNKNOWN` the caller never saw the
  result: the operation takes effect if it can and is always legal;
* states are plain hashable values (strings, numbers, tuples): Python's ``==`` and ``hash``
  are the model's equality and hashing, which the search uses to remember where it has been.
* ``step`` never raises for an output, whatever its type (a student's clerk may return
  anything): an output the operation can never have is illegal, and ``malformed`` says why.

Optional parts make the checker faster or its reports clearer:

* ``partition(ops)``: split a history into independent pieces (one per key of a key-value
  store) that are checked one by one, which is much faster than checking the whole;
* ``read_only(input, output)``: an operation that was asked ``input`` and returned ``output``
  never changes the state (a read; a compare-and-set that answered "no"). The search then
  places it as soon as it fits instead of trying it at every point, and the shrinker may drop
  it from a counterexample;
* ``reachable(state, input, output, via, must)``: could some order of the operations ``via``
  (their inputs; each may or may not take effect, except those also in ``must``, which do, as
  an operation of unknown outcome that took effect) bring ``state`` to one where the read-only
  operation ``(input, output)`` is legal? ``must`` holds the operations that returned before
  the read was called: they come before it (neither holds a read-only operation: it changes
  nothing). Answering False when a read can no longer come
  true lets the search give up on a branch at once; answering True is always safe, and it must
  answer True for an output of :data:`~labs.checkers.history.UNKNOWN` (such a read is legal
  in any state);
* ``after_write(write, write_output, read, read_output)``: whether the read-only operation
  ``(read, read_output)`` could be legal right after the operation ``(write, write_output)``
  (one that is not read-only, of the read's partition), whatever the state was before it;
  True when the write may not take effect at all (a compare-and-set of unknown outcome). The
  search asks it once per read that dooms a branch, with time: the writes that returned
  before the read was called come before it, so the last write before the read follows each
  of them and cannot have returned before one was called; if none that can leaves the read's
  output, no order works. Answering True is always safe;
* ``malformed(input, output)``: why no state could ever give ``output`` to an operation asked
  ``input`` (a get that returned a bool where the model's gets return strings), or None. The
  checker looks first and reports such an operation on its own, in those words;
* ``describe_operation(input, output)`` and ``describe_state(state)``: words for reports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .history import UNKNOWN, Input, Operation

State = Any
Step = Callable[[State, Input, Any], tuple[bool, State]]


def _one_partition(ops: Sequence[Operation]) -> list[list[Operation]]:
    return [list(ops)]


def _never_read_only(inp: Input, output: Any) -> bool:
    return False


def _always_reachable(state: State, inp: Input, output: Any, via: Sequence[Input], must: Sequence[Input]) -> bool:
    return True


def _any_after_write(write: Input, write_output: Any, read: Input, read_output: Any) -> bool:
    return True


def _never_malformed(inp: Input, output: Any) -> str | None:
    return None


def _describe_operation(inp: Input, output: Any) -> str:
    args = ", ".join(repr(a) for a in (inp.key, inp.value) if a is not None)
    shown = "?" if output is UNKNOWN else repr(output)
    return f"{inp.f}({args}) -> {shown}"


def _describe_state(state: State) -> str:
    return repr(state)


@dataclass(frozen=True)
class Model:
    """A sequential specification (see the module docstring)."""

    name: str
    init: Callable[[], State]
    step: Step
    partition: Callable[[Sequence[Operation]], list[list[Operation]]] = _one_partition
    read_only: Callable[[Input, Any], bool] = _never_read_only
    reachable: Callable[[State, Input, Any, Sequence[Input], Sequence[Input]], bool] = _always_reachable
    after_write: Callable[[Input, Any, Input, Any], bool] = _any_after_write
    malformed: Callable[[Input, Any], str | None] = _never_malformed
    describe_operation: Callable[[Input, Any], str] = _describe_operation
    describe_state: Callable[[State], str] = _describe_state


def by_key(ops: Sequence[Operation]) -> list[list[Operation]]:
    """One partition per key, in the order keys first appear: operations on different keys of a
    key-value store never constrain each other, so each key is checked on its own."""
    parts: dict[Any, list[Operation]] = {}
    for op in ops:
        parts.setdefault(op.input.key, []).append(op)
    return list(parts.values())
