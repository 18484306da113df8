"""The node API: what a student writes against.

A node is a class with fields and handlers, nothing else::

    @dataclass(frozen=True)
    class Ping:
        n: int

    class Echo(Node):
        def on_start(self) -> None:
            self.seen = self.storage.get("seen", 0)

        @on(Ping)
        def handle_ping(self, msg: Ping, sender: str) -> None:
            self.seen += 1
            self.storage["seen"] = self.seen
            self.send(sender, Ping(msg.n + 1))

A server is a :class:`Node`; a lab's client library is a :class:`Clerk`. Both are an
:class:`Endpoint` (handlers, timers, messages, a clock, random numbers, a log); a node has storage
and peers besides, a clerk its operations. A lab whose nodes share files (MapReduce) mixes in
:class:`SharedFiles`: only its students see ``files`` and ``start_work``.

The runtime (the simulator or Ray) creates the object, calls :meth:`Node.on_start`, then calls one
handler at a time, each to completion. Handlers never block and never sleep: to wait, set a timer.
A node never touches Ray, sockets or threads, which is why the same class runs unchanged in both
runtimes.

Mistakes are caught when the class is defined, not hours into a test run: a handler for something
that is not a dataclass, two handlers for one type, a handler with the wrong parameters, and a
method that looks like a handler (``on_...`` or ``handle_...``) but has no decorator.
"""

from __future__ import annotations

import difflib
import inspect
import random
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, is_dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from .codec import JSON, unsendable_annotations
from .files import Files, Work

__all__ = ["Clerk", "Endpoint", "Files", "Node", "NodeDefinitionError", "Op", "SharedFiles", "Storage", "TimerId",
           "Work", "on", "on_timer"]

M = TypeVar("M")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., None])

TimerId = int
"""What :meth:`Node.set_timer` returns; give it to :meth:`Node.cancel_timer`."""

SHARED_FILES = ("files", "start_work")
"""What :class:`SharedFiles` adds; any other class that is asked for them says how to get them."""


class _OnlyWithSharedFiles:
    """An :class:`Endpoint`'s ``files`` and ``start_work`` when it has none: asked for, it says
    how to get them. :class:`SharedFiles`, later in any class's order of lookup than the
    class itself and earlier than :class:`Endpoint`, replaces it.

    A descriptor rather than ``Endpoint.__getattr__``: a class with ``__getattr__`` loses
    CPython's fast attribute lookup on every field, which cost the simulator 6% of its
    instructions (issue 15)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        cls = type(obj) if owner is None else owner
        raise AttributeError(
            f"{cls.__name__} has no {self.name}: only the classes of a lab whose nodes share files "
            f"have it (they mix in SharedFiles: class {cls.__name__}(SharedFiles, ...))")

HOOKS = frozenset({"on_start", "on_invoke"})
"""Methods the runtime calls by name; every other ``on_*`` method needs a decorator."""


class NodeDefinitionError(TypeError):
    """A node class that cannot work; the message says how to fix it."""


class NodeError(RuntimeError):
    """A node used the API wrongly (unknown destination, no handler, bad timer...)."""


@dataclass(frozen=True)
class Op:
    """One client operation, issued by the workload driver to a clerk.

    ``f`` names the operation (``"get"``, ``"put"``, ``"incr"``...), ``key`` and ``value`` are its
    arguments. Everything is plain JSON data.
    """

    f: str
    key: str | None = None
    value: JSON = None


class Storage(MutableMapping[str, Any]):
    """A node's disk: a dictionary whose writes are durable when the assignment returns.

    Values are copied in and out (encoded like messages), so changing a value you read does not
    change what is stored until you assign it again. Whether the disk survives a crash is up to the
    schedule (``crash: n1, disk: keep`` or ``disk: lose``).
    """

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


class Context(Protocol):
    """What a runtime gives a node: the side of the node API that touches the world."""

    @property
    def node_id(self) -> str: ...
    @property
    def nodes(self) -> tuple[str, ...]: ...
    @property
    def storage(self) -> Storage: ...
    @property
    def random(self) -> random.Random: ...
    @property
    def files(self) -> Files: ...
    @property
    def params(self) -> Mapping[str, Any]: ...

    def send(self, dst: str, msg: object) -> None: ...
    def start_work(self, fn: Callable[..., object], args: tuple[Any, ...]) -> int: ...
    def set_timer(self, delay: float, timer: object) -> TimerId: ...
    def cancel_timer(self, timer_id: TimerId) -> None: ...
    def now(self) -> float: ...
    def log(self, text: str) -> None: ...
    def complete(self, outcome: str, value: JSON) -> None: ...


def on(msg_type: type[M]) -> Callable[[Callable[[Any, M, str], None]], Callable[[Any, M, str], None]]:
    """Mark a method as the handler of messages of type ``msg_type``: ``def h(self, msg, sender)``."""
    _check_decorator_arg("on", msg_type)

    def mark(fn: Callable[[Any, M, str], None]) -> Callable[[Any, M, str], None]:
        fn.__labs_message__ = msg_type  # type: ignore[attr-defined]
        return fn

    return mark


def on_timer(timer_type: type[T]) -> Callable[[Callable[[Any, T], None]], Callable[[Any, T], None]]:
    """Mark a method as the handler of timers of type ``timer_type``: ``def h(self, timer)``."""
    _check_decorator_arg("on_timer", timer_type)

    def mark(fn: Callable[[Any, T], None]) -> Callable[[Any, T], None]:
        fn.__labs_timer__ = timer_type  # type: ignore[attr-defined]
        return fn

    return mark


def _check_decorator_arg(name: str, t: object) -> None:
    if not isinstance(t, type):
        raise NodeDefinitionError(
            f"@{name}({t!r}): give the class itself, for example @{name}(RequestVote), "
            "not a string or an instance"
        )
    if not is_dataclass(t):
        raise NodeDefinitionError(
            f"@{name}({t.__name__}): {t.__name__} is not a dataclass. Messages and timers are "
            f"plain dataclasses: put @dataclass(frozen=True) above 'class {t.__name__}'"
        )


class Endpoint:
    """What every part of a cluster is: a server (:class:`Node`) or a client library (:class:`Clerk`).

    Subclasses declare state in :meth:`on_start` and react with ``@on(Message)`` and
    ``@on_timer(Timer)`` handlers. A restarted one is a brand-new object.
    """

    _message_handlers: ClassVar[dict[type, str]] = {}
    _timer_handlers: ClassVar[dict[type, str]] = {}
    _ctx: Context | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        messages: dict[type, str] = {}
        timers: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for name, fn in vars(klass).items():
                if klass is cls:
                    _check_method(cls, name, fn)
                for attr, table, arity in (
                    ("__labs_message__", messages, 3),
                    ("__labs_timer__", timers, 2),
                ):
                    t = getattr(fn, attr, None)
                    if t is None:
                        continue
                    _check_arity(cls, name, fn, arity)
                    other = table.get(t)
                    if klass is cls and other is not None and other != name and _defined_in(cls, other):
                        raise NodeDefinitionError(
                            f"{cls.__name__}: both {other}() and {name}() handle {t.__name__}; "
                            "keep one handler per type"
                        )
                    table[t] = name
        for t in messages:
            bad = unsendable_annotations(t)
            if bad:
                raise NodeDefinitionError(
                    f"{cls.__name__}: message {t.__name__} has fields that cannot be sent "
                    f"({'; '.join(bad)}); messages hold only None, bool, int, float, str, bytes, "
                    "lists, tuples, sets, dicts and other dataclasses"
                )
        cls._message_handlers = messages
        cls._timer_handlers = timers

    # -- lifecycle ------------------------------------------------------------------------

    def on_start(self) -> None:
        """Called once when the node starts, and again (on a new object) after every restart."""

    def role(self) -> str | None:
        """This node's role for schedules, for example ``"leader"``; ``None`` when it has none.

        Schedules use it to "isolate the leader" or "crash the leader": override it in labs
        that have leaders.
        """
        return None

    # -- the world ------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """This node's name, for example ``"n1"``."""
        return self._context().node_id

    @property
    def nodes(self) -> tuple[str, ...]:
        """The names of all server nodes of the cluster, this one included, in order."""
        return self._context().nodes

    @property
    def random(self) -> random.Random:
        """This node's random numbers (seeded, so simulator runs replay exactly)."""
        return self._context().random

    @property
    def params(self) -> Mapping[str, Any]:
        """The settings this run's test gives the lab (read-only; a lab's handout says which it
        reads, such as the Raft lab's ``snapshot_every``). Empty unless a test sets some."""
        return MappingProxyType(dict(self._context().params))

    def send(self, dst: str, msg: object) -> None:
        """Send ``msg`` (a dataclass instance) to node ``dst``. It may be lost, late or doubled."""
        self._context().send(dst, msg)

    def set_timer(self, delay: float, timer: object) -> TimerId:
        """Call this node's ``@on_timer`` handler for ``type(timer)`` after ``delay`` seconds.

        The delay is measured by this node's clock, which a schedule may make run fast or slow.
        """
        return self._context().set_timer(delay, timer)

    def cancel_timer(self, timer_id: TimerId) -> None:
        """Cancel a timer set by :meth:`set_timer`; cancelling a fired timer does nothing."""
        self._context().cancel_timer(timer_id)

    def now(self) -> float:
        """This node's local clock in seconds. Clocks of different nodes may disagree (skew)."""
        return self._context().now()

    def log(self, *parts: object) -> None:
        """Write a line into the run's trace, tagged with this node and the time."""
        self._context().log(" ".join(str(p) for p in parts))

    if not TYPE_CHECKING:  # for the type checker, a name a class lacks stays an error
        files = _OnlyWithSharedFiles()
        start_work = _OnlyWithSharedFiles()

    def __dir__(self) -> list[str]:  # what completion offers: not what the class lacks
        cls = type(self)
        return [name for name in super().__dir__()
                if not isinstance(inspect.getattr_static(cls, name, None), _OnlyWithSharedFiles)]

    def _context(self) -> Context:
        if self._ctx is None:
            raise RuntimeError(
                f"{type(self).__name__}: the node is not running yet. Use the node API from "
                "on_start() and handlers, not from __init__ or at import time"
            )
        return self._ctx

    @classmethod
    def handled_messages(cls) -> tuple[type, ...]:
        return tuple(cls._message_handlers)

    @classmethod
    def handled_timers(cls) -> tuple[type, ...]:
        return tuple(cls._timer_handlers)

    def _handler_for_message(self, msg: object) -> Callable[[Any, str], None] | None:
        name = self._message_handlers.get(type(msg))
        return None if name is None else getattr(self, name)

    def _handler_for_timer(self, timer: object) -> Callable[[Any], None] | None:
        name = self._timer_handlers.get(type(timer))
        return None if name is None else getattr(self, name)


def _defined_in(cls: type, name: str) -> bool:
    return name in vars(cls)


def _check_arity(cls: type, name: str, fn: object, arity: int) -> None:
    if not callable(fn):
        return
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) != arity:
        want = {3: "(self, msg, sender)", 2: "(self, timer)"}[arity]
        if name == "on_invoke":
            want = "(self, op)"
        have = "(" + ", ".join(p.name for p in positional) + ")"
        raise NodeDefinitionError(
            f"{cls.__name__}.{name}{have}: a handler like this one takes {want}"
        )


def _check_method(cls: type, name: str, fn: object) -> None:
    if not callable(fn) or name.startswith("__"):
        return
    decorated = hasattr(fn, "__labs_message__") or hasattr(fn, "__labs_timer__")
    if decorated:
        return
    if name in HOOKS or name in {"role"}:
        return
    if name.startswith("on_") or name.startswith("handle_"):
        close = difflib.get_close_matches(name, sorted(HOOKS), n=1, cutoff=0.75)
        if close:
            hint = f"did you mean {close[0]}()?"
        else:
            hint = (
                "if it handles a message, put @on(MessageType) above it (or @on_timer(TimerType) "
                "for a timer); if it is a helper, give it a name that does not start with "
                "on_ or handle_"
            )
        raise NodeDefinitionError(
            f"{cls.__name__}.{name}() looks like a handler but nothing will ever call it: {hint}"
        )


def iter_handlers(cls: type[Endpoint]) -> Iterator[tuple[str, type]]:
    """(method name, type) for every handler of ``cls``; used by the runtimes' start checks."""
    for t, name in cls._message_handlers.items():
        yield name, t
    for t, name in cls._timer_handlers.items():
        yield name, t


class Node(Endpoint):
    """A server of a lab. Only what it wrote to :attr:`storage` survives a crash."""

    @property
    def peers(self) -> tuple[str, ...]:
        """The names of all other server nodes."""
        me = self.id
        return tuple(n for n in self.nodes if n != me)

    @property
    def storage(self) -> Storage:
        """This node's durable storage (see :class:`Storage`)."""
        return self._context().storage

    def broadcast(self, msg: object) -> None:
        """Send ``msg`` to every other server node."""
        for peer in self.peers:
            self.send(peer, msg)


class SharedFiles(Endpoint):
    """Mixed into the nodes (and clerk) of a lab whose cluster shares files, such as MapReduce's:
    ``class Worker(SharedFiles, Node)``."""

    @property
    def files(self) -> Files:
        """The run's shared file system, the same for every node (see :mod:`labs.runtime.files`).
        From a handler, each operation is immediate; long reading and writing belong in a work
        (:meth:`start_work`)."""
        return self._context().files

    def start_work(self, fn: Callable[..., object], *args: Any) -> int:
        """Run ``fn(work, *args)`` in the background and return the work's number.

        For what takes time (reading, computing, writing files): the node keeps handling messages
        and timers meanwhile. ``work`` (a :class:`~labs.runtime.files.Work`) offers ``files``,
        ``spend(seconds)``, ``random`` and ``node``. When ``fn`` returns a message (a dataclass),
        the node's ``@on`` handler for its type receives it, with this node as the sender. If
        ``fn`` raises, the node crashes, as when a handler raises. A crash of the node ends the
        work where it was. ``fn`` must use only its arguments, never the node's fields: on Ray it
        runs in another thread.
        """
        return self._context().start_work(fn, args)


class Clerk(Endpoint):
    """The client library of a lab: the workload driver hands it one :class:`Op` at a time.

    Implement :meth:`on_invoke`; send requests to the servers; when the answer arrives (in a
    message handler, possibly after retries driven by timers) call :meth:`complete` with the
    result, or :meth:`fail` when the operation certainly did not happen. If neither happens in
    time the driver records the outcome as unknown and replaces this clerk with a fresh one.
    """

    def on_invoke(self, op: Op) -> None:
        """Start the client operation ``op``."""
        raise NotImplementedError

    def complete(self, value: JSON = None) -> None:
        """The current operation succeeded with result ``value`` (plain JSON data)."""
        self._context().complete("ok", value)

    def fail(self, error: str = "") -> None:
        """The current operation certainly had no effect (it will never take effect later)."""
        self._context().complete("fail", error)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "on_invoke" in vars(cls):
            _check_arity(cls, "on_invoke", vars(cls)["on_invoke"], 2)
