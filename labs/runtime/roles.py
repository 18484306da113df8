"""Clusters whose nodes play different parts: a coordinator and its workers, say.

A lab names one node class (``Lab.node``) for all of its servers, which suits replicas that run the
same protocol. When the parts differ, write one class per part and join them with :func:`by_name`::

    MapReduceNode = by_name("MapReduceNode", {"n1": Coordinator}, default=Worker)

Each node then runs the class its name picks: ``n1`` a ``Coordinator``, every other node a
``Worker``, each with only its own fields and handlers. The joined class is what the runtimes see:
it handles every message any part handles (so that anyone may send them), and passes each message
and timer to the part. A message that reaches a part without a handler for it crashes that node
with a message saying so, as any message without a handler would.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from .node import Node, NodeError

__all__ = ["RoleNode", "by_name"]


class RoleNode(Node):
    """A node that runs the class its name picks (see :func:`by_name`)."""

    parts: ClassVar[Mapping[str, type[Node]]] = {}
    default: ClassVar[type[Node] | None] = None

    @classmethod
    def part_for(cls, name: str) -> type[Node]:
        part = cls.parts.get(name, cls.default)
        if part is None:
            raise NodeError(f"{cls.__name__} has no part for node {name} (parts: {', '.join(cls.parts)})")
        return part

    def on_start(self) -> None:
        self._part = self.part_for(self.id)()
        self._part._ctx = self._ctx
        self._part.on_start()

    def role(self) -> str | None:
        part = getattr(self, "_part", None)
        return None if part is None else part.role()

    def _handler_for_message(self, msg: object) -> Callable[[Any, str], None] | None:
        handler = self._part._handler_for_message(msg)
        if handler is None:
            return self._missing(f"message {type(msg).__name__}", "on")
        return handler

    def _handler_for_timer(self, timer: object) -> Callable[[Any], None] | None:
        handler = self._part._handler_for_timer(timer)
        if handler is None:
            return self._missing(f"timer {type(timer).__name__}", "on_timer")
        return handler

    def _missing(self, what: str, decorator: str) -> Callable[..., None]:
        part = type(self._part).__name__
        kind = what.split()[1]

        def fail(*_: object) -> None:
            raise NodeError(f"{self.id} is a {part}, which has no handler for the {what}: "
                            f"add a method with @{decorator}({kind}) to {part}")

        return fail


def by_name(name: str, parts: Mapping[str, type[Node]], default: type[Node] | None = None) -> type[RoleNode]:
    """One node class for a cluster of several parts: node ``n`` runs ``parts[n]``, or ``default``.

    The class belongs to the module of the parts, so that it travels to Ray's processes the way
    they do (by name, or by value for a student's file)."""
    classes = [*parts.values(), *([default] if default else [])]
    if not classes:
        raise ValueError("by_name needs at least one part")
    messages: dict[type, str] = {}
    timers: dict[type, str] = {}
    for cls in classes:
        messages.update({t: "_dispatch" for t in cls._message_handlers})
        timers.update({t: "_dispatch" for t in cls._timer_handlers})
    module = classes[0].__module__
    joined: type[RoleNode] = type(name, (RoleNode,), {"parts": dict(parts), "default": default,
                                                      "__module__": module, "__qualname__": name})
    joined._message_handlers = messages
    joined._timer_handlers = timers
    if module in sys.modules and not hasattr(sys.modules[module], name):
        setattr(sys.modules[module], name, joined)
    return joined
