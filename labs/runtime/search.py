"""Model checking on the simulator: every order of deliveries, drops, duplicates and timer
firings of a small configuration, breadth first, so the first violation found is a shortest one.

A random schedule finds the interleaving that breaks a protocol only by luck. Here a *state* is
the nodes' fields and live timers, their disks, the messages in flight and what each client still
has to do; its *choices* are delivering any message in flight, dropping it or delivering a copy
(where the search allows), and firing a timer. Time moves only when a timer fires: each node's
clock stands at the deadline of the last timer it fired, so its timers fire in deadline order and
a message may be handled at any point between them. The search tries
every choice of every state it has not seen, to a depth, and after each step runs the invariants
(lab checks) on the trace so far.

A state is rebuilt by running its path of choices again from the start: a node's handlers are
deterministic and its randomness is seeded, so the same path gives the same state, in this
process or in a sealed one, and no node object is ever copied. Two states are the same when
their canonical forms are (:mod:`.canonical`); the node's part comes from the node's own process,
so the search checks that it is faithful: now and then it takes the same choice in two states it
merged and compares what the world sees (messages, timers, completions, disk writes). A node
whose state is not all in its fields, or whose handlers are not deterministic, is told so.

    explore(lab, spec) -> Exploration
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .lab import Check, Finding, Lab, RunResult
from .network import Network
from .node import NodeError, Op
from .nodeside import Effect, LocalNodes, NodeProcess, NodeProcesses, World
from .schedule import Schedule
from .simnodes import SimNodes, Slot
from .trace import TRACE_VERSION

RECYCLE = 5000
"""Runs a kept node process hosts before it is replaced by a fresh one (a sealed process has a
CPU-time limit of its own, set for one simulated run)."""

Choice = tuple[str, int]
"""``("deliver" | "drop" | "duplicate", message id)`` or ``("fire", timer id)``: ids are those of
the path's own run, the same every time it is run again."""


@dataclass(frozen=True)
class SearchSpec:
    """What to search: each client's operations, in order; how deep; what may go wrong; what
    must hold in every state."""

    operations: tuple[tuple[Op, ...], ...]
    invariants: tuple[Check, ...]
    depth: int = 10
    drop: bool = False
    """A message in flight may be lost."""
    duplicate: int = 0
    """How many extra copies of messages a path may deliver, in all."""
    max_states: int = 100_000
    timeout: float = 120.0
    verify_every: int = 20
    """About one merged state in this many (and the first ten) is checked to be the same."""


@dataclass
class Exploration:
    """The search's outcome. ``verdict``: ``"ok"`` (every state to ``depth`` was searched, and in
    one of them the clients had finished), ``"violation"`` (``findings`` hold for ``run``, the
    trace of ``path``), ``"stuck"`` (no violation, but in no state had the clients finished: a node
    that does nothing breaks no invariant), ``"limit"`` (states or time ran out first) or
    ``"error"`` (a node cannot be searched: ``findings`` say why)."""

    verdict: str
    states: int
    depth: int
    seconds: float
    path: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    run: RunResult | None = None


class SearchError(Exception):
    """A node cannot be searched (its state is not data, or not all in its fields)."""


class SearchWorld(SimNodes):
    """One path's run: the simulator's nodes and disks, with the network and the timers left to
    the search's choices instead of to time and dice."""

    def __init__(self, lab: Lab, spec: SearchSpec, nodes: NodeProcesses) -> None:
        super().__init__(lab, 0, nodes, Network())
        self.lab, self.spec = lab, spec
        self.flight: dict[int, tuple[str, str, str, Any]] = {}  # id -> (src, dst, type, body), in send order
        self.deadlines: dict[int, float] = {}  # timer id -> when it fires, on its node's clock
        self.clocks = {name: 0.0 for name in self.slots}  # each node's time: its last timer's deadline
        for name, slot in self.slots.items():
            slot.clock = _TimerClock(self.clocks, name)
        self.todo = {c: list(spec.operations[i]) if i < len(spec.operations) else []
                     for i, c in enumerate(self.clients)}
        self.copies = 0
        self._op_index = 0
        self.path: list[str] = []
        self.trace.append({"type": "run", "version": TRACE_VERSION, "lab": lab.name, "runtime": "search",
                           "seed": 0, "nodes": self.servers, "clients": self.clients,
                           "schedule": Schedule(name="search").to_data()})
        for name in (*self.servers, *self.clients):
            self._start(self.slots[name], first=True)
        for i, name in enumerate(self.clients):
            self._invoke(self.slots[name], i)

    # -- the world's parts the search decides -------------------------------------------------

    def _send(self, slot: Slot, dst: str, msg_type: str, body: Any) -> None:
        if dst not in self.slots:
            raise NodeError(f"{slot.name} sent {msg_type} to {dst!r}, which is not in this cluster")
        self._ids += 1
        self._emit("send", node=slot.name, dst=dst, id=self._ids, msg=msg_type, body=body)
        self.flight[self._ids] = (slot.name, dst, msg_type, body)

    def _set_timer(self, slot: Slot, timer_type: str, delay: float) -> None:
        self._ids += 1
        slot.timers[self._ids] = timer_type
        self.deadlines[self._ids] = round(self.clocks[slot.name] + delay, 9)
        self._emit("timer_set", node=slot.name, id=self._ids, timer=timer_type, delay=delay)

    def _start_work(self, slot: Slot, name: str) -> None:
        raise NodeError(f"{slot.name} started the work {name}: works are not searched (use a schedule)")

    def _invoke(self, slot: Slot, client: int) -> None:
        todo = self.todo[slot.name]
        if not todo or slot.pending is not None or not slot.up:
            return
        op = todo.pop(0)
        self._op_index += 1
        slot.pending = self._op_index
        self._emit("invoke", node=slot.name, process=slot.process, index=self._op_index,
                   f=op.f, key=op.key, value=op.value)
        self._event(slot, ("invoke", op.f, op.key, op.value))

    def _finish(self, slot: Slot, outcome: str, value: Any, client: int) -> None:
        index, slot.pending = slot.pending, None
        self._emit("complete", node=slot.name, process=slot.process, index=index, outcome=outcome, value=value)
        self._invoke(slot, client)

    # -- choices --------------------------------------------------------------------------

    def choices(self) -> list[Choice]:
        """What may happen next, in a fixed order: each message in flight (delivered, and where
        allowed dropped or copied), then each timer that may fire."""
        out: list[Choice] = []
        for mid in self.flight:
            out.append(("deliver", mid))
            if self.spec.drop:
                out.append(("drop", mid))
            if self.copies < self.spec.duplicate:
                out.append(("duplicate", mid))
        for slot in self.slots.values():
            if slot.up and slot.timers:
                first = min(self.deadlines[t] for t in slot.timers)
                out.extend(("fire", t) for t in sorted(slot.timers) if self.deadlines[t] == first)
        return out

    def take(self, choice: Choice) -> None:
        kind, ident = choice
        self.path.append(self.describe(choice))
        self.now = round(self.now + 0.001, 9)  # the trace's time counts steps: real-time order
        if kind == "fire":
            slot = self._timer_slot(ident)
            self.clocks[slot.name] = max(self.clocks[slot.name], self.deadlines[ident])
            timer_type = slot.timers.pop(ident)
            self._emit("timer_fire", node=slot.name, id=ident, timer=timer_type)
            self._event(slot, ("fire", ident))
            return
        src, dst, _, body = self.flight[ident] if kind == "duplicate" else self.flight.pop(ident)
        if kind == "drop":
            self._emit("drop", node=src, src=src, dst=dst, id=ident, reason="search")
            return
        if kind == "duplicate":
            self.copies += 1
            self._emit("duplicate", node=src, dst=dst, id=ident)
        self._deliver(src, dst, ident, body)

    def describe(self, choice: Choice) -> str:
        """A choice in words, the same in every state where the same thing can happen."""
        kind, ident = choice
        if kind == "fire":
            slot = self._timer_slot(ident)
            alike = [t for t in sorted(slot.timers)
                     if (slot.timers[t], self.deadlines[t]) == (slot.timers[ident], self.deadlines[ident])]
            which = f", the {_nth(alike.index(ident) + 1)} of {len(alike)} set" if len(alike) > 1 else ""
            return f"fire {slot.name}'s {slot.timers[ident]} (at {self.deadlines[ident]:g} s{which})"
        src, dst, msg_type, body = self.flight[ident]
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return f"{kind} {msg_type} {src}->{dst} {text}"

    def target(self, choice: Choice) -> str:
        """The node a choice hands an event to."""
        kind, ident = choice
        if kind == "fire":
            return self._timer_slot(ident).name
        return self.flight[ident][1]

    def _timer_slot(self, timer: int) -> Slot:
        """The node whose timer ``timer`` is."""
        return next(s for s in self.slots.values() if timer in s.timers)

    # -- the state --------------------------------------------------------------------------

    def seen_from_outside(self) -> str:
        """What the world holds: messages in flight, timers, disks, clients' progress (never
        the nodes' own word)."""
        flight = sorted(json.dumps([s, d, t, b], sort_keys=True) for s, d, t, b in self.flight.values())
        slots = [[n, s.up, self.clocks[n], [[s.timers[t], self.deadlines[t]] for t in sorted(s.timers)],
                  sorted(s.disk.items()), len(self.todo.get(n, [])), s.pending is not None]
                 for n, s in sorted(self.slots.items())]
        return json.dumps([flight, slots, self.copies], sort_keys=True)

    def fields(self) -> dict[str, str]:
        """Each node's fields and live timers, as its process says (canonical JSON text)."""
        nodes: dict[str, str] = {}
        for name, slot in sorted(self.slots.items()):
            if not slot.up or slot.process_ is None:
                continue
            value, _ = self._ask(slot, ("dump",))
            if not (isinstance(value, list) and len(value) == 2 and value[0] in ("state", "error")):
                raise SearchError(f"{name}'s process answered a look at its fields with something that is not one")
            if value[0] == "error":
                raise SearchError(str(value[1]))
            nodes[name] = json.dumps(value[1], sort_keys=True, separators=(",", ":"))
        return nodes

    def key(self) -> bytes:
        """The whole state, the world's part and each node's fields, as a digest."""
        text = self.seen_from_outside() + json.dumps(self.fields(), sort_keys=True)
        return hashlib.sha256(text.encode()).digest()

    def finished(self) -> bool:
        """Every client has done all its operations."""
        return all(not self.todo[c] and self.slots[c].pending is None for c in self.clients)

    def result(self) -> RunResult:
        return RunResult(self.lab, "search", 0, Schedule(name="search"), list(self.trace), list(self.errors))


def _nth(k: int) -> str:
    return f"{k}{'st' if k % 10 == 1 and k != 11 else 'nd' if k % 10 == 2 and k != 12 else 'rd' if k % 10 == 3 and k != 13 else 'th'}"


class _Rebound:
    """The world a kept node process calls: the run it is part of now."""

    target: World | None = None

    def call(self, effects: list[Effect], request: tuple[Any, ...]) -> tuple[Any, int]:
        assert self.target is not None
        return self.target.call(effects, request)


class _TimerClock(Clock):
    """A node's clock in the search: it reads the node's own time, whatever the step."""

    def __init__(self, clocks: dict[str, float], name: str) -> None:
        super().__init__()
        self._clocks, self._name = clocks, name

    def local(self, t: float) -> float:
        return self._clocks[self._name]


def searched_lab(lab: Lab, spec: SearchSpec) -> Lab:
    """``lab`` as the search runs it: its clients are those the spec gives operations to (start
    sealed node processes for this one)."""
    if lab.workload is None:
        return lab
    return dataclasses.replace(lab, workload=dataclasses.replace(lab.workload, clients=len(spec.operations)))


def explore(lab: Lab, spec: SearchSpec, nodes: NodeProcesses | None = None,
            progress: Callable[[int, int], None] | None = None) -> Exploration:
    """Search ``lab`` breadth first to ``spec.depth`` (see the module docstring). ``nodes``
    starts the nodes' processes (by default, objects in this process); ``progress`` is told the
    depth and the states seen as each depth is done."""
    lab = searched_lab(lab, spec)
    factory = nodes if nodes is not None else LocalNodes(lab)
    started = time.monotonic()
    dice = random.Random(0)
    kept: dict[str, tuple[NodeProcess, _Rebound]] = {}
    rebuilt = 0

    def reuse(name: str, world: World) -> NodeProcess:
        """A node's process, kept from path to path (a start event begins a new incarnation in
        it): a sealed one is forked once, not once per state."""
        if name not in kept or kept[name][0].dead:
            rebound = _Rebound()
            kept[name] = (factory(name, rebound), rebound)
        process, rebound = kept[name]
        rebound.target = world
        return process

    def rebuild(path: tuple[Choice, ...]) -> SearchWorld:
        """The state ``path`` leads to, run again from the start in the kept processes: valid
        until the next one is rebuilt."""
        nonlocal rebuilt
        rebuilt += 1
        if rebuilt % RECYCLE == 0:  # fresh processes now and then: each has a CPU limit of its own
            for process, _ in kept.values():
                process.stop()
            kept.clear()
        world = SearchWorld(lab, spec, reuse)
        for choice in path:
            world.take(choice)
        return world

    def ended(verdict: str, states: int, depth: int, world: SearchWorld | None = None,
              findings: list[Finding] | None = None) -> Exploration:
        return Exploration(verdict, states, depth, time.monotonic() - started, world.path if world else [],
                           findings or [], world.result() if world else None)

    first = rebuild(())
    try:
        seen: dict[bytes, tuple[Choice, ...]] = {first.key(): ()}
    except SearchError as exc:
        return ended("error", 0, 0, first, [Finding(str(exc))])
    found = _violations(first, spec)
    if found:
        return ended("violation", 1, 0, first, found)
    finished = first.finished()  # some state where every client has done all it had to do
    frontier: deque[tuple[Choice, ...]] = deque([()])
    merged = 0
    depth = 0
    while frontier:
        path = frontier.popleft()
        if len(path) > depth:
            if progress is not None:
                progress(depth, len(seen))
            depth = len(path)
        if len(path) >= spec.depth:
            continue
        if len(seen) >= spec.max_states or time.monotonic() - started > spec.timeout:
            return ended("limit", len(seen), depth)
        parent = rebuild(path)
        for k, choice in enumerate(parent.choices()):
            child = (*path, choice)
            if k == 0:  # the first child takes the parent's run on (its processes hold it still)
                world = parent
                world.take(choice)
            else:
                world = rebuild(child)
            try:
                key = world.key()
                if key in seen:
                    merged += 1
                    if merged <= 10 or dice.randrange(spec.verify_every) == 0:
                        _verify(rebuild, seen[key], child, dice)
                    continue
            except SearchError as exc:
                return ended("error", len(seen), len(child), world, [Finding(str(exc))])
            if len(seen) <= 10 or dice.randrange(spec.verify_every) == 0:
                try:
                    _same_again(rebuild, world, child)
                except SearchError as exc:
                    return ended("error", len(seen), len(child), world, [Finding(str(exc))])
            seen[key] = child
            found = _violations(world, spec)
            if found:
                return ended("violation", len(seen), len(child), world, found)
            frontier.append(child)
            finished = finished or world.finished()
    if spec.operations and not finished:
        return ended("stuck", len(seen), depth, findings=[Finding(
            f"no order of at most {spec.depth} steps (of the {len(seen):,} states tried) lets the clients finish "
            f"their {sum(len(ops) for ops in spec.operations)} operation(s): does every request get an answer "
            "when nothing is lost?")])
    return ended("ok", len(seen), depth)


def _violations(world: SearchWorld, spec: SearchSpec) -> list[Finding]:
    run = world.result()
    return [f for check in spec.invariants for f in check(run)]


def _same_again(rebuild: Callable[[tuple[Choice, ...]], SearchWorld], world: SearchWorld,
                path: tuple[Choice, ...]) -> None:
    """The same path run again must leave every node the same."""
    first = world.fields()  # before the run again takes the processes over
    again = rebuild(path)
    second = again.fields()
    for name in sorted(set(first) | set(second)):
        if first.get(name) != second.get(name):
            raise SearchError(
                f"the same steps, run twice from the start, left {name} with different fields: are its "
                f"handlers deterministic, and is all of its state in its own fields (no global or class "
                f"variable, no clock read but now(), no set of strings iterated)? Steps: {world.path}")
    if world.seen_from_outside() != again.seen_from_outside():
        raise SearchError(f"the same steps, run twice from the start, did different things (messages, timers or "
                          f"disk writes): are the nodes' handlers deterministic? Steps: {world.path}")


def _verify(rebuild: Callable[[tuple[Choice, ...]], SearchWorld], a: tuple[Choice, ...], b: tuple[Choice, ...],
            dice: random.Random) -> None:
    """``a`` and ``b`` lead to states the search took for the same: the same thing happening in
    both (one thing, drawn) must leave the world the same (else a node's state is not all in its
    fields, or its handlers are not deterministic)."""
    wa, wb = rebuild(a), rebuild(b)
    in_b = {wb.describe(c): c for c in wb.choices()}
    common = [c for c in wa.choices() if wa.describe(c) in in_b]
    for choice in dice.sample(common, min(1, len(common))):
        what = wa.describe(choice)
        xa, xb = rebuild((*a, choice)), rebuild((*b, in_b[what]))
        if xa.seen_from_outside() != xb.seen_from_outside():
            who = wa.target(choice)
            raise SearchError(
                f"two states the search took for the same (every node's fields, timers and disk the same) "
                f"answered '{what}' differently: is all of {who}'s state in its fields, and are its handlers "
                f"deterministic (no clock read, no set of strings iterated, no global variable)? "
                f"Paths: {wa.path} and {wb.path}")
