"""Fault schedules: the library, the three ways to write a schedule, and the error messages.

A schedule is checked in two steps (see ``labs.runtime.schedule``): ``parse`` checks the document's
shape, ``Schedule.expand`` binds it to a cluster's node names and a seed. Both report every problem
at once, each naming its field, so these tests look at the messages as a student would read them.
"""

import json
from dataclasses import replace

import pytest

from labs.demo import LAB as DEMO
from labs.runtime.network import Delay, Network, block_groups, block_ring
from labs.runtime.schedule import (
    Crash,
    Heal,
    Partition,
    Pause,
    Restart,
    Schedule,
    ScheduleError,
    builder,
    library,
    load,
    loads,
    parse,
)

NODES = DEMO.node_names()
CLIENTS = DEMO.client_names()

DESIGN_EXAMPLE_YAML = """
name: design-example
network: {loss: 0.1, delay: {uniform: [0.001, 0.030]}, duplicate: 0.01, reorder: true}
events:
  - {at: 2.0, partition: [[leader], rest]}
  - {at: 5.0, heal: all}
  - {at: 6.0, crash: n3, disk: keep}
  - {at: 8.0, restart: n3}
"""

DESIGN_EXAMPLE_DATA = {
    "name": "design-example",
    "network": {
        "loss": 0.1,
        "delay": {"uniform": [0.001, 0.030]},
        "duplicate": 0.01,
        "reorder": True,
    },
    "events": [
        {"at": 2.0, "partition": [["leader"], "rest"]},
        {"at": 5.0, "heal": "all"},
        {"at": 6.0, "crash": "n3", "disk": "keep"},
        {"at": 8.0, "restart": "n3"},
    ],
}

RANDOM_DOC = """
name: random-faults
duration: 12.0
random:
  - {every: 2.0, partition: random-halves, for: 1.0}
  - {every: 3.0, start: 0.5, crash: random, for: 1.0, disk: lose}
  - {every: 4.0, start: 1.0, pause: random, for: 0.5}
"""


def design_example_builder() -> Schedule:
    return (
        builder("design-example")
        .loss(0.1)
        .delay(uniform=(0.001, 0.030))
        .duplicate(0.01)
        .at(2.0).partition(["leader"], "rest")
        .at(5.0).heal()
        .at(6.0).crash("n3", disk="keep")
        .at(8.0).restart("n3")
        .build()
    )


def schedule_error(text: str) -> ScheduleError:
    """The error ``loads(text)`` raises (the test fails if it raises none)."""
    with pytest.raises(ScheduleError) as info:
        loads(text)
    return info.value


def expand_error(text: str) -> ScheduleError:
    """The error expanding ``text`` for the demo cluster raises; parsing it must succeed."""
    schedule = loads(text)
    with pytest.raises(ScheduleError) as info:
        schedule.expand(NODES, CLIENTS, seed=0)
    return info.value


# -- the library --------------------------------------------------------------------------


def test_the_library_is_not_empty_and_includes_the_baseline() -> None:
    names = library()
    assert "none" in names
    assert names == sorted(names)


@pytest.mark.parametrize("name", library())
def test_library_schedule_expands_for_the_demo_cluster_and_ends_healed(name: str) -> None:
    expanded = load(name).expand(NODES, CLIENTS, seed=1, min_duration=DEMO.min_duration)

    assert expanded.name == name
    assert expanded.random == ()
    assert expanded.duration is not None
    assert expanded.events, "an expanded schedule has at least its final heal"
    assert expanded.events[-1] == Heal(at=expanded.duration)
    assert all(e.at < expanded.duration for e in expanded.events[:-1])
    assert [e.at for e in expanded.events] == sorted(e.at for e in expanded.events)


def test_library_schedule_leader_isolated_then_crash_is_the_design_example() -> None:
    from_library = load("leader-isolated-then-crash")

    assert replace(from_library, name="design-example", description="") == loads(DESIGN_EXAMPLE_YAML)


# -- three ways to write the same schedule ------------------------------------------------


def test_builder_produces_the_same_schedule_as_the_yaml_document() -> None:
    from_yaml = loads(DESIGN_EXAMPLE_YAML)

    assert design_example_builder() == from_yaml
    assert from_yaml == Schedule(
        name="design-example",
        network=Network(loss=0.1, delay=Delay("uniform", 0.001, 0.030), duplicate=0.01, reorder=True),
        events=(
            Partition(2.0, (("leader",), ("rest",))),
            Heal(5.0),
            Crash(6.0, "n3", "keep"),
            Restart(8.0, "n3"),
        ),
    )


def test_json_text_parses_to_the_same_schedule_as_yaml() -> None:
    assert loads(json.dumps(DESIGN_EXAMPLE_DATA)) == loads(DESIGN_EXAMPLE_YAML)
    assert parse(DESIGN_EXAMPLE_DATA) == loads(DESIGN_EXAMPLE_YAML)


def test_to_data_round_trips_through_parse_for_every_library_schedule() -> None:
    for name in library():
        schedule = load(name)
        assert parse(schedule.to_data()) == schedule, name
        expanded = schedule.expand(NODES, CLIENTS, seed=3, min_duration=DEMO.min_duration)
        assert parse(expanded.to_data()) == expanded, name


def test_to_data_round_trips_every_kind_of_event_and_random_fault() -> None:
    schedule = (
        builder("everything", "one of each")
        .loss(0.05).duplicate(0.02).fifo().delay(normal=(0.01, 0.002))
        .duration(9.0).seed(5)
        .at(0.5).skew("n2", offset=1.5, rate=2.0)
        .at(1.0).partition("majorities-ring")
        .at(1.5).isolate("leader")
        .at(2.0).heal()
        .at(2.5).pause("n1", 0.75)
        .at(3.0).network(loss=0.2, delay={"exponential": 0.01})
        .at(4.0).crash("leader", disk="lose")
        .at(5.0).restart("all")
        .every(2.0, "partition", "isolate-random", lasting=0.5, start=0.25)
        .every(3.0, "crash", "leader", lasting=1.0, disk="lose")
        .build()
    )

    assert parse(schedule.to_data()) == schedule
    assert parse(json.loads(json.dumps(schedule.to_data()))) == schedule


# -- random faults and seeds --------------------------------------------------------------


def test_random_faults_expand_the_same_way_for_the_same_seed() -> None:
    schedule = loads(RANDOM_DOC)

    first = schedule.expand(NODES, CLIENTS, seed=11)
    again = schedule.expand(NODES, CLIENTS, seed=11)

    assert first == again
    kinds = {type(e) for e in first.events}
    assert {Partition, Heal, Crash, Restart, Pause} <= kinds
    assert {e.node for e in first.events if isinstance(e, Crash | Pause)} <= set(NODES)


def test_random_faults_expand_differently_for_another_seed() -> None:
    schedule = loads(RANDOM_DOC)

    assert schedule.expand(NODES, CLIENTS, seed=11).events != schedule.expand(NODES, CLIENTS, seed=12).events


def test_a_seed_in_the_document_overrides_the_run_seed() -> None:
    seeded = loads(RANDOM_DOC + "seed: 42\n")

    with_seed_1 = seeded.expand(NODES, CLIENTS, seed=1)
    with_seed_2 = seeded.expand(NODES, CLIENTS, seed=2)
    unseeded_run_42 = loads(RANDOM_DOC).expand(NODES, CLIENTS, seed=42)

    assert with_seed_1 == with_seed_2
    assert with_seed_1.events == unseeded_run_42.events


# -- bad documents: each problem names its field and says what is wrong -----------------

BAD_DOCUMENTS = [
    pytest.param("evnets: []", "evnets", "unknown key (did you mean 'events'?)", id="unknown-top-level-key"),
    pytest.param("events: [{at: 1.0, crash: n1, dsik: keep}]", "events[0].dsik", "unknown key (did you mean 'disk'?)", id="unknown-event-key"),
    pytest.param("events: [{at: -1.0, crash: n1}]", "events[0].at", "must be non-negative, got -1", id="negative-time"),
    pytest.param("events: [{at: 1.0, pause: n1, for: 2.0}, {at: 2.0, pause: n1, for: 1.0}]", "events[1]", "overlaps its earlier pause", id="overlapping-pause"),
    pytest.param("network: {loss: 1.5}", "network.loss", "must be between 0 and 1, got 1.5", id="loss-above-1"),
    pytest.param("network: {loss: -0.1}", "network.loss", "must be between 0 and 1, got -0.1", id="loss-below-0"),
    pytest.param("network: {loss: 1}", "network.loss", "a loss of 1 loses every message; use a partition", id="loss-exactly-1"),
    pytest.param("network: {delay: {uniform: [0.030, 0.001]}}", "network.delay.uniform", "the upper bound 0.001 is below the lower bound 0.03", id="uniform-upper-below-lower"),
    pytest.param("network: {delay: {gaussian: [0.01, 0.002]}}", "network.delay.gaussian", "unknown delay distribution; use one of constant, exponential, normal, uniform", id="unknown-delay-distribution"),
    pytest.param("events: [{at: 1.0, crash: n1, restart: n1}]", "events[0]", "has more than one action", id="two-actions"),
    pytest.param("events: [{at: 1.0}]", "events[0]", "has no action", id="no-action"),
    pytest.param("events: [{at: 1.0, skew: n1, rate: 0}]", "events[0].rate", "the rate must be more than 0", id="zero-rate-skew"),
    pytest.param("events: [{at: 1.0, pause: n1}]", "events[0].for", "missing: how long the pause lasts", id="pause-without-for"),
    pytest.param("duration: 3.0\nevents: [{at: 5.0, crash: n1}]", "events[0].at", "5 is after the schedule's duration 3", id="event-after-duration"),
    pytest.param("random: [{every: 2.0, partition: random-halves, for: 2.0}]", "random[0].for", "must end before the next one starts", id="random-for-not-below-every"),
]


@pytest.mark.parametrize(("text", "field", "problem"), BAD_DOCUMENTS)
def test_bad_document_is_rejected_naming_the_field_and_the_problem(text: str, field: str, problem: str) -> None:
    error = schedule_error(text)

    assert len(error.problems) == 1, error.problems
    assert error.problems[0].startswith(f"{field}: ")
    assert problem in error.problems[0]
    assert error.problems[0] in str(error)


def test_all_problems_of_a_document_are_reported_together() -> None:
    error = schedule_error(
        """
        evnets: []
        network: {loss: 1.5, delay: {uniform: [0.030, 0.001]}}
        events:
          - {at: -1.0, crash: n1}
          - {at: 1.0, crsh: n2}
          - {at: 2.0, skew: n3, rate: 0}
        """
    )

    fields = [p.split(": ", 1)[0] for p in error.problems]
    assert fields == [
        "evnets",
        "network.loss",
        "network.delay.uniform",
        "events[0].at",
        "events[1]",
        "events[1].crsh",
        "events[2].rate",
    ]
    assert "did you mean 'crash'?" in error.problems[5]
    for problem in error.problems:
        assert problem in str(error)


def test_a_document_that_is_not_a_mapping_is_rejected() -> None:
    error = schedule_error("- {at: 1.0, crash: n1}")

    assert error.problems == ["the document must be a mapping with 'events', got list"]


def test_invalid_yaml_text_is_rejected_as_a_schedule_error() -> None:
    error = schedule_error("events: [{at: 1.0, crash: n1")

    assert len(error.problems) == 1
    assert error.problems[0].startswith("not valid YAML/JSON: ")


def test_problems_after_an_invalid_event_name_the_right_event() -> None:
    error = schedule_error(
        """
        duration: 4.0
        events:
          - {at: 0.5}
          - {at: 1.0, pause: n1, for: 2.0}
          - {at: 2.0, pause: n1, for: 1.0}
          - {at: 5.0, crash: n2}
        """
    )

    fields = sorted(p.split(": ", 1)[0] for p in error.problems)
    assert fields == ["events[0]", "events[2]", "events[3].at"]


# -- bad node names: found when the schedule meets a cluster -----------------------------


def test_unknown_node_is_reported_at_expand_time_with_the_cluster_nodes() -> None:
    error = expand_error("events: [{at: 1.0, crash: n9}]")

    assert len(error.problems) == 1
    assert error.problems[0].startswith("events[0].crash: unknown node 'n9'")
    assert "this cluster has n1, n2, n3, n4, n5" in error.problems[0]


def test_unknown_node_in_a_partition_is_reported_at_expand_time() -> None:
    error = expand_error("events: [{at: 1.0, partition: [[n1, n7], rest]}]")

    assert error.problems[0].startswith("events[0].partition: unknown node 'n7'")
    assert "n1, n2, n3, n4, n5" in error.problems[0]


def test_crashing_a_client_is_rejected_because_only_servers_can_crash() -> None:
    error = expand_error("events: [{at: 1.0, crash: c1}]")

    assert error.problems == [
        "events[0].crash: 'c1' is a client; only server nodes (n1, n2, n3, n4, n5) can crash, "
        "pause or skew"
    ]


def test_a_client_may_be_named_in_a_partition() -> None:
    expanded = loads("events: [{at: 1.0, partition: [[n1, c1], rest]}]").expand(NODES, CLIENTS)

    assert expanded.events[0] == Partition(1.0, (("n1", "c1"), ("rest",)))


# -- load ---------------------------------------------------------------------------------


def test_load_of_a_misspelled_library_name_suggests_the_right_one() -> None:
    with pytest.raises(ScheduleError) as info:
        load("leader-isolatd")

    assert "no schedule named 'leader-isolatd' (did you mean 'leader-isolated'?)" in str(info.value)


def test_load_of_an_unknown_library_name_lists_the_library() -> None:
    with pytest.raises(ScheduleError) as info:
        load("no-such-name")

    message = str(info.value)
    assert "no schedule named 'no-such-name'" in message
    assert "the library has: " + ", ".join(library()) in message
    assert "or give a path to a .yaml/.json file" in message


def test_load_of_a_missing_yaml_path_says_the_file_does_not_exist(tmp_path) -> None:
    missing = tmp_path / "nope.yaml"

    with pytest.raises(ScheduleError) as info:
        load(missing)

    assert info.value.problems == [f"no such file {str(missing)!r}"]


def test_load_of_a_yaml_file_takes_its_name_from_the_file(tmp_path) -> None:
    path = tmp_path / "my-outage.yaml"
    path.write_text(DESIGN_EXAMPLE_YAML.replace("name: design-example\n", ""), encoding="utf-8")

    assert load(path) == replace(loads(DESIGN_EXAMPLE_YAML), name="my-outage")


# -- partition shapes ---------------------------------------------------------------------


def reachable(links: frozenset[tuple[str, str]], nodes: list[str], src: str) -> frozenset[str]:
    return frozenset(dst for dst in nodes if (src, dst) not in links)


def test_majorities_ring_of_five_lets_each_node_reach_exactly_three_including_itself() -> None:
    nodes = ["n1", "n2", "n3", "n4", "n5"]
    links = block_ring(nodes)

    for node in nodes:
        reach = reachable(links, nodes, node)
        assert len(reach) == 3, (node, sorted(reach))
        assert node in reach


def test_majorities_ring_of_five_gives_neighbours_different_majorities() -> None:
    nodes = ["n1", "n2", "n3", "n4", "n5"]
    links = block_ring(nodes)

    for i, node in enumerate(nodes):
        neighbour = nodes[(i + 1) % len(nodes)]
        assert reachable(links, nodes, node) != reachable(links, nodes, neighbour)


def test_block_groups_cuts_links_only_between_different_groups() -> None:
    nodes = ["n1", "n2", "n3", "n4", "n5"]
    links = block_groups([["n1", "n2"], ["n3"]])

    assert links == {("n1", "n3"), ("n2", "n3"), ("n3", "n1"), ("n3", "n2")}
    for a in nodes:
        for b in nodes:
            if "n4" in (a, b) or "n5" in (a, b):
                assert (a, b) not in links, "a node in no group reaches everyone"
