"""Runtime 1: the deterministic simulator.

One process, virtual time, seeded randomness. Everything that happens is an entry in one priority
queue ordered by (time, sequence number), so the same seed replays the same run event for event and
the trace comes out byte-identical in any process. Nothing here sleeps: a run of a minute of
virtual time takes as long as its handlers take to compute.

The simulator plays every part the real world plays on Ray: the network (latency, loss,
duplication, reordering and partitions, using :mod:`.network` like the Ray runtime does), the
disks, the processes (crash, restart, pause), the clocks (skew) and the clients' workload driver.
Messages are encoded on send and decoded on delivery, exactly as between Ray processes.

The nodes' own code runs on the other side of one seam (:mod:`.nodeside`): the simulator hands a
node one event at a time and applies the effects the node hands back. Where that side runs is
the caller's choice: in this process (the default, for students' runs), or each node in a
process of its own that can reach nothing but this one (:mod:`.worker`, for graded runs); the
trace is the same, byte for byte.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .common import Clock, NodeError
from .faults import RANDOM, Event
from .files import SIM_BYTES_PER_SECOND
from .lab import Lab, RunResult
from .network import Delay, Links, Network, fate, links_to_data
from .node import TimerId
from .nodeside import Effect, LocalNodes, NodeProcess, NodeProcesses
from .schedule import Schedule
from .simfiles import SlotFiles
from .storage import stored_bytes
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


MAX_EVENTS = 500_000
"""Trace events a simulated run may make before it is stopped: the largest test of any lab
makes under 40,000; a storm of messages (each reply answered by another request, say) would
otherwise keep a run going for many minutes of real time."""
MAX_SENDS_PER_SECOND = 20_000
"""Messages one node may send in one second of simulated time before the run is stopped (the
busiest node of any lab's tests sends a few thousand)."""


class Simulation:
    """One simulated run of a lab under a schedule. Use :func:`run_sim` unless you need to step."""

    def __init__(self, lab: Lab, schedule: Schedule, seed: int = 0, nodes: NodeProcesses | None = None) -> None:
        """``nodes`` starts the nodes' processes: by default objects in this process."""
        self.lab = lab
        self.seed = seed
        self.servers = lab.node_names()
        self.clients = lab.client_names()
        self.schedule = schedule.expand(self.servers, self.clients, seed, lab.min_duration, lab.roles)
        self.end_of_faults = self.schedule.end()
        self.stop_at = self.end_of_faults + lab.settle
        self.nodes: NodeProcesses = nodes if nodes is not None else LocalNodes(lab)
        self.slots = {n: _Slot(n, clerk=False) for n in self.servers}
        if lab.clerk is not None:
            self.slots.update({c: _Slot(c, clerk=True) for c in self.clients})
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
        for slot in self.slots.values():  # the processes stop with the run, works still running too
            self._stop_process(slot)
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

    def _start(self, slot: _Slot, first: bool, process: NodeProcess | None = None) -> None:
        slot.up = True
        slot.paused = False
        slot.held.clear()
        slot.timers.clear()
        self._emit("start" if first else "restart", node=slot.name)
        slot.process_ = process if process is not None else self.nodes(slot.name, SlotFiles(self, slot))
        rng = random.Random(f"{self.seed}:{slot.name}:{slot.incarnation}")
        self._event(slot, ("start", dict(slot.disk), rng.getstate(), slot.pending is not None))

    def _stop_process(self, slot: _Slot) -> None:
        process, slot.process_ = slot.process_, None
        if process is not None:
            process.stop()
        slot.works.clear()

    def _crash(self, slot: _Slot, reason: str, disk: str = "keep", error: str | None = None,
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

    def _ask(self, slot: _Slot, event: tuple[Any, ...]) -> tuple[Any, str | None]:
        """Hand ``event`` to the node's process and apply what it did; returns the event's value
        and the report of the error that crashed the node, if one did."""
        assert slot.process_ is not None
        effects, error, value = slot.process_.handle(slot.clock.local(self.now), self._ids, event)
        try:
            self._apply_effects(slot, effects)
        except NodeError as exc:  # what a node's process handed back makes no sense
            error = error or f"{slot.name} crashed while handling {event[0]}: {exc}"
        return value, error

    def _event(self, slot: _Slot, event: tuple[Any, ...]) -> None:
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

    def _apply_effects(self, slot: _Slot, effects: list[Effect]) -> None:
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

    # -- messages -------------------------------------------------------------------------

    def _send(self, slot: _Slot, dst: str, msg_type: str, body: Any) -> None:
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

    def _set_timer(self, slot: _Slot, timer_type: str, delay: float) -> None:
        self._ids += 1
        tid = self._ids
        slot.timers[tid] = timer_type
        self._emit("timer_set", node=slot.name, id=tid, timer=timer_type, delay=delay)
        incarnation = slot.incarnation
        self._at(self.now + slot.clock.real_delay(delay), lambda: self._fire(slot, incarnation, tid))

    def _fire(self, slot: _Slot, incarnation: int, tid: TimerId) -> None:
        if slot.incarnation != incarnation or tid not in slot.timers:
            return
        if slot.paused:
            slot.held.append(lambda: self._fire(slot, incarnation, tid))
            return
        timer_type = slot.timers.pop(tid)
        self._emit("timer_fire", node=slot.name, id=tid, timer=timer_type)
        self._event(slot, ("fire", tid))

    # -- works (see simwork.py) -----------------------------------------------------------

    def _start_work(self, slot: _Slot, name: str) -> None:
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

    def _step_work(self, slot: _Slot, wid: int, name: str, event: tuple[Any, ...]) -> None:
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
        for name, text, began, ends in slot.writing.values():
            data = text.encode("utf-8")
            done = 1.0 if ends <= began else min(1.0, max(0.0, (self.now - began) / (ends - began)))
            part = data[: int(len(data) * done)].decode("utf-8", errors="ignore")
            self.files[name] = part
            self._emit("file", node=slot.name, op="torn", name=name, bytes=len(part.encode("utf-8")))
        slot.writing.clear()

    # -- the schedule ---------------------------------------------------------------------

    # -- faults: the simulator is the World a schedule's events act on (see .faults) -----

    def _apply(self, e: Event) -> None:
        e.apply(self, {name: self._resolve(name) for name in e.targets()})

    def _resolve(self, name: str) -> str | None:
        """The node a fault's target names now: itself, a random server, or a role's holder."""
        if name in self.servers or name in self.clients:
            return name
        if name == RANDOM:  # expand() draws random faults; a written `crash: random` is drawn now
            return self._net.choice(self.servers)
        for server in self.servers:
            slot = self.slots[server]
            if slot.up and not slot.paused and slot.process_ is not None:
                role, _ = self._ask(slot, ("role",))  # a role() that raises names no role
                if role == name:
                    return server
        return None

    def cut(self, links: Links, groups: list[list[str]]) -> None:
        self._blocked = links
        fields: dict[str, Any] = {"blocked": links_to_data(links)}
        if groups:
            fields["groups"] = groups
        self._emit("partition", **fields)

    def heal(self, final: bool) -> None:
        self._blocked = frozenset()
        self._emit("heal", final=final)

    def set_network(self, network: Network) -> None:
        self._network = network
        self._emit("network", network=network.to_data())

    def crash(self, node: str, disk: str) -> None:
        self._crash(self.slots[node], "schedule", disk)

    def restart(self, node: str) -> None:
        if not self.slots[node].up:
            self._start(self.slots[node], first=False)

    def pause(self, node: str, seconds: float) -> None:
        slot = self.slots[node]
        if not slot.up or slot.paused:
            return
        slot.paused = True
        slot.paused_at = self.now
        self._emit("pause", node=node, duration=seconds)
        incarnation = slot.incarnation
        self._at(self.now + seconds, lambda: self._resume(slot) if slot.incarnation == incarnation else None)

    def resume(self, node: str) -> None:
        self._resume(self.slots[node])

    def skew(self, node: str, offset: float, rate: float) -> None:
        self.slots[node].clock.reset(self.now, offset, rate)
        self._emit("skew", node=node, offset=offset, rate=rate)

    def skip(self, what: str, why: str) -> None:
        self._emit("skip", what=what, why=why)

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
        self._event(slot, ("invoke", op.f, op.key, op.value))

    def _complete(self, slot: _Slot, outcome: str, value: Any) -> None:
        if slot.pending is None:
            raise NodeError(f"{slot.name}: complete() or fail() called with no operation in progress")
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
            self._at(self.now, lambda: self._replace_clerk(slot, new_user=True) if slot.up else None)
        self._at(self.now + workload.think, lambda: self._invoke(slot, client))

    def _measure(self) -> None:
        for name in self.servers:
            slot = self.slots[name]
            process = slot.process_
            if slot.up and process is not None:
                disk = stored_bytes(slot.disk)
                if process.own_process:  # measured from outside: nothing the node says counts
                    self._emit("memory", node=name, bytes=process.memory(), disk=disk, of="process")
                    continue
                size, _ = self._ask(slot, ("measure",))
                size = size if type(size) is int and size >= 0 else 0
                self._emit("memory", node=name, bytes=size, disk=disk, of="fields")

    def _timeout(self, slot: _Slot, client: int, index: int) -> None:
        if slot.pending != index:
            return
        self._finish(slot, "info", None, client)
        self._replace_clerk(slot)

    def _replace_clerk(self, slot: _Slot, new_user: bool = False) -> None:
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


def _seconds(x: object) -> bool:
    return type(x) in (int, float) and 0 <= x < math.inf  # type: ignore[operator]


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
