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
import random
from typing import Any

from .faults import RANDOM, Event
from .lab import Lab, RunResult
from .network import Links, Network, links_to_data
from .nodeside import LocalNodes, NodeProcesses
from .schedule import Schedule
from .simnodes import SimNodes, Slot
from .storage import stored_bytes
from .trace import TRACE_VERSION
from .trace import Event as TraceEvent

MAX_EVENTS = 500_000
"""Trace events a simulated run may make before it is stopped: the largest test of any lab
makes under 40,000; a storm of messages (each reply answered by another request, say) would
otherwise keep a run going for many minutes of real time."""


class Simulation(SimNodes):
    """One simulated run of a lab under a schedule. Use :func:`run_sim` unless you need to step.

    The nodes, their network and their files are :class:`~labs.runtime.simnodes.SimNodes`'s; a
    run adds the schedule's faults, the clients' workload and the measurements."""

    def __init__(self, lab: Lab, schedule: Schedule, seed: int = 0, nodes: NodeProcesses | None = None) -> None:
        """``nodes`` starts the nodes' processes: by default objects in this process."""
        self.lab = lab
        self.schedule = schedule.expand(lab.node_names(), lab.client_names(), seed, lab.min_duration, lab.roles)
        super().__init__(lab, seed, nodes if nodes is not None else LocalNodes(lab), self.schedule.network)
        self.end_of_faults = self.schedule.end()
        self.stop_at = self.end_of_faults + lab.settle
        self._workload = random.Random(f"{seed}:workload")
        self._op_index = 0

    # -- the run --------------------------------------------------------------------------

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

    # -- faults: the simulator is the World a schedule's events act on (see .faults) ------

    def _apply(self, e: Event) -> None:
        e.apply(self, {name: self._resolve(name) for name in e.targets()})

    def _resolve(self, name: str) -> str | None:
        """The node a fault's target names now: itself, a random server, or a role's holder
        (read from the trace where the lab says how, else the first server whose role() says so)."""
        if name in self.servers or name in self.clients:
            return name
        if name == RANDOM:  # expand() draws random faults; a written `crash: random` is drawn now
            return self._net.choice(self.servers)
        if self.lab.role_holders is not None:  # read from what the runtime saw, not asked
            holder = self.lab.role_holders(self.trace).get(name)
            slot = self.slots.get(holder) if holder in self.servers else None
            return holder if slot is not None and slot.up and not slot.paused else None
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

    def _resume(self, slot: Slot) -> None:
        if not slot.paused:
            return
        slot.paused = False
        self._emit("resume", node=slot.name)
        held, slot.held = slot.held, []
        for action in held:
            self._at(self.now, action)

    # -- the workload driver --------------------------------------------------------------

    def _invoke(self, slot: Slot, client: int) -> None:
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

    def _finish(self, slot: Slot, outcome: str, value: Any, client: int) -> None:
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

    def _timeout(self, slot: Slot, client: int, index: int) -> None:
        if slot.pending != index:
            return
        self._finish(slot, "info", None, client)
        self._replace_clerk(slot)


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
