"""Network conditions and the fate of one message, shared by both runtimes.

The simulator and the Ray runtime ask the same question of the same code when a node sends: lost,
delivered once, or delivered twice, and after how long? Only the clock differs (virtual or real).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .validate import Checker, did_you_mean


@dataclass(frozen=True)
class Delay:
    """A distribution of extra one-way delay in seconds.

    ``kind`` is one of ``constant`` (``a``), ``uniform`` (``a`` to ``b``), ``exponential``
    (mean ``a``) or ``normal`` (mean ``a``, deviation ``b``, never below zero).
    """

    kind: str = "constant"
    a: float = 0.0
    b: float = 0.0

    def sample(self, rng: random.Random) -> float:
        if self.kind == "constant":
            return self.a
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "exponential":
            return rng.expovariate(1.0 / self.a) if self.a > 0 else 0.0
        if self.kind == "normal":
            return max(0.0, rng.gauss(self.a, self.b))
        raise ValueError(f"unknown delay kind {self.kind!r}")

    def to_data(self) -> Any:
        if self.kind == "constant":
            return {"constant": self.a}
        if self.kind == "exponential":
            return {"exponential": self.a}
        return {self.kind: [self.a, self.b]}


@dataclass(frozen=True)
class Network:
    """The network's behaviour: ``loss`` and ``duplicate`` are probabilities per message;
    ``delay`` is added to every copy; with ``reorder`` false each link delivers in send order."""

    loss: float = 0.0
    delay: Delay = field(default_factory=Delay)
    duplicate: float = 0.0
    reorder: bool = True

    def to_data(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "delay": self.delay.to_data(),
            "duplicate": self.duplicate,
            "reorder": self.reorder,
        }

    def describe(self) -> str:
        """``loss 0.1, delay {"uniform": [0.001, 0.03]}``, or ``clean``."""
        bits = []
        if self.loss:
            bits.append(f"loss {self.loss:g}")
        if self.duplicate:
            bits.append(f"duplicate {self.duplicate:g}")
        if self.delay != Delay():
            bits.append(f"delay {json.dumps(self.delay.to_data())}")
        if not self.reorder:
            bits.append("fifo")
        return ", ".join(bits) or "clean"

    def faults(self) -> int:
        """How many kinds of fault it injects (reordering counts only where delays vary)."""
        return (self.loss > 0) + (self.duplicate > 0) + (self.delay != Delay()) + self._reorders()

    def _reorders(self) -> bool:
        return self.reorder and self.delay.kind != "constant"

    def smaller(self) -> Iterator[Network]:
        """Milder networks, for shrinking a failing schedule: each kind of fault switched off,
        then loss and duplication halved."""
        if self.duplicate:
            yield replace(self, duplicate=0.0)
        if self.loss:
            yield replace(self, loss=0.0)
        if self._reorders():
            yield replace(self, reorder=False)
        if self.delay != Delay():
            yield replace(self, delay=Delay())
        if self.duplicate > 0.02:
            yield replace(self, duplicate=round(self.duplicate / 2, 4))
        if self.loss > 0.02:
            yield replace(self, loss=round(self.loss / 2, 4))


CLEAN = Network()
NETWORK_KEYS = {"loss", "delay", "duplicate", "reorder"}
DELAY_KINDS = {"constant", "uniform", "exponential", "normal"}


def parse_network(c: Checker, raw: Any, where: str) -> Network:
    """A network from its document form (``{loss: 0.1, delay: {uniform: [0.001, 0.03]}}``),
    with each problem reported to ``c``."""
    if not isinstance(raw, Mapping):
        c.fail(where, "must be a mapping like {loss: 0.1, delay: {uniform: [0.001, 0.03]}}")
        return CLEAN
    c.keys(raw, NETWORK_KEYS, where)
    loss = c.probability(raw.get("loss", 0.0), f"{where}.loss")
    dup = c.probability(raw.get("duplicate", 0.0), f"{where}.duplicate")
    reorder = raw.get("reorder", True)
    if not isinstance(reorder, bool):
        c.fail(f"{where}.reorder", f"must be true or false, got {reorder!r}")
        reorder = True
    delay = _parse_delay(c, raw.get("delay", {"constant": 0.0}), f"{where}.delay")
    if loss >= 1.0:
        c.fail(f"{where}.loss", "a loss of 1 loses every message; use a partition to cut links")
    return Network(loss, delay, dup, reorder)


def _parse_delay(c: Checker, raw: Any, where: str) -> Delay:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Delay("constant", c.number(raw, where, 0.0))
    if not isinstance(raw, Mapping) or len(raw) != 1:
        c.fail(where, "must be one of {constant: s}, {uniform: [lo, hi]}, {exponential: mean}, {normal: [mean, sd]}")
        return Delay()
    ((kind, arg),) = raw.items()
    if kind not in DELAY_KINDS:
        c.fail(f"{where}.{kind}", f"unknown delay distribution{did_you_mean(str(kind), DELAY_KINDS)}; "
                                  f"use one of {', '.join(sorted(DELAY_KINDS))}")
        return Delay()
    if kind in ("constant", "exponential"):
        return Delay(kind, c.number(arg, f"{where}.{kind}", 0.0))
    if not isinstance(arg, list) or len(arg) != 2:
        c.fail(f"{where}.{kind}", f"must be two numbers [{'lo, hi' if kind == 'uniform' else 'mean, sd'}], got {arg!r}")
        return Delay()
    a = c.number(arg[0], f"{where}.{kind}[0]", 0.0)
    b = c.number(arg[1], f"{where}.{kind}[1]", 0.0)
    if kind == "uniform" and b < a:
        c.fail(f"{where}.uniform", f"the upper bound {b:g} is below the lower bound {a:g}")
    return Delay(kind, a, b)


def fate(rng: random.Random, net: Network) -> list[float]:
    """The extra delays of the copies of one message that will arrive; empty if it is lost.

    Draws from ``rng`` in a fixed order so that a seeded run replays exactly.
    """
    if net.loss > 0 and rng.random() < net.loss:
        return []
    copies = 2 if net.duplicate > 0 and rng.random() < net.duplicate else 1
    return [net.delay.sample(rng) for _ in range(copies)]


Links = frozenset[tuple[str, str]]
"""Blocked directed links ``(src, dst)``: a partition, whatever its shape."""


def block_groups(groups: Iterable[Iterable[str]]) -> Links:
    """Links cut by splitting nodes into ``groups``; nodes in no group still reach everyone."""
    gs = [tuple(g) for g in groups]
    out: set[tuple[str, str]] = set()
    for i, a in enumerate(gs):
        for j, b in enumerate(gs):
            if i != j:
                out.update((x, y) for x in a for y in b)
    return frozenset(out)


def block_ring(nodes: list[str]) -> Links:
    """Jepsen's "majorities ring": each node reaches a bare majority (itself and its nearest
    neighbours on a ring), and neighbouring nodes see different majorities. With three nodes or
    fewer nothing is cut."""
    n = len(nodes)
    majority = n // 2 + 1
    reach = majority // 2  # neighbours on each side: 1 + 2 * reach >= majority
    keep = {
        (a, nodes[(i + d) % n]) for i, a in enumerate(nodes) for d in range(-reach, reach + 1)
    }
    return frozenset((a, b) for a in nodes for b in nodes if a != b and (a, b) not in keep)


def links_to_data(links: Links) -> list[list[str]]:
    return [list(x) for x in sorted(links)]


def links_from_data(data: Iterable[Iterable[str]]) -> Links:
    return frozenset((str(a), str(b)) for a, b in data)


def network_from_data(data: Mapping[str, Any]) -> Network:
    """Inverse of :meth:`Network.to_data` for already-validated data (use ``schedule`` to check)."""
    d = data.get("delay", {"constant": 0.0})
    ((kind, arg),) = d.items()
    a, b = (arg if isinstance(arg, list) else [arg, 0.0])
    return Network(
        loss=float(data.get("loss", 0.0)),
        delay=Delay(kind, float(a), float(b)),
        duplicate=float(data.get("duplicate", 0.0)),
        reorder=bool(data.get("reorder", True)),
    )
