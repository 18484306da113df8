"""Fault schedules: the story of an outage, as data.

A schedule is a YAML or JSON document (or a :class:`Builder` chain in Python)::

    name: leader-isolated-then-crash
    network: {loss: 0.1, delay: {uniform: [0.001, 0.030]}, duplicate: 0.01, reorder: true}
    events:
      - {at: 2.0, partition: [[leader], rest]}
      - {at: 5.0, heal: all}
      - {at: 6.0, crash: n3, disk: keep}
      - {at: 8.0, restart: n3}

The whole format is documented on the site's runtime page. Times are seconds
from the start of the run, in the simulator's virtual time or Ray's real time alike.

Two steps turn a document into faults:

1. :func:`parse` checks the document's shape and returns a :class:`Schedule`; every problem found is
   reported together, each naming its field (``events[2].loss: must be between 0 and 1, got 1.5``).
2. :meth:`Schedule.expand` binds it to a cluster's node names and a seed: unknown nodes are errors,
   the ``random:`` section becomes concrete events, and the schedule gets its final ``heal``.
   ``leader`` stays symbolic: it means whichever node holds the leader role when the event fires.

Every expanded schedule ends healed: at ``duration`` partitions heal, paused nodes resume, crashed
nodes restart (disk kept) and the network becomes clean, so that a lab can check it recovers.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .network import CLEAN, Delay, Network

__all__ = [
    "Builder",
    "Crash",
    "Event",
    "Heal",
    "Partition",
    "Pause",
    "RandomFault",
    "Restart",
    "Schedule",
    "ScheduleError",
    "SetNetwork",
    "Skew",
    "builder",
    "library",
    "load",
    "parse",
]

LEADER = "leader"
REST = "rest"
RANDOM = "random"
ALL = "all"
PARTITION_KINDS = ("random-halves", "majorities-ring")
DEFAULT_TAIL = 1.0
"""Seconds of fault phase after the last scheduled event when ``duration`` is not given."""


class ScheduleError(ValueError):
    """A schedule that cannot run. ``problems`` lists each one, naming its field."""

    def __init__(self, problems: Sequence[str], source: str = "schedule") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source} is not a valid schedule:\n{lines}")


# -- the data -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Partition:
    """Cut the network. ``groups`` lists groups of members (node names, ``leader``, ``rest``)
    that can talk only within their group, or ``kind`` names a shape (``majorities-ring``)."""

    at: float
    groups: tuple[tuple[str, ...], ...] = ()
    kind: str | None = None


@dataclass(frozen=True)
class Heal:
    """Heal every partition."""

    at: float


@dataclass(frozen=True)
class Crash:
    """Kill a node's process. ``disk`` is ``keep`` (storage survives) or ``lose``."""

    at: float
    node: str
    disk: str = "keep"


@dataclass(frozen=True)
class Restart:
    """Start a crashed node again (``all``: every crashed node)."""

    at: float
    node: str


@dataclass(frozen=True)
class Pause:
    """Freeze a node for ``duration`` seconds, as a long GC pause would; it then resumes."""

    at: float
    node: str
    duration: float


@dataclass(frozen=True)
class Skew:
    """From ``at`` on, ``node``'s clock reads ``offset`` seconds ahead and runs at ``rate``."""

    at: float
    node: str
    offset: float = 0.0
    rate: float = 1.0


@dataclass(frozen=True)
class SetNetwork:
    """Change the network's behaviour from ``at`` on."""

    at: float
    network: Network


Event = Partition | Heal | Crash | Restart | Pause | Skew | SetNetwork


@dataclass(frozen=True)
class RandomFault:
    """A fault repeated ``every`` seconds from ``start`` on, lasting ``duration`` each time.

    ``fault`` is ``partition`` (``target`` is ``random-halves``, ``majorities-ring``,
    ``isolate-random`` or ``isolate-leader``), ``crash`` or ``pause`` (``target`` is ``random``
    or ``leader``).
    """

    fault: str
    every: float
    duration: float
    target: str
    start: float = 0.0
    disk: str = "keep"


@dataclass(frozen=True)
class Schedule:
    name: str = "unnamed"
    description: str = ""
    network: Network = CLEAN
    events: tuple[Event, ...] = ()
    random: tuple[RandomFault, ...] = ()
    duration: float | None = None
    seed: int | None = None

    def end(self, minimum: float = 0.0) -> float:
        """When the fault phase ends (and the final heal happens): ``duration`` if given, else a
        second after the last event; never before ``minimum`` (a lab's shortest run)."""
        if self.duration is not None:
            return max(minimum, self.duration)
        last = 0.0
        for e in self.events:
            last = max(last, e.at + (e.duration if isinstance(e, Pause) else 0.0))
        for r in self.random:
            last = max(last, r.start + r.every)
        return max(minimum, last + DEFAULT_TAIL)

    def expand(
        self,
        nodes: Sequence[str],
        clients: Sequence[str] = (),
        seed: int = 0,
        min_duration: float = 0.0,
    ) -> Schedule:
        """Bind to a cluster: check node names, draw the random faults, add the final heal.

        The result has no ``random:`` section, a fixed ``duration`` and time-sorted events.
        """
        problems = _check_names(self, list(nodes), list(clients))
        if problems:
            raise ScheduleError(problems, f"schedule {self.name!r}")
        end = self.end(min_duration)
        rng = random.Random(self.seed if self.seed is not None else seed)
        events = list(self.events)
        for r in self.random:
            events.extend(_draw(r, list(nodes), end, rng))
        events = [e for e in events if e.at <= end]
        events.append(Heal(at=end))
        events.sort(key=lambda e: e.at)  # stable: same-time events keep their written order
        expanded = replace(self, events=tuple(events), random=(), duration=end)
        pause_problems = _check_pauses(list(enumerate(expanded.events)))
        if pause_problems:
            raise ScheduleError(pause_problems, f"schedule {self.name!r}")
        return expanded

    def to_data(self) -> dict[str, Any]:
        """The document form (what :func:`parse` reads back)."""
        out: dict[str, Any] = {"name": self.name}
        if self.description:
            out["description"] = self.description
        if self.duration is not None:
            out["duration"] = self.duration
        if self.seed is not None:
            out["seed"] = self.seed
        out["network"] = self.network.to_data()
        out["events"] = [event_to_data(e) for e in self.events]
        if self.random:
            out["random"] = [_random_to_data(r) for r in self.random]
        return out

    def describe(self) -> str:
        """One line per event, for reports: ``t=2.0 partition [leader] | rest``."""
        parts = [f"network: {_describe_network(self.network)}"]
        for e in self.events:
            parts.append(f"t={e.at:g} {_describe_event(e)}")
        return "; ".join(parts)


def event_to_data(e: Event) -> dict[str, Any]:
    if isinstance(e, Partition):
        spec: Any = e.kind if e.kind else [list(g) for g in e.groups]
        return {"at": e.at, "partition": spec}
    if isinstance(e, Heal):
        return {"at": e.at, "heal": ALL}
    if isinstance(e, Crash):
        return {"at": e.at, "crash": e.node, "disk": e.disk}
    if isinstance(e, Restart):
        return {"at": e.at, "restart": e.node}
    if isinstance(e, Pause):
        return {"at": e.at, "pause": e.node, "for": e.duration}
    if isinstance(e, Skew):
        return {"at": e.at, "skew": e.node, "offset": e.offset, "rate": e.rate}
    return {"at": e.at, "network": e.network.to_data()}


def _random_to_data(r: RandomFault) -> dict[str, Any]:
    out: dict[str, Any] = {"every": r.every, r.fault: r.target, "for": r.duration}
    if r.start:
        out["start"] = r.start
    if r.fault == "crash":
        out["disk"] = r.disk
    return out


def _describe_network(n: Network) -> str:
    bits = []
    if n.loss:
        bits.append(f"loss {n.loss:g}")
    if n.duplicate:
        bits.append(f"duplicate {n.duplicate:g}")
    if n.delay != Delay():
        bits.append(f"delay {json.dumps(n.delay.to_data())}")
    if not n.reorder:
        bits.append("fifo")
    return ", ".join(bits) or "clean"


def _describe_event(e: Event) -> str:
    if isinstance(e, Partition):
        return "partition " + (e.kind or " | ".join("[" + " ".join(g) + "]" for g in e.groups))
    if isinstance(e, Heal):
        return "heal"
    if isinstance(e, Crash):
        return f"crash {e.node} (disk {e.disk})"
    if isinstance(e, Restart):
        return f"restart {e.node}"
    if isinstance(e, Pause):
        return f"pause {e.node} for {e.duration:g}s"
    if isinstance(e, Skew):
        return f"skew {e.node} offset {e.offset:g}s rate {e.rate:g}"
    return f"network {_describe_network(e.network)}"


# -- parsing and checking -----------------------------------------------------------------

EVENT_KEYS = {
    "partition": set(),
    "heal": set(),
    "crash": {"disk"},
    "restart": set(),
    "pause": {"for"},
    "skew": {"offset", "rate"},
    "network": set(),
}
TOP_KEYS = {"name", "description", "network", "events", "random", "duration", "seed"}
NETWORK_KEYS = {"loss", "delay", "duplicate", "reorder"}
DELAY_KINDS = {"constant", "uniform", "exponential", "normal"}
RANDOM_FAULTS = {
    "partition": ("random-halves", "majorities-ring", "isolate-random", "isolate-leader"),
    "crash": (RANDOM, LEADER),
    "pause": (RANDOM, LEADER),
}


class _Checker:
    """Collects problems while reading a document, so one error lists them all."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def number(self, v: Any, where: str, lo: float | None = None, hi: float | None = None) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            self.fail(where, f"must be a number, got {v!r}")
            return lo if lo is not None else 0.0
        if lo is not None and v < lo:
            self.fail(where, f"must be {'at least ' + format(lo, 'g') if lo else 'non-negative'}, got {v!r}")
        if hi is not None and v > hi:
            self.fail(where, f"must be at most {hi:g}, got {v!r}")
        return float(v)

    def probability(self, v: Any, where: str) -> float:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not 0 <= v <= 1:
            self.fail(where, f"must be between 0 and 1, got {v!r}")
            return 0.0
        return self.number(v, where, 0.0, 1.0)

    def name(self, v: Any, where: str) -> str:
        if not isinstance(v, str) or not v:
            self.fail(where, f"must be a node name, got {v!r}")
            return "?"
        return v

    def keys(self, d: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for k in d:
            if k not in allowed:
                hint = did_you_mean(str(k), allowed)
                self.fail(f"{where}.{k}" if where else str(k), f"unknown key{hint}; allowed: {', '.join(sorted(allowed))}")


def did_you_mean(word: str, options: set[str] | Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options``, or nothing."""
    import difflib

    m = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {m[0]!r}?)" if m else ""


def parse(data: Any, source: str = "schedule") -> Schedule:
    """Check a schedule document (already loaded from YAML or JSON) and build a :class:`Schedule`."""
    c = _Checker()
    if not isinstance(data, Mapping):
        raise ScheduleError([f"the document must be a mapping with 'events', got {type(data).__name__}"], source)
    c.keys(data, TOP_KEYS, "")
    name = data.get("name", "unnamed")
    if not isinstance(name, str):
        c.fail("name", f"must be a string, got {name!r}")
        name = "unnamed"
    description = data.get("description", "")
    if not isinstance(description, str):
        c.fail("description", "must be a string")
        description = ""
    network = _network(c, data.get("network", {}), "network")
    duration = None
    if "duration" in data:
        duration = c.number(data["duration"], "duration", 0.0)
        if duration == 0:
            c.fail("duration", "must be more than 0")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        c.fail("seed", f"must be an integer, got {seed!r}")
        seed = None
    raw_events = data.get("events", [])
    numbered: list[tuple[int, Event]] = []  # with their places in the document, for messages
    if not isinstance(raw_events, list):
        c.fail("events", "must be a list of events like {at: 2.0, partition: [[n1], rest]}")
    else:
        for i, raw in enumerate(raw_events):
            e = _event(c, raw, f"events[{i}]")
            if e is not None:
                numbered.append((i, e))
    events = [e for _, e in numbered]
    raw_random = data.get("random", [])
    randoms: list[RandomFault] = []
    if not isinstance(raw_random, list):
        c.fail("random", "must be a list like [{every: 2.0, partition: random-halves, for: 1.0}]")
    else:
        for i, raw in enumerate(raw_random):
            r = _random_fault(c, raw, f"random[{i}]")
            if r is not None:
                randoms.append(r)
    if duration is not None:
        for i, e in numbered:
            if e.at > duration:
                c.fail(f"events[{i}].at", f"{e.at:g} is after the schedule's duration {duration:g}")
    c.problems.extend(_check_pauses(numbered))
    if c.problems:
        raise ScheduleError(c.problems, source)
    return Schedule(name, description, network, tuple(events), tuple(randoms), duration, seed)


def _network(c: _Checker, raw: Any, where: str) -> Network:
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
    delay = _delay(c, raw.get("delay", {"constant": 0.0}), f"{where}.delay")
    if loss >= 1.0:
        c.fail(f"{where}.loss", "a loss of 1 loses every message; use a partition to cut links")
    return Network(loss, delay, dup, reorder)


def _delay(c: _Checker, raw: Any, where: str) -> Delay:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Delay("constant", c.number(raw, where, 0.0))
    if not isinstance(raw, Mapping) or len(raw) != 1:
        c.fail(where, "must be one of {constant: s}, {uniform: [lo, hi]}, {exponential: mean}, {normal: [mean, sd]}")
        return Delay()
    ((kind, arg),) = raw.items()
    if kind not in DELAY_KINDS:
        c.fail(f"{where}.{kind}", f"unknown delay distribution{did_you_mean(str(kind), DELAY_KINDS)}; use one of {', '.join(sorted(DELAY_KINDS))}")
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


def _event(c: _Checker, raw: Any, where: str) -> Event | None:
    if not isinstance(raw, Mapping):
        c.fail(where, f"must be a mapping like {{at: 2.0, crash: n1}}, got {raw!r}")
        return None
    kinds = [k for k in raw if k in EVENT_KEYS]
    if len(kinds) != 1:
        what = "no" if not kinds else "more than one"
        c.fail(where, f"has {what} action; give exactly one of {', '.join(EVENT_KEYS)}")
        c.keys(raw, {"at"} | set(EVENT_KEYS) | {k for s in EVENT_KEYS.values() for k in s}, where)
        return None
    kind = kinds[0]
    c.keys(raw, {"at", kind} | EVENT_KEYS[kind], where)
    if "at" not in raw:
        c.fail(f"{where}.at", "missing: when the event happens, in seconds from the start")
    at = c.number(raw.get("at", 0.0), f"{where}.at", 0.0)
    arg = raw[kind]
    w = f"{where}.{kind}"
    if kind == "partition":
        return _partition(c, at, arg, w)
    if kind == "heal":
        if arg not in (ALL, True):
            c.fail(w, f"write 'heal: all', got {arg!r}")
        return Heal(at)
    if kind == "crash":
        disk = raw.get("disk", "keep")
        if disk not in ("keep", "lose"):
            c.fail(f"{where}.disk", f"must be keep or lose, got {disk!r}")
        return Crash(at, c.name(arg, w), str(disk))
    if kind == "restart":
        return Restart(at, c.name(arg, w))
    if kind == "pause":
        if "for" not in raw:
            c.fail(f"{where}.for", "missing: how long the pause lasts, in seconds")
        length = c.number(raw.get("for", 0.0), f"{where}.for", 0.0)
        if "for" in raw and length <= 0:
            c.fail(f"{where}.for", "must be more than 0")
        return Pause(at, c.name(arg, w), length)
    if kind == "skew":
        offset = c.number(raw.get("offset", 0.0), f"{where}.offset")
        rate = c.number(raw.get("rate", 1.0), f"{where}.rate")
        if rate <= 0:
            c.fail(f"{where}.rate", f"a clock runs forward: the rate must be more than 0, got {rate:g}")
        return Skew(at, c.name(arg, w), offset, rate)
    return SetNetwork(at, _network(c, arg, w))


def _partition(c: _Checker, at: float, arg: Any, where: str) -> Partition | None:
    if isinstance(arg, str):
        words = arg.split()
        if len(words) == 2 and words[0] == "isolate":
            return Partition(at, ((words[1],), (REST,)))
        if arg in PARTITION_KINDS:
            return Partition(at, kind=arg)
        c.fail(where, f"unknown partition {arg!r}; write groups like [[n1, n2], rest], 'isolate n1', 'isolate leader', 'random-halves' or 'majorities-ring'")
        return None
    if not isinstance(arg, list) or len(arg) < 2:
        c.fail(where, f"must list at least two groups, like [[leader], rest], got {arg!r}")
        return None
    groups: list[tuple[str, ...]] = []
    for j, g in enumerate(arg):
        members = [g] if isinstance(g, str) else g
        if not isinstance(members, list) or not members:
            c.fail(f"{where}[{j}]", f"must be a non-empty list of node names, got {g!r}")
            continue
        groups.append(tuple(c.name(m, f"{where}[{j}]") for m in members))
    flat = [m for g in groups for m in g]
    for m in set(flat):
        if flat.count(m) > 1:
            c.fail(where, f"{m!r} is in more than one group")
    if flat.count(REST) > 1:
        c.fail(where, "'rest' can appear only once")
    return Partition(at, tuple(groups))


def _random_fault(c: _Checker, raw: Any, where: str) -> RandomFault | None:
    if not isinstance(raw, Mapping):
        c.fail(where, f"must be a mapping like {{every: 2.0, crash: random, for: 1.0}}, got {raw!r}")
        return None
    kinds = [k for k in raw if k in RANDOM_FAULTS]
    if len(kinds) != 1:
        c.fail(where, f"give exactly one of {', '.join(RANDOM_FAULTS)}")
        return None
    kind = kinds[0]
    c.keys(raw, {"every", "for", "start", kind} | ({"disk"} if kind == "crash" else set()), where)
    target = raw[kind]
    if target not in RANDOM_FAULTS[kind]:
        c.fail(f"{where}.{kind}", f"must be one of {', '.join(RANDOM_FAULTS[kind])}, got {target!r}")
    for key in ("every", "for"):
        if key not in raw:
            c.fail(f"{where}.{key}", "missing")
    every = c.number(raw.get("every", 1.0), f"{where}.every", 0.0)
    length = c.number(raw.get("for", 0.5), f"{where}.for", 0.0)
    start = c.number(raw.get("start", 0.0), f"{where}.start", 0.0)
    if every <= 0:
        c.fail(f"{where}.every", "must be more than 0")
    elif length >= every:
        c.fail(f"{where}.for", f"each fault ({length:g}s) must end before the next one starts (every {every:g}s)")
    disk = raw.get("disk", "keep")
    if disk not in ("keep", "lose"):
        c.fail(f"{where}.disk", f"must be keep or lose, got {disk!r}")
    return RandomFault(kind, every, length, str(target), start, str(disk))


def _check_pauses(events: Sequence[tuple[int, Event]]) -> list[str]:
    """Two pauses of one node must not overlap (a paused node cannot be paused again)."""
    problems = []
    ends: dict[str, float] = {}
    for i, e in sorted(events, key=lambda ie: ie[1].at):
        if isinstance(e, Pause) and e.node not in (LEADER, RANDOM):
            if e.at < ends.get(e.node, -1.0):
                problems.append(
                    f"events[{i}]: pause of {e.node} at {e.at:g} overlaps its earlier pause "
                    f"(still paused until {ends[e.node]:g})"
                )
            ends[e.node] = max(ends.get(e.node, 0.0), e.at + e.duration)
    return problems


def _check_names(s: Schedule, nodes: list[str], clients: list[str]) -> list[str]:
    problems = []
    everyone = set(nodes) | set(clients)
    listing = ", ".join(nodes)

    def known(name: str, where: str, extra: tuple[str, ...]) -> None:
        if name in extra:
            return
        if name in clients:
            problems.append(f"{where}: {name!r} is a client; only server nodes ({listing}) can crash, pause or skew")
        elif name not in everyone:
            problems.append(f"{where}: unknown node {name!r}{did_you_mean(name, nodes)}; this cluster has {listing}")

    for i, e in enumerate(s.events):
        w = f"events[{i}]"
        if isinstance(e, Partition):
            for g in e.groups:
                for m in g:
                    if m not in (LEADER, REST) and m not in everyone:
                        problems.append(f"{w}.partition: unknown node {m!r}{did_you_mean(m, sorted(everyone))}; this cluster has {listing}")
        elif isinstance(e, Crash):
            known(e.node, f"{w}.crash", (LEADER, RANDOM))
        elif isinstance(e, Pause):
            known(e.node, f"{w}.pause", (LEADER, RANDOM))
        elif isinstance(e, Restart):
            known(e.node, f"{w}.restart", (ALL,))
        elif isinstance(e, Skew):
            known(e.node, f"{w}.skew", ())
    return problems


def _draw(r: RandomFault, nodes: list[str], end: float, rng: random.Random) -> list[Event]:
    """The concrete events of a random fault up to ``end`` (the draws depend only on ``rng``)."""
    out: list[Event] = []
    t = r.start
    while t + r.duration < end:
        at = round(t + rng.uniform(0, (r.every - r.duration) / 2), 6)
        stop = round(at + r.duration, 6)
        if r.fault == "partition":
            if r.target == "random-halves":
                shuffled = nodes[:]
                rng.shuffle(shuffled)
                half = len(nodes) // 2
                out.append(Partition(at, (tuple(sorted(shuffled[:half])), tuple(sorted(shuffled[half:])))))
            elif r.target == "majorities-ring":
                out.append(Partition(at, kind="majorities-ring"))
            else:
                who = LEADER if r.target == "isolate-leader" else rng.choice(nodes)
                out.append(Partition(at, ((who,), (REST,))))
            out.append(Heal(stop))
        elif r.fault == "crash":
            who = rng.choice(nodes) if r.target == RANDOM else LEADER
            out.append(Crash(at, who, r.disk))
            out.append(Restart(stop, ALL))
        else:
            who = rng.choice(nodes) if r.target == RANDOM else LEADER
            out.append(Pause(at, who, r.duration))
        t += r.every
    return out


# -- loading ------------------------------------------------------------------------------


def load(name_or_path: str | Path) -> Schedule:
    """A schedule from the library (by name) or from a YAML/JSON file (by path)."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml", ".json") or p.exists():
        if not p.exists():
            raise ScheduleError([f"no such file {str(p)!r}"], str(p))
        text = p.read_text(encoding="utf-8")
        source = str(p)
        default_name = p.stem
    else:
        names = library()
        if str(name_or_path) not in names:
            raise ScheduleError(
                [f"no schedule named {str(name_or_path)!r}{did_you_mean(str(name_or_path), names)}; "
                 f"the library has: {', '.join(names)}; or give a path to a .yaml/.json file"],
                str(name_or_path),
            )
        text = (resources.files("labs.runtime") / "schedules" / f"{name_or_path}.yaml").read_text(encoding="utf-8")
        source = f"library schedule {name_or_path!r}"
        default_name = str(name_or_path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScheduleError([f"not valid YAML/JSON: {exc}"], source) from exc
    if isinstance(data, dict):
        data.setdefault("name", default_name)
    return parse(data, source)


def loads(text: str, source: str = "schedule") -> Schedule:
    """A schedule from YAML or JSON text."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScheduleError([f"not valid YAML/JSON: {exc}"], source) from exc
    return parse(data, source)


def library() -> list[str]:
    """The names of the schedules that ship with the runtime."""
    folder = resources.files("labs.runtime") / "schedules"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


# -- the Python builder -------------------------------------------------------------------


@dataclass
class Builder:
    """Write a schedule in Python, in the order of the story::

        s = (builder("split-brain").loss(0.05).delay(uniform=(0.001, 0.02))
             .at(2.0).partition(["leader"], "rest")
             .at(5.0).heal()
             .at(6.0).crash("n3", disk="lose")
             .at(8.0).restart("n3")
             .build())

    ``build()`` runs the same checks as a YAML document.
    """

    name: str = "unnamed"
    description: str = ""
    _network: dict[str, Any] = field(default_factory=dict)
    _events: list[dict[str, Any]] = field(default_factory=list)
    _random: list[dict[str, Any]] = field(default_factory=list)
    _t: float = 0.0
    _duration: float | None = None
    _seed: int | None = None

    def loss(self, p: float) -> Builder:
        self._network["loss"] = p
        return self

    def duplicate(self, p: float) -> Builder:
        self._network["duplicate"] = p
        return self

    def fifo(self) -> Builder:
        self._network["reorder"] = False
        return self

    def delay(self, constant: float | None = None, uniform: tuple[float, float] | None = None,
              exponential: float | None = None, normal: tuple[float, float] | None = None) -> Builder:
        if constant is not None:
            self._network["delay"] = {"constant": constant}
        elif uniform is not None:
            self._network["delay"] = {"uniform": list(uniform)}
        elif exponential is not None:
            self._network["delay"] = {"exponential": exponential}
        elif normal is not None:
            self._network["delay"] = {"normal": list(normal)}
        return self

    def duration(self, seconds: float) -> Builder:
        self._duration = seconds
        return self

    def seed(self, seed: int) -> Builder:
        self._seed = seed
        return self

    def at(self, t: float) -> Builder:
        """The time of the events that follow."""
        self._t = t
        return self

    def partition(self, *groups: str | Sequence[str]) -> Builder:
        """``.partition(["n1", "n2"], "rest")`` or a named shape: ``.partition("majorities-ring")``."""
        if len(groups) == 1 and isinstance(groups[0], str):
            return self._add({"partition": groups[0]})
        return self._add({"partition": [g if isinstance(g, str) else list(g) for g in groups]})

    def isolate(self, node: str) -> Builder:
        return self._add({"partition": f"isolate {node}"})

    def heal(self) -> Builder:
        return self._add({"heal": ALL})

    def crash(self, node: str, disk: str = "keep") -> Builder:
        return self._add({"crash": node, "disk": disk})

    def restart(self, node: str) -> Builder:
        return self._add({"restart": node})

    def pause(self, node: str, seconds: float) -> Builder:
        return self._add({"pause": node, "for": seconds})

    def skew(self, node: str, offset: float = 0.0, rate: float = 1.0) -> Builder:
        return self._add({"skew": node, "offset": offset, "rate": rate})

    def network(self, **conditions: Any) -> Builder:
        """Change the network at the current time: ``.network(loss=0.3)``."""
        return self._add({"network": conditions})

    def every(self, seconds: float, fault: str, target: str, lasting: float, **extra: Any) -> Builder:
        """A random fault: ``.every(2.0, "partition", "random-halves", lasting=1.0)``."""
        self._random.append({"every": seconds, fault: target, "for": lasting, **extra})
        return self

    def _add(self, action: dict[str, Any]) -> Builder:
        self._events.append({"at": self._t, **action})
        return self

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "network": dict(self._network), "events": list(self._events)}
        if self.description:
            data["description"] = self.description
        if self._random:
            data["random"] = list(self._random)
        if self._duration is not None:
            data["duration"] = self._duration
        if self._seed is not None:
            data["seed"] = self._seed
        return data

    def build(self) -> Schedule:
        return parse(self.to_data(), f"schedule {self.name!r}")


def builder(name: str = "unnamed", description: str = "") -> Builder:
    """Start a :class:`Builder`."""
    return Builder(name=name, description=description)
