"""Search tests in a suite: the ``search`` mapping of a test, read into a
:class:`~labs.runtime.search.SearchSpec` with every problem named by its place (see
:mod:`.suite` for the format). The test's checks become the search's invariants when it runs
(:func:`autograder.runner.run_search`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labs.runtime.node import Op
from labs.runtime.search import SearchSpec
from labs.runtime.searchworld import Goal, Stage
from labs.runtime.validate import did_you_mean

from .suite_fields import count as _count
from .suite_fields import known_keys as _keys

SEARCH_FIELDS = {"operations", "depth", "drop", "duplicate", "restarts", "restartable", "walks", "walk_depth", "stages",
                 "max_delay", "max_states", "timeout"}


def parse_search(raw: Any, where: str, problems: list[str], goals: Mapping[str, Goal] | None = None) -> SearchSpec | None:
    """A search test's ``search`` mapping (see the module docstring); ``goals`` are the lab's
    (``GOALS`` in its ``checks.py``), by name, for its ``stages``."""
    example = "[[{f: append, key: a, value: x}], [{f: get, key: a}]]"
    if not isinstance(raw, dict):
        problems.append(f"{where}: a mapping such as {{operations: {example}, depth: 6}}")
        return None
    _keys(raw, SEARCH_FIELDS, where, problems)
    clients = raw.get("operations")
    if not isinstance(clients, list) or not all(isinstance(c, list) for c in clients):
        problems.append(f"{where}.operations: one list of operations per client, such as {example}")
        return None
    operations: list[tuple[Op, ...]] = []
    for i, client in enumerate(clients):
        ops: list[Op] = []
        for j, op in enumerate(client):
            at = f"{where}.operations[{i}][{j}]"
            if not isinstance(op, dict) or not isinstance(op.get("f"), str):
                problems.append(f"{at}: an operation such as {{f: get, key: a}}")
                continue
            _keys(op, {"f", "key", "value"}, at, problems)
            ops.append(Op(op["f"], op.get("key"), op.get("value")))
        operations.append(tuple(ops))
    depth = _count(raw.get("depth", 8), f"{where}.depth", problems)
    if depth == 0:
        problems.append(f"{where}.depth: at least 1 step")
    duplicate = _count(raw.get("duplicate", 0), f"{where}.duplicate", problems)
    restarts = _count(raw.get("restarts", 0), f"{where}.restarts", problems)
    restartable = raw.get("restartable", [])
    if not isinstance(restartable, list) or not all(isinstance(n, str) for n in restartable):
        problems.append(f"{where}.restartable: a list of server names, such as [n2, n3], not {restartable!r}")
        restartable = []
    walks = _count(raw.get("walks", 0), f"{where}.walks", problems)
    walk_depth = _count(raw.get("walk_depth", SearchSpec.walk_depth), f"{where}.walk_depth", problems)
    if walks and not walk_depth:
        problems.append(f"{where}.walk_depth: at least 1 step for each of the {walks} walks")
    stages = _stages(raw.get("stages", []), f"{where}.stages", problems, goals or {})
    max_states = _count(raw.get("max_states", SearchSpec.max_states), f"{where}.max_states", problems)
    drop, timeout = raw.get("drop", False), raw.get("timeout", SearchSpec.timeout)
    if not isinstance(drop, bool):
        problems.append(f"{where}.drop: true (a message in flight may be lost) or false, not {drop!r}")
    max_delay = raw.get("max_delay")
    if max_delay is not None and (isinstance(max_delay, bool) or not isinstance(max_delay, (int, float))
                                  or not max_delay > 0):
        problems.append(f"{where}.max_delay: seconds a message may be in flight, more than 0, not {max_delay!r}")
        max_delay = None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        problems.append(f"{where}.timeout: seconds, more than 0, not {timeout!r}")
        timeout = SearchSpec.timeout
    return SearchSpec(operations=tuple(operations), invariants=(), depth=depth, drop=drop is True,
                      duplicate=duplicate, restarts=restarts, restartable=tuple(restartable), walks=walks, walk_depth=walk_depth,
                      stages=stages, max_delay=None if max_delay is None else float(max_delay),
                      max_states=max_states, timeout=float(timeout))


def _stages(raw: Any, where: str, problems: list[str], goals: Mapping[str, Goal]) -> tuple[Stage, ...]:
    """``stages: [{goal: leader-elected, depth: 6}, ...]``: each goal a name from the lab's GOALS."""
    known = ", ".join(goals) or "none (a lab names them in GOALS, in its checks.py)"
    if not isinstance(raw, list):
        problems.append(f"{where}: a list such as [{{goal: leader-elected, depth: 6}}]")
        return ()
    stages = []
    for i, stage in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(stage, dict):
            problems.append(f"{at}: a stage such as {{goal: leader-elected, depth: 6}}")
            continue
        _keys(stage, {"goal", "depth", "calm"}, at, problems)
        calm = stage.get("calm", False)
        if not isinstance(calm, bool):
            problems.append(f"{at}.calm: true (one quiet run to the goal) or false (every order), not {calm!r}")
        goal = stage.get("goal")
        depth = _count(stage.get("depth", 8), f"{at}.depth", problems)
        if not isinstance(goal, str) or goal not in goals:
            hint = did_you_mean(str(goal), list(goals)) if isinstance(goal, str) else ""
            problems.append(f"{at}.goal: no goal {goal!r}{hint}; the lab's goals: {known}")
        elif depth:
            stages.append(Stage(goal, goals[goal], depth, calm is True))
        else:
            problems.append(f"{at}.depth: at least 1 step")
    return tuple(stages)

