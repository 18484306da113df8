"""A finished Raft run parsed from its trace, as the checks see it: who was up and connected
when, each node's term and role over time, the elections and the applied entries.

The harness (:mod:`labs.raft.harness`) writes three kinds of lines, and nothing else here
depends on the student's code:

* ``raft state term=T role=R``: the node's term or role changed (seen after a handler);
* ``raft leader term=T last_index=I last_term=LT``: it became leader, with that last entry;
* ``raft apply index=I term=T cmd=C``: it handed a committed entry to its state machine;
* ``raft snapshot index=I digest=D``: its state machine took a snapshot (part D);
* ``raft install index=I term=T digest=D``: it handed a snapshot to its state machine (part D):
  on a restart, or one a leader sent. ``D`` is a hash of the commands applied up to ``I``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from labs.checkers.history import pair_trace_calls
from labs.runtime.lab import RunResult

Event = dict[str, Any]

STATE = re.compile(r"^raft state term=(\d+) role=(\w+)$")
LEADER = re.compile(r"^raft leader term=(\d+) last_index=(-?\d+) last_term=(-?\d+)$")
APPLY = re.compile(r"^raft apply index=(\d+) term=(\d+) cmd=(\S*)$")
INSTALL = re.compile(r"^raft install index=(\d+) term=(\d+) digest=(\w*)$")


@dataclass(frozen=True)
class Elected:
    t: float
    pos: int
    node: str
    term: int
    last_index: int
    last_term: int
    event: Event


@dataclass(frozen=True)
class Apply:
    t: float
    pos: int
    node: str
    life: int
    """Which incarnation of the node applied it (0 at first, +1 at each restart)."""
    step: int
    """Which handler of the node applied it (applies of one handler share it). Not its time:
    on Ray the lines of one handler carry times a few microseconds apart."""
    index: int
    term: int
    command: str
    event: Event


@dataclass(frozen=True)
class Install:
    t: float
    pos: int
    node: str
    life: int
    index: int
    term: int
    digest: str
    event: Event


@dataclass(frozen=True)
class Network:
    """Who is up (running, not paused) and which links are cut, from ``t`` on."""

    t: float
    up: frozenset[str]
    blocked: frozenset[tuple[str, str]]

    def linked(self, a: str, b: str) -> bool:
        return (a in self.up and b in self.up and (a, b) not in self.blocked
                and (b, a) not in self.blocked)


@dataclass
class RaftRun:
    """What :func:`parse_run` read from a run's trace."""

    servers: list[str]
    end: float
    networks: list[Network] = field(default_factory=list)
    states: dict[str, list[tuple[float, int, str]]] = field(default_factory=dict)
    """node -> (time, term, role) changes; role "down" while crashed."""
    elected: list[Elected] = field(default_factory=list)
    applies: list[Apply] = field(default_factory=list)
    installs: list[Install] = field(default_factory=list)
    server_sends: list[tuple[float, str, str]] = field(default_factory=list)
    """(time, sender, receiver) of every message between servers."""
    invoked: dict[str, float] = field(default_factory=dict)
    """command -> when the first client operation holding it was invoked."""
    completed: list[tuple[Event, Event]] = field(default_factory=list)
    """(invoke, complete) of every client operation that ended."""

    def progress(self) -> list[tuple[float, str, int, int]]:
        """``(time, node, life, index)``: a node's state machine reached ``index``, by applying
        that entry or installing a snapshot that ends there."""
        return sorted([(a.t, a.node, a.life, a.index) for a in self.applies]
                      + [(i.t, i.node, i.life, i.index) for i in self.installs])

    @property
    def majority(self) -> int:
        return len(self.servers) // 2 + 1

    def network_at(self, t: float) -> Network:
        i = bisect.bisect_right([n.t for n in self.networks], t) - 1
        return self.networks[max(i, 0)]

    def networks_during(self, a: float, b: float) -> list[Network]:
        """The network states in force at some moment of [a, b]."""
        return [n for i, n in enumerate(self.networks)
                if n.t <= b and (i + 1 == len(self.networks) or self.networks[i + 1].t >= a)]

    def reached_majority(self, node: str, a: float, b: float) -> bool:
        """Could ``node`` exchange messages with a majority (itself included) during [a, b],
        each peer at some moment of it (not necessarily all at once)?"""
        nets = self.networks_during(a, b)
        peers = {p for p in self.servers if p != node and any(n.linked(node, p) for n in nets)}
        return 1 + len(peers) >= self.majority

    def state_at(self, node: str, t: float) -> tuple[int, str]:
        changes = self.states.get(node, [])
        i = bisect.bisect_right([c[0] for c in changes], t) - 1
        return (changes[i][1], changes[i][2]) if i >= 0 else (0, "follower")

    def connected_majorities(self, net: Network) -> list[frozenset[str]]:
        """The largest groups of up servers that all reach each other, if they are majorities."""
        up = [s for s in self.servers if s in net.up]
        for size in range(len(up), self.majority - 1, -1):
            found = [frozenset(g) for g in combinations(up, size)
                     if all(net.linked(a, b) for a, b in combinations(g, 2))]
            if found:
                return found
        return []


def parse_run(run: RunResult) -> RaftRun:
    """The run's :class:`RaftRun`, parsed once per run and shared by the checks."""
    cached = run.__dict__.get("_raft_run")
    if isinstance(cached, RaftRun):
        return cached
    parsed = _parse(run)
    run.__dict__["_raft_run"] = parsed
    return parsed


def _parse(run: RunResult) -> RaftRun:
    header = run.trace[0] if run.trace and run.trace[0].get("type") == "run" else {}
    servers = list(header.get("nodes") or run.lab.node_names())
    end = max((float(e["t"]) for e in run.trace if "t" in e), default=0.0)
    v = RaftRun(servers, end)
    up: set[str] = set()
    paused: set[str] = set()
    blocked: frozenset[tuple[str, str]] = frozenset()
    life = dict.fromkeys(servers, -1)
    step = dict.fromkeys(servers, 0)
    server_set = set(servers)

    def network_changed(t: float) -> None:
        v.networks.append(Network(t, frozenset(up - paused), blocked))

    network_changed(0.0)
    for pos, e in enumerate(run.trace):
        kind = e.get("type")
        node = e.get("node")
        t = float(e.get("t", 0.0))
        if kind in ("deliver", "timer_fire", "start", "restart") and node in server_set:
            step[str(node)] += 1  # a handler begins (or the node's start-up)
        if kind == "send":
            if node in server_set and e.get("dst") in server_set:
                v.server_sends.append((t, str(node), str(e["dst"])))
        elif kind == "log" and node in server_set:
            text = str(e.get("text", ""))
            if (m := APPLY.match(text)) is not None:
                v.applies.append(Apply(t, pos, str(node), life[str(node)], step[str(node)], int(m[1]), int(m[2]), m[3], e))
            elif (m := INSTALL.match(text)) is not None:
                v.installs.append(Install(t, pos, str(node), life[str(node)], int(m[1]), int(m[2]), m[3], e))
            elif (m := STATE.match(text)) is not None:
                v.states.setdefault(str(node), []).append((t, int(m[1]), m[2]))
            elif (m := LEADER.match(text)) is not None:
                v.elected.append(Elected(t, pos, str(node), int(m[1]), int(m[2]), int(m[3]), e))
        elif kind in ("start", "restart") and node in server_set:
            up.add(str(node))
            life[str(node)] += 1
            network_changed(t)
        elif kind == "crash" and node in server_set:
            up.discard(str(node))
            paused.discard(str(node))
            v.states.setdefault(str(node), []).append((t, -1, "down"))
            network_changed(t)
        elif kind == "pause" and node in server_set:
            paused.add(str(node))
            network_changed(t)
        elif kind == "resume" and node in server_set:
            paused.discard(str(node))
            network_changed(t)
        elif kind == "partition":
            blocked = frozenset((str(a), str(b)) for a, b in e.get("blocked", []))
            network_changed(t)
        elif kind == "heal":
            blocked = frozenset()
            network_changed(t)
        elif kind == "invoke":
            value = e.get("value")
            for command in value if isinstance(value, list) else [value]:
                v.invoked.setdefault(str(command), t)
    v.completed = [(call, done) for call, done in pair_trace_calls(run.trace) if done is not None]
    return v


def message_entries(body: dict[str, Any]) -> list[Any]:
    """The ``entries`` of an AppendEntries body as the trace holds it (a tuple is written as
    ``{"@tuple": [...]}``); anything else is no entries."""
    entries = body.get("entries")
    if isinstance(entries, dict):
        entries = entries.get("@tuple")
    return entries if isinstance(entries, list) else []


LEADS = ("AppendEntries", "InstallSnapshot")
"""The messages only a leader sends, each with the ``term`` it leads."""


def leader_in(trace: Sequence[Event]) -> dict[str, str]:
    """``{"leader": node}``: the leader now, read from the messages the runtime saw sent (never
    from what a node says of itself), for schedules that aim a fault at the leader. It is the
    node that sent ``AppendEntries`` or ``InstallSnapshot`` for the newest term any was sent
    for, if it has not crashed since; else nobody (``{}``)."""
    term, leader = -1, ""
    for e in trace:
        if e["type"] == "send" and e.get("msg") in LEADS:
            body = e.get("body")
            sent = body.get("term") if isinstance(body, dict) else None
            if isinstance(sent, int) and sent >= term:
                term, leader = sent, str(e.get("node"))
        elif e["type"] == "crash" and e.get("node") == leader:
            leader = ""  # its term stays the bar: an older leader still sending is not the leader
    return {"leader": leader} if leader else {}
