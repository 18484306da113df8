"""A Ray run's node processes, as the driver holds them: one :class:`Slot` per node, and what
the driver does with a node's process whoever runs it (see :mod:`.ray_processes`): start it, give
it its node, tell it things, read what it says, kill it, and start another for a restart.

Everything a process says comes back as JSON lines over a loopback socket (see
:mod:`.ray_actor`), checked field by field: the driver never calls ``ray.get`` on anything an
actor produced, so no object built by student code is ever deserialized here. A process whose
socket closes without the driver having asked for it crashed (reason ``process-died``): a machine
failure in a multi-node cluster shows up that way.

:class:`~labs.runtime.ray_runtime.RayRun` is built on :class:`RayNodes`: it adds the run itself,
the schedule's faults, the clients' workload and the trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ray_actor
from .faults import Crash, Skew
from .lab import Lab
from .network import Links, Network, links_to_data
from .node_classes import class_path, cluster_codec
from .ray_processes import START_TIMEOUT, Host, HostError, Hosts, RayRunError
from .schedule import Schedule
from .trace import Event as TraceEvent

NODE_EVENTS = frozenset(
    {"send", "deliver", "drop", "duplicate", "timer_set", "timer_fire", "timer_cancel", "log", "resume",
     "memory", "work", "file"}
)
"""The trace events an actor may report; everything else is the driver's to write."""

LINE_LIMIT = 16 << 20
"""The longest record (one JSON line) the driver reads from a node's process."""


@dataclass
class Slot:
    """The driver's view of one node: its process (a new one after each crash), its storage
    folder, and, for a clerk, its client's process number in the history."""

    name: str
    is_client: bool
    storage: Path
    handle: Host | None = None
    incarnation: int = 0
    """The node's life: one more at each start, whether a new process or a sealed node's restart."""
    spawns: int = 0
    """The processes started for it: a record comes from the latest, or is not the node's."""
    up: bool = False
    paused_until: float = -1.0
    killing: bool = False
    pid: int | None = None
    host: str | None = None
    address: list[Any] | None = None
    hello: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    # clerks only
    process: int = 0
    broken: bool = False  # a clerk whose on_start raised: its client stops
    restarting: bool = False
    reaped: asyncio.Task[None] | None = None  # the last crash, done once its process is gone
    pending: tuple[int, asyncio.Future[tuple[str, Any]]] | None = None


class RayNodes:
    """The node processes of one Ray run, on the driver's side (see the module's docstring)."""

    bind: str
    port: int
    """Where the driver listens for its nodes' processes (set when the run starts)."""

    def __init__(self, lab: Lab, schedule: Schedule, seed: int, root: Path, hosts: Hosts, sealed: bool) -> None:
        """``schedule`` is expanded already; each node keeps its storage in a folder of ``root``."""
        self.lab = lab
        self.sealed = sealed
        self.hosts = hosts
        self.seed = seed
        self.servers = lab.node_names()
        self.clients = lab.client_names()
        self.schedule = schedule
        self.root = root
        self.slots = {n: Slot(n, n in self.clients, self.root / n) for n in [*self.servers, *self.clients]}
        for i, c in enumerate(self.clients):
            self.slots[c].process = i  # client i is process i, then i + clients after a restart
        self.token = secrets.token_hex(16)
        self.events: list[TraceEvent] = []
        self.errors: list[str] = []
        self.network: Network = self.schedule.network
        self.blocked: Links = frozenset()
        self.t0 = 0.0
        self.started = False
        self.serial = 0
        self.queries = 0
        self.answers: dict[int, asyncio.Future[str | None]] = {}
        self.lost_machines: set[str] = set()  # where a process died unasked: place nothing there
        self.background: set[asyncio.Task[None]] = set()
        self.start_error = ""
        # A restart takes an idle process booted ahead of time: booting one takes a second or
        # more, and a restart must land when the schedule says (five servers restarted together
        # then elect a leader as soon as in the simulator, not seconds later).
        self.restarts_left = sum(isinstance(e, Crash) for e in self.schedule.events)
        self.preload = tuple(sorted({cls.__module__ for cls in (lab.node, lab.clerk)
                                     if cls is not None and cls.__module__.startswith("labs.")}))
        if sealed:
            self.preload += (ray_actor.SEALED,)
        # Every message type, nested ones included, found here where annotations resolve: an
        # actor cannot always resolve them (a class from a notebook or a student's file).
        classes = [lab.node] + ([lab.clerk] if lab.clerk else [])
        # A submission given as source is imported by each node's process, never here.
        self.types = [] if lab.impl_source else list(cluster_codec(classes).types.values())

    # -- plumbing -------------------------------------------------------------------------

    def t(self) -> float:
        return round(time.time() - self.t0, 6) if self.started else 0.0

    def emit(self, kind: str, **fields: Any) -> None:
        self.events.append({"t": self.t(), "type": kind, **fields})

    # -- starting and stopping processes --------------------------------------------------

    def _spares_wanted(self) -> int:
        """Idle processes to keep booted: one per restart still to come, up to one per server
        (the most that restart at once); each restart's process is replaced as it is taken. A
        sealed node restarts inside its host (see :meth:`_crash`): none then."""
        return 0 if self.sealed else min(self.restarts_left, len(self.servers))

    def _host(self, slot: Slot) -> Host:
        assert slot.handle is not None, f"{slot.name} has no process"
        return slot.handle

    async def _configure_error(self, slot: Slot) -> None:
        """Wait for ``slot``'s configure call; if it raised (a submission that does not import),
        give up on the run at once with the reason, instead of waiting for a hello."""
        try:
            await self._host(slot).configured()
        except HostError as exc:
            self.start_error = f"{slot.name} could not start: {exc}"
            for p in self.slots.values():
                p.hello.set()

    def _spawn(self, slot: Slot) -> None:
        self.serial += 1
        slot.incarnation += 1
        slot.spawns += 1
        slot.hello = asyncio.Event()
        slot.closed = asyncio.Event()
        slot.killing = False
        config = {
            "name": slot.name, "servers": self.servers, "clients": self.clients, "seed": self.seed,
            "incarnation": slot.incarnation, "token": self.token, "driver_host": self.bind,
            "driver_port": self.port, "id_base": self.serial << 32, "storage": str(slot.storage),
            "network": self.network.to_data(), "blocked": links_to_data(self.blocked),
            "t0": self.t0, "params": dict(self.lab.params),
            "bind": self.bind if self.bind.startswith("127.") else "",  # "": the machine's address
        }
        if self.sealed:  # what the node's sealed process needs to load its class (see ray_hosted)
            config.update(sealed=True, lab=self.lab.name, server=class_path(self.lab.node), clerk=class_path(self.lab.clerk))
        classes = None if self.lab.impl_source is not None else (self.lab.node, self.lab.clerk, self.types)
        slot.handle = self.hosts.spawn(self.serial, self.lost_machines, json.dumps(config), classes,
                                       self.lab.impl_source)

    async def _await_hellos(self, slots: list[Slot]) -> None:
        waits = [asyncio.ensure_future(p.hello.wait()) for p in slots]
        failed = [asyncio.ensure_future(self._configure_error(p)) for p in slots]
        try:
            _, pending = await asyncio.wait(waits, timeout=START_TIMEOUT)
        finally:
            for w in waits + failed:
                w.cancel()
        if self.start_error:
            raise RayRunError(self.start_error)
        if pending:
            missing = [p.name for p in slots if not p.hello.is_set()]
            raise RayRunError(
                f"the processes of {', '.join(missing)} did not start within {START_TIMEOUT:g}s; "
                "is the Ray cluster short of memory, or does the node class fail to unpickle?"
            )

    def _start(self, slot: Slot, first: bool) -> None:
        slot.up = True
        slot.paused_until = -1.0
        self.emit("start" if first else "restart", node=slot.name, pid=slot.pid, host=slot.host)
        # The network as it is now, not as it was when the process was asked for: a partition
        # healed while it booted (a restart can take a second or more) must not stay in force.
        self._control(slot, {"cmd": "net", "network": self.network.to_data(), "blocked": links_to_data(self.blocked)})
        self._control(slot, {"cmd": "start", "t0": self.t0})

    def _control(self, slot: Slot, command: dict[str, Any]) -> None:
        self._host(slot).control(json.dumps(command))

    async def _stop_all(self) -> None:
        for slot in self.slots.values():
            if slot.handle is not None and not slot.closed.is_set():
                slot.killing = True
                slot.handle.kill()
        waits = [asyncio.ensure_future(p.closed.wait()) for p in self.slots.values() if p.hello.is_set()]
        if waits:
            await asyncio.wait(waits, timeout=10.0)
        for w in waits:
            w.cancel()

    # -- what the actors say --------------------------------------------------------------

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        slot: Slot | None = None
        spawn = -1
        try:
            first = json.loads(await reader.readline())
            slot = self.slots.get(str(first.get("node"))) if isinstance(first, dict) else None
            if (slot is None or first.get("token") != self.token
                    or first.get("incarnation") != slot.incarnation or first.get("k") != "hello"):
                return  # not one of ours, or a late caller from a replaced process
            spawn = slot.spawns
            pid, host, address = first.get("pid"), first.get("host"), first.get("address")
            slot.pid = pid if isinstance(pid, int) else None
            slot.host = host if isinstance(host, str) else None
            slot.address = address if isinstance(address, list) and len(address) == 2 else None
            slot.hello.set()
            while line := await reader.readline():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    self._on_record(slot, record, spawn)
        except (ConnectionError, json.JSONDecodeError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
            if slot is not None and spawn == slot.spawns:
                if slot.up and not slot.killing:
                    slot.up = False
                    if slot.host is not None:
                        self.lost_machines.add(slot.host)
                    self.emit("crash", node=slot.name, reason="process-died", disk="keep")
                    if slot.pending is not None and not slot.pending[1].done():
                        slot.pending[1].set_result(("info", None))
                slot.closed.set()

    def _on_record(self, slot: Slot, r: dict[str, Any], spawn: int) -> None:
        kind = r.get("k")
        if kind == "ev":
            e = r.get("e")
            if isinstance(e, dict) and e.get("type") in NODE_EVENTS and _is_time(e.get("t")):
                e["node"] = slot.name  # a process speaks only for itself
                self.events.append(e)
        elif kind == "complete":
            outcome, index = r.get("outcome"), r.get("index")
            if slot.pending is not None and index == slot.pending[0] and outcome in ("ok", "fail"):
                fut = slot.pending[1]
                if not fut.done():
                    fut.set_result((str(outcome), r.get("value")))
        elif kind == "role":
            q, role = r.get("q"), r.get("role")
            answer = self.answers.get(q) if isinstance(q, int) else None
            if answer is not None and not answer.done():
                answer.set_result(role if isinstance(role, str) else None)
        elif kind == "error":
            if slot.killing or spawn != slot.spawns or r.get("incarnation") != slot.incarnation:
                return  # from a process being killed (its sealed child may go first) or a life gone
            report = r.get("report")
            report = report if isinstance(report, str) else f"{slot.name} crashed"
            self.errors.append(report)
            if slot.is_client:
                if r.get("what") == "on_start":  # it would fail forever: its client stops
                    slot.broken = True
                    self.emit("crash", node=slot.name, reason="error", disk="lose", error=report)
                if slot.pending is not None and not slot.pending[1].done():
                    slot.pending[1].set_result(("info", None))
                elif not slot.broken:
                    self._replace_clerk(slot, error=report)
            else:
                self._crash(slot, "keep", "error", report)

    # -- crashes, restarts and new clerks -------------------------------------------------

    def _replace_clerk(self, slot: Slot, error: str | None = None) -> None:
        fields: dict[str, Any] = {"node": slot.name, "reason": "error" if error else "replaced", "disk": "lose"}
        if error:
            fields["error"] = error
        self.emit("crash", **fields)
        slot.process += len(self.clients)
        self.emit("restart", node=slot.name, pid=slot.pid, host=slot.host)
        self._control(slot, {"cmd": "replace"})

    def _crash(self, slot: Slot, disk: str, reason: str, error: str | None = None) -> None:
        if not slot.up:
            return
        slot.up = False
        slot.killing = True
        fields: dict[str, Any] = {"node": slot.name, "reason": reason, "disk": disk}
        if error is not None:
            fields["error"] = error
        self.emit("crash", **fields)
        if self._in_place(slot):
            # A sealed node's process is killed by its host, which stays: the node's memory is
            # gone with its process, the host forgets its timers, works and messages in flight
            # (and its disk, if lost), and a restart is a new process in a moment, not a new
            # Ray actor (seconds on a busy machine, and the schedule would run ahead of it).
            self._control(slot, {"cmd": "crash", "disk": disk})
            return
        self._host(slot).kill()
        # The process dies in the background, so that the events after this one happen on time;
        # a restart waits for it (and for its disk to be wiped) before it spawns a new one.
        slot.reaped = asyncio.get_running_loop().create_task(self._reap(slot, disk))
        self.background.add(slot.reaped)
        slot.reaped.add_done_callback(self.background.discard)

    async def _reap(self, slot: Slot, disk: str) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(slot.closed.wait(), 30.0)
        if disk == "lose":
            self.hosts.wipe(slot.storage)

    def _restart_soon(self, slot: Slot) -> None:
        """Start a restart without holding up the schedule: a new process takes a moment to boot,
        and the events after this one still happen on time."""
        if not slot.up and not slot.restarting:
            slot.restarting = True
            task = asyncio.get_running_loop().create_task(self._restart(slot))
            self.background.add(task)
            task.add_done_callback(self.background.discard)

    def _in_place(self, slot: Slot) -> bool:
        """Whether ``slot``'s node crashes and restarts inside the host it has (a sealed node
        whose host is alive), rather than with its host's process."""
        return self.sealed and slot.handle is not None and slot.hello.is_set() and not slot.closed.is_set()

    async def _restart(self, slot: Slot) -> None:
        if slot.up:
            return
        if slot.killing and self._in_place(slot):
            slot.restarting = False
            slot.incarnation += 1
            slot.killing = False
            self._control(slot, {"cmd": "restart", "incarnation": slot.incarnation})
            self._start(slot, first=False)
            self._skew_again(slot)
            return
        slot.restarting = True
        try:
            if slot.reaped is not None:
                await slot.reaped
            self.start_error = ""
            self._spawn(slot)
            if not slot.is_client:
                self.restarts_left = max(0, self.restarts_left - 1)
                self.hosts.top_up(self._spares_wanted(), self.preload)
            await self._await_hellos([slot])
        except RayRunError as exc:  # the node stays down; a client whose process is gone stops
            self.emit("skip", what="restart", node=slot.name, why=str(exc))
            slot.broken = slot.broken or slot.is_client
            return
        finally:
            slot.restarting = False
        self._host(slot).set_peers(json.dumps({p.name: p.address for p in self.slots.values() if p.address}))
        for other in self.slots.values():
            if other is not slot and other.up:
                self._host(other).set_peers(json.dumps({slot.name: slot.address}))
        self._start(slot, first=False)
        self._skew_again(slot)

    def _skew_again(self, slot: Slot) -> None:
        skew = next((e for e in reversed(self.schedule.events)
                     if isinstance(e, Skew) and e.node == slot.name and e.at <= self.t()), None)
        if skew is not None:  # a clock's skew is the machine's, not the process's: it stays
            since = next(e["t"] for e in reversed(self.events) if e["type"] == "skew" and e["node"] == slot.name)
            self._control(slot, {"cmd": "skew", "offset": skew.offset, "rate": skew.rate, "since": since})


def _is_time(t: object) -> bool:
    return isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t)
