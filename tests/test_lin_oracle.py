"""The linearizability checker against an oracle too plain to be wrong, on histories of every shape.

The oracle is Wing and Gong's search with no shortcut at all: from the start state, try every
operation that may go next (nobody not yet placed returned before it was called), in every
order, until the operations that returned are all placed. Operations of unknown outcome that
never returned may be left out (they never took effect); one that returned with an unknown
output (Jepsen's timed-out read) must be placed, and the model accepts any output there.

Histories are generated for every model, with every shape the importers and the labs produce:
operations still running, unknown outputs with and without a return time, failed cas and
conditional puts, nil reads, several keys, and outputs of the wrong type (what a student's
clerk may return). The fast checker must agree with the oracle with all its shortcuts, and with
each shortcut alone (memo, eager placement of reads, look-ahead, giving up at a read that can
come true in no order at all, partitioning by key), so that a wrong shortcut shows up on its own.
The look-ahead's ``reachable`` of every model is also checked directly against its definition.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labs.checkers.history import UNKNOWN, Input, Operation
from labs.checkers.linearizability import check
from labs.checkers.model import Model, State
from labs.checkers.standard_models import KV, VERSIONED_KV, register

REGISTER = register()
EXAMPLES = 500
"""Histories per model and test: with three models, thousands of cases in every CI run."""
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def oracle(model: Model, ops: Sequence[Operation]) -> bool:
    """Is there an order of ``ops`` that respects real time and that the model accepts?"""

    def extend(state: State, left: frozenset[int]) -> bool:
        if all(ops[i].pending for i in left):
            return True  # what is left never returned: it may never take effect
        horizon = min(ops[i].ret for i in left)  # the first of those left to return
        for i in left:
            o = ops[i]
            if o.call <= horizon:  # nobody left returned before it was called: it may go next
                legal, after = model.step(state, o.input, o.output)
                if legal and extend(after, left - {i}):
                    return True
        return False

    return extend(model.init(), frozenset(range(len(ops))))


# -- histories of every shape ------------------------------------------------------------------

WRONG = [None, True, 1, [1], ("a",), {"v": 1}]
"""Outputs a clerk might hand back that no model's operation returns (for some of them)."""


def _timing(draw: Any, i: int, client: int, inp: Input, output: Any) -> Operation:
    call = float(draw(st.integers(0, 8)))
    shape = draw(st.integers(0, 9))
    if shape == 0:  # still running, or given up on: unknown outcome, never returned
        return Operation(i, client, inp, UNKNOWN, call, math.inf)
    if shape == 1:  # returned without its result (a timed-out read)
        return Operation(i, client, inp, UNKNOWN, call, call + draw(st.integers(0, 4)))
    return Operation(i, client, inp, output, call, call + draw(st.integers(0, 4)))


@st.composite
def register_histories(draw: Any) -> list[Operation]:
    values = st.sampled_from([None, 1, 2])
    ops = []
    for i in range(draw(st.integers(1, 7))):
        f = draw(st.sampled_from(["read", "write", "cas"]))
        if f == "read":
            inp, out = Input("read"), draw(values)
        elif f == "write":
            inp, out = Input("write", None, draw(st.sampled_from([1, 2]))), None
        else:
            inp = Input("cas", None, (draw(values), draw(st.sampled_from([1, 2]))))
            out = draw(st.sampled_from([True, False, True, False, *WRONG]))
        ops.append(_timing(draw, i, i % 3, inp, out))
    return ops


@st.composite
def kv_histories(draw: Any) -> list[Operation]:
    keys = st.sampled_from(["a", "b"])
    ops = []
    for i in range(draw(st.integers(1, 7))):
        f = draw(st.sampled_from(["get", "put", "append"]))
        if f == "get":
            out = draw(st.sampled_from(["", "x", "y", "xy", "yx", "xx", "", "x", *WRONG]))
            inp = Input("get", draw(keys))
        else:
            inp, out = Input(f, draw(keys), draw(st.sampled_from(["x", "y"]))), None
        ops.append(_timing(draw, i, i % 3, inp, out))
    return ops


@st.composite
def versioned_histories(draw: Any) -> list[Operation]:
    keys = st.sampled_from(["a", "b"])
    seen = st.tuples(st.sampled_from(["", "x", "y", "xy"]), st.integers(0, 2))
    ops = []
    for i in range(draw(st.integers(1, 7))):
        f = draw(st.sampled_from(["get", "put", "put", "append"]))
        if f == "get":
            inp, out = Input("get", draw(keys)), draw(st.one_of(seen, seen, st.sampled_from(WRONG)))
        elif f == "put":
            inp = Input("put", draw(keys), (draw(st.sampled_from(["x", "y"])), draw(st.integers(0, 2))))
            out = draw(st.sampled_from([True, False, True, False, *WRONG]))
        else:
            inp = Input("append", draw(keys), draw(st.sampled_from(["x", "y"])))
            out = draw(st.sampled_from([None, None, None, True]))
        ops.append(_timing(draw, i, i % 3, inp, out))
    return ops


CASES = [("register", REGISTER, register_histories()), ("kv", KV, kv_histories()),
         ("versioned-kv", VERSIONED_KV, versioned_histories())]


def _agree(model: Model, ops: list[Operation], **shortcuts: bool) -> None:
    expected = "ok" if oracle(model, ops) else "illegal"
    result = check(ops, model, shrink=False, **shortcuts)
    assert result.verdict == expected, (
        f"{model.name} model, shortcuts {shortcuts or 'all on'}: the checker says {result.verdict}, "
        f"the oracle {expected}, on:\n" + "\n".join(map(repr, ops)))


# -- every shortcut on, and each alone ---------------------------------------------------------

ALONE = {
    "all": {},
    "none": {"memo": False, "eager": False, "lookahead": False, "partition": False, "hopeless": False},
    "memo only": {"eager": False, "lookahead": False, "partition": False, "hopeless": False},
    "eager only": {"memo": False, "lookahead": False, "partition": False, "hopeless": False},
    "lookahead only": {"memo": False, "eager": False, "partition": False, "hopeless": False},
    "partition only": {"memo": False, "eager": False, "lookahead": False, "hopeless": False},
    "hopeless only": {"memo": False, "eager": False, "lookahead": False, "partition": False},
}


@pytest.mark.parametrize("shortcuts", ALONE, ids=list(ALONE))
@pytest.mark.parametrize(("name", "model", "histories"), CASES, ids=[c[0] for c in CASES])
def test_the_checker_agrees_with_the_oracle(name: str, model: Model, histories: Any, shortcuts: str) -> None:
    examples = EXAMPLES if shortcuts in ("all", "none") else EXAMPLES // 3

    @settings(SETTINGS, max_examples=examples)
    @given(histories)
    def agree(ops: list[Operation]) -> None:
        _agree(model, ops, **ALONE[shortcuts])

    agree()


# -- the look-ahead on its own -----------------------------------------------------------------


def _reachable_by_definition(model: Model, state: State, inp: Input, output: Any, via: Sequence[Input],
                             must: Sequence[int] = ()) -> bool:
    """Some of ``via``, among them those at the positions ``must``, in some order, each taking
    effect (its output unknown), bring ``state`` to one where ``(inp, output)`` is legal."""
    for k in range(len(via) + 1):
        for picked in itertools.permutations(range(len(via)), k):
            if not set(must) <= set(picked):
                continue
            chosen = [via[j] for j in picked]
            s = state
            for v in chosen:
                s = model.step(s, v, UNKNOWN)[1]
            if model.step(s, inp, output)[0]:
                return True
    return False


@pytest.mark.parametrize(("name", "model", "histories"), CASES, ids=[c[0] for c in CASES])
def test_the_look_ahead_never_gives_up_on_a_read_that_can_come_true(name: str, model: Model, histories: Any) -> None:
    """``reachable`` may say yes too often (that only costs time), never no too often: a "no"
    prunes the search, and a wrong one would make the checker call a good history illegal."""

    @settings(SETTINGS)
    @given(histories, histories, st.data())
    def sound(before: list[Operation], after: list[Operation], data: Any) -> None:
        state = model.init()
        for o in before:  # some state the search could be in
            legal, new = model.step(state, o.input, UNKNOWN)
            state = new if legal else state
        reads = [o for o in after if model.read_only(o.input, o.output)]
        if not reads:
            return
        read = data.draw(st.sampled_from(reads))
        via = [o.input for o in after if o is not read][:4]
        must = sorted(data.draw(st.sets(st.sampled_from(range(len(via))))) if via else set())
        if not model.reachable(state, read.input, read.output, via, [via[j] for j in must]):
            assert not _reachable_by_definition(model, state, read.input, read.output, via, must), (
                f"{model.name}: reachable says {read.input} -> {read.output!r} cannot come true from "
                f"{state!r} via {via} (of which {must} must take effect first), but it can")

    sound()


@pytest.mark.parametrize(("name", "model", "histories"), CASES, ids=[c[0] for c in CASES])
def test_after_write_never_rules_out_a_read_that_can_follow_the_write(name: str, model: Model,
                                                                     histories: Any) -> None:
    """``after_write`` may say yes too often, never no too often: from any state the search could
    be in, if a write placed there (with the output it had) leaves a state where the read is
    legal, it must not say False."""

    @settings(SETTINGS)
    @given(histories, histories)
    def sound(before: list[Operation], after: list[Operation]) -> None:
        state = model.init()
        for o in before:
            legal, new = model.step(state, o.input, UNKNOWN)
            state = new if legal else state
        reads = [o for o in after if model.read_only(o.input, o.output) and o.output is not UNKNOWN]
        writes = [o for o in after if not model.read_only(o.input, o.output)]
        for w in writes:
            legal, new = model.step(state, w.input, w.output)
            if not legal:
                continue
            for r in reads:
                if not model.after_write(w.input, w.output, r.input, r.output):
                    assert not model.step(new, r.input, r.output)[0], (
                        f"{model.name}: after_write says {r.input} -> {r.output!r} cannot follow "
                        f"{w.input} -> {w.output!r}, but from {state!r} it does")

    sound()


# -- the cases that were wrong -----------------------------------------------------------------


@pytest.mark.parametrize(("model", "write", "read"), [
    (REGISTER, Input("write", None, 0), Input("read")),
    (KV, Input("put", "k", "x"), Input("get", "k")),
    (VERSIONED_KV, Input("put", "k", ("x", 0)), Input("get", "k")),
], ids=["register", "kv", "versioned-kv"])
def test_a_timed_out_read_after_a_write_is_linearizable(model: Model, write: Input, read: Input) -> None:
    """Shrunk from two etcd histories Porcupine calls linearizable: a write returns at 2, then a
    read from 3 to 4 times out (Jepsen's ``:fail :read :timed-out``: it returned, nobody saw
    what). The look-ahead took the unknown output for a value some write must produce, and
    said illegal (versioned-kv raised TypeError)."""
    out = True if model is VERSIONED_KV else None
    ops = [Operation(0, 0, write, out, 0.0, 2.0), Operation(1, 1, read, UNKNOWN, 3.0, 4.0)]
    assert oracle(model, ops)
    assert check(ops, model).verdict == "ok"


@pytest.mark.parametrize(("model", "inp", "output", "words"), [
    (VERSIONED_KV, Input("get", "k"), True, "a get returns the key's (value, version), a string and an int, "
                                            "never True (a bool)"),
    (VERSIONED_KV, Input("put", "k", ("x", 0)), [1, 2], "a put returns whether it took effect, True or False, "
                                                        "never [1, 2] (a list)"),
    (KV, Input("get", "k"), 7, "a get returns the key's value, a string, never 7 (an int)"),
    (REGISTER, Input("cas", None, (None, 1)), "yes", "a cas returns whether it set the register, True or "
                                                     "False, never 'yes' (a str)"),
], ids=["versioned-get-bool", "versioned-put-list", "kv-get-int", "register-cas-str"])
def test_an_output_of_the_wrong_type_is_an_illegal_operation_in_words(model: Model, inp: Input, output: Any,
                                                                      words: str) -> None:
    """What a student sees when a clerk completes a get with a bool: a finding about that
    operation, never "the check crashed (a bug in the grader)"."""
    ops = [Operation(0, 0, Input("get", "k") if model is not REGISTER else Input("read"),
                     ("", 0) if model is VERSIONED_KV else "" if model is KV else None, 0.0, 1.0),
           Operation(1, 1, inp, output, 2.0, 3.0)]
    result = check(ops, model)
    assert result.verdict == "illegal"
    cx = result.counterexample
    assert cx is not None and [o.id for o in cx.operations] == [1]
    assert words in cx.reason and words in result.explain()
    assert "never" in result.to_html()


# -- the key-value look-ahead's pieces ---------------------------------------------------------


def _composable_by_definition(rest: str, pieces: Sequence[str]) -> bool:
    return any("".join(pieces[j] for j in picked) == rest
               for k in range(len(pieces) + 1) for picked in itertools.permutations(range(len(pieces)), k))


@SETTINGS
@given(st.lists(st.sampled_from(["", "x", "y", "xy", "yx", "xx"]), max_size=5),
       st.text(alphabet="xy", max_size=6))
def test_the_appended_pieces_compose_a_value_exactly_when_some_order_of_them_does(pieces: list[str], rest: str) -> None:
    """The key-value look-ahead asks whether the rest of a read's value is some appended values
    one after another (each once); its answer, found by value and length, is the plain one."""
    from labs.checkers.standard_models import _Pieces

    assert _Pieces(pieces).compose(rest) == _composable_by_definition(rest, pieces)


def test_a_put_that_starts_a_read_cannot_help_once_the_appends_it_needs_are_placed() -> None:
    """A read of ``[p](a1)(a2)`` after a put of ``[p]`` needs ``(a1)`` and ``(a2)`` after it: with
    ``(a1)`` placed already (not among the operations left), the read can no longer come true. The
    look-ahead said yes as soon as some put started the value, and a long history ran out of time."""
    put, a1, a2 = Input("put", "k", "[p]"), Input("append", "k", "(a1)"), Input("append", "k", "(a2)")
    get = Input("get", "k")
    state = (("k", "[q](a1)"),)
    assert not KV.reachable(state, get, "[p](a1)(a2)", [put, a2], [])
    assert KV.reachable(state, get, "[p](a1)(a2)", [put, a1, a2], [])
    # Distinct markers: one piece fits at each point, so a long value is judged, not given up on.
    many = [Input("append", "k", f"(a{i})") for i in range(40)]
    wanted = "[p]" + "".join(f"(a{i})" for i in range(39, 0, -1))
    assert KV.reachable(state, get, wanted, [put, *many[1:]], [])
    assert not KV.reachable(state, get, wanted + "(a0)", [put, *many[1:]], [])

