"""The fault layer: each kind of fault defined once (labs.runtime.faults), read and written the same
way, aimed at any role a lab declares, and applied alike by both runtimes.

A lab names the roles its nodes hold (``Lab.roles``); a schedule names a role wherever it names a
node, and the role means whichever node holds it when the fault fires (``Lab.role_holders`` reads
it from the trace; a lab without one asks ``Node.role()``).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from probe import PROBE, ROLES, events

from labs.runtime.faults import (
    KINDS,
    Crash,
    Fault,
    Heal,
    Partition,
    Pause,
    Restart,
    SetNetwork,
    Skew,
    fault_from_data,
)
from labs.runtime.lab import RunResult
from labs.runtime.network import Delay, Network
from labs.runtime.run import run
from labs.runtime.schedule import ScheduleError, loads
from labs.runtime.validate import Checker

NODES = ROLES.node_names()

ROLE_SCHEDULE = loads("""
name: roles
duration: 2.0
events:
  - {at: 0.3, crash: primary}
  - {at: 0.3, partition: [[tail], rest]}
  - {at: 0.4, pause: backup, for: 0.2}
  - {at: 0.8, heal: all}
  - {at: 0.9, restart: all}
""")


@pytest.fixture(scope="module", params=["sim", "ray"])
def result(request: pytest.FixtureRequest) -> RunResult:
    if request.param == "ray":
        request.getfixturevalue("ray_session")
    return run(ROLES, request.param, ROLE_SCHEDULE, seed=3)


def test_a_fault_aimed_at_a_role_hits_the_node_that_holds_it(result: RunResult) -> None:
    (crash,) = events(result.trace, "crash", reason="schedule")
    assert crash["node"] == "n2"
    (partition,) = events(result.trace, "partition")
    assert partition["groups"][0] == ["n5"] and "n5" not in partition["groups"][1]


def test_a_role_nobody_holds_skips_the_fault_and_says_so(result: RunResult) -> None:
    assert [(e["what"], e["why"]) for e in events(result.trace, "skip")] == [("pause", "no node is backup")]
    assert events(result.trace, "pause") == []


def test_a_role_the_lab_does_not_declare_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(ScheduleError) as info:
        loads("events: [{at: 1.0, crash: primry}, {at: 1.0, pause: leader, for: 0.5}]").expand(
            NODES, roles=ROLES.roles)
    first, second = info.value.problems
    assert first.startswith("events[0].crash: unknown node 'primry' (did you mean 'primary'?)")
    assert "roles: primary, backup, tail" in first
    assert second.startswith("events[1].pause: unknown node 'leader'")


def test_random_faults_can_aim_at_a_declared_role_and_only_at_one() -> None:
    doc = "random: [{every: 1.0, crash: tail, for: 0.3}, {every: 1.0, partition: isolate-primary, for: 0.5}]"
    expanded = loads(doc).expand(NODES, seed=1, min_duration=3.0, roles=ROLES.roles)
    assert {e.node for e in expanded.events if isinstance(e, Crash)} == {"tail"}
    assert {e.groups[0] for e in expanded.events if isinstance(e, Partition)} == {("primary",)}
    with pytest.raises(ScheduleError, match=r"random\[0\]\.crash: 'leader' is not a role of this lab"):
        loads("random: [{every: 1.0, crash: leader, for: 0.3}]").expand(NODES, roles=ROLES.roles)


# -- every kind reads back what it writes --------------------------------------------------------

times = st.floats(0.0, 100.0, allow_nan=False).map(lambda t: round(t, 3))
names = st.sampled_from(["n1", "n2", "leader", "primary", "random"])
networks = st.builds(
    Network,
    loss=st.floats(0.0, 0.9).map(lambda p: round(p, 3)),
    delay=st.one_of(st.just(Delay()), st.builds(lambda a, b: Delay("uniform", a, a + b),
                                                st.floats(0.0, 0.1), st.floats(0.0, 0.1))),
    duplicate=st.floats(0.0, 1.0).map(lambda p: round(p, 3)),
    reorder=st.booleans(),
)
faults = st.one_of(
    st.builds(Partition, times, st.lists(st.lists(names, min_size=1, max_size=1).map(tuple), min_size=2,
                                         max_size=2, unique=True).map(tuple)),
    st.builds(Partition, times, kind=st.sampled_from(["majorities-ring", "random-halves"])),
    st.builds(Partition.one_way_at, times, st.sampled_from(["deafen", "mute"]), names),
    st.builds(Heal, times),
    st.builds(Crash, times, names, st.sampled_from(["keep", "lose"])),
    st.builds(Restart, times, st.sampled_from(["n1", "all"])),
    st.builds(Pause, times, names, st.floats(0.001, 10.0).map(lambda d: round(d, 3))),
    st.builds(Skew, times, st.sampled_from(["n1", "n2"]), st.floats(-10, 10), st.floats(0.1, 4.0)),
    st.builds(SetNetwork, times, networks),
)


@given(faults)
def test_every_kind_of_fault_reads_back_what_it_writes(fault: Fault) -> None:
    c = Checker()
    assert fault_from_data(c, fault.to_data(), "events[0]") == fault
    assert c.problems == []
    assert type(fault).key in KINDS and fault.describe()


@given(faults)
def test_a_milder_fault_is_the_same_kind_and_still_valid(fault: Fault) -> None:
    for milder in fault.smaller():
        c = Checker()
        assert type(milder) is type(fault)
        assert fault_from_data(c, milder.to_data(), "events[0]") == milder and c.problems == []


# -- one-way partitions: a node that can send but not hear, or hear but not send ---------------------

ONE_WAY_SCHEDULE = loads("""
name: one-way
duration: 2.0
events:
  - {at: 0.3, partition: deafen n1}
  - {at: 0.8, heal: all}
  - {at: 1.0, partition: mute n2}
  - {at: 1.5, heal: all}
""")


def test_a_one_way_partition_reads_back_what_it_writes_and_says_which_way() -> None:
    deafen, _, mute, _ = ONE_WAY_SCHEDULE.events
    assert deafen == Partition(0.3, (("n1",),), one_way="deafen")
    assert mute == Partition(1.0, (("n2",),), one_way="mute")
    assert deafen.to_data() == {"at": 0.3, "partition": "deafen n1"}
    assert deafen.describe() == "partition deafen n1 (n1 hears nobody)"
    assert mute.describe() == "partition mute n2 (nobody hears n2)"
    assert loads(json.dumps(ONE_WAY_SCHEDULE.to_data())) == ONE_WAY_SCHEDULE
    assert Partition(1.0, (("leader",),), one_way="deafen").targets() == ("leader",)


def test_an_unknown_partition_lists_the_one_way_forms_too() -> None:
    with pytest.raises(ScheduleError) as info:
        loads("events: [{at: 1.0, partition: deaf n1}]")
    assert "'deafen n1' (n1 hears nobody), 'mute n1' (nobody hears n1)" in str(info.value)
    with pytest.raises(ScheduleError, match="'mute rest' names nobody"):
        loads("events: [{at: 1.0, partition: mute rest}]").expand(NODES, roles=ROLES.roles)


def test_a_one_way_partition_drops_one_direction_and_delivers_the_other(runtime: str) -> None:
    """Deafened, n1 still reaches the others but hears none of them; muted, n2 hears everyone but
    reaches nobody; each heal ends it (both runtimes take the directed links of the cut)."""
    trace = run(PROBE, runtime, ONE_WAY_SCHEDULE, seed=2).trace
    cuts = events(trace, "partition")
    assert [sorted(map(tuple, c["blocked"])) for c in cuts] == [
        sorted((x, "n1") for x in NODES if x != "n1"), sorted(("n2", x) for x in NODES if x != "n2")]

    (deafened, muted), heals = (c["t"] for c in cuts), [h["t"] for h in events(trace, "heal")]

    def delivered(src: str, dst: str, a: float, b: float) -> int:
        return sum(1 for e in events(trace, "deliver", node=dst, src=src) if a < e["t"] < b)

    # A margin after each change (0.1 s, two probe periods): messages already in flight, and on
    # Ray the driver's word of the cut reaching each node, land a little late.
    during = (deafened + 0.1, heals[0])
    assert delivered("n1", "n3", *during) > 0 and delivered("n3", "n1", *during) == 0
    assert delivered("n2", "n3", *during) > 0 and delivered("n3", "n2", *during) > 0
    during = (muted + 0.1, heals[1])
    assert delivered("n3", "n2", *during) > 0 and delivered("n2", "n3", *during) == 0
    assert delivered("n3", "n1", heals[0] + 0.1, muted) > 0 and delivered("n2", "n3", heals[1] + 0.1, 2.0) > 0
    assert events(trace, "drop", reason="partition", src="n3", dst="n1")
    assert events(trace, "drop", reason="partition", src="n2", dst="n4")


def test_random_one_way_partitions_are_drawn_from_the_seed_and_each_is_healed() -> None:
    schedule = loads("duration: 8.0\nrandom:\n"
                     "  - {every: 2.0, partition: deafen-random, for: 0.5}\n"
                     "  - {every: 2.5, partition: mute-primary, for: 0.5, start: 0.3}\n")
    expanded = schedule.expand(NODES, roles=ROLES.roles, seed=3)
    assert expanded == schedule.expand(NODES, roles=ROLES.roles, seed=3)
    cuts = [e for e in expanded.events if isinstance(e, Partition)]
    deaf = [e for e in cuts if e.one_way == "deafen"]
    mute = [e for e in cuts if e.one_way == "mute"]
    assert len(deaf) == 4 and len(mute) == 3  # every 2 s from 0, every 2.5 s from 0.3
    assert {e.groups[0][0] for e in deaf} <= set(NODES)
    assert {e.groups[0][0] for e in mute} == {"primary"}  # resolved when each fires
    heals = {e.at for e in expanded.events if isinstance(e, Heal)}
    assert all(round(cut.at + 0.5, 6) in heals for cut in cuts)  # each lasts its 0.5 s
    assert loads(json.dumps(schedule.to_data())) == schedule


@pytest.mark.parametrize("target", ["deafen", "mute-", "deaf-random", "isolate"])
def test_a_random_partition_aimed_at_nobody_is_refused_with_the_forms_it_may_take(target: str) -> None:
    with pytest.raises(ScheduleError) as info:
        loads(f"random: [{{every: 2.0, partition: {target}, for: 0.5}}]")
    assert "random[0].partition: must be" in str(info.value)
    assert "deafen-random, mute-random, deafen-<role> or mute-<role>" in str(info.value)
