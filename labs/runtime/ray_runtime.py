"""Runtime 2: every node a Ray actor in its own OS process, faults applied in real time.

The driver (this module, in the process that calls :func:`run_ray`) owns what decides a verdict:
the workload and the client history it records with its own clock, the fault schedule, and the
merged trace. Node and clerk code runs only in actor processes (see :mod:`.ray_host`), and what
comes back from them is JSON text over a loopback socket, checked field by field. The driver never
calls ``ray.get`` on anything an actor produced, so no object built by student code is ever
deserialized here.

A crash is ``ray.kill``: the process and its memory are gone, and a restart is a new actor that
opens the same storage directory (or an empty one when the schedule says the disk was lost). A
machine failure in a multi-node cluster shows up the same way, as a ``crash`` with reason
``process-died`` when the actor's socket closes without the driver having asked for it.

Ray is started here (locally, on loopback) only if the caller has not started or joined a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ray_host, ray_hosts
from .common import class_path, cluster_codec
from .faults import RANDOM, Crash, Event, Skew
from .lab import Lab, RunResult
from .network import Links, Network, links_to_data
from .ray_hosts import START_TIMEOUT, Host, HostError, Hosts, LocalHosts, ensure_ray, keep_warm
from .schedule import Schedule
from .trace import TRACE_VERSION
from .trace import Event as TraceEvent

NODE_EVENTS = frozenset(
    {"send", "deliver", "drop", "duplicate", "timer_set", "timer_fire", "timer_cancel", "log", "resume",
     "memory", "work", "file"}
)
"""The trace events an actor may report; everything else is the driver's to write."""

LINE_LIMIT = 16 << 20
"""The longest record (one JSON line) the driver reads from a node's process."""

class RayRunError(RuntimeError):
    """A Ray run could not be carried out (an actor never started, Ray is unreachable...)."""


@dataclass
class _Proc:
    """The driver's view of one node's process."""

    name: str
    is_client: bool
    storage: Path
    handle: Host | None = None
    incarnation: int = 0
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


class RayRun:
    """One run of a lab on Ray. Use :func:`run_ray`."""

    def __init__(self, lab: Lab, schedule: Schedule, seed: int = 0,
                 storage_dir: str | Path | None = None, keep_storage: bool = False,
                 hosts: Hosts | None = None, sealed: bool = False) -> None:
        self.lab = lab
        self.sealed = sealed
        self.hosts = hosts or LocalHosts()
        self.seed = seed
        self.servers = lab.node_names()
        self.clients = lab.client_names()
        self.schedule = schedule.expand(self.servers, self.clients, seed, lab.min_duration, lab.roles)
        self.end_of_faults = self.schedule.end()
        self.stop_at = self.end_of_faults + lab.settle
        self.settling = False  # the final heal's restarts are done: the settle time runs
        self.own_storage = storage_dir is None
        self.keep_storage = keep_storage
        self.root = Path(storage_dir) if storage_dir else self.hosts.storage_root(lab.name)
        self.procs = {n: _Proc(n, n in self.clients, self.root / n) for n in [*self.servers, *self.clients]}
        for i, c in enumerate(self.clients):
            self.procs[c].process = i  # client i is process i, then i + clients after a restart
        self.token = secrets.token_hex(16)
        self.events: list[TraceEvent] = []
        self.errors: list[str] = []
        self.network: Network = self.schedule.network
        self.blocked: Links = frozenset()
        self.t0 = 0.0
        self.started = False
        self.serial = 0
        self.op_index = 0
        self.queries = 0
        self.answers: dict[int, asyncio.Future[str | None]] = {}
        self.workload_rng = random.Random(f"{seed}:workload")
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
            self.preload += (ray_host.SEALED,)
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

    def run(self) -> RunResult:
        self.hosts.ensure()
        if self.lab.impl_source is None:
            self._register_student_modules()
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

    def _register_student_modules(self) -> None:
        """Classes from outside the installed ``labs`` package (a student's file, a test module)
        travel to the actors by value: the actors could not import them by name."""
        import sys

        import ray.cloudpickle as cloudpickle

        for cls in (self.lab.node, self.lab.clerk):
            if cls is None or cls.__module__.split(".")[0] in ("labs", "__main__"):
                continue
            module = sys.modules.get(cls.__module__)
            if module is not None:
                cloudpickle.register_pickle_by_value(module)  # type: ignore[no-untyped-call]

    async def _main(self) -> None:
        bind = self.hosts.driver_host()
        # A line is one record of a node; asyncio's default 64 KiB would cut a large message or
        # result short and end the connection (a process-died crash that never happened).
        server = await asyncio.start_server(self._on_connection, bind, 0, limit=LINE_LIMIT)
        self.port = server.sockets[0].getsockname()[1]
        self.bind = bind
        try:
            for proc in self.procs.values():
                self._spawn(proc)
            self.hosts.top_up(self._spares_wanted(), self.preload)  # booting while the nodes start
            await self._await_hellos(list(self.procs.values()))
            await self.hosts.spares_booted(self.preload)
            addresses = json.dumps({p.name: p.address for p in self.procs.values()})
            for proc in self.procs.values():
                self._host(proc).set_peers(addresses)
            self.t0 = time.time()
            self.started = True
            for proc in self.procs.values():
                self._start(proc, first=True)
            faults = asyncio.create_task(self._faults())
            tasks = [faults]
            tasks += [asyncio.create_task(self._client(i, self.procs[c])) for i, c in enumerate(self.clients)]
            if self.lab.memory_every > 0:
                tasks.append(asyncio.create_task(self._measure()))
            await faults  # the last event is the final heal, which restarts every crashed node
            await self._settle()
            tasks += list(self.background)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for proc in self.procs.values():
                if proc.pending is not None:
                    self._finish(proc, "info", None)
            self.emit("end")
        finally:
            await self._stop_all()
            server.close()
            self.hosts.top_up(ray_hosts.WARM, self.preload)

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

    def _spares_wanted(self) -> int:
        """Idle processes to keep booted: one per restart still to come, up to one per server
        (the most that restart at once); each restart's process is replaced as it is taken."""
        return min(self.restarts_left, len(self.servers))

    def _host(self, proc: _Proc) -> Host:
        assert proc.handle is not None, f"{proc.name} has no process"
        return proc.handle

    async def _configure_error(self, proc: _Proc) -> None:
        """Wait for ``proc``'s configure call; if it raised (a submission that does not import),
        give up on the run at once with the reason, instead of waiting for a hello."""
        try:
            await self._host(proc).configured()
        except HostError as exc:
            self.start_error = f"{proc.name} could not start: {exc}"
            for p in self.procs.values():
                p.hello.set()

    def _spawn(self, proc: _Proc) -> None:

        self.serial += 1
        proc.incarnation += 1
        proc.hello = asyncio.Event()
        proc.closed = asyncio.Event()
        proc.killing = False
        config = {
            "name": proc.name, "servers": self.servers, "clients": self.clients, "seed": self.seed,
            "incarnation": proc.incarnation, "token": self.token, "driver_host": self.bind,
            "driver_port": self.port, "id_base": self.serial << 32, "storage": str(proc.storage),
            "network": self.network.to_data(), "blocked": links_to_data(self.blocked),
            "t0": self.t0, "params": dict(self.lab.params),
            "bind": self.bind if self.bind.startswith("127.") else "",  # "": the machine's address
        }
        if self.sealed:  # what the node's sealed process needs to load its class (see ray_sealed)
            config.update(sealed=True, lab=self.lab.name, server=class_path(self.lab.node), clerk=class_path(self.lab.clerk))
        classes = None if self.lab.impl_source is not None else (self.lab.node, self.lab.clerk, self.types)
        proc.handle = self.hosts.spawn(self.serial, self.lost_machines, json.dumps(config), classes,
                                       self.lab.impl_source)

    async def _await_hellos(self, procs: list[_Proc]) -> None:
        waits = [asyncio.ensure_future(p.hello.wait()) for p in procs]
        failed = [asyncio.ensure_future(self._configure_error(p)) for p in procs]
        try:
            _, pending = await asyncio.wait(waits, timeout=START_TIMEOUT)
        finally:
            for w in waits + failed:
                w.cancel()
        if self.start_error:
            raise RayRunError(self.start_error)
        if pending:
            missing = [p.name for p in procs if not p.hello.is_set()]
            raise RayRunError(
                f"the processes of {', '.join(missing)} did not start within {START_TIMEOUT:g}s; "
                "is the Ray cluster short of memory, or does the node class fail to unpickle?"
            )

    def _start(self, proc: _Proc, first: bool) -> None:
        proc.up = True
        proc.paused_until = -1.0
        self.emit("start" if first else "restart", node=proc.name, pid=proc.pid, host=proc.host)
        # The network as it is now, not as it was when the process was asked for: a partition
        # healed while it booted (a restart can take a second or more) must not stay in force.
        self._control(proc, {"cmd": "net", "network": self.network.to_data(), "blocked": links_to_data(self.blocked)})
        self._control(proc, {"cmd": "start", "t0": self.t0})

    def _control(self, proc: _Proc, command: dict[str, Any]) -> None:
        self._host(proc).control(json.dumps(command))

    async def _stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.handle is not None and not proc.closed.is_set():
                proc.killing = True
                proc.handle.kill()
        waits = [asyncio.ensure_future(p.closed.wait()) for p in self.procs.values() if p.hello.is_set()]
        if waits:
            await asyncio.wait(waits, timeout=10.0)
        for w in waits:
            w.cancel()

    # -- what the actors say --------------------------------------------------------------

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        proc: _Proc | None = None
        incarnation = -1
        try:
            first = json.loads(await reader.readline())
            proc = self.procs.get(str(first.get("node"))) if isinstance(first, dict) else None
            if (proc is None or first.get("token") != self.token
                    or first.get("incarnation") != proc.incarnation or first.get("k") != "hello"):
                return  # not one of ours, or a late caller from a replaced process
            incarnation = proc.incarnation
            pid, host, address = first.get("pid"), first.get("host"), first.get("address")
            proc.pid = pid if isinstance(pid, int) else None
            proc.host = host if isinstance(host, str) else None
            proc.address = address if isinstance(address, list) and len(address) == 2 else None
            proc.hello.set()
            while line := await reader.readline():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    self._on_record(proc, record, incarnation)
        except (ConnectionError, json.JSONDecodeError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
            if proc is not None and incarnation == proc.incarnation:
                if proc.up and not proc.killing:
                    proc.up = False
                    if proc.host is not None:
                        self.lost_machines.add(proc.host)
                    self.emit("crash", node=proc.name, reason="process-died", disk="keep")
                    if proc.pending is not None and not proc.pending[1].done():
                        proc.pending[1].set_result(("info", None))
                proc.closed.set()

    def _on_record(self, proc: _Proc, r: dict[str, Any], incarnation: int) -> None:
        kind = r.get("k")
        if kind == "ev":
            e = r.get("e")
            if isinstance(e, dict) and e.get("type") in NODE_EVENTS and _is_time(e.get("t")):
                e["node"] = proc.name  # a process speaks only for itself
                self.events.append(e)
        elif kind == "complete":
            outcome, index = r.get("outcome"), r.get("index")
            if proc.pending is not None and index == proc.pending[0] and outcome in ("ok", "fail"):
                fut = proc.pending[1]
                if not fut.done():
                    fut.set_result((str(outcome), r.get("value")))
        elif kind == "role":
            q, role = r.get("q"), r.get("role")
            answer = self.answers.get(q) if isinstance(q, int) else None
            if answer is not None and not answer.done():
                answer.set_result(role if isinstance(role, str) else None)
        elif kind == "error":
            if proc.killing or incarnation != proc.incarnation:
                return  # its process is being killed (its sealed child may go first): not the node's error
            report = r.get("report")
            report = report if isinstance(report, str) else f"{proc.name} crashed"
            self.errors.append(report)
            if proc.is_client:
                if r.get("what") == "on_start":  # it would fail forever: its client stops
                    proc.broken = True
                    self.emit("crash", node=proc.name, reason="error", disk="lose", error=report)
                if proc.pending is not None and not proc.pending[1].done():
                    proc.pending[1].set_result(("info", None))
                elif not proc.broken:
                    self._replace_clerk(proc, error=report)
            else:
                self._crash(proc, "keep", "error", report)

    # -- the workload driver --------------------------------------------------------------

    async def _client(self, i: int, proc: _Proc) -> None:
        workload = self.lab.workload
        assert workload is not None
        loop = asyncio.get_running_loop()
        done = 0  # operations this clerk finished (for Workload.session)
        # Clients go on while the final heal's restarts are under way (the simulator restarts at
        # once): a cluster that must recover after the heal has client commands to do it with.
        while ((self.t() < self.stop_at - workload.timeout
                or (self.t() >= self.end_of_faults and not self.settling)) and not proc.broken):
            if not proc.up:  # its process died (a machine failure): a new one takes over
                proc.process += len(self.clients)
                await self._restart(proc)
                continue
            op = workload.generate(self.workload_rng, i)
            self.op_index += 1
            fut: asyncio.Future[tuple[str, Any]] = loop.create_future()
            proc.pending = (self.op_index, fut)
            self.emit("invoke", node=proc.name, process=proc.process, index=self.op_index,
                      f=op.f, key=op.key, value=op.value)
            self._control(proc, {"cmd": "invoke", "index": self.op_index, "f": op.f,
                                 "key": op.key, "value": op.value})
            try:
                outcome, value = await asyncio.wait_for(asyncio.shield(fut), workload.timeout)
            except TimeoutError:
                outcome, value = "info", None
            self._finish(proc, outcome, value)
            done += 1
            if outcome == "info" and proc.up and not proc.broken:
                self._replace_clerk(proc)
                done = 0
            elif workload.session and done >= workload.session and proc.up and not proc.broken:
                self._replace_clerk(proc)  # this user is done: a new one takes the clerk's place
                done = 0
            if workload.think:
                await asyncio.sleep(workload.think)

    async def _measure(self) -> None:
        """Ask every server for its memory and disk use, every ``Lab.memory_every`` seconds."""
        k = 1
        while True:
            await asyncio.sleep(max(0.0, self.t0 + k * self.lab.memory_every - time.time()))
            for name in self.servers:
                proc = self.procs[name]
                if proc.up:
                    self._control(proc, {"cmd": "memory"})
            k += 1

    def _finish(self, proc: _Proc, outcome: str, value: Any) -> None:
        assert proc.pending is not None
        index = proc.pending[0]
        proc.pending = None
        self.emit("complete", node=proc.name, process=proc.process, index=index,
                  outcome=outcome, value=_plain(value))

    def _replace_clerk(self, proc: _Proc, error: str | None = None) -> None:
        fields: dict[str, Any] = {"node": proc.name, "reason": "error" if error else "replaced", "disk": "lose"}
        if error:
            fields["error"] = error
        self.emit("crash", **fields)
        proc.process += len(self.clients)
        self.emit("restart", node=proc.name, pid=proc.pid, host=proc.host)
        self._control(proc, {"cmd": "replace"})

    # -- the schedule ---------------------------------------------------------------------

    async def _faults(self) -> None:
        for e in self.schedule.events:
            await asyncio.sleep(max(0.0, self.t0 + e.at - time.time()))
            await self._apply(e)

    async def _apply(self, e: Event) -> None:
        e.apply(self, {name: await self._resolve(name) for name in e.targets()})

    async def _resolve(self, name: str) -> str | None:
        """The node a fault's target names now: itself, a random server, or a role's holder
        (the first server, in order, that says it holds the role within a second)."""
        if name in self.procs:
            return name
        if name == RANDOM:  # expand() draws random faults; a written `crash: random` is drawn now
            return random.Random(f"{self.seed}:{self.t()}").choice(self.servers)
        loop = asyncio.get_running_loop()
        asked: list[tuple[str, asyncio.Future[str | None]]] = []
        for server in self.servers:
            proc = self.procs[server]
            if not proc.up or proc.paused_until > self.t():
                continue
            self.queries += 1
            fut: asyncio.Future[str | None] = loop.create_future()
            self.answers[self.queries] = fut
            asked.append((server, fut))
            self._control(proc, {"cmd": "role", "q": self.queries})
        if asked:
            await asyncio.wait([f for _, f in asked], timeout=1.0)
        return next((server for server, fut in asked if fut.done() and fut.result() == name), None)

    # The World a schedule's events act on (see .faults): each change applied now, and traced.

    def _broadcast_net(self) -> None:
        command = {"cmd": "net", "network": self.network.to_data(), "blocked": links_to_data(self.blocked)}
        for proc in self.procs.values():
            if proc.up:
                self._control(proc, command)

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
        self._crash(self.procs[node], disk, "schedule")

    def restart(self, node: str) -> None:
        self._restart_soon(self.procs[node])

    def pause(self, node: str, seconds: float) -> None:
        proc = self.procs[node]
        if proc.up and proc.paused_until <= self.t():
            proc.paused_until = self.t() + seconds
            self.emit("pause", node=node, duration=seconds)
            self._control(proc, {"cmd": "pause", "until": proc.paused_until})

    def resume(self, node: str) -> None:
        proc = self.procs[node]
        if proc.up and proc.paused_until > self.t():
            self._control(proc, {"cmd": "resume"})
            proc.paused_until = -1.0

    def skew(self, node: str, offset: float, rate: float) -> None:
        self.emit("skew", node=node, offset=offset, rate=rate)
        if self.procs[node].up:
            self._control(self.procs[node], {"cmd": "skew", "offset": offset, "rate": rate, "since": self.t()})

    def skip(self, what: str, why: str) -> None:
        self.emit("skip", what=what, why=why)

    def _crash(self, proc: _Proc, disk: str, reason: str, error: str | None = None) -> None:
        if not proc.up:
            return
        proc.up = False
        proc.killing = True
        fields: dict[str, Any] = {"node": proc.name, "reason": reason, "disk": disk}
        if error is not None:
            fields["error"] = error
        self.emit("crash", **fields)
        self._host(proc).kill()
        # The process dies in the background, so that the events after this one happen on time;
        # a restart waits for it (and for its disk to be wiped) before it spawns a new one.
        proc.reaped = asyncio.get_running_loop().create_task(self._reap(proc, disk))
        self.background.add(proc.reaped)
        proc.reaped.add_done_callback(self.background.discard)

    async def _reap(self, proc: _Proc, disk: str) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.closed.wait(), 30.0)
        if disk == "lose":
            self.hosts.wipe(proc.storage)

    def _restart_soon(self, proc: _Proc) -> None:
        """Start a restart without holding up the schedule: a new process takes a moment to boot,
        and the events after this one still happen on time."""
        if not proc.up and not proc.restarting:
            proc.restarting = True
            task = asyncio.get_running_loop().create_task(self._restart(proc))
            self.background.add(task)
            task.add_done_callback(self.background.discard)

    async def _restart(self, proc: _Proc) -> None:
        if proc.up:
            return
        proc.restarting = True
        try:
            if proc.reaped is not None:
                await proc.reaped
            self.start_error = ""
            self._spawn(proc)
            if not proc.is_client:
                self.restarts_left = max(0, self.restarts_left - 1)
                self.hosts.top_up(self._spares_wanted(), self.preload)
            await self._await_hellos([proc])
        except RayRunError as exc:  # the node stays down; a client whose process is gone stops
            self.emit("skip", what="restart", node=proc.name, why=str(exc))
            proc.broken = proc.broken or proc.is_client
            return
        finally:
            proc.restarting = False
        self._host(proc).set_peers(json.dumps({p.name: p.address for p in self.procs.values() if p.address}))
        for other in self.procs.values():
            if other is not proc and other.up:
                self._host(other).set_peers(json.dumps({proc.name: proc.address}))
        self._start(proc, first=False)
        skew = next((e for e in reversed(self.schedule.events)
                     if isinstance(e, Skew) and e.node == proc.name and e.at <= self.t()), None)
        if skew is not None:  # a clock's skew is the machine's, not the process's: it stays
            since = next(e["t"] for e in reversed(self.events) if e["type"] == "skew" and e["node"] == proc.name)
            self._control(proc, {"cmd": "skew", "offset": skew.offset, "rate": skew.rate, "since": since})


def _is_time(t: object) -> bool:
    return isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t)


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
    the disk (graded runs; see :mod:`.ray_sealed`)."""
    return RayRun(lab, schedule, seed, storage_dir, keep_storage, hosts, sealed).run()


__all__ = ["RayRun", "RayRunError", "ensure_ray", "keep_warm", "run_ray"]
