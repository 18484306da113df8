"""The Raft time line under a run's space-time diagram: per server, its term and role over time,
who leads, and how far it has applied its log.

Two views, registered for the ``raft`` lab (see :mod:`labs.pictures.views`):

* **terms and roles**: one bar per stretch of time a server spent in one term and one role
  (follower, candidate, leader, or down while crashed), coloured by term, darkest for the leader,
  so that a new term sweeping across the cluster is a change of colour, and two dark bars at
  once are two servers that both believe they lead (a stale leader and the real one). A
  follower's bar names the leader of its term once one was elected. A diamond marks each
  election, with the winner's last log entry (what leader completeness is about).
* **commit index**: per server, a step line of the highest index it has applied (what it knows
  to be committed and has acted on). A follower cut off from the leader is a flat line while
  the others climb; a restarted server falls to zero and climbs back as it re-applies its log.

Everything is read from the lines the lab's harness (:mod:`labs.raft.harness`) writes after
every handler, never from the student's messages, so the picture means the same thing for any
implementation: ``raft state term=T role=R``, ``raft leader term=T last_index=I last_term=LT``,
``raft apply index=I term=T cmd=C`` and, in part D, ``raft install index=I term=T ...``; plus
the runtime's own crash and restart events. :func:`read_timeline` gives the same data as plain
Python, for tests and notebooks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from labs.pictures import Level, Picture, Point, Segment, Timeline, Track, register_view
from labs.runtime.trace import Event

from .parse import APPLY, LEADER, STATE

INSTALL = re.compile(r"^raft install index=(\d+) term=(\d+)\b")
"""Part D: the harness's line for a snapshot handed to the state machine (it has applied up to
its index)."""

ROLES = ("follower", "candidate", "leader", "down")

TERM_COLORS = ("#4e79a7", "#e15759", "#59a14f", "#b07aa1", "#f28e2b", "#76b7b2", "#9c755f",
               "#edc948", "#1b9e77", "#7570b3")
"""One colour per term, in turn: neighbouring terms always differ."""
DOWN = "#9e9e9e"
ELECTED = "#111111"
"""Election diamonds are near black: they sit on the winner's bar, which has the term's colour."""
TINT = {"leader": 0.0, "candidate": 0.45, "follower": 0.72}
"""How far each role's bar is lightened toward white: the leader's bar is the term's colour."""


@dataclass(frozen=True)
class Stint:
    """A stretch of time [start, end) a server spent in one term and one role."""

    node: str
    start: float
    end: float
    term: int
    role: str
    """``follower``, ``candidate``, ``leader`` or ``down`` (crashed)."""
    leader: str | None = None
    """For a follower or leader: the server elected leader of ``term`` by ``start``, if any."""

    @property
    def label(self) -> str:
        if self.role == "down":
            return "down (crashed)"
        if self.role == "follower":
            who = f", {self.leader} leads" if self.leader else ", no leader yet"
            return f"term {self.term} follower{who}"
        return f"term {self.term} {self.role}"


@dataclass(frozen=True)
class Election:
    t: float
    node: str
    term: int
    last_index: int
    last_term: int

    @property
    def label(self) -> str:
        last = f"index {self.last_index} of term {self.last_term}" if self.last_index else "empty log"
        return f"{self.node} elected leader of term {self.term}; its last entry: {last}"


@dataclass(frozen=True)
class Applied:
    """From ``t`` on, ``node`` has applied its log up to ``index`` (an entry of ``term``);
    ``index`` is ``None`` while the node is down."""

    t: float
    node: str
    index: int | None
    term: int = 0


@dataclass
class RaftTimeline:
    """A run's Raft time line as plain data (see the module docstring)."""

    servers: list[str]
    end: float
    stints: dict[str, list[Stint]] = field(default_factory=dict)
    elections: list[Election] = field(default_factory=list)
    applied: dict[str, list[Applied]] = field(default_factory=dict)
    """Per server, one entry per step of its applied index (all applies of one moment, one
    handler, make one step)."""

    @property
    def leaders(self) -> dict[int, str]:
        """Term -> the server elected leader of it (Raft allows at most one per term; if a
        buggy run elected two, the first is named)."""
        out: dict[int, str] = {}
        for e in self.elections:
            out.setdefault(e.term, e.node)
        return out

    def role_at(self, node: str, t: float) -> tuple[int, str] | None:
        """``(term, role)`` of ``node`` at ``t``; ``None`` before it reported any."""
        for s in self.stints.get(node, []):
            if s.start <= t < s.end:
                return s.term, s.role
        return None

    def applied_at(self, node: str, t: float) -> int | None:
        """The highest index ``node`` had applied at ``t`` (``None`` while it was down)."""
        value: int | None = 0
        for a in self.applied.get(node, []):
            if a.t > t:
                break
            value = a.index
        return value

    def leader_at(self, t: float) -> list[str]:
        """The servers that believed they led at ``t`` (more than one: a stale leader)."""
        return [n for n in self.servers if (self.role_at(n, t) or (0, ""))[1] == "leader"]


def read_timeline(events: Sequence[Event], servers: Sequence[str] | None = None) -> RaftTimeline:
    """The Raft time line of a trace (header included or not). ``servers`` defaults to the
    header's nodes, or else to every node that wrote a Raft line."""
    header = events[0] if events and events[0].get("type") == "run" else {}
    names = list(servers or header.get("nodes") or [])
    if not names:
        names = sorted({str(e["node"]) for e in events if e.get("type") == "log"
                        and str(e.get("text", "")).startswith("raft ")}, key=lambda n: (len(n), n))
    known = set(names)
    end = max((float(e["t"]) for e in events if "t" in e), default=0.0)
    timeline = RaftTimeline(names, end)
    current: dict[str, tuple[float, int, str] | None] = dict.fromkeys(names)
    last_term = dict.fromkeys(names, 0)
    stints: dict[str, list[tuple[float, float, int, str]]] = {n: [] for n in names}
    applied: dict[str, list[Applied]] = {n: [] for n in names}

    def close(node: str, t: float) -> None:
        now = current[node]
        if now is not None and t > now[0]:
            stints[node].append((now[0], t, now[1], now[2]))
        current[node] = None

    def step(node: str, t: float, index: int | None, term: int = 0) -> None:
        steps = applied[node]
        if steps and steps[-1].t == t:
            steps.pop()  # one handler's applies: one step, to the last of them
        if not steps or (steps[-1].index, steps[-1].term) != (index, term):
            steps.append(Applied(t, node, index, term))

    for e in events:
        kind, node = e.get("type"), e.get("node")
        if node not in known:
            continue
        node, t = str(node), float(e["t"])
        if kind == "log":
            text = str(e.get("text", ""))
            if (m := APPLY.match(text)) is not None or (m := INSTALL.match(text)) is not None:
                step(node, t, int(m[1]), int(m[2]))
            elif (m := STATE.match(text)) is not None:
                close(node, t)
                current[node] = (t, int(m[1]), m[2])
                last_term[node] = int(m[1])
            elif (m := LEADER.match(text)) is not None:
                timeline.elections.append(Election(t, node, int(m[1]), int(m[2]), int(m[3])))
        elif kind == "crash":
            close(node, t)
            current[node] = (t, last_term[node], "down")
            step(node, t, None)
        elif kind in ("start", "restart"):
            close(node, t)  # up again; its role shows from its first state line
            if kind == "restart":
                step(node, t, 0)  # the state machine is not on disk: it applies again from 1
    for node in names:
        close(node, end)

    leaders = timeline.leaders
    elected = {e.term: e.t for e in timeline.elections if leaders[e.term] == e.node}
    for node in names:
        out: list[Stint] = []
        for start, stop, term, role in stints[node]:
            won = elected.get(term)
            if role == "follower" and won is not None and start < won < stop:
                out.append(Stint(node, start, won, term, role))  # before the election...
                start = won  # ...and after it, with the leader named
            leader = leaders.get(term) if role in ("follower", "leader") and won is not None and won <= start else None
            out.append(Stint(node, start, stop, term, role, leader))
        timeline.stints[node] = out
        timeline.applied[node] = applied[node]
    return timeline


# -- the views --------------------------------------------------------------------------------


def term_color(term: int, role: str) -> str:
    """The bar colour of ``role`` in ``term``: the term's colour, lightened for non-leaders."""
    if role == "down":
        return DOWN
    base = TERM_COLORS[term % len(TERM_COLORS)]
    mix = TINT.get(role, 0.0)
    r, g, b = (int(base[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (255 - c) * mix):02x}" for c in (r, g, b))


def _timeline_of(events: Sequence[Event], picture: Picture) -> RaftTimeline | None:
    servers = [n for n in picture.lanes if n not in picture.clients]
    timeline = read_timeline(events, servers)
    if not timeline.elections and not any(timeline.applied.values()) and not any(
            s.role != "down" for stints in timeline.stints.values() for s in stints):
        return None  # not a Raft run, or one whose nodes never reported a state
    return timeline


class TermsAndRoles:
    """Per server, its term and role over time, who leads, and each election."""

    name = "raft-terms"
    title = "Raft: term and role of each server (darkest: leader; grey: down), ◆ elections"

    def build(self, events: Sequence[Event], picture: Picture) -> Timeline | None:
        timeline = _timeline_of(events, picture)
        if timeline is None:
            return None
        tracks = []
        for node in timeline.servers:
            segments = [Segment(s.start, s.end, s.label, term_color(s.term, s.role))
                        for s in timeline.stints[node]]
            points = [Point(e.t, e.label, ELECTED) for e in timeline.elections if e.node == node]
            tracks.append(Track(node, segments=segments, points=points))
        return Timeline(self.title, tracks, self.name)


class CommitIndex:
    """Per server, the highest index it has applied, as a step line."""

    name = "raft-commit"
    title = "Raft: commit index of each server (the highest index it has applied)"

    def build(self, events: Sequence[Event], picture: Picture) -> Timeline | None:
        timeline = _timeline_of(events, picture)
        if timeline is None or not any(timeline.applied.values()):
            return None
        tracks = []
        for node in timeline.servers:
            levels = [Level(0.0, 0, "nothing applied yet")]
            for a in timeline.applied[node]:
                if a.index is None:
                    levels.append(Level(a.t, None, "down"))
                elif a.index == 0:
                    levels.append(Level(a.t, 0, "restarted: applies its log again from index 1"))
                else:
                    levels.append(Level(a.t, a.index, f"applied up to index {a.index} (an entry of term {a.term})"))
            tracks.append(Track(node, levels=levels))
        return Timeline(self.title, tracks, self.name)


register_view(TermsAndRoles(), labs="raft")
register_view(CommitIndex(), labs="raft")
