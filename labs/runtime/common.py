"""Rules both runtimes apply in the same way: addressing, codecs, clock skew."""

from __future__ import annotations

import json
import math
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .codec import Codec
from .node import Clerk, Node


def class_path(cls: type | None) -> str | None:
    """``module:QualifiedName``: how a node's process finds a class it is told to run."""
    return None if cls is None else f"{cls.__module__}:{cls.__qualname__}"


def state_size(node: Node) -> int:
    """Bytes a node holds in memory: its fields, pickled one by one (all of them, whatever their
    names, but the runtime's own ``_ctx``).

    What a runtime that shares its process with the node measures for a lab whose memory must
    stay bounded. Graded runs measure the node's own process from outside instead: code that
    runs in the node's process could change what this function says.
    """
    import pickle

    total = 0
    for name, value in vars(node).items():
        if name == "_ctx":
            continue
        try:
            total += len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception:  # something that cannot be pickled: its text stands in
            total += len(repr(value))
    return total


class NodeError(RuntimeError):
    """A node used the API wrongly (unknown destination, no handler, bad timer...)."""


def cluster_codec(classes: Sequence[type[Node]]) -> Codec:
    """A codec that knows every message type any node of the cluster handles."""
    codec = Codec()
    for cls in classes:
        for t in cls.handled_messages():
            codec.register(t)
    return codec


def cluster_classes(server: type[Node], clerk: type[Node] | None, servers: Sequence[str],
                    clients: Sequence[str]) -> tuple[dict[str, type[Node]], Codec]:
    """Each node's class by name (servers, then clients when the lab has a clerk), and the codec
    of the cluster's messages."""
    classes: dict[str, type[Node]] = {n: server for n in servers}
    if clerk is not None:
        classes.update({c: clerk for c in clients})
    return classes, cluster_codec([server] + ([clerk] if clerk is not None else []))


def check_send(
    src: str, dst: str, msg: object, classes: dict[str, type[Node]]
) -> None:
    """Raise :class:`NodeError` if ``src`` may not send ``msg`` to ``dst``, saying why."""
    cls = classes.get(dst)
    if cls is None:
        names = ", ".join(classes)
        raise NodeError(f"{src} sent {type(msg).__name__} to {dst!r}, which is not in this cluster ({names})")
    if type(msg) not in cls._message_handlers:
        raise NodeError(
            f"{src} sent {type(msg).__name__} to {dst}, but {cls.__name__} has no handler for it: "
            f"add a method with @on({type(msg).__name__}) to {cls.__name__}"
        )


def check_timer(node: str, cls: type[Node], delay: object, timer: object) -> float:
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not math.isfinite(delay) or delay < 0:
        raise NodeError(f"{node}: set_timer(delay={delay!r}, ...): the delay is a number of seconds >= 0")
    if type(timer) not in cls._timer_handlers:
        raise NodeError(
            f"{node}: set_timer(..., {type(timer).__name__}): {cls.__name__} has no handler for it; "
            f"add a method with @on_timer({type(timer).__name__})"
        )
    return float(delay)


def check_result(value: object) -> Any:
    """A clerk's result must be plain JSON data; returns it as it will be recorded."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise NodeError(
            f"complete({value!r}): a client result must be plain JSON data (None, bool, int, "
            f"float, str, lists and dicts with string keys): {exc}"
        ) from None


@dataclass
class Clock:
    """A node's local clock: ``offset`` ahead of true time, running at ``rate``, since ``since``."""

    offset: float = 0.0
    rate: float = 1.0
    since: float = 0.0

    def local(self, t: float) -> float:
        return t + self.offset + (self.rate - 1.0) * (t - self.since)

    def real_delay(self, local_delay: float) -> float:
        """True seconds until this clock has advanced by ``local_delay``."""
        return local_delay / self.rate

    def reset(self, t: float, offset: float, rate: float) -> None:
        self.offset, self.rate, self.since = offset, rate, t


def describe(obj: object, limit: int = 300) -> str:
    """A message or timer as it reads in an error report: its dataclass repr, cut if long."""
    text = repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_error(node: str, what: str, exc: BaseException) -> str:
    """The report of a handler that raised: node, what it was handling, and the traceback."""
    tb = "".join(traceback.format_exception(exc))
    return f"{node} crashed while handling {what}:\n{tb}"


def is_clerk(cls: type[Node]) -> bool:
    return issubclass(cls, Clerk)
