"""The models the course's labs need: a key-value store, a compare-and-set register, and a
versioned key-value store. Each is a :class:`~labs.checkers.model.Model`.

Key-value states are small maps stored as sorted tuples of ``(key, value)`` pairs, so that they
hash; partitioned per key, each piece's state holds a single pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .history import UNKNOWN, Input
from .model import Model, State, by_key

Pairs = tuple[tuple[Any, Any], ...]


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, with the middle of a long one left out (its length said)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    keep = (limit - 12) // 2
    return f"{text[:keep]}…({len(text)} chars)…{text[-keep:]}"


def _get(state: Pairs, key: Any, default: Any) -> Any:
    for k, v in state:
        if k == key:
            return v
    return default


def _set(state: Pairs, key: Any, value: Any) -> Pairs:
    others = tuple(kv for kv in state if kv[0] != key)
    return tuple(sorted((*others, (key, value)), key=lambda kv: repr(kv[0])))


def _kind(value: Any) -> str:
    """A value and its type, for a report: ``True (a bool)``, ``7 (an int)``. A history's lists
    are tuples here (so that they hash): they are shown as the lists the client returned."""
    if value is None:
        return "None"
    if type(value) is tuple:
        return f"{short(list(value))} (a list)"
    name = type(value).__name__
    return f"{short(value)} ({'an' if name[0] in 'aeiou' else 'a'} {name})"


def _show_pairs(state: Pairs, what: str) -> str:
    if not state:
        return f"every key {what}"
    return ", ".join(f"{k!r}: {v!r}" for k, v in state)


# -- key-value store: get / put / append ------------------------------------------------------


def _kv_step(state: Pairs, inp: Input, output: Any) -> tuple[bool, State]:
    current = _get(state, inp.key, "")
    if inp.f == "get":
        return (output is UNKNOWN or output == current), state
    if inp.f == "put":
        return True, _set(state, inp.key, inp.value)
    if inp.f == "append":
        return True, _set(state, inp.key, current + inp.value)
    raise ValueError(f"the kv model knows get, put and append, not {inp.f!r}")


class _Pieces:
    """Appended values, to ask whether a string is some of them (each once) one after another:
    counted by value, with their lengths, so that finding the pieces that start a string costs
    one look-up per length, not one comparison per piece."""

    def __init__(self, appends: Sequence[str]) -> None:
        self.counts: dict[str, int] = {}
        for a in appends:
            if a:
                self.counts[a] = self.counts.get(a, 0) + 1
        self.lengths = sorted({len(a) for a in self.counts})
        self.total = sum(len(a) * c for a, c in self.counts.items())

    def compose(self, rest: str) -> bool:
        """Can ``rest`` be written as some of the pieces one after another? Gives up (says yes,
        which is always safe) after a few hundred pieces tried; with distinct values, as a
        history's markers are, at most one piece starts ``rest`` at each point."""
        return len(rest) <= self.total and self._compose(rest, [256])

    def _compose(self, rest: str, budget: list[int]) -> bool:
        if not rest:
            return True
        counts = self.counts
        for n in self.lengths:
            if n > len(rest):
                break
            piece = rest[:n]
            if counts.get(piece, 0) > 0:
                budget[0] -= 1
                if budget[0] < 0:
                    return True
                counts[piece] -= 1
                found = self._compose(rest[n:], budget)
                counts[piece] += 1
                if found:
                    return True
        return False


def _grows_into(current: str, wanted: Any, appends: Sequence[str] | _Pieces) -> bool:
    """Without a put, appends only add to the end: ``wanted`` must be ``current`` followed by
    some of the appended values."""
    if not (isinstance(wanted, str) and wanted.startswith(current)):
        return False
    pieces = appends if isinstance(appends, _Pieces) else _Pieces(appends)
    return pieces.compose(wanted[len(current):])


def _kv_reachable(state: Pairs, inp: Input, output: Any, via: Sequence[Input], must: Sequence[Input]) -> bool:
    if output is UNKNOWN or not isinstance(output, str):
        return True
    key = inp.key
    current = _get(state, key, "")
    if output == current and not any(v.key == key and v.f != "get" for v in must):
        return True  # it can be placed now
    # After a put of V the value is V and then some of the appends: only a put whose value
    # starts the output can help, if the rest is made of appends (a put of something other
    # than a string is not judged: yes). Whatever must come first can go before that put.
    # Only an appended value found where pieces can go (past the shortest start) can be one of
    # them. One pass over ``via``: the look-ahead asks this on every step of the search, and the
    # output grows long, so values are looked for in that tail only.
    starts: list[str] = []
    appended: list[str] = []
    for v in via:
        if v.key != key:
            continue
        if v.f == "put":
            if not isinstance(v.value, str):
                return True
            if output.startswith(v.value):
                starts.append(v.value)
        elif v.f == "append":
            appended.append(str(v.value))
    grows = output.startswith(current)
    if not starts and not grows:
        return False
    tail = output[min([len(s) for s in starts] + ([len(current)] if grows else [])):]
    pieces = _Pieces([a for a in appended if a in tail])
    if any(pieces.compose(output[len(s):]) for s in starts):
        return True
    if any(v.f == "put" and v.key == inp.key for v in must):  # it overwrites the value now
        return False
    # Without a put, every append that must come first is one of the pieces after the value now.
    rest = output[len(current):]
    if any(v.f == "append" and v.key == key and str(v.value) not in rest for v in must):
        return False
    return _grows_into(current, output, pieces)


def _kv_after_write(write: Input, write_output: Any, read: Input, read_output: Any) -> bool:
    """Right after a put the value is the put's; right after an append it ends with it."""
    if write.key != read.key or not (isinstance(read_output, str) and isinstance(write.value, str)):
        return True
    return read_output == write.value if write.f == "put" else read_output.endswith(write.value)


def _kv_malformed(inp: Input, output: Any) -> str | None:
    if inp.f == "get" and output is not UNKNOWN and not isinstance(output, str):
        return f"a get returns the key's value, a string, never {_kind(output)}"
    return None


def _kv_describe(inp: Input, output: Any) -> str:
    if inp.f == "get":
        return f"get({inp.key!r}) -> {'?' if output is UNKNOWN else short(output)}"
    return f"{inp.f}({inp.key!r}, {short(inp.value)})"


KV = Model(
    name="kv",
    init=lambda: (),
    step=_kv_step,
    partition=by_key,
    read_only=lambda inp, out: inp.f == "get",
    reachable=_kv_reachable,
    after_write=_kv_after_write,
    malformed=_kv_malformed,
    describe_operation=_kv_describe,
    describe_state=lambda s: _show_pairs(s, "is ''"),
)
"""A map from keys to strings, each key starting as ``""``. ``get(key)`` returns the value,
``put(key, value)`` replaces it, ``append(key, value)`` adds to its end (outputs of put and
append are ignored). Partitioned per key."""


# -- compare-and-set register: read / write / cas ---------------------------------------------


def register(initial: Any = None) -> Model:
    """A single register holding ``initial`` at first. ``read`` returns the value; ``write(v)``
    sets it; ``cas((old, new))`` sets it to ``new`` if it holds ``old``, and returns whether it
    did (``True``/``False``)."""

    def step(state: Any, inp: Input, output: Any) -> tuple[bool, State]:
        if inp.f == "read":
            return (output is UNKNOWN or output == state), state
        if inp.f == "write":
            return True, inp.value
        if inp.f == "cas":
            old, new = inp.value
            if output is UNKNOWN:
                return True, new if state == old else state
            if output is True:
                return state == old, new
            return output is False and state != old, state
        raise ValueError(f"the register model knows read, write and cas, not {inp.f!r}")

    def reachable(state: Any, inp: Input, output: Any, via: Sequence[Input], must: Sequence[Input]) -> bool:
        """A read is true now (unless a write must come before it), or once a write or a
        compare-and-set of that very value takes effect; a compare-and-set that answered no,
        once the register holds another value."""
        if output is UNKNOWN:
            return True
        written = [v.value if v.f == "write" else v.value[1] for v in via if v.f in ("write", "cas")]
        if inp.f == "cas":  # answered no: true now, or once some other value is written
            return state != inp.value[0] or any(w != inp.value[0] for w in written)
        overwritten = any(v.f == "write" for v in must)
        return (output == state and not overwritten) or output in written

    def after_write(write: Input, write_output: Any, read: Input, read_output: Any) -> bool:
        """Right after a write or a compare-and-set that said yes, the register holds its new
        value. (A compare-and-set of unknown outcome may have changed nothing: anything goes.)"""
        if write.f not in ("write", "cas") or read_output is UNKNOWN or (write.f == "cas" and write_output is not True):
            return True
        new = write.value if write.f == "write" else write.value[1]
        if read.f == "cas":  # answered no: the register holds another value than the one it named
            return bool(new != read.value[0])
        return bool(new == read_output)

    def malformed(inp: Input, output: Any) -> str | None:
        if inp.f == "cas" and output is not UNKNOWN and type(output) is not bool:
            return f"a cas returns whether it set the register, True or False, never {_kind(output)}"
        return None

    def describe(inp: Input, output: Any) -> str:
        shown = "?" if output is UNKNOWN else repr(output)
        if inp.f == "read":
            return f"read() -> {shown}"
        if inp.f == "write":
            return f"write({inp.value!r})"
        old, new = inp.value
        return f"cas({old!r} -> {new!r}) -> {shown}"

    return Model(
        name="register",
        init=lambda: initial,
        step=step,
        read_only=lambda inp, out: inp.f == "read" or (inp.f == "cas" and out is False),
        reachable=reachable,
        after_write=after_write,
        malformed=malformed,
        describe_operation=describe,
        describe_state=lambda s: f"the register holds {s!r}",
    )


REGISTER = register()


# -- versioned key-value store: get / put with version / append -------------------------------


def _versioned_step(state: Pairs, inp: Input, output: Any) -> tuple[bool, State]:
    value, version = _get(state, inp.key, ("", 0))
    if inp.f == "get":
        return (output is UNKNOWN or (isinstance(output, (tuple, list)) and tuple(output) == (value, version))), state
    if inp.f == "put":
        new_value, expected = inp.value
        matches = expected == version
        applied = _set(state, inp.key, (new_value, version + 1))
        if output is UNKNOWN:
            return True, applied if matches else state
        if output is True:
            return matches, applied
        return output is False and not matches, state
    if inp.f == "append":
        return (output is None or output is UNKNOWN), _set(state, inp.key, (value + inp.value, version + 1))
    raise ValueError(f"the versioned-kv model knows get, put and append, not {inp.f!r}")


def _versioned_reachable(state: Pairs, inp: Input, output: Any, via: Sequence[Input],
                         must: Sequence[Input]) -> bool:
    """Versions only go up, one per put or append that takes effect (an append that must come
    first always does); without a put, appends only add to the end of the value. (A get of the
    version the key has now must see the value it has now.)"""
    if output is UNKNOWN or _versioned_malformed(inp, output):
        return True
    value, version = _get(state, inp.key, ("", 0))
    mine = [v for v in via if v.key == inp.key]
    raises = sum(1 for v in mine if v.f in ("put", "append"))
    if inp.f == "put":  # answered no: true now, or once the version moves on
        return inp.value[1] != version or raises > 0
    wanted_value, wanted_version = output
    least = sum(1 for v in must if v.key == inp.key and v.f == "append")
    if wanted_version == version:  # nothing may take effect before it: the value is the one now
        return bool(wanted_value == value) and least == 0
    if not version + least <= wanted_version <= version + raises:
        return False
    if any(v.f == "put" for v in mine):
        return True
    return _grows_into(value, wanted_value, [str(v.value) for v in mine if v.f == "append"])


def _versioned_after_write(write: Input, write_output: Any, read: Input, read_output: Any) -> bool:
    """Right after a put that said yes the key holds its value at the version after the one it
    named; right after an append the value ends with it. (A put of unknown outcome may have
    changed nothing: anything goes.)"""
    if write.key != read.key or read_output is UNKNOWN or _versioned_malformed(read, read_output):
        return True
    if write.f == "append":
        return read.f != "get" or not isinstance(write.value, str) or read_output[0].endswith(write.value)
    named = write.value if isinstance(write.value, (tuple, list)) and len(write.value) == 2 else None
    if write.f != "put" or write_output is not True or named is None or type(named[1]) is not int:
        return True
    if read.f == "put":  # answered no: the version is not the one it named
        return bool(named[1] + 1 != read.value[1])
    return bool(tuple(read_output) == (named[0], named[1] + 1))


def _versioned_malformed(inp: Input, output: Any) -> str | None:
    if output is UNKNOWN:
        return None
    if inp.f == "get" and not (isinstance(output, (tuple, list)) and len(output) == 2
                               and isinstance(output[0], str) and type(output[1]) is int):
        return f"a get returns the key's (value, version), a string and an int, never {_kind(output)}"
    if inp.f == "put" and type(output) is not bool:
        return f"a put returns whether it took effect, True or False, never {_kind(output)}"
    if inp.f == "append" and output is not None:
        return f"an append returns nothing (None), never {_kind(output)}"
    return None


def _versioned_describe(inp: Input, output: Any) -> str:
    shown = "?" if output is UNKNOWN else short(output)
    if inp.f == "get":
        return f"get({inp.key!r}) -> {shown}"
    if inp.f == "put":
        value, version = inp.value
        return f"put({inp.key!r}, {value!r}, if version {version}) -> {shown}"
    return f"append({inp.key!r}, {inp.value!r})"


VERSIONED_KV = Model(
    name="versioned-kv",
    init=lambda: (),
    step=_versioned_step,
    partition=by_key,
    read_only=lambda inp, out: inp.f == "get" or (inp.f == "put" and out is False),
    reachable=_versioned_reachable,
    after_write=_versioned_after_write,
    malformed=_versioned_malformed,
    describe_operation=_versioned_describe,
    describe_state=lambda s: _show_pairs(s, "is ('', 0)"),
)
"""A map from keys to ``(value, version)``, each key starting as ``("", 0)``. ``get(key)``
returns ``(value, version)``; ``put(key, (value, version))`` is a conditional put: it succeeds
(returns ``True``) only if ``version`` is the key's current version, and then the key holds
``value`` with the version one higher; otherwise it returns ``False`` and changes nothing.
``append(key, value)`` adds to the value, also raises the version, and returns ``None``.
Partitioned per key."""


MODELS: dict[str, Model] = {"kv": KV, "register": REGISTER, "versioned-kv": VERSIONED_KV}
