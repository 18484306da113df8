"""A node's state as canonical data, for the search (:mod:`.search`) to tell states apart.

The search merges two states when every node's fields, live timers and disk are the same, so a
node's state must be all in its fields and must be data: numbers, strings, lists, tuples, dicts,
sets and dataclasses of those. :func:`canonical` turns such a value into JSON data that is the
same for equal values however they were built (a dict's or a set's order does not count), and
refuses anything else with the field's name, so that a student reads which field to change::

    n1.pending['c1'] is a function (<lambda>): a node's fields must be plain data for the search
    (numbers, strings, lists, dicts, sets, tuples, dataclasses)

The result is made in the node's process (which may be a sealed one) and handed back as data;
the search checks that it is faithful by replaying (see :mod:`.search`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
from typing import Any

from .node import Node, NodeError

JSON = Any

MAX_DEPTH = 40
"""How deeply nested a field may be (a cycle or a linked list goes no further)."""


def canonical(value: Any, where: str, depth: int = 0) -> JSON:
    """``value`` as canonical JSON data; ``where`` names it in an error (``n1.log[3]``)."""
    if depth > MAX_DEPTH:
        raise NodeError(f"{where} is nested more than {MAX_DEPTH} deep (a cycle?): a node's fields must "
                        "be plain data for the search")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else ["float", repr(value)]
    if isinstance(value, (list, tuple)):
        items = [canonical(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
        return items if isinstance(value, list) else ["tuple", items]
    if isinstance(value, dict):
        pairs = [[canonical(k, f"{where} key", depth + 1), canonical(v, f"{where}[{k!r}]", depth + 1)]
                 for k, v in value.items()]
        return ["dict", sorted(pairs, key=_order)]
    if isinstance(value, (set, frozenset)):
        return ["set", sorted((canonical(v, f"{where} item", depth + 1) for v in value), key=_order)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [[f.name, canonical(getattr(value, f.name), f"{where}.{f.name}", depth + 1)]
                  for f in dataclasses.fields(value)]
        return [type(value).__name__, fields]
    kind = "a function" if callable(value) else f"a {type(value).__name__}"
    name = getattr(value, "__name__", None)
    raise NodeError(f"{where} is {kind}{f' ({name})' if name else ''}: a node's fields must be plain data "
                    "for the search (numbers, strings, lists, dicts, sets, tuples, dataclasses)")


def _order(item: JSON) -> str:
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def node_state(name: str, obj: object, timers: dict[int, object], rng: random.Random) -> JSON:
    """A node object's fields (but the runtime's own ``_ctx``), its live timers' payloads in the
    order they were set, and where its random numbers stand (a digest: what it draws next)."""
    part = vars(obj).get("_part")  # a node of several parts (roles.by_name) is the part it plays
    fields = {k: v for k, v in vars(part if isinstance(part, Node) else obj).items() if k != "_ctx"}
    dice = hashlib.sha256(repr(rng.getstate()).encode()).hexdigest()[:16]
    return [canonical(fields, name), [canonical(timers[t], f"{name}'s timer") for t in sorted(timers)], dice]


def first_difference(name: str, a: JSON, b: JSON) -> str:
    """Where two :func:`node_state` values of node ``name`` part: the first field that differs
    (with both values, shortened), else its timers, else its random numbers."""
    (fields_a, timers_a, dice_a), (fields_b, timers_b, dice_b) = a, b
    if fields_a != fields_b:
        left, right = dict(_pairs(fields_a)), dict(_pairs(fields_b))
        for key in sorted(set(left) | set(right), key=str):
            if left.get(key) != right.get(key):
                return (f"its field {key!r} ({_short(left.get(key, 'missing'))} once, "
                        f"{_short(right.get(key, 'missing'))} the other time)")
        return "its fields"
    if timers_a != timers_b:
        return f"its live timers ({_short(timers_a)} once, {_short(timers_b)} the other time)"
    if dice_a != dice_b:
        return "where its random numbers stand (it drew a different number of them: randomness only from self.random?)"
    return "nothing the search can name"


def _pairs(value: JSON) -> list[tuple[Any, JSON]]:
    """A canonical dict's pairs (keys made hashable)."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "dict":
        return [(k if isinstance(k, (str, int, float, bool)) or k is None else _order(k), v) for k, v in value[1]]
    return [("", value)]


def _short(value: JSON, limit: int = 80) -> str:
    text = _order(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
