"""The inside of one Ray actor: hosts one node (or clerk) in its own OS process.

This module does not import Ray: :mod:`.ray_processes` wraps :class:`NodeHost` with ``ray.remote``.

Who talks to whom, and in what:

* **node to node**: JSON lines over direct TCP connections between the node processes (see
  :mod:`.wire` for why not Ray calls). The sender's host applies the schedule's loss, duplication, delay and
  ordering (with the same :func:`~labs.runtime.network.fate` as the simulator) and drops messages
  on cut links; the receiver's host drops what arrives over a link cut meanwhile.
* **driver to host**: ``host.control.remote(number, json_text)``, plain data commands (start,
  network, pause, skew, invoke, replace, role, stop). Ray runs an async actor's calls in any order
  (an ``invoke`` could overtake the ``start`` before it), so the driver numbers its calls and the
  host runs each once those before it have run.
* **host to driver**: JSON lines over a loopback TCP socket: trace events, clerk completions,
  role answers and handler errors. The driver reads them as data and checks every field; it never
  unpickles anything a node or clerk produced, and the socket closing tells it the process died.
* **host to node**: one event at a time, the node handing back its effects as data (see
  :mod:`.ray_hosted`), whether the node's code runs in a sealed child process (a graded run) or
  in this process (:class:`~labs.runtime.nodeside.NodeSide`, a student's own run): one path, so
  that a facility of the node API is written once for Ray.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .clock import Clock
from .codec import Codec
from .files import DirFiles
from .hosting import check_result
from .lab import load_submission
from .network import Links, Network, fate, links_from_data, network_from_data
from .node import Endpoint, NodeError, Op
from .node_classes import cluster_classes
from .nodeside import NodeSide, World
from .ray_hosted import HostedNode, start_nursery
from .storage import FileDisk
from .wire import Mesh

SEALED = "labs.runtime.ray_hosted"
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
        self.next_call = 0  # the number of the driver's next call to run (set_peers, control)
        self.early: dict[int, Callable[[], None]] = {}  # calls that overtook one before them
        self.nursery: Any = None  # for a sealed node (see ray_hosted): booted ahead with the process
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
        process imports them itself and finds the classes and types there. A sealed node's
        classes are its sealed process's to load (none given here)."""
        c = json.loads(config)
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
        local = None
        if not c.get("sealed"):  # the node's code runs here, event by event as in a sealed process
            if source is not None:
                server_cls, clerk_cls = load_submission(source, Path(c["storage"]).parent / f".code-{c['name']}")
            assert server_cls is not None
            classes, codec = cluster_classes(server_cls, clerk_cls, self.servers, self.clients)
            if types:  # the driver's list: annotations it could resolve and this process may not
                codec = Codec(types)
            servers = tuple(self.servers)
            params = self.params

            def local(name: str, world: World) -> NodeSide:
                return NodeSide(name, classes[name], classes, codec, servers, params, world)

        self.disk = FileDisk(Codec(), c["storage"])  # values arrive encoded: its codec never runs
        self.holding: list[tuple[str, int, str]] | None = None  # messages of the event being handled
        # The run's shared files: one directory beside the nodes' storage, the same for all.
        self.files = DirFiles(Path(c["storage"]).parent / "files", self.emit)
        self.network: Network = network_from_data(c["network"])
        self.blocked: Links = links_from_data(c["blocked"])
        self.clock = Clock()
        self.t0: float = c["t0"]
        self.net_rng = random.Random(f"{self.seed}:{self.name}:{self.incarnation}:net")
        self.mesh = Mesh(self.name, self.token, self.receive)
        self.bind: str = c["bind"]
        self.generation = 0  # bumps when the node object is replaced: stale timers and works do nothing
        self.fifo_last: dict[str, float] = {}
        self.paused = False
        self.held: list[Callable[[], None]] = []
        self.dead = False
        self.pending: int | None = None
        self.out: list[bytes] = []
        self.writer: asyncio.StreamWriter | None = None
        self.flush_scheduled = False
        # The actor's loop, named here: a node's work in this process calls the host from its own
        # thread, while the loop's thread waits for that work's step to end (see simwork).
        self.loop = asyncio.get_running_loop()
        self.node = HostedNode(self, c, source, local)
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
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        if self.writer is not None and self.out:
            self.writer.write(b"".join(self.out))
            self.out.clear()

    def emit(self, kind: str, **fields: Any) -> None:
        self.write({"k": "ev", "e": {"t": round(self.t(), 6), "type": kind, "node": self.name, **fields}})

    # -- commands from the driver ---------------------------------------------------------

    def _in_order(self, number: int, call: Callable[[], None]) -> None:
        """Run the driver's call ``number`` once every call numbered before it has run: Ray does
        not keep the order of an async actor's calls, and the driver's commands need it."""
        self.early[number] = call
        failed: list[Exception] = []
        while self.next_call in self.early:
            run = self.early.pop(self.next_call)
            self.next_call += 1
            try:
                run()
            except Exception as exc:  # a command's failure is its own: the next ones still run
                failed.append(exc)
        if failed:
            raise failed[0]

    async def set_peers(self, number: int, addresses: str) -> None:
        """Where the other nodes listen: JSON ``{name: [host, port]}``."""
        peers = {n: (str(a[0]), int(a[1])) for n, a in json.loads(addresses).items()}
        self._in_order(number, lambda: self.mesh.set_addresses(peers))

    async def control(self, number: int, command: str) -> None:
        c = json.loads(command)
        self._in_order(number, lambda: self._command(c))

    def _command(self, c: dict[str, Any]) -> None:
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
            self.paused = True  # until the run time the driver set, however late this command came
            asyncio.get_running_loop().call_later(max(0.0, c["until"] - self.t()), self.resume)
        elif cmd == "resume":
            self.resume()
        elif cmd == "memory":
            self.node.measure()
        elif cmd == "skew":
            self.clock.reset(c["since"], c["offset"], c["rate"])  # from when the driver applied it
        elif cmd == "invoke":
            self.node.invoke(c["index"], Op(c["f"], c.get("key"), c.get("value")))
        elif cmd == "replace":
            self.pending = None
            self.start()
        elif cmd == "crash":
            self.crash(c["disk"] == "lose")
        elif cmd == "restart":
            self.incarnation = int(c["incarnation"])
            self.net_rng = random.Random(f"{self.seed}:{self.name}:{self.incarnation}:net")
            self.dead = False
        elif cmd == "role":
            role = None if self.dead or self.paused else self.node.role()
            self.write({"k": "role", "q": c["q"], "role": role if isinstance(role, str) else None})

    def start(self) -> None:
        self.generation += 1
        self.held.clear()
        self.paused = False
        self.node.start()

    def crash(self, lose_disk: bool) -> None:
        """A sealed node's crash, inside this host (see :meth:`.ray_nodes.RayNodes._crash`): its
        process is killed, so its memory is gone; what this host kept for it goes too (its
        timers, the events held while it was paused, its messages still in flight), as it
        would with this process; its disk stays unless it is lost."""
        self.dead = True
        self.generation += 1
        self.held.clear()
        self.fifo_last.clear()
        self.paused = False
        self.pending = None
        if lose_disk:
            self.disk.wipe()
        self.node.crash()

    def resume(self) -> None:
        if not self.paused:
            return
        self.paused = False
        self.emit("resume")
        held, self.held = self.held, []
        for action in held:
            action()

    # -- messages -------------------------------------------------------------------------

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
        loop = self.loop
        now = loop.time()
        for extra in delays:
            when = now + extra
            if not self.network.reorder:
                when = max(when, self.fifo_last.get(dst, 0.0))
                self.fifo_last[dst] = when
            if when <= now and self.holding is not None:
                self.holding.append((dst, mid, text))  # leaves when the event's effects are applied
            elif when <= now:
                self.mesh.transmit(dst, mid, text)
            else:
                loop.call_at(when, self.transmit_later, self.incarnation, dst, mid, text)

    def transmit_later(self, incarnation: int, dst: str, mid: int, text: str) -> None:
        """A delayed message leaves, unless its sender crashed since (see :meth:`crash`)."""
        if incarnation == self.incarnation and not self.dead:
            self.mesh.transmit(dst, mid, text)

    def receive(self, src: str, mid: int, text: str) -> None:
        self.node.receive(src, mid, text)

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

    # -- clerks ---------------------------------------------------------------------------

    def complete(self, outcome: str, value: Any) -> None:
        if self.pending is None:
            raise NodeError(f"{self.name}: complete() or fail() called with no operation in progress")
        value = check_result(value)
        index, self.pending = self.pending, None
        self.write({"k": "complete", "index": index, "outcome": outcome, "value": value})
