"""Runtime 2: every node a Ray actor in its own OS process, faults applied in real time.

The driver (this module, in the process that calls :func:`run_ray`) owns what decides a verdict:
the workload and the client history it records with its own clock, the fault schedule, and the
merged trace; its hold on the nodes' processes (starting them, reading what they say, crashes and
restarts) is :mod:`.ray_nodes`. Node and clerk code runs only in actor processes (see
:mod:`.ray_actor`), and what comes back from them is JSON text over a loopback socket, checked
field by field. The driver never calls ``ray.get`` on anything an actor produced, so no object
built by student code is ever deserialized here.

A crash is ``ray.kill``: the process and its memory are gone, and a restart is a new actor that
opens the same storage directory (or an empty one when the schedule says the disk was lost). In a
graded run (sealed, see :mod:`.ray_hosted`) the node's own process is killed instead and its actor,
which runs no student code, stays to host the next one. A
machine failure in a multi-node cluster shows up the same way, as a ``crash`` with reason
``process-died`` when the actor's socket closes without the driver having asked for it.

Ray is started here (locally, on loopback) only if the caller has not started or joined a cluster.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from pathlib import Path
from typing import Any

from . import ray_processes
from .faults import RANDOM, Event
from .lab import Lab, RunResult
from .network import Links, Network, links_to_data
from .ray_nodes import LINE_LIMIT, RayNodes, Slot
from .ray_processes import START_TIMEOUT, Hosts, LocalHosts, RayRunError, ensure_ray, keep_warm
from .schedule import Schedule
from .trace import TRACE_VERSION
from .trace import Event as TraceEvent


class RayRun(RayNodes):
    """One run of a lab on Ray. Use :func:`run_ray`.

    The driver's hold on the nodes' processes is :class:`~labs.runtime.ray_nodes.RayNodes`'s; a
    run adds the schedule's faults, the clients' workload and the trace."""

    def __init__(self, lab: Lab, schedule: Schedule, seed: int = 0,
                 storage_dir: str | Path | None = None, keep_storage: bool = False,
                 hosts: Hosts | None = None, sealed: bool = False) -> None:
        hosts = hosts or LocalHosts()
        expanded = schedule.expand(lab.node_names(), lab.client_names(), seed, lab.min_duration, lab.roles)
        root = Path(storage_dir) if storage_dir else hosts.storage_root(lab.name)
        super().__init__(lab, expanded, seed, root, hosts, sealed)
        self.end_of_faults = self.schedule.end()
        self.stop_at = self.end_of_faults + lab.settle
        self.settling = False  # the final heal's restarts are done: the settle time runs
        self.own_storage = storage_dir is None
        self.keep_storage = keep_storage
        self.op_index = 0
        self.workload_rng = random.Random(f"{seed}:workload")

    # -- the run --------------------------------------------------------------------------

    def run(self) -> RunResult:
        self.hosts.ensure()
        if self.lab.impl_source is None:
            ray_processes.send_by_value((self.lab.node, self.lab.clerk))
        box: dict[str, BaseException] = {}

        def target() -> None:
            try:
                asyncio.run(self._main())
            except BaseException as exc:  # re-raised in the caller's thread below
                box["error"] = exc

        # A thread of its own, so that a run works where an event loop is already running
        # (JupyterLab), and so that the caller's thread is free of this run's loop.
        thread = threading.Thread(target=target, name=f"labs-ray-{self.lab.name}", daemon=True)
        thread.start()
        thread.join()
        if self.own_storage and not self.keep_storage:
            self.hosts.wipe(self.root)
        if "error" in box:
            raise box["error"]
        header: TraceEvent = {
            "type": "run", "version": TRACE_VERSION, "lab": self.lab.name, "runtime": "ray",
            "seed": self.seed, "nodes": self.servers, "clients": self.clients,
            "schedule": self.schedule.to_data(),
            **({"params": dict(self.lab.params)} if self.lab.params else {}),
        }
        # Actors go on until they are killed, a little after the end: that tail is not the run's.
        end = next((e for e in reversed(self.events) if e["type"] == "end"), None)
        events = sorted(self.events, key=lambda e: e["t"])
        if end is not None:
            events = [e for e in events if e["t"] <= end["t"] and e is not end] + [end]
        trace = [header, *events]
        return RunResult(self.lab, "ray", self.seed, self.schedule, trace, self.errors)

    async def _main(self) -> None:
        bind = self.hosts.driver_host()
        # A line is one record of a node; asyncio's default 64 KiB would cut a large message or
        # result short and end the connection (a process-died crash that never happened).
        server = await asyncio.start_server(self._on_connection, bind, 0, limit=LINE_LIMIT)
        self.port = server.sockets[0].getsockname()[1]
        self.bind = bind
        try:
            for slot in self.slots.values():
                self._spawn(slot)
            self.hosts.top_up(self._spares_wanted(), self.preload)  # booting while the nodes start
            await self._await_hellos(list(self.slots.values()))
            await self.hosts.spares_booted(self.preload)
            addresses = json.dumps({p.name: p.address for p in self.slots.values()})
            for slot in self.slots.values():
                self._host(slot).set_peers(addresses)
            self.t0 = time.time()
            self.started = True
            for slot in self.slots.values():
                self._start(slot, first=True)
            faults = asyncio.create_task(self._faults())
            tasks = [faults]
            tasks += [asyncio.create_task(self._client(i, self.slots[c])) for i, c in enumerate(self.clients)]
            if self.lab.memory_every > 0:
                tasks.append(asyncio.create_task(self._measure()))
            await faults  # the last event is the final heal, which restarts every crashed node
            await self._settle()
            tasks += list(self.background)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for slot in self.slots.values():
                if slot.pending is not None:
                    self._finish(slot, "info", None)
            self.emit("end")
        finally:
            await self._stop_all()
            server.close()
            self.hosts.top_up(ray_processes.WARM, self.preload)

    async def _settle(self) -> None:
        """The lab's settle time, counted from when the final heal's restarts are done.

        A new process takes a moment to boot (longer on a busy machine); a lab that is asked to
        recover after the heal gets its full settle time with every node up, as in the simulator.
        """
        restarting = list(self.background)
        if restarting:
            await asyncio.wait(restarting, timeout=START_TIMEOUT)
        self.stop_at = max(self.stop_at, self.t() + self.lab.settle)
        self.settling = True
        await asyncio.sleep(max(0.0, self.t0 + self.stop_at - time.time()))

    # -- the workload driver --------------------------------------------------------------

    async def _client(self, i: int, slot: Slot) -> None:
        workload = self.lab.workload
        assert workload is not None
        loop = asyncio.get_running_loop()
        done = 0  # operations this clerk finished (for Workload.session)
        # Clients go on while the final heal's restarts are under way (the simulator restarts at
        # once): a cluster that must recover after the heal has client commands to do it with.
        while ((self.t() < self.stop_at - workload.timeout
                or (self.t() >= self.end_of_faults and not self.settling)) and not slot.broken):
            if not slot.up:  # its process died (a machine failure): a new one takes over
                slot.process += len(self.clients)
                await self._restart(slot)
                continue
            op = workload.generate(self.workload_rng, i)
            self.op_index += 1
            fut: asyncio.Future[tuple[str, Any]] = loop.create_future()
            slot.pending = (self.op_index, fut)
            self.emit("invoke", node=slot.name, process=slot.process, index=self.op_index,
                      f=op.f, key=op.key, value=op.value)
            self._control(slot, {"cmd": "invoke", "index": self.op_index, "f": op.f,
                                 "key": op.key, "value": op.value})
            try:
                outcome, value = await asyncio.wait_for(asyncio.shield(fut), workload.timeout)
            except TimeoutError:
                outcome, value = "info", None
            self._finish(slot, outcome, value)
            done += 1
            if outcome == "info" and slot.up and not slot.broken:
                self._replace_clerk(slot)
                done = 0
            elif workload.session and done >= workload.session and slot.up and not slot.broken:
                self._replace_clerk(slot)  # this user is done: a new one takes the clerk's place
                done = 0
            if workload.think:
                await asyncio.sleep(workload.think)

    async def _measure(self) -> None:
        """Ask every server for its memory and disk use, every ``Lab.memory_every`` seconds."""
        k = 1
        while True:
            await asyncio.sleep(max(0.0, self.t0 + k * self.lab.memory_every - time.time()))
            for name in self.servers:
                slot = self.slots[name]
                if slot.up:
                    self._control(slot, {"cmd": "memory"})
            k += 1

    def _finish(self, slot: Slot, outcome: str, value: Any) -> None:
        assert slot.pending is not None
        index = slot.pending[0]
        slot.pending = None
        self.emit("complete", node=slot.name, process=slot.process, index=index,
                  outcome=outcome, value=_plain(value))

    # -- the schedule ---------------------------------------------------------------------

    async def _faults(self) -> None:
        for e in self.schedule.events:
            await asyncio.sleep(max(0.0, self.t0 + e.at - time.time()))
            await self._apply(e)

    async def _apply(self, e: Event) -> None:
        e.apply(self, {name: await self._resolve(name) for name in e.targets()})

    async def _resolve(self, name: str) -> str | None:
        """The node a fault's target names now: itself, a random server, or a role's holder (read
        from the events so far where the lab says how, else the first server, in order, that says
        it holds the role within a second)."""
        if name in self.slots:
            return name
        if name == RANDOM:  # expand() draws random faults; a written `crash: random` is drawn now
            return random.Random(f"{self.seed}:{self.t()}").choice(self.servers)
        if self.lab.role_holders is not None:  # read from what the runtime saw, not asked
            holder = self.lab.role_holders(sorted(self.events, key=lambda e: e["t"])).get(name)
            slot = self.slots.get(holder) if holder in self.servers else None
            return holder if slot is not None and slot.up and slot.paused_until <= self.t() else None
        loop = asyncio.get_running_loop()
        asked: list[tuple[str, asyncio.Future[str | None]]] = []
        for server in self.servers:
            slot = self.slots[server]
            if not slot.up or slot.paused_until > self.t():
                continue
            self.queries += 1
            fut: asyncio.Future[str | None] = loop.create_future()
            self.answers[self.queries] = fut
            asked.append((server, fut))
            self._control(slot, {"cmd": "role", "q": self.queries})
        if asked:
            await asyncio.wait([f for _, f in asked], timeout=1.0)
        return next((server for server, fut in asked if fut.done() and fut.result() == name), None)

    # The World a schedule's events act on (see .faults): each change applied now, and traced.

    def _broadcast_net(self) -> None:
        command = {"cmd": "net", "network": self.network.to_data(), "blocked": links_to_data(self.blocked)}
        for slot in self.slots.values():
            if slot.up:
                self._control(slot, command)

    def cut(self, links: Links, groups: list[list[str]]) -> None:
        self.blocked = links
        self._broadcast_net()
        fields: dict[str, Any] = {"blocked": links_to_data(links)}
        if groups:
            fields["groups"] = groups
        self.emit("partition", **fields)

    def heal(self, final: bool) -> None:
        self.blocked = frozenset()
        self._broadcast_net()
        self.emit("heal", final=final)

    def set_network(self, network: Network) -> None:
        self.network = network
        self._broadcast_net()
        self.emit("network", network=network.to_data())

    def crash(self, node: str, disk: str) -> None:
        self._crash(self.slots[node], disk, "schedule")

    def restart(self, node: str) -> None:
        self._restart_soon(self.slots[node])

    def pause(self, node: str, seconds: float) -> None:
        slot = self.slots[node]
        if slot.up and slot.paused_until <= self.t():
            slot.paused_until = self.t() + seconds
            self.emit("pause", node=node, duration=seconds)
            self._control(slot, {"cmd": "pause", "until": slot.paused_until})

    def resume(self, node: str) -> None:
        slot = self.slots[node]
        if slot.up and slot.paused_until > self.t():
            self._control(slot, {"cmd": "resume"})
            slot.paused_until = -1.0

    def skew(self, node: str, offset: float, rate: float) -> None:
        self.emit("skew", node=node, offset=offset, rate=rate)
        if self.slots[node].up:
            self._control(self.slots[node], {"cmd": "skew", "offset": offset, "rate": rate, "since": self.t()})

    def skip(self, what: str, why: str) -> None:
        self.emit("skip", what=what, why=why)


def _plain(value: Any) -> Any:
    """A clerk's result as recorded: JSON data only (anything else becomes its text)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return repr(value)


def run_ray(lab: Lab, schedule: Schedule, seed: int = 0, storage_dir: str | Path | None = None,
            keep_storage: bool = False, hosts: Hosts | None = None, sealed: bool = False) -> RunResult:
    """Run ``lab`` under ``schedule`` on Ray (joining the connected cluster, or a local one; or
    with the processes ``hosts`` starts, for example in the grader's sandbox). ``sealed``: each
    node's code runs in a sealed child of its Ray process, which applies the faults and keeps
    the disk (graded runs; see :mod:`.ray_hosted`)."""
    return RayRun(lab, schedule, seed, storage_dir, keep_storage, hosts, sealed).run()


__all__ = ["RayRun", "RayRunError", "ensure_ray", "keep_warm", "run_ray"]
