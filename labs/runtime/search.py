"""Model checking on the simulator: every order of deliveries, drops, duplicates and timer
firings of a small configuration, breadth first, so the first violation found is a shortest one.

A random schedule finds the interleaving that breaks a protocol only by luck. Here a *state* is
the nodes' fields and live timers, their disks, the messages in flight and what each client still
has to do; its *choices* are delivering any message in flight, dropping it or delivering a copy
(where the search allows), firing a timer, and crashing a server and restarting it with its disk
(as often as the search allows). Time moves only when a timer fires: each node's clock stands at
the deadline of the last timer it fired, so its timers fire in deadline order and a message may
be handled at any point between them (:mod:`.searchworld`). The search tries every choice of
every state it has not seen, to a depth, and after each step runs the invariants (lab checks) on
the trace so far. A bug deeper than every order can be tried may still be met by random walks
from the start, deeper than that depth: a walk's path to a violation is then shortened, each step
it can do without left out. Any path, in words, can be run again (:func:`replay`).

A state is rebuilt by running its path of choices again from the start: a node's handlers are
deterministic and its randomness is seeded, so the same path gives the same state, in this
process or in a sealed one, and no node object is ever copied. Two states are the same when
their canonical forms are (:mod:`.canonical`); the node's part comes from the node's own process,
so the search checks that it is faithful: now and then it takes the same choice in two states it
merged and compares what the world sees (messages, timers, completions, disk writes). A node
whose state is not all in its fields, or whose handlers are not deterministic, is told so.

    explore(lab, spec) -> Exploration
    replay(lab, spec, exploration.path) -> Exploration
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .canonical import first_difference
from .lab import Finding, Lab, RunResult
from .nodeside import Effect, LocalNodes, NodeProcess, NodeProcesses, World
from .searchworld import Choice, SearchError, SearchSpec, SearchWorld, Stage

RECYCLE = 5000
"""Runs a kept node process hosts before it is replaced by a fresh one (a sealed process has a
CPU-time limit of its own, set for one simulated run)."""

@dataclass
class Exploration:
    """The search's outcome. ``verdict``: ``"ok"`` (every state to ``depth`` was searched, and in
    one of them the clients had finished), ``"violation"`` (``findings`` hold for ``run``, the
    trace of ``path``), ``"stuck"`` (no violation, but in no state had the clients finished: a node
    that does nothing breaks no invariant), ``"limit"`` (states or time ran out first) or
    ``"error"`` (a node cannot be searched: ``findings`` say why)."""

    verdict: str
    states: int
    depth: int
    seconds: float
    path: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    run: RunResult | None = None
    walks: int = 0
    """Random walks tried after the breadth-first search found nothing."""
    walk: int | None = None
    """The random walk that found the violation (its path shortened from ``walked`` steps), if
    one did rather than the breadth-first search."""
    walked: int = 0
    walk_steps: int = 0
    """Steps taken in all the random walks."""
    replayed: bool = False
    """A path given was run again (:func:`replay`), not searched for."""


class _Rebound:
    """The world a kept node process calls: the run it is part of now."""

    target: World | None = None

    def call(self, effects: list[Effect], request: tuple[Any, ...]) -> tuple[Any, int]:
        assert self.target is not None
        return self.target.call(effects, request)


def searched_lab(lab: Lab, spec: SearchSpec) -> Lab:
    """``lab`` as the search runs it: its clients are those the spec gives operations to (start
    sealed node processes for this one)."""
    if lab.workload is None:
        return lab
    return dataclasses.replace(lab, workload=dataclasses.replace(lab.workload, clients=len(spec.operations)))


class _Runs:
    """Runs paths from the start, each in the same kept node processes (a start event begins a
    new incarnation in one): a sealed process is forked once per search, not once per state."""

    def __init__(self, lab: Lab, spec: SearchSpec, nodes: NodeProcesses | None) -> None:
        self.lab, self.spec = lab, spec
        self.factory = nodes if nodes is not None else LocalNodes(lab)
        self.kept: dict[str, tuple[NodeProcess, _Rebound]] = {}
        self.rebuilt = 0

    def _reuse(self, name: str, world: World) -> NodeProcess:
        if name not in self.kept or self.kept[name][0].dead:
            rebound = _Rebound()
            self.kept[name] = (self.factory(name, rebound), rebound)
        process, rebound = self.kept[name]
        rebound.target = world
        return process

    def rebuild(self, path: tuple[Choice, ...]) -> SearchWorld:
        """The state ``path`` leads to, run again from the start: valid until the next rebuild."""
        self.rebuilt += 1
        if self.rebuilt % RECYCLE == 0:  # fresh processes now and then: each has a CPU limit of its own
            for process, _ in self.kept.values():
                process.stop()
            self.kept.clear()
        world = SearchWorld(self.lab, self.spec, self._reuse)
        for choice in path:
            world.take(choice)
        return world

    def follow(self, steps: list[str]) -> tuple[SearchWorld, int]:
        """Run ``steps`` (choices in words) from the start, stopping after the first one that
        breaks an invariant; returns the world and how many steps were taken. Raises
        :class:`SearchError` for a step that cannot happen where it comes."""
        world = self.rebuild(())
        for n, words in enumerate(steps, 1):
            choice = world.choice_named(words)
            if choice is None:
                can = "; ".join(world.describe(c) for c in world.choices()) or "nothing"
                raise SearchError(f"step {n}, '{words}', cannot happen after the steps before it (what can: {can})")
            world.take(choice)
            if _violations(world, self.spec):
                return world, n
        return world, len(steps)


def explore(lab: Lab, spec: SearchSpec, nodes: NodeProcesses | None = None,
            progress: Callable[[int, int], None] | None = None) -> Exploration:
    """Search ``lab`` breadth first to ``spec.depth``, then walk it at random ``spec.walks``
    times (see the module docstring). ``nodes`` starts the nodes' processes (by default, objects
    in this process); ``progress`` is told the depth and the states seen as each depth is done."""
    lab = searched_lab(lab, spec)
    runs = _Runs(lab, spec, nodes)
    started = time.monotonic()
    root: tuple[Choice, ...] = ()
    seen = 0
    for n, stage in enumerate(spec.stages, 1):
        found, _, reached = (_calm(runs, spec, started, root, stage) if stage.calm
                             else _breadth_first(runs, spec, started, progress, root, stage))
        seen += found.states
        if found.verdict != "ok":
            found.states = seen
            return found
        if reached is None:
            found.verdict, found.states = "stuck", seen
            how = ("in a calm run of" if stage.calm else "in any order of at most")
            found.findings = [Finding(f"stage {n}, '{stage.name}', was not reached {how} {stage.depth} steps "
                                      f"(of the {found.states:,} states tried)")]
            return found
        root = reached
    found, finished, _ = _breadth_first(runs, spec, started, progress, root)
    found.states += seen
    if found.verdict == "ok" and spec.walks:
        walked, steps, finished_walking = _walk(runs, spec, started, root)
        if walked is not None:
            walked.states, walked.walk_steps = found.states, steps
            return walked
        found.walks, found.walk_steps, finished = spec.walks, steps, finished or finished_walking
        found.seconds = time.monotonic() - started
    if found.verdict == "ok" and spec.operations and not finished:
        walks = f" or of the {spec.walks} random walks of {spec.walk_depth} steps" if spec.walks else ""
        found.verdict = "stuck"
        found.findings = [Finding(
            f"in no order of at most {spec.depth} steps (of the {found.states:,} states tried){walks} did the "
            f"clients finish their {sum(len(ops) for ops in spec.operations)} operation(s): does every request "
            "get an answer when nothing is lost?")]
    return found


def replay(lab: Lab, spec: SearchSpec, steps: list[str], nodes: NodeProcesses | None = None) -> Exploration:
    """Run the path ``steps`` (a search's, in words) again, checking the invariants after each
    step: ``"violation"`` at the first step that breaks one, ``"ok"`` if none does, ``"error"``
    (saying which and why) if a step cannot happen where it comes or a node cannot be searched."""
    started = time.monotonic()
    runs = _Runs(searched_lab(lab, spec), spec, nodes)
    try:
        world, taken = runs.follow(steps)
    except SearchError as exc:
        return Exploration("error", 0, 0, time.monotonic() - started, findings=[Finding(str(exc))], replayed=True)
    found = _violations(world, spec)
    return Exploration("violation" if found else "ok", taken, taken, time.monotonic() - started, world.path,
                       found, world.result(), replayed=True)


def _breadth_first(runs: _Runs, spec: SearchSpec, started: float, progress: Callable[[int, int], None] | None,
                   root: tuple[Choice, ...] = (), stage: Stage | None = None,
                   ) -> tuple[Exploration, bool, tuple[Choice, ...] | None]:
    """Every order from ``root`` to ``spec.depth`` steps more (or the stage's), breadth first:
    the first violation has a shortest path. Also says whether the clients had finished in any
    state, and for a stage, the path to the first state where its goal holds."""
    limit = spec.depth if stage is None else stage.depth
    dice = random.Random(0)

    def ended(verdict: str, states: int, depth: int, world: SearchWorld | None = None,
              findings: list[Finding] | None = None) -> Exploration:
        return Exploration(verdict, states, depth, time.monotonic() - started, world.path if world else [],
                           findings or [], world.result() if world else None)

    first = runs.rebuild(root)
    try:
        seen: dict[bytes, tuple[Choice, ...]] = {first.key(): root}
    except SearchError as exc:
        return ended("error", 0, 0, first, [Finding(str(exc))]), False, None
    found = _violations(first, spec)
    if found:
        return ended("violation", 1, 0, first, found), True, None
    finished = first.finished()  # some state where every client has done all it had to do
    if stage is not None and stage.goal(first.result()):
        return ended("ok", 1, 0, first), finished, root
    frontier: deque[tuple[Choice, ...]] = deque([root])
    merged = 0
    depth = 0
    while frontier:
        path = frontier.popleft()
        if len(path) - len(root) > depth:
            if progress is not None:
                progress(depth, len(seen))
            depth = len(path) - len(root)
        if len(path) - len(root) >= limit:
            continue
        if len(seen) >= spec.max_states or time.monotonic() - started > spec.timeout:
            return ended("limit", len(seen), depth), finished, None
        parent = runs.rebuild(path)
        for k, choice in enumerate(parent.choices()):
            child = (*path, choice)
            if k == 0:  # the first child takes the parent's run on (its processes hold it still)
                world = parent
                world.take(choice)
            else:
                world = runs.rebuild(child)
            try:
                key = world.key()
                if key in seen:
                    merged += 1
                    if merged <= 10 or dice.randrange(spec.verify_every) == 0:
                        _verify(runs.rebuild, seen[key], child, dice)
                    continue
            except SearchError as exc:
                return ended("error", len(seen), len(child) - len(root), world, [Finding(str(exc))]), finished, None
            if len(seen) <= 10 or dice.randrange(spec.verify_every) == 0:
                try:
                    _same_again(runs.rebuild, world, child)
                except SearchError as exc:
                    return ended("error", len(seen), len(child) - len(root), world, [Finding(str(exc))]), finished, None
            seen[key] = child
            found = _violations(world, spec)
            if found:
                return ended("violation", len(seen), len(child) - len(root), world, found), True, None
            frontier.append(child)
            finished = finished or world.finished()
            if stage is not None and stage.goal(world.result()):
                return ended("ok", len(seen), len(child) - len(root), world), finished, child
    return ended("ok", len(seen), depth), finished, None


def _calm(runs: _Runs, spec: SearchSpec, started: float, root: tuple[Choice, ...],
          stage: Stage) -> tuple[Exploration, bool, tuple[Choice, ...] | None]:
    """A calm stage (see :class:`~labs.runtime.searchworld.Stage`): one quiet run from ``root``
    until the goal holds, its invariants checked after each step."""
    world = runs.rebuild(root)
    for step in range(stage.depth + 1):
        found = _violations(world, spec)
        if found:
            return Exploration("violation", step, step, time.monotonic() - started, world.path, found,
                               world.result()), True, None
        if stage.goal(world.result()):
            return Exploration("ok", step, step, time.monotonic() - started), world.finished(), tuple(world.taken)
        options = world.choices()
        deliveries = [c for c in options if c[0] == "deliver"]
        firings = [c for c in options if c[0] == "fire"]
        if not deliveries and not firings:
            break
        world.take(deliveries[0] if deliveries else min(firings, key=lambda c: (world.deadlines[c[1]], c[1])))
    return Exploration("ok", stage.depth, stage.depth, time.monotonic() - started), world.finished(), None


RESTART_WEIGHT = 0.1
"""A walk's chance, at each step where a restart may happen, that one does."""
LOSS_WEIGHT = 0.1
"""A walk's chance that a message it picks is dropped (where drops are allowed), and likewise
that it is copied (where copies are)."""


def _walk(runs: _Runs, spec: SearchSpec, started: float,
          root: tuple[Choice, ...] = ()) -> tuple[Exploration | None, int, bool]:
    """``spec.walks`` random walks from the start, each up to ``spec.walk_depth`` steps: the first
    one to break an invariant, its path shortened (no one step of it can be left out), or None;
    the steps walked; and whether the clients had finished at the end of any walk.
    At each step a walk picks a message or a timer alike, then delivers the message (or, rarely,
    drops or copies it); now and then it restarts a server instead."""
    finished = False
    steps = 0
    for n in range(1, spec.walks + 1):
        if time.monotonic() - started > spec.timeout:
            break
        dice = random.Random(f"walk:{n}")
        world = runs.rebuild(root)
        for _ in range(spec.walk_depth):
            options = world.choices()
            restarts = [c for c in options if c[0] == "restart"]
            events = [c for c in options if c[0] in ("deliver", "fire")]
            if restarts and (not events or dice.random() < RESTART_WEIGHT):
                choice = dice.choice(restarts)
            elif not events:
                break
            else:
                choice = dice.choice(events)
                if choice[0] == "deliver":
                    other = dice.random()
                    if other < LOSS_WEIGHT and ("drop", choice[1]) in options:
                        choice = ("drop", choice[1])
                    elif other > 1 - LOSS_WEIGHT and ("duplicate", choice[1]) in options:
                        choice = ("duplicate", choice[1])
            world.take(choice)
            steps += 1
        # Checked once, at the walk's end: an invariant broken on the way stays broken in the
        # trace (the path is then followed again, checked step by step, to where it broke).
        if _violations(world, spec):
            return _shortened(runs, spec, world.path, n, started), steps, True
        finished = finished or world.finished()
    return None, steps, finished


def _shortened(runs: _Runs, spec: SearchSpec, steps: list[str], walk: int, started: float) -> Exploration:
    """A walk's path to a violation, cut at the step that broke an invariant, then with every
    step left out that it can do without, one at a time from the last (a step that cannot happen
    any more, or a path that then breaks nothing, keeps it)."""
    _, broke_at = runs.follow(steps)
    path = steps[:broke_at]
    for i in reversed(range(len(path))):
        shorter = path[:i] + path[i + 1:]
        try:
            world, taken = runs.follow(shorter)
        except SearchError:
            continue
        if _violations(world, spec):
            path = shorter[:taken]
    world, _ = runs.follow(path)
    return Exploration("violation", 0, len(path), time.monotonic() - started, world.path,
                       _violations(world, spec), world.result(), walk=walk, walked=broke_at)


def _violations(world: SearchWorld, spec: SearchSpec) -> list[Finding]:
    run = world.result()
    return [f for check in spec.invariants for f in check(run)]


def _same_again(rebuild: Callable[[tuple[Choice, ...]], SearchWorld], world: SearchWorld,
                path: tuple[Choice, ...]) -> None:
    """The same path run again must leave every node the same."""
    first = world.fields()  # before the run again takes the processes over
    again = rebuild(path)
    second = again.fields()
    for name in sorted(set(first) | set(second)):
        if first.get(name) != second.get(name):
            where = (first_difference(name, json.loads(first[name]), json.loads(second[name]))
                     if name in first and name in second else "whether it is up")
            raise SearchError(
                f"the same steps, run twice from the start, left {name} different, in {where}: are its "
                f"handlers deterministic, and is all of its state in its own fields (no global or class "
                f"variable, no clock read but now(), no set of strings iterated)? Steps: {world.path}")
    if world.seen_from_outside() != again.seen_from_outside():
        raise SearchError(f"the same steps, run twice from the start, did different things (messages, timers or "
                          f"disk writes): are the nodes' handlers deterministic? Steps: {world.path}")


def _verify(rebuild: Callable[[tuple[Choice, ...]], SearchWorld], a: tuple[Choice, ...], b: tuple[Choice, ...],
            dice: random.Random) -> None:
    """``a`` and ``b`` lead to states the search took for the same: the same thing happening in
    both (one thing, drawn) must leave the world the same (else a node's state is not all in its
    fields, or its handlers are not deterministic)."""
    wa, wb = rebuild(a), rebuild(b)
    in_b = {wb.describe(c): c for c in wb.choices()}
    common = [c for c in wa.choices() if wa.describe(c) in in_b]
    for choice in dice.sample(common, min(1, len(common))):
        what = wa.describe(choice)
        xa, xb = rebuild((*a, choice)), rebuild((*b, in_b[what]))
        if xa.seen_from_outside() != xb.seen_from_outside():
            who = wa.target(choice)
            raise SearchError(
                f"two states the search took for the same (every node's fields, timers and disk the same) "
                f"answered '{what}' differently: is all of {who}'s state in its fields, and are its handlers "
                f"deterministic (no clock read, no set of strings iterated, no global variable)? "
                f"Paths: {wa.path} and {wb.path}")


__all__ = ["RECYCLE", "Exploration", "SearchError", "SearchSpec", "explore", "replay", "searched_lab"]
