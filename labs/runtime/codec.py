"""Turning messages and stored values into plain JSON text and back.

Every message crosses this boundary in *both* runtimes: the simulator encodes on send and decodes on
delivery exactly as the Ray runtime does between processes. A node therefore never receives the very
object another node sent, and an aliasing bug (mutating a list after sending it) behaves the same
everywhere.

Plain JSON, rather than pickle, because the trace, the autograder's router and the pictures all read
messages as data, and because decoding JSON can never run code.

What can be sent: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, lists, tuples, sets,
frozensets, dicts (any encodable keys) and dataclasses whose classes the codec knows (the message
types of the cluster and the dataclasses nested in them). Tagged objects keep the types apart:

=====================  ==========================================
Python value           JSON
=====================  ==========================================
``RequestVote(3, "a")``  ``{"@type": "RequestVote", "term": 3, "candidate": "a"}``
``(1, 2)``             ``{"@tuple": [1, 2]}``
``{1, 2}``             ``{"@set": [1, 2]}``
``{1: "a"}``           ``{"@dict": [[1, "a"]]}`` (string keys stay a plain object)
``b"hi"``              ``{"@bytes": "aGk="}``
=====================  ==========================================
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
import typing
from collections.abc import Iterable
from types import UnionType
from typing import Any

JSON = Any
"""A value made only of JSON types (the codec's output)."""


class SerializationError(TypeError):
    """A value that cannot cross the network or be stored."""


class _Unencodable(Exception):
    """Raised deep inside encoding; each level on the way out adds where it was."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.where: list[str] = []


def _tag_free(d: dict[Any, Any]) -> bool:
    return all(isinstance(k, str) and not k.startswith("@") for k in d)


class Codec:
    """Encodes values of the given dataclass types (and everything nested in them) as JSON."""

    def __init__(self, types: Iterable[type] = ()) -> None:
        self._by_name: dict[str, type] = {}
        self._fields: dict[type, tuple[str, ...]] = {}
        for t in types:
            self.register(t)

    @property
    def types(self) -> dict[str, type]:
        return dict(self._by_name)

    def register(self, t: type) -> None:
        """Know ``t`` and every dataclass named in its field annotations."""
        if not (isinstance(t, type) and dataclasses.is_dataclass(t)):
            raise SerializationError(f"{t!r} is not a dataclass; messages are plain dataclasses")
        name = t.__qualname__
        known = self._by_name.get(name)
        if known is t:
            return
        if known is not None:
            raise SerializationError(
                f"two different message classes are both called {name!r} "
                f"({known.__module__} and {t.__module__}); rename one of them"
            )
        self._by_name[name] = t
        self._fields[t] = tuple(f.name for f in dataclasses.fields(t))
        for nested in nested_dataclasses(t):
            self.register(nested)

    # -- encoding -------------------------------------------------------------------------

    def encode(self, value: object, path: str = "message") -> JSON:
        """The JSON form of ``value``; :class:`SerializationError` names the field that failed."""
        try:
            return self._encode(value)
        except _Unencodable as exc:
            raise SerializationError(f"{path}{''.join(reversed(exc.where))}: {exc.reason}") from None

    def _encode(self, value: Any) -> JSON:
        # Hot path (every message in both runtimes): plain types first, no path strings built
        # unless something fails.
        t = type(value)
        if t is str or t is int or t is bool or value is None:
            return value
        if t is float:
            if not math.isfinite(value):
                raise _Unencodable(f"{value!r} is not a number JSON can carry; send None or a string")
            return value
        names = self._fields.get(t)
        if names is not None:
            out: dict[str, JSON] = {"@type": t.__qualname__}
            for name in names:
                try:
                    out[name] = self._encode(getattr(value, name))
                except _Unencodable as exc:
                    exc.where.append(f".{name}")
                    raise
            return out
        if t is list or t is tuple:
            items = []
            for i, v in enumerate(value):
                try:
                    items.append(self._encode(v))
                except _Unencodable as exc:
                    exc.where.append(f"[{i}]")
                    raise
            return items if t is list else {"@tuple": items}
        if t is dict:
            d: dict[Any, Any] = value
            try:
                if _tag_free(d):
                    return {k: self._encode_item(k, v) for k, v in d.items()}
                return {"@dict": [[self._encode(k), self._encode_item(k, v)] for k, v in d.items()]}
            except _Unencodable as exc:
                if not exc.where:
                    exc.where.append(".key")
                raise
        if t is set or t is frozenset:
            encoded = [self._encode(v) for v in value]
            # Sort by text so that a set encodes the same way in every process.
            return {"@set": sorted(encoded, key=lambda x: json.dumps(x, sort_keys=True))}
        if t is bytes:
            return {"@bytes": base64.b64encode(value).decode("ascii")}
        # Subclasses of the plain types (an IntEnum, a defaultdict, a namedtuple) travel as the
        # plain type: the receiver gets the value, not the subclass.
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return self._encode(float(value))
        if isinstance(value, str):
            return str.__str__(value)
        if isinstance(value, dict):
            return self._encode(dict(value))
        if isinstance(value, list):
            return self._encode(list(value))
        if isinstance(value, tuple):
            return self._encode(tuple(value))
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            raise _Unencodable(
                f"{t.__qualname__} is not a message type of this cluster; "
                "add a handler for it with @on(...) on the node that receives it"
            )
        raise _Unencodable(
            f"a {t.__name__} cannot be sent or stored; use None, bool, int, "
            "float, str, bytes, list, tuple, set, dict or a message dataclass"
        )

    def _encode_item(self, key: object, value: object) -> JSON:
        try:
            return self._encode(value)
        except _Unencodable as exc:
            exc.where.append(f"[{key!r}]")
            raise

    def dumps(self, value: object, path: str = "message") -> str:
        return json.dumps(self.encode(value, path), separators=(",", ":"), allow_nan=False)

    # -- decoding -------------------------------------------------------------------------

    def decode(self, data: JSON) -> Any:
        t = type(data)
        if t is list:
            return [self.decode(v) for v in data]
        if t is not dict:
            return data
        if "@type" in data:
            cls = self._by_name.get(data["@type"])
            if cls is None:
                raise SerializationError(f"unknown message type {data['@type']!r}")
            return cls(**{k: self.decode(v) for k, v in data.items() if k != "@type"})
        if "@tuple" in data:
            return tuple(self.decode(v) for v in data["@tuple"])
        if "@set" in data:
            return frozenset(self.decode(v) for v in data["@set"])
        if "@dict" in data:
            return {_hashable(self.decode(k)): self.decode(v) for k, v in data["@dict"]}
        if "@bytes" in data:
            return base64.b64decode(data["@bytes"])
        return {k: self.decode(v) for k, v in data.items()}

    def loads(self, text: str) -> Any:
        return self.decode(json.loads(text))


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def nested_dataclasses(t: type) -> list[type]:
    """The dataclasses named anywhere in ``t``'s field annotations (``list[Entry]`` gives Entry)."""
    try:
        hints = typing.get_type_hints(t)
    except Exception:  # annotations naming things we cannot resolve: nothing to learn from them
        return []
    found: list[type] = []

    def walk(h: object) -> None:
        if isinstance(h, type) and dataclasses.is_dataclass(h):
            if h not in found and h is not t:
                found.append(h)
            return
        for arg in typing.get_args(h):
            walk(arg)

    for h in hints.values():
        walk(h)
    return found


UNSENDABLE_HINT = (
    "messages hold only None, bool, int, float, str, bytes, lists, tuples, sets, dicts and "
    "other dataclasses"
)


def unsendable_annotations(t: type, _seen: set[type] | None = None) -> list[str]:
    """Field annotations of message class ``t`` (and of the dataclasses nested in it) that can
    never be encoded: a lock, a socket, a function..."""
    try:
        hints = typing.get_type_hints(t)
    except Exception:
        return []
    seen = _seen if _seen is not None else set()
    seen.add(t)
    allowed = (type(None), bool, int, float, str, bytes, list, tuple, set, frozenset, dict)
    bad: list[str] = []

    def ok(h: object) -> bool:
        if h is Any or isinstance(h, typing.TypeVar):
            return True
        origin = typing.get_origin(h)
        if origin is not None:
            if origin is typing.Literal:
                return True
            args = [a for a in typing.get_args(h) if a is not Ellipsis]
            base_ok = origin in (typing.Union, *allowed) or _is_union(origin) or (
                isinstance(origin, type) and issubclass(origin, allowed)
            )
            return base_ok and all(ok(a) for a in args)
        if isinstance(h, type):
            if dataclasses.is_dataclass(h):
                if h not in seen:
                    bad.extend(unsendable_annotations(h, seen))
                return True
            return issubclass(h, allowed)
        # threading.Lock is a function on Python 3.11: a callable that is not a type is no data
        return not callable(h)

    for name, h in hints.items():
        if name.startswith("_"):
            continue
        if not ok(h):
            bad.append(f"{t.__qualname__}.{name}: {getattr(h, '__name__', h)}")
    return bad


def _is_union(origin: object) -> bool:
    return origin is UnionType
