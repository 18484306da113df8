"""The search: is there an order of a history's operations that the model accepts and that
respects real time? Wing and Gong's backtracking, with Lowe's memoization, as in Porcupine.

The search builds the order one operation at a time. The operations that may come next are
those not yet placed whose call came before the earliest return among the placed-to-be
operations that did return (an operation that returned must take effect before anything that
was called after it). For each such candidate the model must accept it in the current state,
and the pair (set of operations placed, state) must be new: that pair is all that matters for
the rest of the search, so a pair seen before, which led nowhere, is not tried twice (nor one
that differs only by having placed more operations of unknown outcome). When no
candidate works the search undoes its last choice and tries the next candidate there. When
nothing is left to undo, no order works.

Candidates are tried in a helpful order: operations that returned first, by the middle of
their interval (the likeliest place of their effect: an operation that ran long is tried late),
then operations of unknown outcome, which may take effect at any time after their call, or never. Once every operation that returned is placed, the rest
may take effect later or never: success.

:func:`searching` is a generator that yields every few thousand steps, so that a caller can run
several partitions side by side (a history with one illegal key is then found out as soon as
that key's search ends, not after the others) and stop at a deadline.
"""

from __future__ import annotations

import bisect
import collections
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

from .history import UNKNOWN, Input, Operation
from .model import Model, State

SLICE = 256
"""Steps between two yields of :func:`searching`."""
LOOKAHEAD = 3
"""How many reads beyond the window the search checks can still come true."""
WATCHED = 8
"""How many of the reads that last doomed a branch the search keeps checking on every step."""
JUDGE_FIRST = 64
"""How many of the latest writes a judged read is first asked to come true through, before all
of them (a long history has thousands)."""


@dataclass
class SearchResult:
    """``legal`` is True, False, or None when the search was stopped first. ``deepest`` is the
    longest order of operations (indexes into the searched list) the search could build;
    ``hopeless`` the read that can come true in no order, if that is how the search ended."""

    legal: bool | None
    deepest: list[int] = field(default_factory=list)
    steps: int = 0
    hopeless: int | None = None


def search(model: Model, ops: Sequence[Operation], deadline: float = float("inf"),
           memo: bool = True, eager: bool = True, lookahead: bool = True, hopeless: bool = True) -> SearchResult:
    """Run the search to its end, or to ``deadline`` (a ``time.monotonic()`` value)."""
    run = searching(model, ops, memo, eager, lookahead, hopeless)
    try:
        while True:
            next(run)
            if time.monotonic() > deadline:
                run.close()
                return SearchResult(None)
    except StopIteration as stop:
        result: SearchResult = stop.value
        return result


def searching(model: Model, ops: Sequence[Operation], memo: bool = True, eager: bool = True,
              lookahead: bool = True, hopeless: bool = True) -> Generator[None, None, SearchResult]:
    """The search, a slice of steps per ``next``; its value (``StopIteration.value``) is the
    result. Each shortcut can be turned off on its own, to test it against a search without
    it: ``memo`` (a state reached again with no more options is not searched again), ``eager``
    (a read that fits now is placed at once), ``lookahead`` (a branch where a read can no
    longer come true is given up) and ``hopeless`` (a read that fails, dooming a branch or,
    without the look-ahead, not fitting where it is tried, is asked once whether it can come
    true at all: from the start, through any of the operations called before it returned, in
    any order, and right after a write that can be the last before it. If not, no order works,
    and the search ends there instead of trying every branch before that read)."""
    n = len(ops)
    completed = sorted((i for i in range(n) if not ops[i].pending), key=lambda i: ops[i].ret)
    if not completed:
        return SearchResult(True)
    completed_rets = [ops[i].ret for i in completed]
    by_call = sorted(range(n), key=lambda i: ops[i].call)
    rank = [0] * n  # place in call order
    for r, i in enumerate(by_call):
        rank[i] = r
    step, inputs, outputs = model.step, [o.input for o in ops], [o.output for o in ops]
    pending = [o.pending for o in ops]
    rets = [o.ret for o in ops]
    calls = [o.call for o in ops]
    mids = [(o.call + o.ret) / 2 for o in ops]
    # Call order, the operations that returned apart from those of unknown outcome: these are
    # never placed in most searches, and kept with the others they would make every window
    # start at the first of them.
    done_by_call = [i for i in by_call if not pending[i]]
    done_calls = [ops[i].call for i in done_by_call]
    maybe_by_call = [i for i in by_call if pending[i]]
    maybe_calls = [ops[i].call for i in maybe_by_call]
    no_op = [model.read_only(o.input, o.output) for o in ops]
    # The reads the look-ahead asks about: read-only, returned, and with an output to come true
    # (a read whose output nobody saw, such as Jepsen's timed-out read, is legal in any state).
    checkable = [no_op[i] and not pending[i] and outputs[i] is not UNKNOWN for i in range(n)]
    # What the look-ahead hands the model (``via`` and ``must``) leaves the read-only operations
    # out: one never changes the state, so it can neither help a read come true nor stand in
    # its way, and a long history's reads are about half of what is unplaced at any time.
    writes_by_call = [i for i in done_by_call if not no_op[i]]
    writes_calls = [calls[i] for i in writes_by_call]
    maybe_writes_by_call = [i for i in maybe_by_call if not no_op[i]]
    maybe_writes_calls = [calls[i] for i in maybe_writes_by_call]
    completed_writes = [i for i in completed if not no_op[i]]
    completed_writes_rets = [rets[i] for i in completed_writes]
    placed = [False] * n

    reachable, after_write = model.reachable, model.after_write
    watched: list[int] = []  # the reads found to doom a branch last, checked on every step
    all_writes_by_call = [i for i in by_call if not no_op[i]]  # what a judged read may come true through
    all_write_inputs = [inputs[i] for i in all_writes_by_call]
    all_write_calls = [calls[i] for i in all_writes_by_call]
    judged: set[int] = set()  # the reads asked whether they can come true at all
    lost: int | None = None  # one of them that cannot: no order works

    def judge(g: int) -> None:
        """Can read ``g`` come true at all? Whatever state it is placed in was reached from the
        start through operations called before it returned (each called before its instant), so
        it must be reachable from the start through them (taking effect or not, in any order).
        And the last write before it must leave its output (see ``last_write_fits``)."""
        nonlocal lost
        if hopeless and checkable[g] and g not in judged:
            judged.add(g)
            end = bisect.bisect_right(all_write_calls, rets[g])
            # More operations to go through only add ways: the latest writes are tried first
            # (a read's value is most often made by them), all of them only if those fail.
            read, seen = inputs[g], outputs[g]
            if end > JUDGE_FIRST and reachable(start, read, seen, all_write_inputs[end - JUDGE_FIRST:end], ()):
                can = True
            else:
                can = reachable(start, read, seen, all_write_inputs[:end], ())
            if not can or not last_write_fits(g):
                lost = g

    writes: _Writes | None = None  # built by the first read judged

    def last_write_fits(g: int) -> bool:
        """The writes of ``g``'s partition that returned before ``g`` was called take effect
        before it, so the last write before ``g`` follows each of them: it cannot have returned
        before the latest of them was called. Some write that can be last must leave ``g``'s
        output (``model.after_write``), or ``g`` never comes true."""
        nonlocal writes
        if writes is None:
            writes = _Writes(model, ops, completed, by_call, no_op)
        part = writes.group[g]
        at = bisect.bisect_left(writes.rets[part], calls[g])
        if at == 0:
            return True
        latest = writes.latest[part][at - 1]
        lo = bisect.bisect_left(writes.calls[part], latest - writes.longest)  # called earlier: returned before it
        hi = bisect.bisect_right(writes.calls[part], rets[g])
        read, seen = inputs[g], outputs[g]
        return any(rets[j] >= latest and after_write(inputs[j], outputs[j], read, seen)
                   for j in (*writes.by_call[part][lo:hi], *writes.maybe[part]) if calls[j] <= rets[g])

    def candidates(first_ret: int, low: int) -> tuple[int, list[int]]:
        """Operations that may be placed next: called by the earliest outstanding return, in
        call order, those that returned first. ``low`` is where the unplaced operations that
        returned start in call order (it only moves forward)."""
        while low < len(done_by_call) and placed[done_by_call[low]]:
            low += 1
        by = rets[completed[first_ret]]
        window = [i for i in done_by_call[low:bisect.bisect_right(done_calls, by)] if not placed[i]]
        window.sort(key=mids.__getitem__)
        window.extend(i for i in maybe_by_call[:bisect.bisect_right(maybe_calls, by)] if not placed[i])
        return low, window

    def doomed(window: list[int], low: int, first: int) -> bool:
        """A read that no remaining operation can make true: a dead end.

        Every read not yet placed comes after everything placed, so the reads looked at are
        those in the window and the next few to return after it (a wrong choice shows soonest
        there). What may still help a read is every unplaced operation called before it
        returned that is not read-only, in call order; the reads go by return time so that
        this list only grows."""
        if not lookahead:
            return False
        reads = {g for g in window if checkable[g]}
        reads.update(g for g in watched if not placed[g])
        ahead = 0
        for k in range(first, len(completed)):
            g = completed[k]
            if not placed[g] and checkable[g]:
                reads.add(g)
                ahead += 1
                if ahead == LOOKAHEAD:
                    break
        via: list[Input] = []
        # Every operation before ``low`` in call order (and before ``first`` in return order) is
        # placed: the lists of writes are read from there (ties in time only add placed ones).
        at = bisect.bisect_left(writes_calls, done_calls[low]) if low < len(done_calls) else len(writes_calls)
        at_maybe = 0
        must_from = bisect.bisect_left(completed_writes_rets, completed_rets[first])
        for g in sorted(reads, key=rets.__getitem__):
            limit = bisect.bisect_right(writes_calls, rets[g])
            limit_maybe = bisect.bisect_right(maybe_writes_calls, rets[g])
            more = [j for j in writes_by_call[at:limit] if not placed[j]]
            if limit_maybe > at_maybe:
                more.extend(j for j in maybe_writes_by_call[at_maybe:limit_maybe] if not placed[j])
                more.sort(key=rank.__getitem__)
            via.extend(inputs[j] for j in more)
            at, at_maybe = max(at, limit), max(at_maybe, limit_maybe)
            must = [inputs[j] for j in completed_writes[must_from:bisect.bisect_left(completed_writes_rets, calls[g])]
                    if not placed[j]]
            if not reachable(state, inputs[g], outputs[g], via, must):
                judge(g)
                if g not in watched:  # it may doom the branches tried next too: watch it
                    watched.append(g)
                    del watched[:-WATCHED]
                return True
        return False

    start: State = model.init()
    state: State = start
    done = 0  # bit i set: operation i is placed
    # Memo: (placed operations that returned, state) -> the sets of placed unknown-outcome
    # operations it was reached with. Reached again with a superset of one of those sets, the
    # search has no more options than it had then (fewer operations left to place), so it
    # would fail again.
    seen: dict[tuple[int, State], list[int]] = {}
    maybe = sum(1 << i for i in range(n) if pending[i])
    path: list[tuple[int, State, bool]] = []  # placed operations: (op, state before, forced)
    deepest: list[int] = []
    agree = 0  # how long a start ``deepest`` and ``path`` have in common

    def place(i: int, new: State, forced: bool) -> None:
        nonlocal state, done
        path.append((i, state, forced))
        state, done = new, done | (1 << i)
        placed[i] = True

    def _undo() -> None:
        nonlocal state, done, agree
        i, state, _ = path.pop()
        done &= ~(1 << i)
        placed[i] = False
        agree = min(agree, len(path))

    def close(first: int, low: int) -> tuple[int, int, list[int]]:
        """Place every candidate that changes nothing and is legal now, then list the rest.

        Such an operation (a read that fits the state) can go first in any order that works
        from here, so trying it elsewhere would only repeat the search. No candidates are left
        when every returned operation is placed (success) or a read can no longer come true."""
        while True:
            while first < len(completed) and placed[completed[first]]:
                first += 1
            if first == len(completed):
                return first, low, []
            low, window = candidates(first, low)
            fits = [i for i in window if eager and no_op[i] and step(state, inputs[i], outputs[i])[0]]
            if not fits:
                return first, low, [] if doomed(window, low, first) else window
            for i in fits:
                place(i, state, True)

    # One frame per depth: the candidates, the next one to try, the earliest outstanding return.
    first, low, window = close(0, 0)
    if first == len(completed):
        return SearchResult(True, [j for j, _, _ in path], 0)
    if lost is not None:
        return SearchResult(False, [j for j, _, _ in path], 0, lost)
    cands: list[list[int]] = [window]
    tries: list[int] = [0]
    firsts: list[int] = [first]
    lows: list[int] = [low]
    steps = 0
    while True:
        steps += 1
        if steps % SLICE == 0:
            yield
        k = tries[-1]
        if k == len(cands[-1]):  # every candidate here failed: undo the last choice
            cands.pop()
            tries.pop()
            firsts.pop()
            lows.pop()
            while path and path[-1][2]:
                _undo()
            if not path:
                return SearchResult(False, deepest, steps)
            _undo()
            continue
        tries[-1] = k + 1
        i = cands[-1][k]
        legal, new = step(state, inputs[i], outputs[i])
        if not legal:
            if no_op[i] and not lookahead:  # with it, a read is judged once it dooms a branch
                judge(i)
                if lost is not None:
                    return SearchResult(False, deepest, steps, lost)
            continue
        if memo:
            bits = done | (1 << i)
            unknown = bits & maybe
            before = seen.setdefault((bits ^ unknown, new), [])
            if any(b & ~unknown == 0 for b in before):
                continue
            before.append(unknown)
        place(i, new, False)
        first, low, window = close(firsts[-1], lows[-1])
        if len(path) > len(deepest):  # copy only what changed since the last copy
            deepest[agree:] = [j for j, _, _ in path[agree:]]
            agree = len(path)
        if first == len(completed):
            return SearchResult(True, [j for j, _, _ in path], steps)
        if lost is not None:
            return SearchResult(False, deepest, steps, lost)
        cands.append(window)
        tries.append(0)
        firsts.append(first)
        lows.append(low)


class _Writes:
    """What ``last_write_fits`` looks up, per partition of the search's operations: the returned
    writes by return time with the latest call among them so far, the returned writes by call
    time, and the writes of unknown outcome; with each operation's partition and the longest
    time any operation took."""

    def __init__(self, model: Model, ops: Sequence[Operation], completed: list[int], by_call: list[int],
                 no_op: list[bool]) -> None:
        self.group = [0] * len(ops)
        where = {id(o): i for i, o in enumerate(ops)}
        for k, piece in enumerate(model.partition(ops)):
            for o in piece:
                self.group[where[id(o)]] = k
        self.rets: dict[int, list[float]] = collections.defaultdict(list)
        self.latest: dict[int, list[float]] = collections.defaultdict(list)
        for j in completed:
            if not no_op[j]:
                latest = self.latest[self.group[j]]
                self.rets[self.group[j]].append(ops[j].ret)
                latest.append(max(ops[j].call, latest[-1]) if latest else ops[j].call)
        self.by_call: dict[int, list[int]] = collections.defaultdict(list)
        self.calls: dict[int, list[float]] = collections.defaultdict(list)
        self.maybe: dict[int, list[int]] = collections.defaultdict(list)
        for j in by_call:
            if not no_op[j]:
                if ops[j].pending:
                    self.maybe[self.group[j]].append(j)
                else:
                    self.by_call[self.group[j]].append(j)
                    self.calls[self.group[j]].append(ops[j].call)
        self.longest = max((ops[j].ret - ops[j].call for j in completed), default=0.0)
