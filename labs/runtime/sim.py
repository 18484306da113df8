"""Runtime 1: the deterministic simulator.

One process, virtual time, seeded randomness. Everything that happens is an entry in one priority
queue ordered by (time, sequence number), so the same seed replays the same run event for event and
the trace comes out byte-identical in any process. Nothing here sleeps: a run of a minute of
virtual time takes as long as its handlers take to compute.

The simulator plays every part the real world plays on Ray: the network (latency, loss,
duplication, reordering and partitions, using :mod:`.network` like the Ray runtime does), the
disks, the processes (crash, restart, pause), the clocks (skew) and the clients' workload driver.
Messages are encoded on send and decoded on delivery, exactly as between Ray processes.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .codec import SerializationError
from .common import (
    Clock,
    NodeError,
    check_result,
    check_send,
    check_timer,
    cluster_codec,
    describe,
    format_error,
    resolve_partition,
    state_size,
)
from .files import SIM_BYTES_PER_SECOND, Files, MemoryFiles
from .lab import Lab, RunResult
from .network import CLEAN, Delay, Links, Network, fate, links_to_data
from .node import Clerk, Node, Op, TimerId
from .schedule import (
    ALL,
    LEADER,
    RANDOM,
    Crash,
    Event,
    Heal,
    Partition,
    Pause,
    Restart,
    Schedule,
    SetNetwork,
    Skew,
)
from .simwork import SimWork
from .storage import MemoryDisk
from .trace import TRACE_VERSION
from .trace import Event as TraceEvent

BASE_LATENCY = Delay("uniform", 0.0005, 0.0015)
"""The simulated network's own one-way latency; a schedule's ``delay`` comes on top of it."""
WORK_SPEED = (0.7, 1.3)
"""A work reads and writes at this many times ``SIM_BYTES_PER_SECOND`` (drawn from the seed for
each work), as real machines and disks differ: equal tasks do not finish in lockstep."""


def _t(x: float) -> float:
    return round(x, 9)


@dataclass
class _Slot:
    """One node's place in the simulated world: its process, disk, clock and timers."""

    name: str
    cls: type[Node]
    disk: MemoryDisk
    obj: Node | None = None
    up: bool = False
    incarnation: int = 0
    paused: bool = False
    paused_at: float = 0.0
    held: list[Callable[[], None]] = field(default_factory=list)
    works: set[SimWork] = field(default_factory=set)
    writing: dict[int, tuple[str, str, float, float]] = field(default_factory=dict)
    """Writes of this node's works in progress: (name, text, began, ends), by number."""
    clock: Clock = field(default_factory=Clock)
    timers: set[TimerId] = field(default_factory=set)
    # clerks only
    process: int = 0
    pending: int | None = None
    session_ops: int = 0  # operations this clerk finished (for Workload.session)


MAX_EVENTS = 500_000
"""Trace events a simulated run may make before it is stopped: the largest test of any lab
makes under 40,000; a storm of messages (each reply answered by another request, say) would
otherwise keep a run going for many minutes of real time."""
MAX_SENDS_PER_SECOND = 20_000
"""Messages one node may send in one second of simulated time before the run is stopped (the
busiest node of any lab's tests sends a few thousand)."""


class _Context:
    """The node API's view of the simulator, for one incarnation of one node."""

    def __init__(self, sim: Simulation, slot: _Slot) -> None:
        self._sim = sim
        self._slot = slot
        self.node_id = slot.name
        self.nodes = tuple(sim.servers)
        self.params = sim.lab.params
        self.storage = slot.disk
        self.random = random.Random(f"{sim.seed}:{slot.name}:{slot.incarnation}")
        self.files: Files = MemoryFiles(sim.files, lambda kind, **f: sim._emit(kind, node=slot.name, **f))

    def send(self, dst: str, msg: object) -> None:
        self._sim._send(self._slot, dst, msg)

    def start_work(self, fn: Callable[..., object], args: tuple[Any, ...]) -> int:
        return self._sim._start_work(self._slot, fn, args)

    def set_timer(self, delay: float, timer: object) -> TimerId:
        return self._sim._set_timer(self._slot, delay, timer)

    def cancel_timer(self, timer_id: TimerId) -> None:
        if timer_id in self._slot.timers:
            self._slot.timers.discard(timer_id)
            self._sim._emit("timer_cancel", node=self._slot.name, id=timer_id)

    def now(self) -> float:
        return self._slot.clock.local(self._sim.now)

    def log(self, text: str) -> None:
        self._sim._emit("log", node=self._slot.name, text=text)

    def complete(self, outcome: str, value: Any) -> None:
        self._sim._complete(self._slot, outcome, value)


class _WorkHost:
    """The shared files as a node's works change them, each change at the moment it happens."""

    def __init__(self, sim: Simulation, slot: _Slot) -> None:
        self._sim = sim
        self._slot = slot
        self.files = sim.files

    def _emit(self, **fields: Any) -> None:
        self._sim._emit("file", node=self._slot.name, **fields)

    def write_begins(self, name: str, text: str, duration: float) -> int:
        self.files[name] = ""  # truncated: it fills as the write goes on
        self._emit(op="write", name=name, bytes=len(text.encode("utf-8")))
        self._sim._ids += 1
        self._slot.writing[self._sim._ids] = (name, text, self._sim.now, self._sim.now + duration)
        return self._sim._ids

    def write_ends(self, key: int) -> None:
        name, text, _, _ = self._slot.writing.pop(key)
        self.files[name] = text
        self._emit(op="written", name=name, bytes=len(text.encode("utf-8")))

    def renamed(self, src: str, dst: str) -> None:
        text = self.files.pop(src)
        self.files[dst] = text
        self._emit(op="rename", name=src, to=dst, bytes=len(text.encode("utf-8")))

    def removed(self, name: str) -> None:
        del self.files[name]
        self._emit(op="remove", name=name)


class Simulation:
    """One simulated run of a lab under a schedule. Use :func:`run_sim` unless you need to step."""

    def __init__(self, lab: Lab, schedule: Schedule, seed: int = 0) -> None:
        self.lab = lab
        self.seed = seed
        self.servers = lab.node_names()
        self.clients = lab.client_names()
        self.schedule = schedule.expand(self.servers, self.clients, seed, lab.min_duration)
        self.end_of_faults = self.schedule.end()
        self.stop_at = self.end_of_faults + lab.settle
        classes: dict[str, type[Node]] = {n: lab.node for n in self.servers}
        if lab.clerk is not None:
            classes.update({c: lab.clerk for c in self.clients})
        self.classes = classes
        self.codec = cluster_codec(list({id(c): c for c in classes.values()}.values()))
        self.slots = {n: _Slot(n, cls, MemoryDisk(self.codec)) for n, cls in classes.items()}
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
        self._workload = random.Random(f"{seed}:workload")
        self._network: Network = self.schedule.network
        self._blocked: Links = frozenset()
        self._fifo_last: dict[tuple[str, str], float] = {}
        self._ids = 0
        self._op_index = 0
        self._current: _Slot | None = None
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

    def run(self) -> RunResult:
        self.trace.append({
            "type": "run", "version": TRACE_VERSION, "lab": self.lab.name, "runtime": "sim",
            "seed": self.seed, "nodes": self.servers, "clients": self.clients,
            "schedule": self.schedule.to_data(),
            **({"params": dict(self.lab.params)} if self.lab.params else {}),
        })
        for e in self.schedule.events:
            self._at(e.at, lambda e=e: self._apply(e))  # type: ignore[misc]
        for name in self.servers:
            self._at(0.0, lambda name=name: self._start(self.slots[name], first=True))  # type: ignore[misc]
        for i, name in enumerate(self.clients):
            self._at(0.0, lambda name=name: self._start(self.slots[name], first=True))  # type: ignore[misc]
            self._at(0.0, lambda i=i, name=name: self._invoke(self.slots[name], i))  # type: ignore[misc]
        if self.lab.memory_every > 0:
            k = 1
            while k * self.lab.memory_every <= self.stop_at:
                self._at(k * self.lab.memory_every, self._measure)
                k += 1
        queue = self._queue
        while queue and self._stopped is None:
            t, _, action = heapq.heappop(queue)
            if t > self.stop_at:
                break
            self.now = t
            action()
            if len(self.trace) > MAX_EVENTS:
                self._stopped = self._storm()
        stopped = self._stopped
        if stopped is None:
            self.now = self.stop_at
        for slot in self.slots.values():  # works still running stop with the run
            for work in list(slot.works):
                work.cancel()
            slot.works.clear()
        for i, name in enumerate(self.clients):
            slot = self.slots[name]
            if slot.pending is not None:
                self._finish(slot, "info", None, i)
        self._emit("end", **({"stopped": stopped} if stopped else {}))
        return RunResult(self.lab, "sim", self.seed, self.schedule, self.trace, self.errors)

    def _storm(self) -> str:
        """Why the run was stopped early: it made too many events, and who sent the most."""
        since = self.now - 1.0
        counts: dict[tuple[str, str], int] = {}
        for e in reversed(self.trace):
            if e["t"] < since:
                break
            if e["type"] == "send":
                key = (str(e["node"]), str(e.get("msg")))
                counts[key] = counts.get(key, 0) + 1
        busiest = max(counts.items(), key=lambda kv: kv[1], default=None)
        who = (f"; in the last simulated second {busiest[0][0]} sent {busiest[1]:,} {busiest[0][1]} messages"
               if busiest else "")
        return (f"the run made more than {MAX_EVENTS:,} trace events by t={self.now:.3f} and was stopped "
                f"(a message or timer storm?{who})")

    # -- processes ------------------------------------------------------------------------

    def _start(self, slot: _Slot, first: bool) -> None:
        slot.up = True
        slot.paused = False
        slot.held.clear()
        slot.timers.clear()
        self._emit("start" if first else "restart", node=slot.name)

        def boot() -> None:
            slot.obj = slot.cls()
            slot.obj._ctx = _Context(self, slot)
            slot.obj.on_start()

        self._call(slot, "on_start", boot)

    def _crash(self, slot: _Slot, reason: str, disk: str = "keep", error: str | None = None) -> None:
        if not slot.up:
            return
        slot.up = False
        slot.obj = None
        slot.incarnation += 1
        slot.paused = False
        slot.held.clear()
        slot.timers.clear()
        self._tear_writes(slot)
        if disk == "lose":
            slot.disk.wipe()
        fields: dict[str, Any] = {"node": slot.name, "reason": reason, "disk": disk}
        if error is not None:
            fields["error"] = error
        self._emit("crash", **fields)

    def _call(self, slot: _Slot, what: str, fn: Callable[..., None], *args: Any) -> None:
        """Run one handler to completion; if it raises, that node crashes (not the simulator)."""
        self._current = slot
        try:
            fn(*args)
        except Exception as exc:
            report = format_error(slot.name, what, exc)
            self.errors.append(report)
            clerk = issubclass(slot.cls, Clerk)
            self._crash(slot, "error", "lose" if clerk else "keep", report)
            if clerk and what != "on_start":
                self._replace_clerk(slot)
            elif clerk and slot.pending is not None:
                # A clerk that cannot even start would fail forever: its client stops here.
                self._finish(slot, "info", None, self.clients.index(slot.name))
        finally:
            self._current = None

    # -- messages -------------------------------------------------------------------------

    def _send(self, slot: _Slot, dst: str, msg: object) -> None:
        check_send(slot.name, dst, msg, self.classes)
        second = (slot.name, int(self.now))
        sent = self._sends_per_second[second] = self._sends_per_second.get(second, 0) + 1
        if sent > MAX_SENDS_PER_SECOND and self._stopped is None:
            self._stopped = (f"{slot.name} sent more than {MAX_SENDS_PER_SECOND:,} messages in one simulated second "
                             f"(from t={second[1]}; the last was {type(msg).__name__} to {dst}) and the run was "
                             "stopped: a message storm? (does each reply trigger another request, or each "
                             "timer start one more?)")
        try:
            body = self.codec.encode(msg)
        except SerializationError as exc:
            raise NodeError(f"{slot.name} cannot send {type(msg).__name__} to {dst}: {exc}") from None
        self._ids += 1
        mid = self._ids
        src = slot.name
        self._emit("send", node=src, dst=dst, id=mid, msg=type(msg).__name__, body=body)
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
        msg = self.codec.decode(body)
        self._emit("deliver", node=dst, src=src, id=mid)
        assert slot.obj is not None
        handler = slot.obj._handler_for_message(msg)
        assert handler is not None  # check_send made sure
        self._call(slot, f"{describe(msg)} from {src}", handler, msg, src)

    # -- timers ---------------------------------------------------------------------------

    def _set_timer(self, slot: _Slot, delay: float, timer: object) -> TimerId:
        delay = check_timer(slot.name, slot.cls, delay, timer)
        self._ids += 1
        tid = self._ids
        slot.timers.add(tid)
        self._emit("timer_set", node=slot.name, id=tid, timer=type(timer).__name__, delay=delay)
        incarnation = slot.incarnation
        self._at(self.now + slot.clock.real_delay(delay), lambda: self._fire(slot, incarnation, tid, timer))
        return tid

    def _fire(self, slot: _Slot, incarnation: int, tid: TimerId, timer: object) -> None:
        if slot.incarnation != incarnation or tid not in slot.timers:
            return
        if slot.paused:
            slot.held.append(lambda: self._fire(slot, incarnation, tid, timer))
            return
        slot.timers.discard(tid)
        self._emit("timer_fire", node=slot.name, id=tid, timer=type(timer).__name__)
        assert slot.obj is not None
        handler = slot.obj._handler_for_timer(timer)
        assert handler is not None
        self._call(slot, f"timer {describe(timer)}", handler, timer)

    # -- works (see simwork.py) -----------------------------------------------------------

    def _start_work(self, slot: _Slot, fn: Callable[..., object], args: tuple[Any, ...]) -> int:
        if not callable(fn):
            raise NodeError(f"{slot.name}: start_work({fn!r}, ...): give the function to run")
        self._ids += 1
        wid = self._ids
        name = getattr(fn, "__name__", type(fn).__name__)
        rng = random.Random(f"{self.seed}:{slot.name}:{slot.incarnation}:work{wid}")
        # Machines and disks differ: each work's speed is drawn from the seed.
        speed = random.Random(f"{self.seed}:{slot.name}:{slot.incarnation}:speed{wid}").uniform(*WORK_SPEED)
        work = SimWork(slot.name, _WorkHost(self, slot), rng, fn, args, SIM_BYTES_PER_SECOND * speed)
        slot.works.add(work)
        self._emit("work", node=slot.name, id=wid, op="start", name=name)
        # It starts once the handler that started it has returned, as a thread would.
        self._work_at(slot, slot.incarnation, self.now, lambda: self._step_work(slot, work, wid, name))
        return wid

    def _step_work(self, slot: _Slot, work: SimWork, wid: int, name: str) -> None:
        self._current = slot
        try:
            wait = work.step()
        finally:
            self._current = None
        if wait is not None:
            self._work_at(slot, slot.incarnation, self.now + wait, lambda: self._step_work(slot, work, wid, name))
            return
        slot.works.discard(work)
        self._end_work(slot, wid, name, work.result, work.failure)

    def _work_at(self, slot: _Slot, incarnation: int, due: float, action: Callable[[], None]) -> None:
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

    def _tear_writes(self, slot: _Slot) -> None:
        """A crash stops the node's works; a write it interrupts leaves the part written so far."""
        for work in list(slot.works):
            work.cancel()
        slot.works.clear()
        for name, text, began, ends in slot.writing.values():
            data = text.encode("utf-8")
            done = 1.0 if ends <= began else min(1.0, max(0.0, (self.now - began) / (ends - began)))
            part = data[: int(len(data) * done)].decode("utf-8", errors="ignore")
            self.files[name] = part
            self._emit("file", node=slot.name, op="torn", name=name, bytes=len(part.encode("utf-8")))
        slot.writing.clear()

    def _end_work(self, slot: _Slot, wid: int, name: str, result: object, failure: Exception | None) -> None:
        if failure is not None:
            self._emit("work", node=slot.name, id=wid, op="error", name=name)
            report = format_error(slot.name, f"work {name}", failure)
            self.errors.append(report)
            self._crash(slot, "error", "keep", report)
            return
        self._emit("work", node=slot.name, id=wid, op="end", name=name)
        if result is None:
            return

        def deliver() -> None:
            check_send(slot.name, slot.name, result, self.classes)
            try:
                msg = self.codec.decode(self.codec.encode(result))
            except SerializationError as exc:
                raise NodeError(f"{slot.name}: the work {name} returned {type(result).__name__}: {exc}") from None
            assert slot.obj is not None
            handler = slot.obj._handler_for_message(msg)
            assert handler is not None
            handler(msg, slot.name)

        self._call(slot, f"the result of work {name}", deliver)

    # -- the schedule ---------------------------------------------------------------------

    def _leader(self) -> str | None:
        for name in self.servers:
            slot = self.slots[name]
            if slot.up and not slot.paused and slot.obj is not None:
                try:
                    if slot.obj.role() == LEADER:
                        return name
                except Exception:  # a role() that raises names no leader
                    continue
        return None

    def _target(self, name: str, what: str) -> str | None:
        if name == LEADER:
            who = self._leader()
            if who is None:
                self._emit("skip", what=what, why="no node is leader")
            return who
        if name == RANDOM:  # expand() resolves random targets; kept for hand-built schedules
            return self._net.choice(self.servers)
        return name

    def _apply(self, e: Event) -> None:
        if isinstance(e, Partition):
            resolved = resolve_partition(e, self.servers, self.clients, self._leader())
            if isinstance(resolved, str):
                self._emit("skip", what="partition", why=resolved)
                return
            self._blocked, groups = resolved
            fields: dict[str, Any] = {"blocked": links_to_data(self._blocked)}
            if groups:
                fields["groups"] = groups
            self._emit("partition", **fields)
        elif isinstance(e, Heal):
            final = e.at >= self.end_of_faults
            self._blocked = frozenset()
            self._emit("heal", final=final)
            if final:
                self._network = CLEAN
                self._emit("network", network=CLEAN.to_data())
                for name in self.servers:
                    slot = self.slots[name]
                    if slot.paused:
                        self._resume(slot)
                    if not slot.up:
                        self._start(slot, first=False)
        elif isinstance(e, Crash):
            who = self._target(e.node, "crash")
            if who is not None:
                self._crash(self.slots[who], "schedule", e.disk)
        elif isinstance(e, Restart):
            for name in self.servers if e.node == ALL else [e.node]:
                if not self.slots[name].up:
                    self._start(self.slots[name], first=False)
        elif isinstance(e, Pause):
            who = self._target(e.node, "pause")
            if who is not None and self.slots[who].up and not self.slots[who].paused:
                slot = self.slots[who]
                slot.paused = True
                slot.paused_at = self.now
                self._emit("pause", node=who, duration=e.duration)
                incarnation = slot.incarnation
                self._at(self.now + e.duration,
                         lambda: self._resume(slot) if slot.incarnation == incarnation else None)
        elif isinstance(e, Skew):
            self.slots[e.node].clock.reset(self.now, e.offset, e.rate)
            self._emit("skew", node=e.node, offset=e.offset, rate=e.rate)
        elif isinstance(e, SetNetwork):
            self._network = e.network
            self._emit("network", network=e.network.to_data())

    def _resume(self, slot: _Slot) -> None:
        if not slot.paused:
            return
        slot.paused = False
        self._emit("resume", node=slot.name)
        held, slot.held = slot.held, []
        for action in held:
            self._at(self.now, action)

    # -- the workload driver --------------------------------------------------------------

    def _invoke(self, slot: _Slot, client: int) -> None:
        workload = self.lab.workload
        if (workload is None or not slot.up or slot.pending is not None
                or self.now >= self.stop_at - workload.timeout):
            return
        op = workload.generate(self._workload, client)
        self._op_index += 1
        index = self._op_index
        slot.pending = index
        self._emit("invoke", node=slot.name, process=slot.process, index=index,
                   f=op.f, key=op.key, value=op.value)
        self._at(self.now + workload.timeout, lambda: self._timeout(slot, client, index))
        assert isinstance(slot.obj, Clerk)
        self._call(slot, f"invoke {op.f}", slot.obj.on_invoke, Op(op.f, op.key, op.value))

    def _complete(self, slot: _Slot, outcome: str, value: Any) -> None:
        if slot.pending is None:
            raise NodeError(f"{slot.name}: complete() or fail() called with no operation in progress")
        value = check_result(value)
        self._finish(slot, outcome, value, self.clients.index(slot.name))

    def _finish(self, slot: _Slot, outcome: str, value: Any, client: int) -> None:
        index, slot.pending = slot.pending, None
        self._emit("complete", node=slot.name, process=slot.process, index=index,
                   outcome=outcome, value=value)
        workload = self.lab.workload
        assert workload is not None
        slot.session_ops += 1
        if workload.session and slot.session_ops >= workload.session and outcome != "info":
            # This user is done: a new one takes the clerk's place, once the handler that
            # completed the operation has returned.
            self._at(self.now, lambda: self._replace_clerk(slot) if slot.up else None)
        self._at(self.now + workload.think, lambda: self._invoke(slot, client))

    def _measure(self) -> None:
        for name in self.servers:
            slot = self.slots[name]
            if slot.up and slot.obj is not None:
                self._emit("memory", node=name, bytes=state_size(slot.obj), disk=slot.disk.used_bytes())

    def _timeout(self, slot: _Slot, client: int, index: int) -> None:
        if slot.pending != index:
            return
        self._finish(slot, "info", None, client)
        self._replace_clerk(slot)

    def _replace_clerk(self, slot: _Slot) -> None:
        """A clerk that timed out or raised is replaced by a fresh one, as a new process."""
        if slot.pending is not None:
            self._finish(slot, "info", None, self.clients.index(slot.name))
        self._crash(slot, "replaced", "lose")
        slot.session_ops = 0
        slot.process += len(self.clients)
        self._start(slot, first=False)


def run_sim(lab: Lab, schedule: Schedule, seed: int = 0) -> RunResult:
    """Run ``lab`` under ``schedule`` in the simulator; the same seed gives the same trace."""
    return Simulation(lab, schedule, seed).run()


def first_difference(a: list[TraceEvent], b: list[TraceEvent]) -> tuple[int, TraceEvent | None, TraceEvent | None] | None:
    """Where two traces of the same seed part ways (``None`` when identical)."""
    for i in range(max(len(a), len(b))):
        ea = a[i] if i < len(a) else None
        eb = b[i] if i < len(b) else None
        if ea != eb:
            return i, ea, eb
    return None
