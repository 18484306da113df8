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
from the start of the run, in the simulator's virtual time or Ray's real time alike. Each kind of
event is defined once, in :mod:`.faults`, and the ``random:`` section's repeated faults in
:mod:`.random_faults`; this module reads and writes whole schedules.

Two steps turn a document into faults:

1. :func:`parse` checks the document's shape and returns a :class:`Schedule`; every problem found is
   reported together, each naming its field (``events[2].loss: must be between 0 and 1, got 1.5``).
2. :meth:`Schedule.expand` binds it to a cluster's node names, roles and a seed: unknown nodes are
   errors, the ``random:`` section becomes concrete events, and the schedule gets its final ``heal``.
   Roles (``leader``, or any role a lab declares) stay symbolic: each means whichever node holds
   the role when the event fires.

Every expanded schedule ends healed: at ``duration`` partitions heal, paused nodes resume, crashed
nodes restart (disk kept) and the network becomes clean, so that a lab can check it recovers.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .faults import (
    ALL,
    LEADER,
    RANDOM,
    REST,
    Cluster,
    Crash,
    Event,
    Heal,
    Partition,
    Pause,
    Restart,
    SetNetwork,
    Skew,
    fault_from_data,
)
from .network import CLEAN, Network, parse_network
from .random_faults import RandomFault, random_fault_from_data
from .validate import Checker, did_you_mean

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

__all__ += ["ALL", "LEADER", "RANDOM", "REST", "did_you_mean"]  # for the code that builds schedules

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
            last = max(last, e.until())
        for r in self.random:
            last = max(last, r.start + r.every)
        return max(minimum, last + DEFAULT_TAIL)

    def expand(
        self,
        nodes: Sequence[str],
        clients: Sequence[str] = (),
        seed: int = 0,
        min_duration: float = 0.0,
        roles: Sequence[str] = (LEADER,),
    ) -> Schedule:
        """Bind to a cluster: check node names and roles, draw the random faults, add the final heal.

        The result has no ``random:`` section, a fixed ``duration`` and time-sorted events.
        """
        problems = self.check(Cluster(list(nodes), list(clients), list(roles)))
        if problems:
            raise ScheduleError(problems, f"schedule {self.name!r}")
        end = self.end(min_duration)
        rng = random.Random(self.seed if self.seed is not None else seed)
        events = list(self.events)
        for r in self.random:
            events.extend(r.draw(list(nodes), end, rng))
        events = [e for e in events if e.at <= end]
        events.append(Heal(at=end))
        events.sort(key=lambda e: e.at)  # stable: same-time events keep their written order
        expanded = replace(self, events=tuple(events), random=(), duration=end)
        pause_problems = _check_pauses(list(enumerate(expanded.events)), symbolic=(*roles, RANDOM))
        if pause_problems:
            raise ScheduleError(pause_problems, f"schedule {self.name!r}")
        return expanded

    def check(self, cluster: Cluster) -> list[str]:
        """Every event's names checked against a cluster: each problem names its field."""
        problems = [p for i, e in enumerate(self.events) for p in e.check(cluster, f"events[{i}]")]
        for i, r in enumerate(self.random):
            role = r.role()
            if role is not None and role != RANDOM and role not in cluster.roles:
                problems.append(f"random[{i}].{r.fault}: {role!r} is not a role of this lab"
                                f"{did_you_mean(role, cluster.roles)}; its roles are "
                                f"{', '.join(cluster.roles) or 'none'}, or use random")
        return problems

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
        out["events"] = [e.to_data() for e in self.events]
        if self.random:
            out["random"] = [r.to_data() for r in self.random]
        return out

    def describe(self) -> str:
        """One line per event, for reports: ``t=2.0 partition [leader] | rest``."""
        parts = [f"network: {self.network.describe()}"]
        for e in self.events:
            parts.append(f"t={e.at:g} {e.describe()}")
        return "; ".join(parts)


# -- parsing and checking -----------------------------------------------------------------

TOP_KEYS = {"name", "description", "network", "events", "random", "duration", "seed"}


def parse(data: Any, source: str = "schedule") -> Schedule:
    """Check a schedule document (already loaded from YAML or JSON) and build a :class:`Schedule`."""
    c = Checker()
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
    network = parse_network(c, data.get("network", {}), "network")
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
            e = fault_from_data(c, raw, f"events[{i}]")
            if e is not None:
                numbered.append((i, e))
    events = [e for _, e in numbered]
    raw_random = data.get("random", [])
    randoms: list[RandomFault] = []
    if not isinstance(raw_random, list):
        c.fail("random", "must be a list like [{every: 2.0, partition: random-halves, for: 1.0}]")
    else:
        for i, raw in enumerate(raw_random):
            r = random_fault_from_data(c, raw, f"random[{i}]")
            if r is not None:
                randoms.append(r)
    if duration is not None:
        for i, e in numbered:
            if e.at > duration:
                c.fail(f"events[{i}].at", f"{e.at:g} is after the schedule's duration {duration:g}")
    c.problems.extend(_check_pauses(numbered, symbolic=(LEADER, RANDOM)))
    if c.problems:
        raise ScheduleError(c.problems, source)
    return Schedule(name, description, network, tuple(events), tuple(randoms), duration, seed)


def _check_pauses(events: Sequence[tuple[int, Event]], symbolic: Sequence[str]) -> list[str]:
    """Two pauses of one node must not overlap (a paused node cannot be paused again). A role's
    pauses may: each pauses whichever node holds the role then."""
    problems = []
    ends: dict[str, float] = {}
    for i, e in sorted(events, key=lambda ie: ie[1].at):
        if isinstance(e, Pause) and e.node not in symbolic:
            if e.at < ends.get(e.node, -1.0):
                problems.append(
                    f"events[{i}]: pause of {e.node} at {e.at:g} overlaps its earlier pause "
                    f"(still paused until {ends[e.node]:g})"
                )
            ends[e.node] = max(ends.get(e.node, 0.0), e.at + e.duration)
    return problems


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
