"""A Ray actor's hold on its node: one event at a time, effects back as data.

Each Ray actor (:class:`.ray_actor.NodeHost`) plays the world for its one node, in real time,
with the event protocol of the simulator's node processes (:mod:`.nodeside`): it hands the node
one event at a time (a start, a message, a timer, an operation, a step of a work) and applies the
effects it hands back as data. Where the node's code runs is the only difference:

* in a student's own run, in the actor's process (a :class:`~labs.runtime.nodeside.NodeSide`);
* in a graded run, in a sealed child of the actor's process, never in it (below).

In a graded run (``run_ray(..., sealed=True)``) each Ray actor runs runtime code only. It starts
a :mod:`.nursery` of its own, which forks the node's process into namespaces that reach nothing
but one socket back to the actor (no network, no other process, every folder read-only but a
private ``/tmp``), exactly as in the grader's simulator runs; the events and effects cross that
socket (:mod:`.worker`).

So everything that decides a grade stays in processes that run no student code: the actor keeps
the node's timers (and its clock's skew), its disk (a file only the actor writes), decides each
message's fate (loss, delay, duplication, order) and delivers it over the hosts' own links, holds
events while the node is paused, and measures the node's process from outside. Node processes
cannot reach each other, the driver or Ray. A crash kills the node's process and keeps the
actor: it forgets the node's timers, works and messages in flight, and a restart is a new process
from its nursery, ready in a moment (a new actor takes seconds to boot on a busy machine, and the
schedule would run ahead of it). Should the actor itself die, the driver starts another.

Works (``start_work``, the MapReduce lab) run in the node's process too, step by step as in the
simulator (:mod:`.simwork`): the actor hands a work one step at a time and waits, in real time,
for as long as the step asked (a ``spend``, a file's reading or writing at :data:`WORK_BYTES_PER_SECOND`)
before the next. Every question about the run's shared files, from a handler or a work, is a
call the actor answers from the files' folder, which only the actors write.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from .clock import Clock
from .files import FILE_OPERATIONS, DirFiles, _text, check_name
from .node import NodeError, Op
from .nodeside import CallRefused, Effect, NodeProcess, NodeProcesses
from .nursery import IsolationError, Nursery
from .storage import FileDisk
from .wire import Mesh
from .worker import Budget, NodeHung, RunAborted

HANDLER_SECONDS = 10.0
"""Seconds of real time one event may take the node's process before it counts as hung."""
NURSERY_POOL = 1
"""Node processes a host's nursery keeps ready: one, for a clerk replaced after a failure."""


class Actor(Protocol):
    """What a hosted node (sealed or not) uses of the Ray actor that holds it (:class:`~labs.runtime.ray_actor.NodeHost`):
    the run's facts, its disk, clock, links and shared files, and its link to the driver."""

    name: str
    servers: list[str]
    clients: list[str]
    params: dict[str, Any]
    seed: int
    incarnation: int
    generation: int
    """Bumps when the node object is replaced: stale timers and works do nothing."""
    ids: int
    """The counter of the ids of messages, timers and works, shared with the node's process."""
    pending: int | None
    """The clerk's operation in progress, by index."""
    dead: bool
    holding: list[tuple[str, int, str]] | None
    """The messages of the event being handled: they leave when it is done."""
    nursery: Nursery | None
    loop: asyncio.AbstractEventLoop
    disk: FileDisk
    clock: Clock
    mesh: Mesh
    files: DirFiles

    def t(self) -> float: ...
    def emit(self, kind: str, **fields: Any) -> None: ...
    def write(self, record: dict[str, Any]) -> None: ...
    def route(self, dst: str, msg_type: str, body: Any) -> None: ...
    def complete(self, outcome: str, value: Any) -> None: ...
    def admits(self, src: str, mid: int, again: Callable[[], None]) -> bool: ...
    def holds(self, again: Callable[[], None]) -> bool: ...


def start_nursery() -> Nursery:
    """The nursery of one host's sealed node: a process of its own, as this one's user."""
    return Nursery(pool=NURSERY_POOL)


WORK_BYTES_PER_SECOND = 50_000_000
"""How fast a work on Ray reads and writes the shared files: a real disk's speed (the files are a
real folder, but a work's file operations are the host's to time, as the simulator's are)."""


class _SharedFiles:
    """The run's shared files as a sealed node's process asks about them: its effects so far, then
    one question (see :mod:`.nodeside`), from a handler (the questions of
    :class:`~labs.runtime.files.Files`) or from a work (those of
    :class:`~labs.runtime.simwork.WorkHost`); the Ray twin of :class:`~labs.runtime.simnodes.SlotFiles`.
    Everything asked is checked first: the node's process may say anything."""

    def __init__(self, node: HostedNode) -> None:
        self._node = node
        self._writing: dict[int, tuple[str, str]] = {}

    def call(self, effects: list[Effect], request: tuple[Any, ...]) -> tuple[Any, int]:
        node = self._node
        node._apply(effects)
        try:
            answer = self._answer(request)
        except (FileNotFoundError, ValueError, TypeError) as exc:
            raise CallRefused(type(exc).__name__, str(exc)) from None
        except (KeyError, AttributeError, IndexError, OSError) as exc:
            raise CallRefused("NodeError", f"a call that makes no sense: {str(request[0])[:40]!r} ({exc!r})") from None
        return answer, node.host.ids

    def _answer(self, request: tuple[Any, ...]) -> Any:
        files = self._node.host.files
        kind, args = request[0], request[1:]
        if kind == "files" and args and args[0] in FILE_OPERATIONS:
            return getattr(files, args[0])(*args[1:])
        if kind == "text":
            return files.read(args[0]) if files.exists(args[0]) else None
        if kind == "names":
            return files.list()
        if kind == "write_begins":  # the file is empty until the write ends: a crash leaves it so
            name, text, _ = args
            files.write_begins(check_name(name), _text(text))
            self._node.host.ids += 1
            self._writing[self._node.host.ids] = (name, text)
            return self._node.host.ids
        if kind == "write_ends":
            files.write_ends(*self._writing.pop(args[0]))
            return None
        if kind == "renamed":
            return files.rename(args[0], args[1])
        if kind == "removed":
            return files.remove(args[0])
        raise ValueError(f"no such call: {str(kind)[:40]!r}")


class HostedNode:
    """The host's side of one node (see the module's docstring): ``local`` starts the node in
    this process; without it, the node runs in a sealed process of the host's nursery."""

    def __init__(self, host: Actor, config: dict[str, Any], source: str | None,
                 local: NodeProcesses | None = None) -> None:
        self.host = host
        self.peers = set(host.servers) | set(host.clients)
        self.budget = Budget(time.monotonic() + HANDLER_SECONDS)  # each event renews its deadline
        if local is not None:
            self.nodes = local
        else:
            nursery: Nursery = host.nursery or start_nursery()
            run = {"lab": config["lab"], "server": config.get("server"), "clerk": config.get("clerk"),
                   "source": source, "servers": host.servers, "clients": host.clients, "params": host.params}
            self.nodes = nursery.run(run, budget=self.budget)
        # Ready before the driver says start: the student's files are loaded by then.
        self.files = _SharedFiles(self)
        self.process: NodeProcess | None = self.nodes(host.name, self.files)
        self.timers: dict[int, str] = {}
        self.works: dict[int, str] = {}  # running: number -> function name
        self.started = False  # messages that come before the driver says start find no node
        self.failed = False  # a clerk's handler raised: it handles nothing until it is replaced

    # -- events ---------------------------------------------------------------------------

    def start(self) -> None:
        """A new incarnation: a fresh object in the node's process (a new process if it died)."""
        host = self.host
        self.timers.clear()
        self.works.clear()
        self.failed = False
        self.started = True
        if self.process is None or self.process.dead:
            try:
                self.process = self.nodes(host.name, self.files)
            except IsolationError as exc:
                self._error(f"{host.name}'s process could not start: {exc}", "on_start")
                return
        rng = random.Random(f"{host.seed}:{host.name}:{host.incarnation}:{host.generation}")
        self._event(("start", host.disk.texts(), rng.getstate(), host.pending is not None), "on_start")

    def crash(self) -> None:
        """The node's process is killed (its memory with it); a start gets a new one."""
        if self.process is not None:
            self.process.stop()
        self.timers.clear()
        self.works.clear()
        self.started = False
        self.failed = False

    def receive(self, src: str, mid: int, text: str) -> None:
        host = self.host
        if not self.started or host.dead or self.failed or self.process is None or src not in self.peers:
            return
        if not host.admits(src, mid, lambda: self.receive(src, mid, text)):
            return
        try:
            body = json.loads(text)
        except ValueError:
            return
        host.emit("deliver", src=src, id=mid)
        self._event(("deliver", src, body), f"a message from {src}")

    def fire(self, generation: int, tid: int) -> None:
        host = self.host
        if host.dead or self.failed or generation != host.generation or tid not in self.timers:
            return
        if host.holds(lambda: self.fire(generation, tid)):
            return
        host.emit("timer_fire", id=tid, timer=self.timers.pop(tid))
        self._event(("fire", tid), "a timer")

    def invoke(self, index: int, op: Op) -> None:
        if not self.started or self.host.dead or self.failed:
            return
        self.host.pending = index
        self._event(("invoke", op.f, op.key, op.value), f"invoke {op.f}")

    def role(self) -> str | None:
        if not self.started or self.process is None or self.failed:
            return None
        value, error = self._ask(("role",))
        return value if error is None and isinstance(value, str) else None

    def measure(self) -> None:
        """The node's memory, read from outside its process (in this process, the size of its
        fields), and its disk as this host keeps it."""
        host = self.host
        if self.process is None or host.dead or not self.started:
            return
        if self.process.own_process:
            host.emit("memory", bytes=self.process.memory(), disk=host.disk.used_bytes(), of="process")
            return
        size, error = self._ask(("measure",))
        if error is None and isinstance(size, int):
            host.emit("memory", bytes=size, disk=host.disk.used_bytes(), of="fields")

    # -- the node's process ---------------------------------------------------------------

    def _ask(self, event: tuple[Any, ...]) -> tuple[Any, str | None]:
        assert self.process is not None
        host = self.host
        self.budget.deadline = time.monotonic() + HANDLER_SECONDS
        try:
            effects, error, value = self.process.handle(host.clock.local(host.t()), host.ids, event)
        except NodeHung as exc:  # its process is killed: a restart or a new clerk gets a new one
            self.process.stop()
            return None, f"{exc} (in {HANDLER_SECONDS:g} s of real time)"
        except RunAborted as exc:  # it handed back more than a run may hold: it is stopped too
            self.process.stop()
            return None, f"{host.name} was stopped while handling {event[0]}: {exc}"
        try:
            self._apply(effects)
        except NodeError as exc:  # what the node's process handed back makes no sense
            error = error or f"{host.name} crashed while handling {event[0]}: {exc}"
        return value, error

    def _event(self, event: tuple[Any, ...], what: str) -> None:
        _, error = self._ask(event)
        if error is not None:
            self._error(error, what)

    def _error(self, report: str, what: str) -> None:
        """As a handler that raised in the host's own process: a server is dead (the driver
        crashes it); a clerk handles nothing more until the driver replaces it."""
        host = self.host
        if host.name in host.clients:
            self.failed = True
            host.generation += 1
        else:
            host.dead = True
        host.write({"k": "error", "report": report, "what": what, "incarnation": host.incarnation})

    def _apply(self, effects: list[Effect]) -> None:
        """The effects of one event, in order; its disk writes take effect before its messages
        leave (one line in the disk's log: a crash never keeps half of a handler's writes)."""
        host = self.host
        writes: list[tuple[str, str | None]] = []
        host.holding = []
        try:
            for e in effects:
                kind = e[0]
                if kind == "send":
                    if e[1] not in self.peers:
                        raise NodeError(f"{host.name} sent {e[2]} to {e[1]!r}, which is not in this cluster")
                    host.route(e[1], e[2], e[3])
                elif kind == "timer":
                    self._set_timer(int(e[1]), str(e[2]), float(e[3]))
                elif kind == "cancel":
                    if self.timers.pop(e[1], None) is not None:
                        host.emit("timer_cancel", id=e[1])
                elif kind == "log":
                    host.emit("log", text=e[1])
                elif kind == "complete":
                    host.complete(e[1], e[2])
                elif kind == "put":
                    writes.append((e[1], e[2]))
                elif kind == "del":
                    writes.append((e[1], None))
                else:  # "work"
                    self._start_work(int(e[1]), str(e[2]))
        finally:
            if writes:
                host.disk.write_texts(writes)
            held, host.holding = host.holding or [], None
            for dst, mid, text in held:
                host.mesh.transmit(dst, mid, text)

    # -- works ----------------------------------------------------------------------------

    def _start_work(self, wid: int, name: str) -> None:
        host = self.host
        host.ids += 1
        if wid != host.ids:
            raise NodeError(f"{host.name}'s process numbered a work {wid}, out of step with the runtime ({host.ids})")
        self.works[wid] = name
        host.emit("work", id=wid, op="start", name=name)
        rng = random.Random(f"{host.seed}:{host.name}:{host.incarnation}:work{wid}")
        first = ("step", wid, rng.getstate(), WORK_BYTES_PER_SECOND)
        # It starts once the handler that started it has returned, as a thread would.
        self.host.loop.call_soon(self._step, host.generation, wid, first)

    def _step(self, generation: int, wid: int, event: tuple[Any, ...]) -> None:
        """One step of a work; then the next, as many seconds later as this one asked."""
        host = self.host
        if host.dead or self.failed or generation != host.generation or wid not in self.works:
            return
        if host.holds(lambda: self._step(generation, wid, event)):
            return
        name = self.works[wid]
        wait, error = self._ask(event)
        if error is None and not (wait is None or wait == "result" or _seconds(wait)):
            error = f"{host.name} crashed while running the work {name}: its process said to wait {wait!r}"
        if error is not None:
            del self.works[wid]
            host.emit("work", id=wid, op="error", name=name)
            self._error(error, f"work {name}")
            return
        if wait is not None and wait != "result":
            self.host.loop.call_later(float(wait), self._step, generation, wid, ("step", wid, None, None))
            return
        del self.works[wid]
        host.emit("work", id=wid, op="end", name=name)
        if wait == "result":
            self._event(("result", wid), f"the result of work {name}")

    def _set_timer(self, tid: int, timer: str, delay: float) -> None:
        host = self.host
        host.ids += 1
        if tid != host.ids:
            raise NodeError(f"{host.name}'s process numbered a timer {tid}, out of step with the runtime ({host.ids})")
        self.timers[tid] = timer
        host.emit("timer_set", id=tid, timer=timer, delay=delay)
        generation = host.generation
        self.host.loop.call_later(host.clock.real_delay(delay), self.fire, generation, tid)


def _seconds(wait: object) -> bool:
    return type(wait) in (int, float) and 0 <= wait < math.inf  # type: ignore[operator]


__all__ = ["Actor", "HostedNode", "start_nursery"]
