"""A node's own side of the simulator: it runs the node's code, one event at a time, and hands
back what the node did as plain data.

The simulator is cut in two at the node API. The *world* (:mod:`.sim`) owns everything a test
decides with: virtual time, the seeded randomness of the network, the fates of messages, the
faults, the disks, the shared files, the clients' workload and the trace. A :class:`NodeSide`
owns one incarnation of one node: the object, its live timers and works. The world hands it an
event (a start, a message, a timer, an operation to invoke, a step of a work); it runs the
node's handler and returns the node's *effects*, in the order the node made them::

    ["send", dst, message type, body]          ["timer", id, timer type, delay]
    ["cancel", id]                             ["log", text]
    ["complete", "ok" | "fail", value]         ["work", id, function name]
    ["put", key, encoded value]                ["del", key]

What needs an answer (a file read, the start of a write) is a *call*: the effects so far go with
it, the world applies them, then answers. So the world sees every effect in the order it
happened, and a run is the same, event for event, wherever the node side runs: in the
simulator's own process (:class:`LocalRunner`, students' runs), or in a process of its own that
can reach nothing but the world (:mod:`.worker`, graded runs), where the node cannot touch the
network's dice, the schedule or the other nodes, because they are not there.

Ids (of messages, timers and works) come from one counter the world keeps: each event carries
its current value, and the node side counts on from it exactly as the world will when it
applies the effects.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from .canonical import node_state
from .codec import Codec, SerializationError
from .hosting import check_result, check_send, check_timer, describe, format_error, state_size
from .lab import Lab
from .node import Clerk, Endpoint, NodeError, Op, Storage, TimerId
from .node_classes import cluster_classes
from .simwork import SimWork

Effect = tuple[Any, ...]
Reply = tuple[list[Effect], "str | None", Any]
"""What an event gives back: the node's effects, the report of the error that crashed it (or
None) and the event's value (a step's wait, a role, a measurement)."""


class World(Protocol):
    """The world's side of a call: apply ``effects``, then answer ``request``; returns the answer
    and the id counter after it. A request the world refuses comes back as an exception."""

    def call(self, effects: list[Effect], request: tuple[Any, ...]) -> tuple[Any, int]: ...


class CallRefused(Exception):
    """A call the world answered with an error: ``kind`` names the exception to raise."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


class NodeSide:
    """One incarnation of one node, run event by event (see the module's docstring)."""

    own_process = False
    """It shares the simulator's process: its memory is the size of its fields (``("measure",)``)."""
    dead = False
    """It never dies on its own: a ``start`` event begins its next incarnation."""

    def __init__(self, name: str, cls: type[Endpoint], classes: Mapping[str, type[Endpoint]], codec: Codec,
                 nodes: tuple[str, ...], params: Mapping[str, Any], world: World) -> None:
        self.name = name
        self.cls = cls
        self.classes = dict(classes)
        self.codec = codec
        self.nodes = nodes
        self.params = params
        self.world = world
        self.obj: Endpoint | None = None
        self.now = 0.0
        self.ids = 0
        self.effects: list[Effect] = []
        self.pending = False
        self.timers: dict[TimerId, object] = {}
        self.works: dict[int, tuple[Callable[..., object], tuple[Any, ...], str]] = {}
        self.running: dict[int, SimWork] = {}
        self.results: dict[int, object] = {}
        self.disk = _Disk(self)
        self.random = random.Random()

    # -- events ---------------------------------------------------------------------------

    def handle(self, now: float, ids: int, event: tuple[Any, ...]) -> Reply:
        """Run one event: ``("start", disk, random state, pending)``, ``("deliver", src, body)``,
        ``("fire", id)``, ``("invoke", f, key, value)``, ``("step", id, random state, rate)``,
        ``("result", id)``, ``("role",)``, ``("measure",)`` or ``("dump",)``."""
        self.now, self.ids, self.effects = now, ids, []
        kind = event[0]
        value: Any = None
        error: str | None = None
        try:
            if kind == "step":
                value, error = self._step(int(event[1]), event[2], event[3])
            elif kind == "role":
                value = self._role()
            elif kind == "measure":
                value = state_size(self.obj) if self.obj is not None else 0
            elif kind == "dump":  # for the search: the node's state as data, or why it is not
                try:
                    value = ["state", None if self.obj is None else node_state(self.name, self.obj, self.timers, self.random)]
                except NodeError as exc:
                    value = ["error", str(exc)]
            else:
                what, run = self._handler(kind, event)
                try:
                    run()
                except Exception as exc:
                    error = format_error(self.name, what, exc)
        finally:
            effects, self.effects = self.effects, []
        return effects, error, value

    def _handler(self, kind: str, event: tuple[Any, ...]) -> tuple[str, Callable[[], None]]:
        """What the event is (as an error report names it) and the code that handles it."""
        if kind == "start":  # a new incarnation (in this process again, for a clerk's next user)
            _, disk, state, pending = event
            self.stop()
            self.timers.clear()
            self.works.clear()
            self.results.clear()
            self.disk.load(disk)
            self.random.setstate(state)
            self.pending = bool(pending)
            return "on_start", self._boot
        obj = self.obj
        if obj is None:
            raise NodeError(f"{self.name} got {kind} before it started")
        if kind == "deliver":
            src, body = str(event[1]), event[2]
            msg = self.codec.decode(body)
            handler = obj._handler_for_message(msg)
            if handler is None:
                raise NodeError(f"{self.name} has no handler for {type(msg).__name__}")
            return f"{describe(msg)} from {src}", lambda: handler(msg, src)
        if kind == "fire":
            timer = self.timers.pop(int(event[1]))
            on_timer = obj._handler_for_timer(timer)
            assert on_timer is not None  # set_timer made sure
            return f"timer {describe(timer)}", lambda: on_timer(timer)
        if kind == "invoke":
            op = Op(str(event[1]), event[2], event[3])
            self.pending = True
            assert isinstance(obj, Clerk)
            return f"invoke {op.f}", lambda: obj.on_invoke(op)
        if kind == "result":
            wid = int(event[1])
            name = self.works[wid][2]
            return f"the result of work {name}", lambda: self._take_result(wid)
        raise NodeError(f"{self.name}: unknown event {kind!r}")

    def _boot(self) -> None:
        self.obj = self.cls()
        self.obj._ctx = _Context(self)
        self.obj.on_start()

    def _role(self) -> str | None:
        if self.obj is None:
            return None
        try:
            role = self.obj.role()
        except Exception:  # a role() that raises names no role
            return None
        return role if isinstance(role, str) else None

    # -- works ----------------------------------------------------------------------------

    def _step(self, wid: int, state: Any, rate: float | None) -> tuple[float | str | None, str | None]:
        """Let a work run until it needs time (returns the wait) or ends: returns ``"result"`` when
        it returned a message to handle, else None, and the report of its failure if it raised."""
        work = self.running.get(wid)
        if work is None:
            fn, args, _ = self.works[wid]
            rng = random.Random()
            rng.setstate(state)
            assert rate is not None
            work = self.running[wid] = SimWork(self.name, _WorkHost(self), rng, fn, args, float(rate))
        wait = work.step()
        if wait is not None:
            return wait, None
        del self.running[wid]
        if work.failure is not None:
            return None, format_error(self.name, f"work {self.works[wid][2]}", work.failure)
        if work.result is None:
            return None, None
        self.results[wid] = work.result
        return "result", None

    def _take_result(self, wid: int) -> None:
        result = self.results.pop(wid)
        check_send(self.name, self.name, result, self.classes)
        try:
            msg = self.codec.decode(self.codec.encode(result))
        except SerializationError as exc:
            raise NodeError(f"{self.name}: the work {self.works[wid][2]} returned {type(result).__name__}: "
                            f"{exc}") from None
        assert self.obj is not None
        handler = self.obj._handler_for_message(msg)
        assert handler is not None
        handler(msg, self.name)

    def memory(self) -> int | None:
        return None  # not a process of its own: the world asks for the size of its fields

    def stop(self) -> None:
        """The node's process ends (a crash, or the end of the run): its works stop where they are."""
        for work in list(self.running.values()):
            work.cancel()
        self.running.clear()
        self.obj = None

    # -- what the node does ---------------------------------------------------------------

    def effect(self, *effect: Any) -> None:
        self.effects.append(effect)

    def call(self, *request: Any) -> Any:
        effects, self.effects = self.effects, []
        try:
            answer, self.ids = self.world.call(effects, request)
        except CallRefused as exc:
            raise (FileNotFoundError if exc.kind == "FileNotFoundError" else NodeError)(str(exc)) from None
        return answer

    def next_id(self) -> int:
        self.ids += 1
        return self.ids


class _Context:
    """The node API's view of a :class:`NodeSide` (see :class:`~labs.runtime.node.Context`)."""

    def __init__(self, side: NodeSide) -> None:
        self._side = side
        self.node_id = side.name
        self.nodes = side.nodes
        self.params = side.params
        self.storage: Storage = side.disk
        self.random = side.random
        self.files = _Files(side)

    def send(self, dst: str, msg: object) -> None:
        side = self._side
        check_send(side.name, dst, msg, side.classes)
        try:
            body = side.codec.encode(msg)
        except SerializationError as exc:
            raise NodeError(f"{side.name} cannot send {type(msg).__name__} to {dst}: {exc}") from None
        side.next_id()
        side.effect("send", dst, type(msg).__name__, body)

    def start_work(self, fn: Callable[..., object], args: tuple[Any, ...]) -> int:
        side = self._side
        if not callable(fn):
            raise NodeError(f"{side.name}: start_work({fn!r}, ...): give the function to run")
        wid = side.next_id()
        name = getattr(fn, "__name__", type(fn).__name__)
        side.works[wid] = (fn, args, str(name))
        side.effect("work", wid, str(name))
        return wid

    def set_timer(self, delay: float, timer: object) -> TimerId:
        side = self._side
        delay = check_timer(side.name, side.cls, delay, timer)
        tid = side.next_id()
        side.timers[tid] = timer
        side.effect("timer", tid, type(timer).__name__, delay)
        return tid

    def cancel_timer(self, timer_id: TimerId) -> None:
        side = self._side
        if timer_id in side.timers:
            del side.timers[timer_id]
            side.effect("cancel", timer_id)

    def now(self) -> float:
        return self._side.now

    def log(self, text: str) -> None:
        self._side.effect("log", str(text))

    def complete(self, outcome: str, value: Any) -> None:
        side = self._side
        if not side.pending:
            raise NodeError(f"{side.name}: complete() or fail() called with no operation in progress")
        value = check_result(value)
        side.pending = False
        side.effect("complete", outcome, value)


class _Disk(Storage):
    """The node's view of its disk: the world keeps the disk; this copy answers reads at once,
    and every write goes to the world as an effect."""

    def __init__(self, side: NodeSide) -> None:
        self._side = side
        self._data: dict[str, str] = {}

    def load(self, data: Mapping[str, str]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> Any:
        return self._side.codec.loads(self._data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"storage keys are strings, got {type(key).__name__} {key!r}")
        text = self._side.codec.dumps(value, f"storage[{key!r}]")
        self._data[key] = text
        self._side.effect("put", key, text)

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._side.effect("del", key)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)


class _Files:
    """The run's shared files, from a handler: every operation is a call to the world."""

    def __init__(self, side: NodeSide) -> None:
        self._side = side

    def read(self, name: str) -> str:
        return str(self._side.call("files", "read", name))

    def write(self, name: str, text: str) -> None:
        self._side.call("files", "write", name, text)

    def rename(self, src: str, dst: str) -> None:
        self._side.call("files", "rename", src, dst)

    def remove(self, name: str) -> None:
        self._side.call("files", "remove", name)

    def exists(self, name: str) -> bool:
        return bool(self._side.call("files", "exists", name))

    def list(self, prefix: str = "") -> list[str]:
        return [str(n) for n in self._side.call("files", "list", prefix)]


class _WorkHost:
    """The shared files as a work sees them (see :class:`~labs.runtime.simwork.WorkHost`)."""

    def __init__(self, side: NodeSide) -> None:
        self._side = side

    def text(self, name: str) -> str | None:
        answer = self._side.call("text", name)
        return None if answer is None else str(answer)

    def names(self) -> list[str]:
        return [str(n) for n in self._side.call("names")]

    def write_begins(self, name: str, text: str, duration: float) -> int:
        return int(self._side.call("write_begins", name, text, duration))

    def write_ends(self, key: int) -> None:
        self._side.call("write_ends", key)

    def renamed(self, src: str, dst: str) -> None:
        self._side.call("renamed", src, dst)

    def removed(self, name: str) -> None:
        self._side.call("removed", name)


class NodeProcess(Protocol):
    """One incarnation of a node, wherever it runs (:class:`~labs.runtime.nodeside.NodeSide`)."""

    own_process: bool
    """True when it has a process of its own, whose memory the world measures from outside."""

    @property
    def dead(self) -> bool:
        """Its process ended: a new incarnation needs a new one."""
        ...

    def handle(self, now: float, ids: int, event: tuple[Any, ...]) -> Reply: ...
    def memory(self) -> int | None:
        """Bytes its process holds, read by the world from outside it (None: unreadable)."""
        ...
    def stop(self) -> None: ...


NodeProcesses = Callable[[str, World], NodeProcess]
"""What starts a node's process: given its name and the world it calls, a fresh incarnation."""


class LocalNodes:
    """Node processes that are objects in the simulator's own process (students' runs)."""

    def __init__(self, lab: Lab) -> None:
        self.classes, self.codec = cluster_classes(lab.node, lab.clerk, lab.node_names(), lab.client_names())
        self.servers = tuple(lab.node_names())
        self.params = lab.params

    def __call__(self, name: str, world: World) -> NodeSide:
        return NodeSide(name, self.classes[name], self.classes, self.codec, self.servers, self.params, world)
