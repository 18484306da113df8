"""What every runtime that holds a node object does the same way: it checks the node's calls
(``send``, ``set_timer``, ``complete``), reports a handler that raised, and measures the node's
fields.

The node side of the simulator (:mod:`.nodeside`) and a Ray actor that runs its node in its own
process (:mod:`.ray_actor`) both use these, so a node breaks the same rule with the same message
wherever it runs.
"""

from __future__ import annotations

import json
import math
import pickle
import traceback
from typing import Any

from .node import Endpoint, NodeError


def check_send(
    src: str, dst: str, msg: object, classes: dict[str, type[Endpoint]]
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


def check_timer(node: str, cls: type[Endpoint], delay: object, timer: object) -> float:
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


def describe(obj: object, limit: int = 300) -> str:
    """A message or timer as it reads in an error report: its dataclass repr, cut if long."""
    text = repr(obj)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_error(node: str, what: str, exc: BaseException) -> str:
    """The report of a handler that raised: node, what it was handling, and the traceback."""
    tb = "".join(traceback.format_exception(exc))
    return f"{node} crashed while handling {what}:\n{tb}"


def state_size(node: Endpoint) -> int:
    """Bytes a node holds in memory: its fields, pickled one by one (all of them, whatever their
    names, but the runtime's own ``_ctx``).

    What a runtime that shares its process with the node measures for a lab whose memory must
    stay bounded. Graded runs measure the node's own process from outside instead: code that
    runs in the node's process could change what this function says.
    """
    total = 0
    for name, value in vars(node).items():
        if name == "_ctx":
            continue
        try:
            total += len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        except Exception:  # something that cannot be pickled: its text stands in
            total += len(repr(value))
    return total
