"""Linearizability: the verdict on a history, and the smallest piece of it that explains a "no".

A history is linearizable when every operation can be given a single instant between its call
and its return, such that the operations, taken in the order of those instants, are a legal
sequential run of the model. :func:`check` answers ``ok``, ``illegal`` or ``unknown`` (the time
limit ran out); it checks the model's partitions one by one and stops at the first illegal one.

An illegal verdict carries a :class:`Counterexample`, shrunk in two steps that keep it a proof:

1. the shortest prefix of the history (cut at some time; operations running then become
   unknown-outcome) that is still not linearizable: if the whole history were linearizable,
   so would every prefix be;
2. read-only operations dropped one at a time while the rest stays not linearizable: a read
   changes nothing, so taking it out of a linearizable history leaves it linearizable.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import lin_picture
from .history import UNKNOWN, Operation, from_history
from .model import Model
from .wgl import SearchResult, search, searching

Verdict = Literal["ok", "illegal", "unknown"]


@dataclass
class Counterexample:
    """The smallest piece of a partition that is not linearizable, and where ordering it fails."""

    model: str
    partition: str
    operations: list[Operation]
    """The shrunk history, in call order."""
    linearized: list[Operation]
    """The longest order of these operations the model accepts."""
    state: str
    """The state after ``linearized``, in words."""
    stuck: Operation | None
    """The operation that had to take effect next (it returned) and could not."""
    reason: str
    shrunk_from: int
    """How many operations the partition had before shrinking."""

    def explain(self) -> str:
        return self.reason

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "partition": self.partition, "reason": self.reason,
            "operations": [o.to_dict() for o in self.operations],
            "linearized": [o.id for o in self.linearized], "state": self.state,
            "stuck": None if self.stuck is None else self.stuck.id, "shrunk_from": self.shrunk_from,
        }


@dataclass
class PartitionResult:
    label: str
    verdict: Verdict
    operations: int
    seconds: float
    counterexample: Counterexample | None = None


@dataclass
class LinearizabilityResult:
    """The verdict on a whole history, with one result per partition that was checked."""

    model: Model
    verdict: Verdict
    seconds: float
    """The whole check: the search, then the shrinking of a counterexample."""
    operations: list[Operation]
    partitions: list[PartitionResult] = field(default_factory=list)
    search_seconds: float = 0.0
    """The search alone, the time to the verdict."""
    shrink_seconds: float = 0.0
    """Shrinking the counterexample (0 when the history is linearizable or shrinking is off)."""

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    @property
    def counterexample(self) -> Counterexample | None:
        return next((p.counterexample for p in self.partitions if p.counterexample), None)

    def explain(self) -> str:
        """The verdict in words; for an illegal one, the counterexample's operations and why."""
        if self.verdict == "ok":
            return f"linearizable ({len(self.operations)} operations, {self.model.name} model)"
        if self.verdict == "unknown":
            slow = next((p for p in self.partitions if p.verdict == "unknown"), None)
            where = f" ({slow.label}, {slow.operations} operations)" if slow else ""
            return f"unknown: the search ran out of time{where}; give it more time or a smaller history"
        cx = self.counterexample
        assert cx is not None
        lines = [f"not linearizable: {cx.partition}, shown by {len(cx.operations)} of its "
                 f"{cx.shrunk_from} operations:"]
        describe = self.model.describe_operation
        for o in cx.operations:
            end = "    (outcome unknown)" if o.pending else f"{o.ret:>10.4g}"
            mark = "  <- stuck here" if cx.stuck is not None and o.id == cx.stuck.id else ""
            lines.append(f"  #{o.id:<5} client {o.client!s:<6} {o.call:>10.4g} ..{end}  "
                         f"{describe(o.input, o.output)}{mark}")
        lines.append(cx.reason)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        cx = self.counterexample
        return {
            "verdict": self.verdict, "model": self.model.name, "seconds": round(self.seconds, 6),
            "search_seconds": round(self.search_seconds, 6), "shrink_seconds": round(self.shrink_seconds, 6),
            "operations": len(self.operations),
            "partitions": [{"label": p.label, "verdict": p.verdict, "operations": p.operations,
                            "seconds": round(p.seconds, 6)} for p in self.partitions],
            "counterexample": None if cx is None else cx.to_dict(),
        }

    def to_html(self, title: str = "Linearizability") -> str:
        return lin_picture.render(self, title)

    def write_html(self, path: str | Path, title: str = "Linearizability") -> Path:
        out = Path(path)
        out.write_text(self.to_html(title), encoding="utf-8")
        return out

    def _repr_html_(self) -> str:
        return lin_picture.render_fragment(self)


def check(history: Iterable[Mapping[str, Any]] | Sequence[Operation], model: Model,
          timeout: float = 10.0, partition: bool = True, memo: bool = True,
          shrink: bool = True, shrink_timeout: float = 5.0, eager: bool = True,
          lookahead: bool = True, hopeless: bool = True) -> LinearizabilityResult:
    """Check a history (entries in the runtime's history format, or :class:`Operation` s).

    ``timeout`` bounds the search over all partitions (then the verdict is ``unknown``);
    ``shrink_timeout`` bounds the shrinking of a counterexample, which is best effort.
    ``partition``, ``memo``, ``eager``, ``lookahead`` and ``hopeless`` (the search's shortcuts, see
    :func:`~labs.checkers.wgl.searching`) exist to measure what they save and to test each
    against a search without it; leave them on.
    """
    items = list(history)
    ops = [o for o in items if isinstance(o, Operation)]
    if len(ops) != len(items):
        ops = from_history(items)  # type: ignore[arg-type]
    started = time.monotonic()
    deadline = started + timeout
    result = LinearizabilityResult(model, "ok", 0.0, ops)
    wrong = _malformed(model, ops)
    if wrong is not None:  # no order can help an output the operation can never have
        result.partitions.append(wrong)
        result.verdict = "illegal"
        result.seconds = result.search_seconds = time.monotonic() - started
        return result
    parts = model.partition(ops) if partition else [list(ops)]
    # The partitions' searches take turns, a slice of steps each, so that one illegal
    # partition is found out as soon as its own search ends (Porcupine runs them in parallel).
    running = {k: searching(model, part, memo, eager, lookahead, hopeless) for k, part in enumerate(parts)}
    spent = dict.fromkeys(running, 0.0)
    found: dict[int, SearchResult] = {}
    while running and not any(r.legal is False for r in found.values()):
        if time.monotonic() > deadline:
            break
        for k in list(running):
            t = time.monotonic()
            try:
                next(running[k])
            except StopIteration as stop:
                found[k] = stop.value
                del running[k]
            spent[k] += time.monotonic() - t
    for run in running.values():
        run.close()
    for k, part in enumerate(parts):
        legal = found[k].legal if k in found else None
        verdict: Verdict = "ok" if legal else "unknown" if legal is None else "illegal"
        result.partitions.append(PartitionResult(_label(part), verdict, len(part), spent[k]))
    illegal = [(p, part) for p, part in zip(result.partitions, parts, strict=True) if p.verdict == "illegal"]
    searched = time.monotonic()
    result.search_seconds = searched - started
    if illegal:
        pr, part = min(illegal, key=lambda item: len(item[1]))
        pr.counterexample = _counterexample(model, part, found[parts.index(part)], pr.label, shrink,
                                            shrink_timeout)
        result.verdict = "illegal"
        result.shrink_seconds = time.monotonic() - searched
    elif any(p.verdict == "unknown" for p in result.partitions):
        result.verdict = "unknown"
    result.seconds = time.monotonic() - started
    return result


def _malformed(model: Model, ops: Sequence[Operation]) -> PartitionResult | None:
    """The first operation (by return) whose output no state could give, as an illegal partition
    of that one operation, or None."""
    for o in sorted((o for o in ops if not o.pending), key=lambda o: o.ret):
        why = model.malformed(o.input, o.output)
        if why is None:
            continue
        label = _label([o])
        reason = (f"{model.describe_operation(o.input, o.output)} by client {o.client} (#{o.id}, "
                  f"{o.call:.6g} .. {o.ret:.6g}) cannot be right in any order: {why}.")
        cx = Counterexample(model.name, label, [o], [], model.describe_state(model.init()), o, reason, 1)
        return PartitionResult(label, "illegal", 1, 0.0, cx)
    return None


def _label(part: Sequence[Operation]) -> str:
    keys = {o.input.key for o in part}
    if len(keys) == 1:
        (key,) = keys
        return "the whole history" if key is None else f"key {key!r}"
    return "the whole history"


# -- shrinking --------------------------------------------------------------------------------


def _illegal(model: Model, ops: Sequence[Operation], deadline: float) -> SearchResult | None:
    """The search's result on ``ops`` if it found them not linearizable by ``deadline``."""
    found = search(model, ops, deadline)
    return found if found.legal is False else None


def _cut(ops: Sequence[Operation], at: float) -> list[Operation]:
    """The history as it stood at time ``at``: later calls gone, running operations unknown."""
    return [o if o.ret <= at else dataclasses.replace(o, output=UNKNOWN, ret=math.inf)
            for o in ops if o.call <= at]


def _stuck(ops: Sequence[Operation], found: SearchResult) -> float:
    """Where the search got stuck: when the read it found hopeless returned (the history up to
    then is not linearizable already), or else the first operation its longest order could not
    place."""
    if found.hopeless is not None:
        return ops[found.hopeless].ret
    placed = set(found.deepest)
    return min((o.ret for i, o in enumerate(ops) if i not in placed and not o.pending), default=math.inf)


def _shrink(model: Model, ops: list[Operation], found: SearchResult,
            deadline: float) -> tuple[list[Operation], SearchResult]:
    """A smaller piece of ``ops`` that is still not linearizable, with the search's result on it
    (``found`` is the result on ``ops``); best effort until ``deadline``."""
    cuts = sorted({o.ret for o in ops if not o.pending})
    lo, hi = 0, len(cuts) - 1
    if cuts:
        last = _cut(ops, cuts[hi])
        shorter = _illegal(model, last, deadline) if len(last) < len(ops) or any(
            a is not b for a, b in zip(last, ops, strict=True)) else found
        if shorter is not None:
            ops, found = last, shorter
            # The shortest illegal prefix (illegality only grows with the prefix). It most often
            # ends where the search got stuck, so the cuts are tried going down from there,
            # the step doubling while they stay illegal, before the rest is halved: a legal
            # prefix is searched to its end, an illegal one only to where it fails.
            probe, step = min(hi - 1, bisect.bisect_left(cuts, _stuck(ops, found))), 1
            while lo < hi:
                mid = probe if lo <= probe < hi else (lo + hi) // 2
                prefix = _cut(ops, cuts[mid])
                shorter = _illegal(model, prefix, deadline)
                if shorter is not None:
                    hi, ops, found = mid, prefix, shorter
                    probe, step = (mid - step, step * 2) if probe == mid else (-1, step)
                else:
                    lo, probe = mid + 1, -1
    # A read found hopeless can come true in no order through the writes alone (that is how
    # it was judged): every other read goes at once, in one search.
    if found.hopeless is not None and time.monotonic() < deadline:
        lone = ops[found.hopeless]
        fewer = [o for o in ops if o is lone or not model.read_only(o.input, o.output)]
        shorter = _illegal(model, fewer, deadline) if len(fewer) < len(ops) else None
        if shorter is not None:
            ops, found = fewer, shorter
    # Drop reads in chunks, halving the chunk when a whole chunk cannot go (as delta debugging).
    reads = [o.id for o in sorted(ops, key=lambda o: -o.call) if model.read_only(o.input, o.output)]
    size = max(1, len(reads) // 2)
    while reads and time.monotonic() < deadline:
        kept: list[int] = []
        for start in range(0, len(reads), size):
            chunk = set(reads[start:start + size])
            fewer = [p for p in ops if p.id not in chunk]
            shorter = _illegal(model, fewer, deadline) if time.monotonic() < deadline else None
            if shorter is not None:
                ops, found = fewer, shorter
            else:
                kept.extend(chunk)
        if size == 1 or not kept:
            break
        reads, size = kept, max(1, size // 2)
    return ops, found


def _counterexample(model: Model, part: list[Operation], found: SearchResult, label: str, shrink: bool,
                    budget: float) -> Counterexample:
    """``found`` is the search's result on ``part`` (not linearizable): shrinking starts from it,
    and without shrinking its longest order is the one reported, without searching again."""
    searched, found = _shrink(model, part, found, time.monotonic() + budget) if shrink else (part, found)
    ops = sorted(searched, key=lambda o: (o.call, o.id))
    order = [searched[i] for i in found.deepest]
    state = model.init()
    for o in order:
        state = model.step(state, o.input, o.output)[1]
    taken = {o.id for o in order}
    left = [o for o in ops if o.id not in taken and not o.pending]
    stuck = min(left, key=lambda o: o.ret) if left else None
    describe = model.describe_operation
    said = model.describe_state(state)
    if not order:
        before = f"No operation can take effect first ({said} at the start)."
    else:
        ids = [f"#{o.id}" for o in order]
        if len(ids) > 12:
            ids = [*ids[:5], f"... {len(ids) - 10} more ...", *ids[-5:]]
        before = f"The longest order the model accepts takes {len(order)} operation(s), " \
                 f"{', '.join(ids)}; after them {said}."
    doomed = [g for g in left if model.read_only(g.input, g.output) and g.output is not UNKNOWN
              and not model.step(state, g.input, g.output)[0]
              and not model.reachable(state, g.input, g.output, [o.input for o in ops if o.id not in taken and o.id != g.id], ())]
    hopeless = searched[found.hopeless] if found.hopeless is not None else None
    if hopeless is not None and hopeless not in doomed:
        g = stuck = hopeless
        writes = [o.input for o in ops if o.call <= g.ret and not model.read_only(o.input, o.output)]
        why = ("no order of the writes called before it returned makes that result from the start"
               if not model.reachable(model.init(), g.input, g.output, writes, ()) else
               "the writes that returned before it was called take effect before it, so the last "
               "write before it returned after the latest of them was called, and no write that can "
               "be that last one leaves this result")
        reason = (f"{before} And {describe(g.input, g.output)} by client {g.client} (#{g.id}, "
                  f"{g.call:.6g} .. {g.ret:.6g}) comes true in no order: {why}.")
    elif doomed:
        g = stuck = hopeless if hopeless in doomed else doomed[0]
        reason = (f"{before} Now {describe(g.input, g.output)} by client {g.client} (#{g.id}, "
                  f"{g.call:.6g} .. {g.ret:.6g}) can no longer come true: no operation left can "
                  f"bring the state to that result; and no other order gets further.")
    elif stuck is None:
        reason = f"{before} No order of these operations is legal."
    elif not model.step(state, stuck.input, stuck.output)[0]:
        reason = (f"{before} Next, {describe(stuck.input, stuck.output)} by client {stuck.client} "
                  f"(#{stuck.id}) must take effect before it returned at {stuck.ret:.6g}, but the "
                  f"model does not allow that result when {said}; and no other order of the "
                  f"operations before it gets further.")
    else:
        reason = (f"{before} Every operation that could come next leads to a dead end before "
                  f"{describe(stuck.input, stuck.output)} by client {stuck.client} (#{stuck.id}) "
                  f"returns at {stuck.ret:.6g}.")
    return Counterexample(model.name, label, ops, order, said, stuck, reason, len(part))
