"""The search over the simulator (labs/runtime/search.py): every order of deliveries, copies
and timer firings of a small configuration, breadth first, so that a bug needing a rare
interleaving is found without a schedule written for it, by its shortest path."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from autograder.grade import start_nursery
from autograder.suite import SuiteError, parse_suite
from labs.primary_backup import LAB as PB
from labs.primary_backup.checks import CHECKS as PB_CHECKS
from labs.primary_backup.checks import GOALS as PB_GOALS
from labs.raft import LAB as RAFT
from labs.raft.checks import CHECKS as RAFT_CHECKS
from labs.raft.checks import GOALS as RAFT_GOALS
from labs.rpc import LAB
from labs.rpc import node as reference
from labs.rpc.checks import linearizable
from labs.rpc.node import AppendRequest
from labs.runtime.lab import Finding, Lab, RunResult, get_lab, no_node_errors
from labs.runtime.node import Node, Op, on
from labs.runtime.nodeside import LocalNodes, NodeSide, Reply, World
from labs.runtime.nursery import one_core
from labs.runtime.search import SearchSpec, explore, replay, searched_lab
from labs.runtime.searchworld import SearchWorld, Stage

VARIANTS = Path(__file__).parent / "rpc_variants"
TWO_CLIENTS = ((Op("append", "a", "x;"),), (Op("append", "a", "y;"), Op("get", "a")))


def spec(depth: int, duplicate: int = 0) -> SearchSpec:
    return SearchSpec(operations=TWO_CLIENTS, invariants=(no_node_errors, linearizable), depth=depth,
                      duplicate=duplicate)


ONE_CLIENT = ((Op("append", "a", "x;"), Op("get", "a")),)


def test_the_reference_passes_every_order_to_the_depth() -> None:
    one = dataclasses.replace(spec(depth=6, duplicate=1), operations=ONE_CLIENT)
    found = explore(LAB, one)
    assert found.verdict == "ok", [f.message for f in found.findings]
    assert found.depth == 6 and found.states > 1000


def test_a_search_where_the_clients_never_finish_fails_though_nothing_breaks() -> None:
    """A server that never answers breaks no invariant: the search also asks that in some state
    the clients have finished, or a submission doing nothing would pass."""
    one = dataclasses.replace(spec(depth=6), operations=ONE_CLIENT)
    found = explore(LAB.with_impl(VARIANTS / "silent.py"), one)
    assert found.verdict == "stuck"
    assert [f.message for f in found.findings] == [
        f"in no order of at most 6 steps (of the {found.states:,} states tried) did the clients finish their 2 "
        "operation(s): does every request get an answer when nothing is lost?"]
    assert explore(LAB, dataclasses.replace(one, depth=3)).verdict == "stuck"  # four steps at least


def test_a_server_without_duplicate_detection_is_caught_by_its_shortest_path() -> None:
    """No schedule says 'deliver a request twice': the search finds it, in five steps (a copy of
    c2's append, both delivered, the reply, then a get that sees 'y;y;')."""
    found = explore(LAB.with_impl(VARIANTS / "no_dedup.py"), spec(depth=6, duplicate=1))
    assert found.verdict == "violation" and found.run is not None
    assert any("not linearizable (key 'a')" in f.message and "'y;y;'" in f.message for f in found.findings)
    assert len(found.path) == 5 and found.path[0].startswith("duplicate AppendRequest c2->n1")
    again = explore(LAB.with_impl(VARIANTS / "no_dedup.py"), spec(depth=6, duplicate=1))
    assert again.path == found.path and again.run is not None and again.run.trace == found.run.trace


class _Hidden(reference.KVServer):
    """Keeps what it executed in a class attribute, shared and outside its fields."""

    done: set[tuple[str, int]] = set()  # noqa: RUF012 (the bug on show)

    @on(AppendRequest)
    def handle_append(self, msg: AppendRequest, sender: str) -> None:
        first = (msg.client, msg.seq) not in _Hidden.done
        _Hidden.done.add((msg.client, msg.seq))
        if first:
            super().handle_append(msg, sender)


def test_a_node_whose_state_is_not_all_in_its_fields_is_told_so() -> None:
    _Hidden.done.clear()
    found = explore(dataclasses.replace(LAB, node=_Hidden), spec(depth=6))
    assert found.verdict == "error", found.verdict
    (finding,) = found.findings
    assert "left n1 different, in its field 'clients' ([\"dict\",[[\"c1-" in finding.message  # named, both values
    assert "once, [\"dict\",[]] the other time)" in finding.message
    assert "is all of its state in its own fields (no global or class variable" in finding.message


class _LyingNodes:
    """Node processes that answer every look at their fields with the same thing, as a sealed
    process may (it runs the student's code): every state of a node looks alike."""

    def __init__(self, lab: Lab) -> None:
        self.local = LocalNodes(lab)

    def __call__(self, name: str, world: World) -> NodeSide:
        side = self.local(name, world)
        real = side.handle

        def handle(now: float, ids: int, event: tuple[Any, ...]) -> Reply:
            return ([], None, ["state", "nothing to see"]) if event[0] == "dump" else real(now, ids, event)

        side.handle = handle  # type: ignore[method-assign]
        return side


def test_a_node_that_hides_its_state_is_caught_when_merged_states_part_ways() -> None:
    """Raft keeps its role in memory only: states that differ in it look alike, are merged, and
    the search, trying one thing in both now and then, sees them do different things."""
    lab = dataclasses.replace(RAFT, nodes=3)
    found = explore(lab, SearchSpec(operations=(), invariants=(no_node_errors,), depth=8), nodes=_LyingNodes(lab))
    assert found.verdict == "error", found.verdict
    (finding,) = found.findings
    assert "two states the search took for the same" in finding.message
    assert re.search(r"answered '.*' differently: is all of n[123]'s state in its fields", finding.message), finding


class _Unsearchable(reference.KVServer):
    def on_start(self) -> None:
        super().on_start()
        self.pick = lambda items: items[0]


def test_a_field_that_is_not_data_is_named() -> None:
    found = explore(dataclasses.replace(LAB, node=_Unsearchable), spec(depth=3))
    assert found.verdict == "error"
    assert [f.message for f in found.findings] == [
        "n1['pick'] is a function (<lambda>): a node's fields must be plain data for the search "
        "(numbers, strings, lists, dicts, sets, tuples, dataclasses)"]


def test_the_search_runs_the_nodes_sealed_as_grading_does_and_finds_the_same() -> None:
    """Each node in a sealed process of its own, forked once and reused from path to path: the
    same states, the same shortest path, the same trace as in this process."""
    lab = LAB.with_impl_source(VARIANTS / "no_dedup.py")
    here = explore(LAB.with_impl(VARIANTS / "no_dedup.py"), spec(depth=6, duplicate=1))
    with start_nursery(None) as nursery, one_core() as core:
        searched = spec(depth=6, duplicate=1)
        sealed = explore(lab, searched, nodes=nursery.search_nodes(lab, searched, 120, core))
    assert sealed.verdict == "violation" and sealed.path == here.path and sealed.states == here.states
    assert sealed.run is not None and here.run is not None and sealed.run.trace == here.run.trace


RAFT_ELECTIONS = SearchSpec(operations=(), invariants=(no_node_errors, RAFT_CHECKS["election-safety"]), depth=6)
THREE = dataclasses.replace(RAFT, nodes=3)
VOTES_TWICE = THREE.with_impl(Path(__file__).parent / "raft_variants" / "votes_twice.py")


def test_raft_elections_a_voter_that_votes_twice_is_found_without_a_schedule() -> None:
    """Three servers, no clients, no schedule: six steps give two leaders of one term (each
    election is one timer firing: the node's clock reads the deadline it computed)."""
    assert explore(THREE, dataclasses.replace(RAFT_ELECTIONS, depth=5)).verdict == "ok"
    found = explore(VOTES_TWICE, RAFT_ELECTIONS)
    assert found.verdict == "violation" and len(found.path) == 6
    assert [f.message for f in found.findings] == ["election safety: 2 different nodes for term 1: n1, n3"]
    assert sum(step.startswith("fire") for step in found.path) == 2
    assert sum(step.startswith("deliver RequestVoteReply") for step in found.path) == 2


def test_a_staged_search_starts_from_the_first_state_its_goal_holds_in() -> None:
    """A leader first (a shortest way to one), then every order from there: the same six steps
    to two leaders of one term, from a ninth of the states; and a stage never reached is said."""
    elected = Stage("leader-elected", RAFT_GOALS["leader-elected"], 4)
    staged = dataclasses.replace(RAFT_ELECTIONS, depth=3, stages=(elected,))
    plain = explore(VOTES_TWICE, RAFT_ELECTIONS)
    found = explore(VOTES_TWICE, staged)
    assert found.verdict == "violation" and found.path == plain.path and found.states * 5 < plain.states
    assert [step.split(" ")[0] for step in found.path[:3]] == ["fire", "deliver", "deliver"]  # the stage's
    never = dataclasses.replace(staged, stages=(Stage("command-applied", RAFT_GOALS["command-applied"], 3),))
    stuck = explore(THREE, never)
    assert stuck.verdict == "stuck" and [f.message for f in stuck.findings] == [
        f"stage 1, 'command-applied', was not reached in any order of at most 3 steps (of the {stuck.states:,} "
        "states tried)"]


def test_a_protocol_that_relies_on_time_is_searched_with_the_labs_promises_about_time() -> None:
    """The RPC server forgets a client quiet for 2 s, safe because no message lives a second in
    the lab's network. The search's world is asynchronous unless told: a walk delivers a retry
    after the server swept its client away, and it executes twice. With max_delay the world's
    time never passes a second after a message in flight was sent, and no walk breaks it."""
    walking = dataclasses.replace(spec(depth=1, duplicate=1), walks=300, walk_depth=25)
    anytime = explore(LAB, walking)
    assert anytime.verdict == "violation" and anytime.walk is not None
    assert sum(step.startswith("fire n1's Sweep") for step in anytime.path) >= 4  # two seconds of sweeps
    assert anytime.findings[0].message.startswith("not linearizable (key 'a')")
    promised = explore(LAB, dataclasses.replace(walking, max_delay=1.0))
    assert promised.verdict == "ok" and promised.walks == 300


def test_with_the_labs_promises_a_client_gives_up_after_the_workload_timeout() -> None:
    """Nothing answers: once the world's time is the workload's timeout past the operation's
    start, the operation ends unknown and a fresh clerk (process 1) goes on with the next."""
    timed = dataclasses.replace(spec(depth=1), operations=ONE_CLIENT, max_delay=1.0)
    silent = searched_lab(LAB.with_impl(VARIANTS / "silent.py"), timed)
    world = SearchWorld(silent, timed, LocalNodes(silent))
    while not any(e["type"] == "complete" for e in world.trace):
        options = world.choices()
        world.take(next((c for c in options if c[0] == "deliver"), None) or next(c for c in options if c[0] == "fire"))
        assert not any(c[0] == "fire" and world.deadlines[c[1]] > 1.0 for c in world.choices() if world.flight
                       and min(world.sent_at[m] for m in world.flight) == 0.0), "time passed a message's second"
    assert world.time == pytest.approx(1.0) and world.path[-1].startswith("fire n1's Sweep")
    assert [(e["type"], e.get("outcome"), e.get("process"), e.get("reason")) for e in world.trace
            if e["type"] in ("invoke", "complete", "crash", "restart")] == [
        ("invoke", None, 0, None), ("complete", "info", 0, None), ("crash", None, None, "replaced"),
        ("restart", None, None, None), ("invoke", None, 1, None)]
    assert not world.finished()  # an operation given up on is not an answer


def test_a_calm_stage_runs_quietly_to_its_goal_then_the_walks_start_there() -> None:
    """Primary-backup: one quiet run until a backup holds the state (the search could not reach
    that state in every order), then walks from it with a key-value server's crash-restarts:
    a view service that promotes a spare is caught; the reference is not."""
    settled = Stage("backup-holds-the-state", PB_GOALS["backup-holds-the-state"], 200, calm=True)
    spec = SearchSpec(operations=((Op("append", "a", "x;"),), (Op("get", "a"),)),
                      invariants=tuple(PB_CHECKS[c] for c in ("no-node-errors", "linearizable",
                                                              "only-the-backup-is-promoted")),
                      depth=1, restarts=1, restartable=("n2", "n3", "n4"), walks=600, walk_depth=40,
                      stages=(settled,))
    found = explore(PB.with_impl(Path(__file__).parent / "primary_backup_variants" / "vs_promotes_idle.py"), spec)
    assert found.verdict == "violation" and found.walk is not None
    assert "only the backup holds the data to take over" in found.findings[0].message
    assert any(step.startswith("deliver TransferReply") for step in found.path)  # the calm run is part of it
    assert explore(PB, spec).verdict == "ok"


class _Lives(Node):
    """Counts its lives on its disk."""

    def on_start(self) -> None:
        self.lives = int(self.storage["lives"]) + 1 if "lives" in self.storage else 1
        self.storage["lives"] = self.lives
        self.log(f"life {self.lives}")


def _one_life(run: RunResult) -> list[Finding]:
    return [Finding(f"{e['node']} began a second life") for e in run.trace
            if e["type"] == "log" and e["text"] == "life 2"]


def test_a_restart_is_a_choice_a_server_restarts_with_its_disk() -> None:
    lab = dataclasses.replace(LAB, node=_Lives, nodes=2)
    restarting = SearchSpec(operations=(), invariants=(_one_life,), depth=2, restarts=1)
    found = explore(lab, restarting)
    assert found.verdict == "violation" and found.path == ["crash n1 and restart it with its disk"]
    assert found.run is not None
    assert [(e["type"], e.get("reason")) for e in found.run.trace if e["type"] in ("crash", "restart")] == [
        ("crash", "search"), ("restart", None)]
    assert explore(lab, dataclasses.replace(restarting, restarts=0)).verdict == "ok"
    spared = explore(lab, dataclasses.replace(restarting, restartable=("n2",)))
    assert spared.path == ["crash n2 and restart it with its disk"]  # n1 may not be crashed


def test_a_node_of_several_parts_is_searched_by_the_part_it_plays() -> None:
    """The primary-backup lab's n1 is a view service and the others key-value servers
    (roles.by_name): each state holds the fields of the part a node plays."""
    views = SearchSpec(operations=(), invariants=(no_node_errors, PB_CHECKS["views-step-by-one"],
                                                  PB_CHECKS["views-wait-for-the-ack"]), depth=4)
    found = explore(dataclasses.replace(PB, nodes=3, workload=None, clerk=None), views)
    assert found.verdict == "ok" and found.states > 50, [f.message for f in found.findings]


def test_a_path_replays_by_its_words_and_a_step_that_cannot_happen_is_named() -> None:
    found = explore(LAB.with_impl(VARIANTS / "no_dedup.py"), spec(depth=6, duplicate=1))
    again = replay(LAB.with_impl(VARIANTS / "no_dedup.py"), spec(depth=6, duplicate=1), found.path)
    assert again.verdict == "violation" and again.replayed and again.path == found.path
    assert again.run is not None and found.run is not None and again.run.trace == found.run.trace
    wrong = [*found.path[:2], "deliver Nothing c9->n1 {}"]
    refused = replay(LAB, spec(depth=6, duplicate=1), wrong)
    assert refused.verdict == "error"
    (finding,) = refused.findings
    assert finding.message.startswith("step 3, 'deliver Nothing c9->n1 {}', cannot happen after the steps before it "
                                      "(what can: ")


def test_random_walks_find_a_deeper_bug_and_shorten_its_path() -> None:
    """Two steps of every order find nothing; the walks do, and every step of the path they
    report is needed (leave any one out and nothing breaks, or it cannot happen)."""
    walking = dataclasses.replace(RAFT_ELECTIONS, depth=2, walks=300, walk_depth=12)
    found = explore(VOTES_TWICE, walking)
    assert found.verdict == "violation" and found.walk is not None and found.walk <= 300
    assert len(found.path) <= found.walked <= 12 and found.states > 0
    assert found.findings[0].message.startswith("election safety: 2 different nodes for term")
    for i in range(len(found.path)):
        assert replay(VOTES_TWICE, walking, found.path[:i] + found.path[i + 1:]).verdict != "violation", i
    assert explore(THREE, walking).verdict == "ok"  # the reference: no walk breaks it


def test_a_search_test_in_a_suite_names_each_mistake_with_its_place(tmp_path: Path) -> None:
    doc = {"lab": "rpc", "seeds": 2, "tests": [
        {"name": "s", "points": 5, "description": "d", "schedule": "lossy", "checks": ["linearizable"],
         "search": {"operations": [[{"f": "get", "key": "a", "valeu": 1}, "put"]], "depth": 0, "dupliate": 1,
                    "drop": "yes", "timeout": -1, "restarts": -1, "walks": 5, "walk_depth": 0}},
    ]}
    with pytest.raises(SuiteError) as info:
        parse_suite(doc, get_lab("rpc"), tmp_path / "suite.yaml")
    problems = str(info.value)
    for said in ("tests[0].schedule: a search test has no schedule (it tries every order, once)",
                 "tests[0].search: unknown field 'dupliate' (did you mean 'duplicate'?)",
                 "tests[0].search.operations[0][0]: unknown field 'valeu' (did you mean 'value'?)",
                 "tests[0].search.operations[0][1]: an operation such as {f: get, key: a}",
                 "tests[0].search.depth: at least 1 step",
                 "tests[0].search.drop: true (a message in flight may be lost) or false, not 'yes'",
                 "tests[0].search.timeout: seconds, more than 0, not -1",
                 "tests[0].search.restarts: a whole number (0 or more), not -1",
                 "tests[0].search.walk_depth: at least 1 step for each of the 5 walks"):
        assert said in problems, problems
    raft = {"lab": "raft", "tests": [
        {"name": "A-s", "points": 5, "description": "d", "checks": ["election-safety"],
         "search": {"operations": [], "stages": [{"goal": "leader-elcted", "depth": 3}, {"goal": "command-applied"},
                                                 "leader-elected", {"goal": "leader-elected", "calm": "yes"}]}},
    ]}
    with pytest.raises(SuiteError) as info:
        parse_suite(raft, get_lab("raft"), tmp_path / "suite.yaml")
    problems = str(info.value)
    assert ("tests[0].search.stages[0].goal: no goal 'leader-elcted' (did you mean 'leader-elected'?); the lab's "
            "goals: leader-elected, command-applied") in problems, problems
    assert "tests[0].search.stages[2]: a stage such as {goal: leader-elected, depth: 6}" in problems
    assert "tests[0].search.stages[3].calm: true (one quiet run to the goal) or false (every order), not 'yes'" in problems
    assert "stages[1]" not in problems  # a stage's depth defaults to 8
