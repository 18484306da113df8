"""The inside of one Ray actor: hosts one node (or clerk) in its own OS process.

This module does not import Ray: :mod:`.ray_processes` wraps :class:`NodeHost` with ``ray.remote``.

Who talks to whom, and in what:

* **node to node**: JSON lines over direct TCP connections between the node processes (see
  :mod:`.wire` for why not Ray calls). The sender's host applies the schedule's loss, duplication, delay and
  ordering (with the same :func:`~labs.runtime.network.fate` as the simulator) and drops messages
  on cut links; the receiver's host drops what arrives over a link cut meanwhile.
* **driver to host**: ``host.control.remote(json_text)``, plain data commands (start, network,
  pause, skew, invoke, replace, role, stop).
* **host to driver**: JSON lines over a loopback TCP socket: trace events, clerk completions,
  role answers and handler errors. The driver reads them as data and checks every field; it never
  unpickles anything a node or clerk produced, and the socket closing tells it the process died.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .clock import Clock
from .codec import Codec, SerializationError
from .files import DirFiles, Files, ThreadWork
from .hosting import check_result, check_send, check_timer, describe, format_error, state_size
from .lab import load_submission
from .network import Links, Network, fate, links_from_data, network_from_data
from .node import Clerk, Endpoint, Node, NodeError, Op, TimerId
from .node_classes import cluster_codec
from .ray_sealed import SealedNode, start_nursery
from .storage import FileDisk
from .wire import Mesh


class _HostContext:
    """The node API's view of this process."""

    def __init__(self, host: NodeHost) -> None:
        self._host = host
        self.node_id = host.name
        self.nodes = tuple(host.servers)
        self.params = host.params
        self.storage = host.disk
        # A new node object (a restart, a replaced clerk) draws new numbers, as a new process would.
        self.random = random.Random(f"{host.seed}:{host.name}:{host.incarnation}:{host.generation}")
        self.files: Files = host.files

    def send(self, dst: str, msg: object) -> None:
        self._host.send(dst, msg)

    def start_work(self, fn: Callable[..., object], args: tuple[Any, ...]) -> int:
        return self._host.start_work(fn, args)

    def set_timer(self, delay: float, timer: object) -> TimerId:
        return self._host.set_timer(delay, timer)

    def cancel_timer(self, timer_id: TimerId) -> None:
        self._host.cancel_timer(timer_id)

    def now(self) -> float:
        return self._host.clock.local(self._host.t())

    def log(self, text: str) -> None:
        self._host.emit("log", text=text)

    def complete(self, outcome: str, value: Any) -> None:
        self._host.complete(outcome, value)


SEALED = "labs.runtime.ray_sealed"
"""Among the modules a host preloads: it will host a sealed node, so it boots a nursery too."""


def _import(modules: tuple[str, ...] | list[str]) -> None:
    # An idle process imports the lab's modules ahead of time, as a new process importing
    # them would: otherwise its first call (configure) pays for the imports, a second or
    # more on a busy 2-core machine, and a restart lands that much later than the schedule
    # says. A module that does not import is left for configure to import and report.
    for module in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(module)


class NodeHost:
    """One node's process. Every method runs on the actor's event loop, one at a time."""

    def __init__(self, preload: tuple[str, ...] = ()) -> None:
        # A host starts empty, so that the driver can boot processes ahead of time (process
        # start-up takes seconds) and hand one a node when it needs it, for example on a restart.
        # An empty host has never run node code: it is as fresh as a new process.
        self.configured = False
        self.nursery: Any = None  # for a sealed node (see ray_sealed): booted ahead with the process
        self._import(preload)

    async def preload(self, modules: list[str]) -> None:
        """Import the lab's modules now, before this idle process is handed a node."""
        self._import(modules)

    def _import(self, modules: tuple[str, ...] | list[str]) -> None:
        _import(modules)
        if SEALED in modules and self.nursery is None:
            self.nursery = start_nursery()


    async def configure(self, config: str, server_cls: type[Endpoint] | None, clerk_cls: type[Endpoint] | None,
                        types: list[type], source: str | None = None) -> None:
        """Become node ``config["name"]`` and call the driver back. ``types`` are the cluster's
        message types, nested ones included. With ``source`` (a student's files as text), this
        process imports them itself and finds the classes and types there."""
        c = json.loads(config)
        self.sealed: SealedNode | None = None
        if c.get("sealed"):  # the node's code runs in a sealed child process, never here
            server_cls, clerk_cls, types = Node, None, []
        elif source is not None:
            server_cls, clerk_cls = load_submission(source, Path(c["storage"]).parent / f".code-{c['name']}")
            types = list(cluster_codec([server_cls] + ([clerk_cls] if clerk_cls else [])).types.values())
        assert server_cls is not None
        self.configured = True
        self.name: str = c["name"]
        self.servers: list[str] = c["servers"]
        self.params: dict[str, Any] = dict(c.get("params") or {})
        self.clients: list[str] = c["clients"]
        self.seed: int = c["seed"]
        self.incarnation: int = c["incarnation"]
        self.token: str = c["token"]
        self.driver: tuple[str, int] = (c["driver_host"], c["driver_port"])
        self.ids = int(c["id_base"])
        self.cls: type[Endpoint] = clerk_cls if self.name in self.clients and clerk_cls else server_cls
        self.classes: dict[str, type[Endpoint]] = {n: server_cls for n in self.servers}
        if clerk_cls is not None:
            self.classes.update({n: clerk_cls for n in self.clients})
        self.codec = Codec(types)
        self.disk = FileDisk(self.codec, c["storage"])
        self.holding: list[tuple[str, int, str]] | None = None  # messages of the running handler
        # The run's shared files: one directory beside the nodes' storage, the same for all.
        self.files_root = Path(c["storage"]).parent / "files"
        self.files = DirFiles(self.files_root, self.emit)
        self.running = threading.Event()  # cleared while paused: works wait at their next step
        self.running.set()
        self.pool: ThreadPoolExecutor | None = None
        self.network: Network = network_from_data(c["network"])
        self.blocked: Links = links_from_data(c["blocked"])
        self.clock = Clock()
        self.t0: float = c["t0"]
        self.net_rng = random.Random(f"{self.seed}:{self.name}:{self.incarnation}:net")
        self.mesh = Mesh(self.name, self.token, self.receive)
        self.bind: str = c["bind"]
        self.obj: Endpoint | None = None
        self.generation = 0  # bumps when the node object is replaced: stale timers do nothing
        self.timers: set[TimerId] = set()
        self.fifo_last: dict[str, float] = {}
        self.paused = False
        self.held: list[Callable[[], None]] = []
        self.dead = False
        self.pending: int | None = None
        self.out: list[bytes] = []
        self.writer: asyncio.StreamWriter | None = None
        self.flush_scheduled = False
        if c.get("sealed"):
            self.sealed = SealedNode(self, c, source)
        await self.connect()

    # -- the link to the driver -----------------------------------------------------------

    def t(self) -> float:
        return time.time() - self.t0

    async def connect(self) -> None:
        import ray  # kept here: importing this module loads no Ray (this process, a Ray worker, has it)

        bind = self.bind or str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]
        address = await self.mesh.listen(bind)
        _, self.writer = await asyncio.open_connection(*self.driver)
        self.write({"k": "hello", "token": self.token, "node": self.name,
                    "incarnation": self.incarnation, "pid": os.getpid(),
                    "host": ray.get_runtime_context().get_node_id(), "address": list(address)})

    def write(self, record: dict[str, Any]) -> None:
        self.out.append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        if self.writer is not None and self.out:
            self.writer.write(b"".join(self.out))
            self.out.clear()

    def emit(self, kind: str, **fields: Any) -> None:
        self.write({"k": "ev", "e": {"t": round(self.t(), 6), "type": kind, "node": self.name, **fields}})

    # -- commands from the driver ---------------------------------------------------------

    async def set_peers(self, addresses: str) -> None:
        """Where the other nodes listen: JSON ``{name: [host, port]}``."""
        self.mesh.set_addresses({n: (str(a[0]), int(a[1])) for n, a in json.loads(addresses).items()})

    async def control(self, command: str) -> None:
        c = json.loads(command)
        cmd = c["cmd"]
        if cmd == "start":
            self.t0 = c["t0"]
            self.start()
        elif cmd == "net":
            if "network" in c:
                self.network = network_from_data(c["network"])
            if "blocked" in c:
                self.blocked = links_from_data(c["blocked"])
        elif cmd == "pause":
            self.paused = True
            self.running.clear()  # until the run time the driver set, however late this command came
            asyncio.get_running_loop().call_later(max(0.0, c["until"] - self.t()), self.resume)
        elif cmd == "resume":
            self.resume()
        elif cmd == "memory":
            if self.sealed is not None:
                self.sealed.measure()
            elif self.obj is not None and not self.dead:
                self.emit("memory", bytes=state_size(self.obj), disk=self.disk.used_bytes(), of="fields")
        elif cmd == "skew":
            self.clock.reset(c["since"], c["offset"], c["rate"])  # from when the driver applied it
        elif cmd == "invoke":
            self.invoke(c["index"], Op(c["f"], c.get("key"), c.get("value")))
        elif cmd == "replace":
            self.pending = None
            self.start()
        elif cmd == "crash" and self.sealed is not None:
            self.crash(c["disk"] == "lose")
        elif cmd == "restart" and self.sealed is not None:
            self.incarnation = int(c["incarnation"])
            self.net_rng = random.Random(f"{self.seed}:{self.name}:{self.incarnation}:net")
            self.dead = False
        elif cmd == "role":
            role = None
            if self.sealed is not None:
                role = None if self.dead or self.paused else self.sealed.role()
            elif self.obj is not None and not self.dead and not self.paused:
                try:
                    role = self.obj.role()
                except Exception:
                    role = None
            self.write({"k": "role", "q": c["q"], "role": role if isinstance(role, str) else None})

    def start(self) -> None:
        self.generation += 1
        self.timers.clear()
        self.held.clear()
        self.paused = False
        self.running.set()
        if self.sealed is not None:
            self.sealed.start()
            return

        def boot() -> None:
            self.obj = self.cls()
            self.obj._ctx = _HostContext(self)
            self.obj.on_start()

        self.call("on_start", boot)

    def crash(self, lose_disk: bool) -> None:
        """A sealed node's crash, inside this host (see :meth:`.ray_nodes.RayNodes._crash`): its
        process is killed, so its memory is gone; what this host kept for it goes too (its
        timers, the events held while it was paused, its messages still in flight), as it
        would with this process; its disk stays unless it is lost."""
        self.dead = True
        self.generation += 1
        self.timers.clear()
        self.held.clear()
        self.fifo_last.clear()
        self.paused = False
        self.running.set()
        self.pending = None
        if lose_disk:
            self.disk.wipe()
        assert self.sealed is not None
        self.sealed.crash()

    def resume(self) -> None:
        if not self.paused:
            return
        self.paused = False
        self.running.set()
        self.emit("resume")
        held, self.held = self.held, []
        for action in held:
            action()

    # -- running handlers -----------------------------------------------------------------

    def call(self, what: str, fn: Callable[..., None], *args: Any) -> None:
        """Run a handler. Its storage writes and the messages it sends take effect together when
        it returns (writes first): a crash never leaves half of a handler, as in the simulator."""
        outermost = self.holding is None
        if outermost:
            self.holding = []
            self.disk.begin()
        try:
            fn(*args)
        except Exception as exc:
            report = format_error(self.name, what, exc)
            if self.cls is not None and issubclass(self.cls, Clerk):
                self.obj = None
                self.generation += 1
            else:
                self.dead = True  # handle nothing more; the driver kills this process
            self.write({"k": "error", "report": report, "what": what, "incarnation": self.incarnation})
        finally:
            if outermost:
                self.disk.commit()
                held, self.holding = self.holding or [], None
                for dst, mid, text in held:
                    self.mesh.transmit(dst, mid, text)

    # -- messages -------------------------------------------------------------------------

    def send(self, dst: str, msg: object) -> None:
        check_send(self.name, dst, msg, self.classes)
        try:
            body = self.codec.encode(msg)
        except SerializationError as exc:
            raise NodeError(f"{self.name} cannot send {type(msg).__name__} to {dst}: {exc}") from None
        self.route(dst, type(msg).__name__, body)

    def route(self, dst: str, msg_type: str, body: Any) -> None:
        """A message on its way: the network's faults decided here, in the sender's host."""
        text = json.dumps(body, separators=(",", ":"))
        self.ids += 1
        mid = self.ids
        self.emit("send", dst=dst, id=mid, msg=msg_type, body=body)
        if (self.name, dst) in self.blocked:
            self.emit("drop", src=self.name, dst=dst, id=mid, reason="partition")
            return
        delays = fate(self.net_rng, self.network)
        if not delays:
            self.emit("drop", src=self.name, dst=dst, id=mid, reason="loss")
            return
        if len(delays) > 1:
            self.emit("duplicate", dst=dst, id=mid)
        loop = asyncio.get_running_loop()
        now = loop.time()
        for extra in delays:
            when = now + extra
            if not self.network.reorder:
                when = max(when, self.fifo_last.get(dst, 0.0))
                self.fifo_last[dst] = when
            if when <= now and self.holding is not None:
                self.holding.append((dst, mid, text))  # leaves when the handler returns
            elif when <= now:
                self.mesh.transmit(dst, mid, text)
            else:
                loop.call_at(when, self.transmit_later, self.incarnation, dst, mid, text)

    def transmit_later(self, incarnation: int, dst: str, mid: int, text: str) -> None:
        """A delayed message leaves, unless its sender crashed since (see :meth:`crash`)."""
        if incarnation == self.incarnation and not self.dead:
            self.mesh.transmit(dst, mid, text)

    def receive(self, src: str, mid: int, text: str) -> None:
        if self.sealed is not None:
            self.sealed.receive(src, mid, text)
            return
        if self.dead or self.obj is None or src not in self.classes:
            return
        if not self.admits(src, mid, lambda: self.receive(src, mid, text)):
            return
        try:
            msg = self.codec.loads(text)
        except (ValueError, TypeError):
            return  # not a message of this cluster's types: nothing a node should see
        self.emit("deliver", src=src, id=mid)
        handler = self.obj._handler_for_message(msg)
        if handler is not None:
            self.call(f"{describe(msg)} from {src}", handler, msg, src)

    def admits(self, src: str, mid: int, again: Callable[[], None]) -> bool:
        """Whether message ``mid`` from ``src`` reaches the node now: not over a cut link (it is
        dropped), not while the node is paused (``again`` runs when it resumes)."""
        if (src, self.name) in self.blocked:
            self.emit("drop", src=src, dst=self.name, id=mid, reason="partition")
            return False
        return not self.holds(again)

    def holds(self, again: Callable[[], None]) -> bool:
        """Whether the node is paused; if it is, ``again`` runs when it resumes."""
        if self.paused:
            self.held.append(again)
        return self.paused

    # -- works (see files.py) -------------------------------------------------------------

    def start_work(self, fn: Callable[..., object], args: tuple[Any, ...]) -> int:
        if not callable(fn):
            raise NodeError(f"{self.name}: start_work({fn!r}, ...): give the function to run")
        self.ids += 1
        wid = self.ids
        name = getattr(fn, "__name__", type(fn).__name__)
        generation = self.generation
        loop = asyncio.get_running_loop()
        self.emit("work", id=wid, op="start", name=name)

        def emit(kind: str, **fields: Any) -> None:  # from the work's thread
            loop.call_soon_threadsafe(lambda: self.emit(kind, **fields))

        work = ThreadWork(self.name, DirFiles(self.files_root, emit, self.running.wait),
                          random.Random(f"{self.seed}:{self.name}:{self.incarnation}:work{wid}"),
                          self.running.wait)

        def run() -> None:
            try:
                result = fn(work, *args)
            except Exception as exc:
                loop.call_soon_threadsafe(self.end_work, generation, wid, name, None, exc)
            else:
                loop.call_soon_threadsafe(self.end_work, generation, wid, name, result, None)

        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"work-{self.name}")
        self.pool.submit(run)
        return wid

    def end_work(self, generation: int, wid: int, name: str, result: object,
                 failure: Exception | None) -> None:
        if self.dead or generation != self.generation:
            return  # the node object this work belonged to is gone
        if failure is not None:
            self.emit("work", id=wid, op="error", name=name)

            def fail() -> None:
                raise failure

            self.call(f"work {name}", fail)
            return
        self.emit("work", id=wid, op="end", name=name)
        if result is None or self.obj is None:
            return

        def deliver() -> None:
            check_send(self.name, self.name, result, self.classes)
            try:
                msg = self.codec.loads(self.codec.dumps(result, f"the result of work {name}"))
            except SerializationError as exc:
                raise NodeError(f"{self.name}: the work {name} returned {type(result).__name__}: {exc}") from None
            assert self.obj is not None
            handler = self.obj._handler_for_message(msg)
            assert handler is not None
            handler(msg, self.name)

        self.call(f"the result of work {name}", deliver)

    # -- timers ---------------------------------------------------------------------------

    def set_timer(self, delay: float, timer: object) -> TimerId:
        delay = check_timer(self.name, self.cls, delay, timer)
        self.ids += 1
        tid = self.ids
        self.timers.add(tid)
        self.emit("timer_set", id=tid, timer=type(timer).__name__, delay=delay)
        generation = self.generation
        asyncio.get_running_loop().call_later(
            self.clock.real_delay(delay), self.fire, generation, tid, timer
        )
        return tid

    def cancel_timer(self, tid: TimerId) -> None:
        if tid in self.timers:
            self.timers.discard(tid)
            self.emit("timer_cancel", id=tid)

    def fire(self, generation: int, tid: TimerId, timer: object) -> None:
        if self.dead or generation != self.generation or tid not in self.timers:
            return
        if self.holds(lambda: self.fire(generation, tid, timer)):
            return
        self.timers.discard(tid)
        self.emit("timer_fire", id=tid, timer=type(timer).__name__)
        assert self.obj is not None
        handler = self.obj._handler_for_timer(timer)
        if handler is not None:
            self.call(f"timer {describe(timer)}", handler, timer)

    # -- clerks ---------------------------------------------------------------------------

    def invoke(self, index: int, op: Op) -> None:
        if self.sealed is not None:
            self.sealed.invoke(index, op)
            return
        if not isinstance(self.obj, Clerk):
            return
        self.pending = index
        self.call(f"invoke {op.f}", self.obj.on_invoke, op)

    def complete(self, outcome: str, value: Any) -> None:
        if self.pending is None:
            raise NodeError(f"{self.name}: complete() or fail() called with no operation in progress")
        value = check_result(value)
        index, self.pending = self.pending, None
        self.write({"k": "complete", "index": index, "outcome": outcome, "value": value})

