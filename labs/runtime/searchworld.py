"""One path of a search (:mod:`.search`): the simulator's nodes and disks, with the network and
the timers left to the search's choices instead of to time and dice.

A :class:`SearchWorld` starts the nodes, hands each client its first operation, then takes one
choice at a time: deliver, drop or copy a message in flight, fire a timer, or crash a server and
restart it with its disk. :meth:`SearchWorld.choices` lists what may happen next, in a fixed
order; :meth:`SearchWorld.describe` says a choice in words that are the same in every state
where the same thing can happen (a replay follows a path by its words); :meth:`SearchWorld.key`
is the state, the world's part and each node's fields, as a digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clock import Clock
from .lab import Check, Lab, RunResult
from .network import Network
from .node import NodeError, Op
from .nodeside import NodeProcesses
from .schedule import Schedule
from .simnodes import SimNodes, Slot
from .trace import TRACE_VERSION

Choice = tuple[str, int]
"""``("deliver" | "drop" | "duplicate", message id)``, ``("fire", timer id)`` or ``("restart",
server number)``: ids are those of the path's own run, the same every time it is run again."""


RESTART_TAKES = 0.001
"""Seconds of a node's own time a restart takes: its new life starts later than the last one
did (as a real restart does), which a node may use to tell its lives apart."""

Goal = Callable[[RunResult], bool]
"""Whether a state (the trace so far) is one a stage of a search is after."""


@dataclass(frozen=True)
class Stage:
    """A stage before the search proper: every order, breadth first, to ``depth`` steps, until a
    state where ``goal`` holds (a shortest way there); or, ``calm``, one quiet run to such a
    state: messages delivered in the order they were sent, a timer fired only when nothing is
    in flight (the earliest first), nothing lost. The next stage, or the search, starts from
    that state."""

    name: str
    goal: Goal
    depth: int
    calm: bool = False


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
    restarts: int = 0
    """How many times a path may crash a server and restart it at once, with its disk: what it
    kept only in memory is gone. (A server that stays down a while is one the search leaves
    alone for those steps, which some order does anyway.)"""
    restartable: tuple[str, ...] = ()
    """The servers a restart may crash (empty: any), such as the key-value servers but not the
    view service of a lab whose fault model spares it."""
    walks: int = 0
    """Random walks tried after the breadth-first search, each up to ``walk_depth`` steps from
    the start: for bugs deeper than every order can be tried."""
    walk_depth: int = 30
    max_delay: float | None = None
    """The lab's promises about time, which a protocol may rely on: no message is in flight
    longer than this many seconds of the world's time (the latest deadline a timer fired at),
    so no timer fires past that while one is; and a client gives up on an operation after the
    workload's timeout, its clerk replaced by a fresh one. None: a fully asynchronous world,
    where a message may arrive any time later and clients never give up."""
    stages: tuple[Stage, ...] = ()
    """Stages to go through first (see :class:`Stage`): the depth and the walks count from
    where the last one ends."""
    max_states: int = 100_000
    timeout: float = 120.0
    verify_every: int = 20
    """About one merged state in this many (and the first ten) is checked to be the same."""


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
        self.restarted = 0
        self.time = 0.0  # the world's time: the latest deadline a timer fired at
        self.sent_at: dict[int, float] = {}  # message id -> the world's time when it was sent
        self.invoked_at: dict[str, float] = {}  # clerk -> the world's time its operation began
        timeout = lab.workload.timeout if lab.workload is not None else None
        self.gives_up_after = timeout if spec.max_delay is not None else None
        self.gave_up = 0
        self._op_index = 0
        self.path: list[str] = []
        self.taken: list[Choice] = []
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
        self.sent_at[self._ids] = self.time

    def _set_timer(self, slot: Slot, timer_type: str, delay: float) -> None:
        self._ids += 1
        slot.timers[self._ids] = timer_type
        self.deadlines[self._ids] = _not_before(self.clocks[slot.name] + delay)
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
        self.invoked_at[slot.name] = self.time
        self._emit("invoke", node=slot.name, process=slot.process, index=self._op_index,
                   f=op.f, key=op.key, value=op.value)
        self._event(slot, ("invoke", op.f, op.key, op.value))

    def _finish(self, slot: Slot, outcome: str, value: Any, client: int) -> None:
        index, slot.pending = slot.pending, None
        self._emit("complete", node=slot.name, process=slot.process, index=index, outcome=outcome, value=value)
        self._invoke(slot, client)

    def _give_up(self) -> None:
        """Clients whose operation began a workload's timeout ago or more give up on it: it ends
        unknown, and a fresh clerk (a new process number) goes on with the next one."""
        if self.gives_up_after is None:
            return
        for i, name in enumerate(self.clients):
            slot = self.slots[name]
            if slot.pending is None or self.time < self.invoked_at[name] + self.gives_up_after:
                continue
            index, slot.pending = slot.pending, None
            self.gave_up += 1
            self._emit("complete", node=name, process=slot.process, index=index, outcome="info", value=None)
            kept = self._crash(slot, "replaced", "lose", keep_process=True)
            slot.process += len(self.clients)
            self._start(slot, first=False, process=kept)
            self._invoke(slot, i)

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
        # With max_delay, time does not pass the last moment a message in flight may arrive.
        latest = (min(self.sent_at[m] for m in self.flight) + self.spec.max_delay
                  if self.spec.max_delay is not None and self.flight else None)
        for slot in self.slots.values():
            if slot.up and slot.timers:
                first = min(self.deadlines[t] for t in slot.timers)
                if latest is not None and first > max(latest, self.time):
                    continue
                out.extend(("fire", t) for t in sorted(slot.timers) if self.deadlines[t] == first)
        if self.restarted < self.spec.restarts:
            out.extend(("restart", i) for i, name in enumerate(self.servers)
                       if self.slots[name].up and (not self.spec.restartable or name in self.spec.restartable))
        return out

    def take(self, choice: Choice) -> None:
        kind, ident = choice
        self.path.append(self.describe(choice))
        self.taken.append(choice)
        self.now = round(self.now + 0.001, 9)  # the trace's time counts steps: real-time order
        if kind == "restart":
            slot = self.slots[self.servers[ident]]
            self.restarted += 1
            kept = self._crash(slot, "search", "keep", keep_process=True)  # the process hosts its next life
            self.clocks[slot.name] = round(self.clocks[slot.name] + RESTART_TAKES, 9)
            self._start(slot, first=False, process=kept)
            return
        if kind == "fire":
            slot = self._timer_slot(ident)
            self.clocks[slot.name] = max(self.clocks[slot.name], self.deadlines[ident])
            self.time = max(self.time, self.deadlines[ident])
            timer_type = slot.timers.pop(ident)
            self._emit("timer_fire", node=slot.name, id=ident, timer=timer_type)
            self._event(slot, ("fire", ident))
            self._give_up()
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
        if kind == "restart":
            return f"crash {self.servers[ident]} and restart it with its disk"
        if kind == "fire":
            slot = self._timer_slot(ident)
            alike = [t for t in sorted(slot.timers)
                     if (slot.timers[t], self.deadlines[t]) == (slot.timers[ident], self.deadlines[ident])]
            which = f", the {_nth(alike.index(ident) + 1)} of {len(alike)} set" if len(alike) > 1 else ""
            return f"fire {slot.name}'s {slot.timers[ident]} (at {self.deadlines[ident]:g} s{which})"
        src, dst, msg_type, body = self.flight[ident]
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        sent = f" (sent at {self.sent_at[ident]:g} s)" if self.spec.max_delay is not None else ""
        return f"{kind} {msg_type} {src}->{dst}{sent} {text}"

    def choice_named(self, words: str) -> Choice | None:
        """The choice :meth:`describe` says in ``words``, if it may happen now."""
        return next((c for c in self.choices() if self.describe(c) == words), None)

    def target(self, choice: Choice) -> str:
        """The node a choice hands an event to."""
        kind, ident = choice
        if kind == "restart":
            return self.servers[ident]
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
        timed = self.spec.max_delay is not None  # then when each message was sent counts too
        flight = sorted(json.dumps([s, d, t, b, self.sent_at[m] if timed else 0], sort_keys=True)
                        for m, (s, d, t, b) in self.flight.items())
        slots = [[n, s.up, self.clocks[n], [[s.timers[t], self.deadlines[t]] for t in sorted(s.timers)],
                  sorted(s.disk.items()), len(self.todo.get(n, [])), s.pending is not None]
                 for n, s in sorted(self.slots.items())]
        began = sorted((n, t) for n, t in self.invoked_at.items() if timed and self.slots[n].pending is not None)
        return json.dumps([flight, slots, self.copies, self.restarted, self.time if timed else 0, began],
                          sort_keys=True)

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
        """Every client has done all its operations, and got an answer to each."""
        return self.gave_up == 0 and all(not self.todo[c] and self.slots[c].pending is None for c in self.clients)

    def result(self) -> RunResult:
        return RunResult(self.lab, "search", 0, Schedule(name="search"), list(self.trace), list(self.errors))


def _not_before(t: float) -> float:
    """``t`` to the nanosecond, never earlier: a node that set a timer for the moment it computed
    finds, when the timer fires, that this moment has come (its clock reads the deadline)."""
    d = round(t, 9)
    return d if d >= t else round(d + 1e-9, 9)


def _nth(k: int) -> str:
    return f"{k}{'st' if k % 10 == 1 and k != 11 else 'nd' if k % 10 == 2 and k != 12 else 'rd' if k % 10 == 3 and k != 13 else 'th'}"


class _TimerClock(Clock):
    """A node's clock in the search: it reads the node's own time, whatever the step."""

    def __init__(self, clocks: dict[str, float], name: str) -> None:
        super().__init__()
        self._clocks, self._name = clocks, name

    def local(self, t: float) -> float:
        return self._clocks[self._name]
