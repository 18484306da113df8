"""The faults a schedule injects, each kind defined once.

A kind is one small class (the Porcupine way: a few methods, nothing else), which says

* what it is (its fields) and how it reads and writes as a document (``from_data``, ``to_data``);
* how it is checked against a cluster (``check``: unknown nodes, roles a lab does not declare);
* how it is applied (``apply``), to the grader's side of a run, a :class:`World`, which both
  runtimes are: the simulator's event loop and the Ray driver;
* how it shrinks (``smaller``) and how it reads in a report (``describe``).

A fault may name a node (``n3``), a role the lab declares (``leader``, ``primary``, ``tail``:
whichever node holds it when the fault fires) or ``random``. Its :meth:`Fault.targets` are those
names; the runtime resolves each to a node just before :meth:`Fault.apply` (asking the nodes for
their roles where needed), and a role nobody holds skips the fault with a ``skip`` event.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Protocol, Self, cast

from .network import CLEAN, Links, Network, block_groups, block_ring, parse_network
from .validate import Checker, did_you_mean

__all__ = [
    "ALL",
    "KINDS",
    "LEADER",
    "RANDOM",
    "REST",
    "Cluster",
    "Crash",
    "Event",
    "Fault",
    "Heal",
    "Partition",
    "Pause",
    "Restart",
    "SetNetwork",
    "Skew",
    "World",
]

LEADER = "leader"
REST = "rest"
RANDOM = "random"
ALL = "all"
PARTITION_KINDS = ("random-halves", "majorities-ring")
ONE_WAY = ("deafen", "mute")
"""One-way partitions: ``deafen n1`` drops every message to n1, ``mute n1`` every message from it."""


class World(Protocol):
    """The grader's side of a run, as a fault acts on it. Each method applies one primitive
    change now, records it in the trace, and ignores what does not apply (pausing a node that is
    down, restarting one that is up)."""

    @property
    def servers(self) -> Sequence[str]: ...
    @property
    def clients(self) -> Sequence[str]: ...
    @property
    def end_of_faults(self) -> float: ...
    def cut(self, links: Links, groups: list[list[str]]) -> None: ...
    def heal(self, final: bool) -> None: ...
    def set_network(self, network: Network) -> None: ...
    def crash(self, node: str, disk: str) -> None: ...
    def restart(self, node: str) -> None: ...
    def pause(self, node: str, seconds: float) -> None: ...
    def resume(self, node: str) -> None: ...
    def skew(self, node: str, offset: float, rate: float) -> None: ...
    def skip(self, what: str, why: str) -> None: ...


Who = Mapping[str, "str | None"]
"""What each of a fault's targets names now: a node, or None (a role nobody holds)."""


@dataclass(frozen=True)
class Cluster:
    """What a schedule is checked against: the lab's servers, clients and declared roles."""

    nodes: Sequence[str]
    clients: Sequence[str] = ()
    roles: Sequence[str] = (LEADER,)

    def server(self, name: str, where: str, symbolic: bool = True, also: Sequence[str] = ()) -> list[str]:
        """Problems with ``name`` as a server a fault acts on (crash, pause, skew, restart):
        a server, one of ``also``, or (if ``symbolic``) a declared role or ``random``."""
        if name in self.nodes or name in also or (symbolic and (name in self.roles or name == RANDOM)):
            return []
        listing = ", ".join(self.nodes)
        if name in self.clients:
            return [f"{where}: {name!r} is a client; only server nodes ({listing}) can crash, pause or skew"]
        if symbolic:
            return [f"{where}: unknown node {name!r}{did_you_mean(name, [*self.nodes, *self.roles])}; "
                    f"this cluster has {listing} (roles: {', '.join(self.roles) or 'none'}, or random)"]
        return [f"{where}: unknown node {name!r}{did_you_mean(name, self.nodes)}; this cluster has {listing}"]

    def member(self, name: str, where: str) -> list[str]:
        """Problems with ``name`` as a member of a partition's group: any node, client or role."""
        if name in (REST, RANDOM) or name in self.nodes or name in self.clients or name in self.roles:
            return []
        everyone = [*self.nodes, *self.clients, *self.roles]
        return [f"{where}: unknown node {name!r}{did_you_mean(name, everyone)}; this cluster has "
                f"{', '.join(self.nodes)} (roles: {', '.join(self.roles) or 'none'})"]


@dataclass(frozen=True)
class Fault:
    """One event of a schedule: something the grader does to the cluster at time ``at``."""

    at: float

    key: ClassVar[str]
    """The document key that names the kind (``crash`` in ``{at: 6.0, crash: n3}``)."""
    options: ClassVar[frozenset[str]] = frozenset()
    """The other keys its document may have."""

    @classmethod
    def from_data(cls, c: Checker, at: float, doc: Mapping[str, Any], where: str) -> Fault | None:
        raise NotImplementedError

    def to_data(self) -> dict[str, Any]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def targets(self) -> tuple[str, ...]:
        """The nodes, roles or ``random`` this fault names, resolved when it fires."""
        return ()

    def apply(self, world: World, who: Who) -> None:
        raise NotImplementedError

    def check(self, cluster: Cluster, where: str) -> list[str]:
        return []

    def until(self) -> float:
        """When its effect ends, if it ends on its own (a pause); else when it happens."""
        return self.at

    def smaller(self) -> Iterator[Self]:
        """Milder versions of it, for shrinking a failing schedule."""
        return iter(())


def _skip_unheld(world: World, what: str, target: str, node: str | None) -> bool:
    if node is None:
        world.skip(what, f"no node is {target}")
        return True
    return False


@dataclass(frozen=True)
class Partition(Fault):
    """Cut the network. ``groups`` lists groups of members (node names, roles, ``rest``) that
    can talk only within their group, or ``kind`` names a shape (``majorities-ring``).

    A one-way partition cuts one direction only: ``one_way`` is ``deafen`` (``partition: deafen
    n1``: what n1 sends goes through, everything sent to it is dropped) or ``mute`` (``partition:
    mute n1``: the reverse), and ``groups`` holds the one member it acts on. A heal ends it as
    it ends any partition."""

    groups: tuple[tuple[str, ...], ...] = ()
    kind: str | None = None
    one_way: str | None = None

    key: ClassVar[str] = "partition"

    @classmethod
    def isolating(cls, at: float, who: str) -> Partition:
        return cls(at, ((who,), (REST,)))

    @classmethod
    def one_way_at(cls, at: float, direction: str, who: str) -> Partition:
        """``deafen`` (``who`` hears nobody) or ``mute`` (nobody hears ``who``)."""
        return cls(at, ((who,),), one_way=direction)

    @classmethod
    def from_data(cls, c: Checker, at: float, doc: Mapping[str, Any], where: str) -> Partition | None:
        arg = doc[cls.key]
        where = f"{where}.{cls.key}"
        if isinstance(arg, str):
            words = arg.split()
            if len(words) == 2 and words[0] == "isolate":
                return cls.isolating(at, words[1])
            if len(words) == 2 and words[0] in ONE_WAY:
                return cls.one_way_at(at, words[0], c.name(words[1], where))
            if arg in PARTITION_KINDS:
                return cls(at, kind=arg)
            c.fail(where, f"unknown partition {arg!r}; write groups like [[n1, n2], rest], 'isolate n1', "
                          "'isolate leader', 'deafen n1' (n1 hears nobody), 'mute n1' (nobody hears n1), "
                          "'random-halves' or 'majorities-ring'")
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
        return cls(at, tuple(groups))

    def to_data(self) -> dict[str, Any]:
        if self.one_way:
            return {"at": self.at, "partition": f"{self.one_way} {self.groups[0][0]}"}
        return {"at": self.at, "partition": self.kind if self.kind else [list(g) for g in self.groups]}

    def describe(self) -> str:
        if self.one_way:
            who = self.groups[0][0]
            return f"partition {self.one_way} {who} (" + (f"{who} hears nobody" if self.one_way == "deafen"
                                                          else f"nobody hears {who}") + ")"
        return "partition " + (self.kind or " | ".join("[" + " ".join(g) + "]" for g in self.groups))

    def targets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m for g in self.groups for m in g if m != REST))

    def check(self, cluster: Cluster, where: str) -> list[str]:
        if self.one_way and self.groups[0][0] == REST:
            return [f"{where}.partition: '{self.one_way} rest' names nobody; write '{self.one_way} n1' "
                    f"or '{self.one_way} leader'"]
        return [p for g in self.groups for m in g for p in cluster.member(m, f"{where}.partition")]

    def apply(self, world: World, who: Who) -> None:
        if self.kind == "majorities-ring":
            world.cut(block_ring(list(world.servers)), [])
            return
        if self.one_way:
            target = self.groups[0][0]
            node = who[target]
            if _skip_unheld(world, "partition", target, node):
                return
            others = [x for x in (*world.servers, *world.clients) if x != node]
            links = ((x, str(node)) for x in others) if self.one_way == "deafen" else ((str(node), x) for x in others)
            world.cut(frozenset(links), [])
            return
        named: list[list[str]] = []
        for g in self.groups:
            group = []
            for m in g:
                node = m if m == REST else who[m]
                if _skip_unheld(world, "partition", m, node):
                    return
                group.append(str(node))
            named.append(group)
        mentioned = {m for g in named for m in g if m != REST}
        rest = [x for x in (*world.servers, *world.clients) if x not in mentioned]
        groups = [[m for m in g if m != REST] + (rest if REST in g else []) for g in named]
        world.cut(block_groups(groups), groups)


@dataclass(frozen=True)
class Heal(Fault):
    """Heal every partition. The final heal, at the end of the fault phase, also cleans the
    network, resumes paused nodes and restarts crashed ones (disk kept)."""

    key: ClassVar[str] = "heal"

    @classmethod
    def from_data(cls, c: Checker, at: float, doc: Mapping[str, Any], where: str) -> Heal:
        if doc[cls.key] not in (ALL, True):
            c.fail(f"{where}.heal", f"write 'heal: all', got {doc[cls.key]!r}")
        return cls(at)

    def to_data(self) -> dict[str, Any]:
        return {"at": self.at, "heal": ALL}

    def describe(self) -> str:
        return "heal"

    def apply(self, world: World, who: Who) -> None:
        final = self.at >= world.end_of_faults
        world.heal(final)
        if final:
            world.set_network(CLEAN)
            for name in world.servers:
                world.resume(name)
                world.restart(name)


@dataclass(frozen=True)
class Crash(Fault):
    """Kill a node's process. ``disk`` is ``keep`` (storage survives) or ``lose``."""

    node: str
    disk: str = "keep"

    key: ClassVar[str] = "crash"
    options: ClassVar[frozenset[str]] = frozenset({"disk"})

    @classmethod
    def from_data(cls, c: Checker, at: float, doc: Mapping[str, Any], where: str) -> Crash:
        disk = doc.get("disk", "keep")
        if disk not in ("keep", "lose"):
            c.fail(f"{where}.disk", f"must be keep or lose, got {disk!r}")
        return cls(at, c.name(doc[cls.key], f"{where}.crash"), str(disk))

    def to_data(self) -> dict[str, Any]:
        return {"at": self.at, "crash": self.node, "disk": self.disk}

    def describe(self) -> str:
        return f"crash {self.node} (disk {self.disk})"

    def targets(self) -> tuple[str, ...]:
        return (self.node,)

    def check(self, cluster: Cluster, where: str) -> list[str]:
        return cluster.server(self.node, f"{where}.crash")

    def apply(self, world: World, who: Who) -> None:
        node = who[self.node]
        if not _skip_unheld(world, "crash", self.node, node):
            world.crash(str(node), self.disk)


@dataclass(frozen=True)
class Restart(Fault):
    """Start a crashed node again (``all``: every crashed node)."""

    node: str

    key: ClassVar[str] = "restart"

    @classmethod
    def from_data(cls, c: Checker, at: float, doc: Mapping[str, Any], where: str) -> Restart:
        return cls(at, c.name(doc[cls.key], f"{where}.restart"))

    def to_data(self) -> dict[str, Any]:
        return {"at": self.at, "restart": self.node}

    def describe(self) -> str:
        return f"restart {self.node}"

    def check(self, cluster: Cluster, where: str) -> list[str]:
        return cluster.server(self.node, f"{where}.restart", symbolic=False, also=(ALL,))

    def apply(self, world: World, who: Who) -> None:
        for name in world.servers if self.node == ALL else [self.node]:
            world.restart(name)


@dataclass(frozen=True)
class Pause(Fault):
    """Freeze a node for ``duration`` seconds, as a long GC pause would; it then resumes."""

    node: str
    duration: float

    key: ClassVar[str] = "pause"
    options: ClassVar[frozenset[str]] = frozenset({"for"})

    @classmethod
    def from_data(cls, c: Checker, at: float, doc: Mapping[str, Any], where: str) -> Pause:
        if "for" not in doc:
            c.fail(f"{where}.for", "missing: how long the pause lasts, in seconds")
        length = c.number(doc.get("for", 0.0), f"{where}.for", 0.0)
        if "for" in doc and length <= 0:
            c.fail(f"{where}.for", "must be more than 0")
        return cls(at, c.name(doc[cls.key], f"{where}.pause"), length)

    def to_data(self) -> dict[str, Any]:
        return {"at": self.at, "pause": self.node, "for": self.duration}

    def describe(self) -> str:
        return f"pause {self.node} for {self.duration:g}s"

    def targets(self) -> tuple[str, ...]:
        return (self.node,)

    def check(self, cluster: Cluster, where: str) -> list[str]:
        return cluster.server(self.node, f"{where}.pause")

    def apply(self, world: World, who: Who) -> None:
        node = who[self.node]
        if not _skip_unheld(world, "pause", self.node, node):
            world.pause(str(node), self.duration)

    def until(self) -> float:
        return self.at + self.duration

    def smaller(self) -> Iterator[Self]:
        if self.duration > 0.05:
            yield replace(self, duration=round(self.duration / 2, 6))


@dataclass(frozen=True)
class Skew(Fault):
    """From ``at`` on, ``node``'s clock reads ``offset`` seconds ahead and runs at ``rate``."""

    node: str
    offset: float = 0.0
    rate: float = 1.0

    key: ClassVar[str] = "skew"
    options: ClassVar[frozenset[str]] = frozenset({"offset", "rate"})

    @classmethod
    def from_data(cls, c: Checker, at: float, doc: Mapping[str, Any], where: str) -> Skew:
        offset = c.number(doc.get("offset", 0.0), f"{where}.offset")
        rate = c.number(doc.get("rate", 1.0), f"{where}.rate")
        if rate <= 0:
            c.fail(f"{where}.rate", f"a clock runs forward: the rate must be more than 0, got {rate:g}")
        return cls(at, c.name(doc[cls.key], f"{where}.skew"), offset, rate)

    def to_data(self) -> dict[str, Any]:
        return {"at": self.at, "skew": self.node, "offset": self.offset, "rate": self.rate}

    def describe(self) -> str:
        return f"skew {self.node} offset {self.offset:g}s rate {self.rate:g}"

    def check(self, cluster: Cluster, where: str) -> list[str]:
        return cluster.server(self.node, f"{where}.skew", symbolic=False)

    def apply(self, world: World, who: Who) -> None:
        world.skew(self.node, self.offset, self.rate)


@dataclass(frozen=True)
class SetNetwork(Fault):
    """Change the network's behaviour from ``at`` on."""

    network: Network

    key: ClassVar[str] = "network"

    @classmethod
    def from_data(cls, c: Checker, at: float, doc: Mapping[str, Any], where: str) -> SetNetwork:
        return cls(at, parse_network(c, doc[cls.key], f"{where}.network"))

    def to_data(self) -> dict[str, Any]:
        return {"at": self.at, "network": self.network.to_data()}

    def describe(self) -> str:
        return f"network {self.network.describe()}"

    def apply(self, world: World, who: Who) -> None:
        world.set_network(self.network)

    def smaller(self) -> Iterator[Self]:
        for network in self.network.smaller():
            yield replace(self, network=network)


Event = Partition | Heal | Crash | Restart | Pause | Skew | SetNetwork
KINDS: dict[str, type[Fault]] = {k.key: k for k in (Partition, Heal, Crash, Restart, Pause, Skew, SetNetwork)}
"""Every kind of fault, by its document key."""


def fault_from_data(c: Checker, doc: Any, where: str) -> Event | None:
    """One event of a schedule document (``{at: 6.0, crash: n3, disk: keep}``), or None after
    reporting to ``c`` why it cannot be read."""
    if not isinstance(doc, Mapping):
        c.fail(where, f"must be a mapping like {{at: 2.0, crash: n1}}, got {doc!r}")
        return None
    kinds = [k for k in doc if k in KINDS]
    if len(kinds) != 1:
        what = "no" if not kinds else "more than one"
        c.fail(where, f"has {what} action; give exactly one of {', '.join(KINDS)}")
        c.keys(doc, {"at", *KINDS, *(o for k in KINDS.values() for o in k.options)}, where)
        return None
    kind = KINDS[kinds[0]]
    c.keys(doc, {"at", kind.key, *kind.options}, where)
    if "at" not in doc:
        c.fail(f"{where}.at", "missing: when the event happens, in seconds from the start")
    at = c.number(doc.get("at", 0.0), f"{where}.at", 0.0)
    return cast("Event | None", kind.from_data(c, at, doc, where))
