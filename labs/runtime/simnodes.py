"""The simulated nodes: each node's process, disk, clock and timers, the messages between nodes,
the works they run and the files they share, all on one event queue in virtual time.

:class:`SimNodes` is the machinery of the simulator's world (see :mod:`.sim`, whose
:class:`~labs.runtime.sim.Simulation` adds the run itself: the schedule's faults, the clients'
workload and the measurements). It hands a node's process (:mod:`.nodeside`) one event at a time
and applies the effects the node hands back: a message's fate on the network (latency, loss,
duplication, reordering and partitions, using :mod:`.network` like the Ray runtime does), a
timer on the node's clock, a work's steps at its disk's speed, a write to its disk.

A node's process asks about the run's shared files through a :class:`SlotFiles`: the node's
effects so far go with the question, the world applies them, then answers. From a handler the
questions are those of :class:`~labs.runtime.files.Files` (each immediate); from a work, those
of :class:`~labs.runtime.simwork.WorkHost` (a write begins, then ends when its time has passed).
Everything a node's process asks is checked first: it may run in a process of its own and say
anything.
"""

from __future__ import annotations

import heapq
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .files import FILE_OPERATIONS, SIM_BYTES_PER_SECOND, MemoryFiles, _text, check_name, check_room
from .lab import Lab
from .network import Delay, Links, Network, fate
from .node import NodeError, TimerId
from .nodeside import CallRefused, Effect, NodeProcess, NodeProcesses
from .trace import Event as TraceEvent

BASE_LATENCY = Delay("uniform", 0.0005, 0.0015)
"""The simulated network's own one-way latency; a schedule's ``delay`` comes on top of it."""
WORK_SPEED = (0.7, 1.3)
"""A work reads and writes at this many times ``SIM_BYTES_PER_SECOND`` (drawn from the seed for
each work), as real machines and disks differ: equal tasks do not finish in lockstep."""


def _t(x: float) -> float:
    return round(x, 9)


@dataclass
class Slot:
    """One node's place in the simulated world: its process, disk, clock and timers."""

    name: str
    clerk: bool
    disk: dict[str, str] = field(default_factory=dict)
    """The node's disk: key -> encoded value; it outlives the process unless a crash loses it."""
    process_: NodeProcess | None = None
    up: bool = False
    incarnation: int = 0
    paused: bool = False
    paused_at: float = 0.0
    held: list[Callable[[], None]] = field(default_factory=list)
    works: dict[int, str] = field(default_factory=dict)
    """The node's works that are running: number -> function name."""
    writing: dict[int, tuple[str, str, float, float]] = field(default_factory=dict)
    """Writes of this node's works in progress: (name, text, began, ends), by number."""
    clock: Clock = field(default_factory=Clock)
    timers: dict[TimerId, str] = field(default_factory=dict)
    """The node's timers that have not fired: id -> the timer's type."""
    # clerks only
    process: int = 0
    pending: int | None = None
    session_ops: int = 0  # operations this clerk finished (for Workload.session)


MAX_SENDS_PER_SECOND = 20_000
"""Messages one node may send in one second of simulated time before the run is stopped (the
busiest node of any lab's tests sends a few thousand)."""


class SimNodes(ABC):
    """A simulated cluster's nodes, the network between them and their shared files (see the
    module's docstring). What a client's finished operation leads to is the run's to say
    (:meth:`_finish`)."""

    def __init__(self, lab: Lab, seed: int, nodes: NodeProcesses, network: Network) -> None:
        self.seed = seed
        self.servers = lab.node_names()
        self.clients = lab.client_names()
        self.nodes = nodes
        self.slots = {n: Slot(n, clerk=False) for n in self.servers}
        if lab.clerk is not None:
            self.slots.update({c: Slot(c, clerk=True) for c in self.clients})
        for i, c in enumerate(self.clients):
            self.slots[c].process = i  # client i is process i, then i + clients after a restart
        self.now = 0.0
        self.trace: list[TraceEvent] = []
        self.errors: list[str] = []
        self.files: dict[str, str] = {}
        """The run's shared files (see :mod:`.files`): name -> text."""
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = 0
        self._net = random.Random(f"{seed}:network")
        self._network = network
        self._blocked: Links = frozenset()
        self._fifo_last: dict[tuple[str, str], float] = {}
        self._ids = 0
        self._stopped: str | None = None  # why the run was stopped early, if it was
        self._sends_per_second: dict[tuple[str, int], int] = {}

    # -- the event queue ------------------------------------------------------------------

    def _at(self, t: float, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, action))

    def _emit(self, kind: str, **fields: Any) -> None:
        e: TraceEvent = {"t": _t(self.now), "type": kind}
        e.update(fields)
        self.trace.append(e)

    # -- processes ------------------------------------------------------------------------

    def _start(self, slot: Slot, first: bool, process: NodeProcess | None = None) -> None:
        slot.up = True
        slot.paused = False
        slot.held.clear()
        slot.timers.clear()
        self._emit("start" if first else "restart", node=slot.name)
        slot.process_ = process if process is not None else self.nodes(slot.name, SlotFiles(self, slot))
        rng = random.Random(f"{self.seed}:{slot.name}:{slot.incarnation}")
        self._event(slot, ("start", dict(slot.disk), rng.getstate(), slot.pending is not None))

    def _stop_process(self, slot: Slot) -> None:
        process, slot.process_ = slot.process_, None
        if process is not None:
            process.stop()
        slot.works.clear()

    def _crash(self, slot: Slot, reason: str, disk: str = "keep", error: str | None = None,
               keep_process: bool = False) -> NodeProcess | None:
        """The node is down; with ``keep_process``, its process lives on (and is returned) to
        host the node's next incarnation."""
        if not slot.up:
            return None
        slot.up = False
        kept = slot.process_ if keep_process else None
        if kept is None:
            self._stop_process(slot)
        else:
            slot.process_ = None
            slot.works.clear()
        slot.incarnation += 1
        slot.paused = False
        slot.held.clear()
        slot.timers.clear()
        self._tear_writes(slot)
        if disk == "lose":
            slot.disk.clear()
        fields: dict[str, Any] = {"node": slot.name, "reason": reason, "disk": disk}
        if error is not None:
            fields["error"] = error
        self._emit("crash", **fields)
        return kept

    def _ask(self, slot: Slot, event: tuple[Any, ...]) -> tuple[Any, str | None]:
        """Hand ``event`` to the node's process and apply what it did; returns the event's value
        and the report of the error that crashed the node, if one did."""
        assert slot.process_ is not None
        effects, error, value = slot.process_.handle(slot.clock.local(self.now), self._ids, event)
        try:
            self._apply_effects(slot, effects)
        except NodeError as exc:  # what a node's process handed back makes no sense
            error = error or f"{slot.name} crashed while handling {event[0]}: {exc}"
        return value, error

    def _event(self, slot: Slot, event: tuple[Any, ...]) -> None:
        """Run one handler to completion; if it raises, that node crashes (not the simulator)."""
        _, report = self._ask(slot, event)
        if report is None:
            return
        self.errors.append(report)
        self._crash(slot, "error", "lose" if slot.clerk else "keep", report)
        if slot.clerk and event[0] != "start":
            self._replace_clerk(slot)
        elif slot.clerk and slot.pending is not None:
            # A clerk that cannot even start would fail forever: its client stops here.
            self._finish(slot, "info", None, self.clients.index(slot.name))

    def _apply_effects(self, slot: Slot, effects: list[Effect]) -> None:
        """What the node did during one event, in the order it did it (see :mod:`.nodeside`)."""
        for e in effects:
            kind = e[0]
            if kind == "send":
                self._send(slot, e[1], e[2], e[3])
            elif kind == "timer":
                self._set_timer(slot, e[2], e[3])
            elif kind == "cancel":
                if slot.timers.pop(e[1], None) is not None:
                    self._emit("timer_cancel", node=slot.name, id=e[1])
            elif kind == "log":
                self._emit("log", node=slot.name, text=e[1])
            elif kind == "complete":
                self._complete(slot, e[1], e[2])
            elif kind == "work":
                self._start_work(slot, e[2])
            elif kind == "put":
                slot.disk[e[1]] = e[2]
            elif kind == "del":
                slot.disk.pop(e[1], None)
            else:
                raise NodeError(f"unknown effect {kind!r}")

    def _complete(self, slot: Slot, outcome: str, value: Any) -> None:
        if slot.pending is None:
            raise NodeError(f"{slot.name}: complete() or fail() called with no operation in progress")
        self._finish(slot, outcome, value, self.clients.index(slot.name))

    @abstractmethod
    def _finish(self, slot: Slot, outcome: str, value: Any, client: int) -> None:
        """Client ``client``'s operation in progress ends with ``outcome``: the run records it and
        decides what the client does next."""

    def _replace_clerk(self, slot: Slot, new_user: bool = False) -> None:
        """A clerk that timed out or raised is replaced by a fresh one, as a new process. One
        whose user is done (``new_user``, see ``Workload.session``) is replaced by a fresh object
        in the same process: a lab's memory test churns through hundreds of users, and a process
        each would cost more than the rest of the run."""
        if slot.pending is not None:
            self._finish(slot, "info", None, self.clients.index(slot.name))
        kept = self._crash(slot, "replaced", "lose", keep_process=new_user)
        slot.session_ops = 0
        slot.process += len(self.clients)
        self._start(slot, first=False, process=kept)

    # -- messages -------------------------------------------------------------------------

    def _send(self, slot: Slot, dst: str, msg_type: str, body: Any) -> None:
        if dst not in self.slots:
            raise NodeError(f"{slot.name} sent {msg_type} to {dst!r}, which is not in this cluster")
        second = (slot.name, int(self.now))
        sent = self._sends_per_second[second] = self._sends_per_second.get(second, 0) + 1
        if sent > MAX_SENDS_PER_SECOND and self._stopped is None:
            self._stopped = (f"{slot.name} sent more than {MAX_SENDS_PER_SECOND:,} messages in one simulated second "
                             f"(from t={second[1]}; the last was {msg_type} to {dst}) and the run was "
                             "stopped: a message storm? (does each reply trigger another request, or each "
                             "timer start one more?)")
        self._ids += 1
        mid = self._ids
        src = slot.name
        self._emit("send", node=src, dst=dst, id=mid, msg=msg_type, body=body)
        if (src, dst) in self._blocked:
            self._emit("drop", node=src, src=src, dst=dst, id=mid, reason="partition")
            return
        delays = fate(self._net, self._network)
        if not delays:
            self._emit("drop", node=src, src=src, dst=dst, id=mid, reason="loss")
            return
        if len(delays) > 1:
            self._emit("duplicate", node=src, dst=dst, id=mid)
        for extra in delays:
            when = self.now + BASE_LATENCY.sample(self._net) + extra
            if not self._network.reorder:
                when = max(when, self._fifo_last.get((src, dst), 0.0))
                self._fifo_last[(src, dst)] = when
            self._at(when, lambda: self._deliver(src, dst, mid, body))

    def _deliver(self, src: str, dst: str, mid: int, body: Any) -> None:
        slot = self.slots[dst]
        if not slot.up:
            self._emit("drop", node=dst, src=src, dst=dst, id=mid, reason="crashed")
            return
        if (src, dst) in self._blocked:
            self._emit("drop", node=dst, src=src, dst=dst, id=mid, reason="partition")
            return
        if slot.paused:
            slot.held.append(lambda: self._deliver(src, dst, mid, body))
            return
        self._emit("deliver", node=dst, src=src, id=mid)
        self._event(slot, ("deliver", src, body))

    # -- timers ---------------------------------------------------------------------------

    def _set_timer(self, slot: Slot, timer_type: str, delay: float) -> None:
        self._ids += 1
        tid = self._ids
        slot.timers[tid] = timer_type
        self._emit("timer_set", node=slot.name, id=tid, timer=timer_type, delay=delay)
        incarnation = slot.incarnation
        self._at(self.now + slot.clock.real_delay(delay), lambda: self._fire(slot, incarnation, tid))

    def _fire(self, slot: Slot, incarnation: int, tid: TimerId) -> None:
        if slot.incarnation != incarnation or tid not in slot.timers:
            return
        if slot.paused:
            slot.held.append(lambda: self._fire(slot, incarnation, tid))
            return
        timer_type = slot.timers.pop(tid)
        self._emit("timer_fire", node=slot.name, id=tid, timer=timer_type)
        self._event(slot, ("fire", tid))

    # -- works (see simwork.py) -----------------------------------------------------------

    def _start_work(self, slot: Slot, name: str) -> None:
        self._ids += 1
        wid = self._ids
        rng = random.Random(f"{self.seed}:{slot.name}:{slot.incarnation}:work{wid}")
        # Machines and disks differ: each work's speed is drawn from the seed.
        speed = random.Random(f"{self.seed}:{slot.name}:{slot.incarnation}:speed{wid}").uniform(*WORK_SPEED)
        slot.works[wid] = name
        self._emit("work", node=slot.name, id=wid, op="start", name=name)
        # It starts once the handler that started it has returned, as a thread would.
        first = ("step", wid, rng.getstate(), SIM_BYTES_PER_SECOND * speed)
        self._work_at(slot, slot.incarnation, self.now, lambda: self._step_work(slot, wid, name, first))

    def _step_work(self, slot: Slot, wid: int, name: str, event: tuple[Any, ...]) -> None:
        wait, failure = self._ask(slot, event)
        if failure is None and not (wait is None or wait == "result" or _seconds(wait)):
            failure = f"{slot.name} crashed while running the work {name}: its process said to wait {wait!r}"
        if failure is not None:
            slot.works.pop(wid, None)
            self._emit("work", node=slot.name, id=wid, op="error", name=name)
            self.errors.append(failure)
            self._crash(slot, "error", "keep", failure)
            return
        if isinstance(wait, (int, float)) and not isinstance(wait, bool):
            later = ("step", wid, None, None)
            self._work_at(slot, slot.incarnation, self.now + wait, lambda: self._step_work(slot, wid, name, later))
            return
        slot.works.pop(wid, None)
        self._emit("work", node=slot.name, id=wid, op="end", name=name)
        if wait == "result":
            self._event(slot, ("result", wid))

    def _work_at(self, slot: Slot, incarnation: int, due: float, action: Callable[[], None]) -> None:
        """Do ``action`` at ``due`` unless the node crashed meanwhile; a pause delays it by as
        long as the node was paused."""

        def fire() -> None:
            if slot.incarnation != incarnation:
                return
            if slot.paused:
                remaining = max(0.0, due - slot.paused_at)
                slot.held.append(lambda: self._work_at(slot, incarnation, self.now + remaining, action))
                return
            action()

        self._at(due, fire)

    def _tear_writes(self, slot: Slot) -> None:
        """A crash stops the node's works; a write it interrupts leaves the part written so far."""
        for name, text, began, ends in slot.writing.values():
            data = text.encode("utf-8")
            done = 1.0 if ends <= began else min(1.0, max(0.0, (self.now - began) / (ends - began)))
            part = data[: int(len(data) * done)].decode("utf-8", errors="ignore")
            self.files[name] = part
            self._emit("file", node=slot.name, op="torn", name=name, bytes=len(part.encode("utf-8")))
        slot.writing.clear()


def _seconds(x: object) -> bool:
    return type(x) in (int, float) and 0 <= x < math.inf  # type: ignore[operator]


# -- the shared files, as a node's process asks about them --------------------------------


class SlotFiles:
    """The world as one node's process calls it (see :mod:`.nodeside`): its effects so far, then
    one question about the run's shared files, from a handler or from a work."""

    def __init__(self, sim: SimNodes, slot: Slot) -> None:
        self._sim = sim
        self._slot = slot
        self._files = MemoryFiles(sim.files, lambda kind, **f: sim._emit(kind, node=slot.name, **f))

    def call(self, effects: list[Effect], request: tuple[Any, ...]) -> tuple[Any, int]:
        sim = self._sim
        sim._apply_effects(self._slot, effects)
        try:
            answer = self._answer(request)
        except (FileNotFoundError, ValueError, TypeError) as exc:
            raise CallRefused(type(exc).__name__, str(exc)) from None
        except (KeyError, AttributeError) as exc:  # only a node process that talks nonsense gets here
            raise CallRefused("NodeError", f"a call that makes no sense: {request[0]!r} ({exc!r})") from None
        return answer, sim._ids

    def _answer(self, request: tuple[Any, ...]) -> Any:
        kind, args = request[0], request[1:]
        if kind == "files" and args and args[0] in FILE_OPERATIONS:
            return getattr(self._files, args[0])(*args[1:])
        work = _WORK_CALLS.get(kind)
        if work is None:
            raise ValueError(f"no such call: {kind!r}")
        return work(self, *args)

    def _emit(self, **fields: Any) -> None:
        self._sim._emit("file", node=self._slot.name, **fields)

    def text(self, name: str) -> str | None:
        return self._sim.files.get(check_name(name))

    def names(self) -> list[str]:
        return list(self._sim.files)

    def write_begins(self, name: str, text: str, duration: float) -> int:
        name, text = check_name(name), _text(text)
        if type(duration) not in (int, float) or not 0 <= duration < math.inf:
            raise ValueError(f"a write's duration is a number of seconds >= 0, not {duration!r}")
        sim = self._sim
        pending = [t for slot in sim.slots.values() for _, t, _, _ in slot.writing.values()]
        check_room([*sim.files.values(), *pending], sim.files.get(name), text)
        sim.files[name] = ""  # truncated: it fills as the write goes on
        self._emit(op="write", name=name, bytes=len(text.encode("utf-8")))
        sim._ids += 1
        self._slot.writing[sim._ids] = (name, text, sim.now, sim.now + duration)
        return sim._ids

    def write_ends(self, key: int) -> None:
        name, text, _, _ = self._slot.writing.pop(key)
        self._sim.files[name] = text
        self._emit(op="written", name=name, bytes=len(text.encode("utf-8")))

    def renamed(self, src: str, dst: str) -> None:
        dst = check_name(dst)
        text = self._sim.files.pop(check_name(src))
        self._sim.files[dst] = text
        self._emit(op="rename", name=src, to=dst, bytes=len(text.encode("utf-8")))

    def removed(self, name: str) -> None:
        del self._sim.files[name]
        self._emit(op="remove", name=name)


_WORK_CALLS: dict[str, Callable[..., Any]] = {
    "text": SlotFiles.text, "names": SlotFiles.names, "write_begins": SlotFiles.write_begins,
    "write_ends": SlotFiles.write_ends, "renamed": SlotFiles.renamed, "removed": SlotFiles.removed,
}
