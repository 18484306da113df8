"""The message codec: what a node sends is turned into JSON text and back, in both runtimes.

The message types live at module level, as in a lab's ``node.py``: the codec learns the dataclasses
nested in a message from its field annotations.
"""

import json
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

from labs.runtime.codec import Codec, SerializationError


@dataclass(frozen=True)
class Entry:
    term: int
    command: str | None
    weight: float


@dataclass(frozen=True)
class AppendEntries:
    """Holds a list of another dataclass and one of every kind of value the codec knows."""

    term: int
    entries: list[Entry]
    by_index: dict[int, Entry]
    match: dict[str, int]
    window: tuple[int, str, float]
    voters: frozenset[str]
    blob: bytes
    leader_hint: str | None
    ratio: float
    nested: dict[tuple[int, int], list[set[int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Box:
    """A message whose payload may be anything: the codec decides at send time."""

    payload: Any


@dataclass(frozen=True)
class Crate:
    boxes: list[Box]
    labels: dict[str, Any]


@dataclass(frozen=True)
class Stranger:
    """A dataclass no message names in its annotations, so the codec never learns it."""

    x: int


@dataclass(frozen=True)
class Reading:
    celsius: float


def sample_message() -> AppendEntries:
    return AppendEntries(
        term=7,
        entries=[Entry(6, "put x 1", 0.5), Entry(7, None, -2.25)],
        by_index={1: Entry(6, "put x 1", 0.5), 10: Entry(7, None, 1e300)},
        match={"n2": 3, "@n3": 4},
        window=(1, "two", 3.0),
        voters=frozenset({"n1", "n3"}),
        blob=b"\x00\xffbytes",
        leader_hint=None,
        ratio=0.1,
        nested={(1, 2): [{3, 1}, set()]},
    )


def round_trip(codec: Codec, value: object) -> Any:
    return codec.loads(codec.dumps(value))


# -- round trips --------------------------------------------------------------------------


def test_nested_dataclasses_round_trip_with_every_kind_of_value() -> None:
    codec = Codec([AppendEntries])
    msg = sample_message()

    back = round_trip(codec, msg)

    assert back == msg
    assert type(back) is AppendEntries
    assert all(type(e) is Entry for e in back.entries)
    assert set(back.by_index) == {1, 10}
    assert type(back.window) is tuple
    assert type(back.voters) is frozenset
    assert back.blob == b"\x00\xffbytes"
    assert back.leader_hint is None
    assert back.ratio == 0.1
    assert back.by_index[10].weight == 1e300


def test_registering_a_message_also_registers_the_dataclasses_it_holds() -> None:
    assert set(Codec([AppendEntries]).types) == {"AppendEntries", "Entry"}


def test_the_json_text_uses_the_documented_tags() -> None:
    codec = Codec([Box])

    assert json.loads(codec.dumps(Box((1, 2)))) == {"@type": "Box", "payload": {"@tuple": [1, 2]}}
    assert json.loads(codec.dumps(Box({1: "a"}))) == {"@type": "Box", "payload": {"@dict": [[1, "a"]]}}
    assert json.loads(codec.dumps(Box({"a": 1}))) == {"@type": "Box", "payload": {"a": 1}}
    assert json.loads(codec.dumps(Box(b"hi"))) == {"@type": "Box", "payload": {"@bytes": "aGk="}}


def test_a_string_keyed_dict_that_looks_like_a_tag_round_trips() -> None:
    codec = Codec([Box])
    for tricky in ({"@type": "Box"}, {"@set": [1]}, {"@bytes": "aGk="}):
        assert round_trip(codec, Box(tricky)) == Box(tricky)


def test_a_set_is_encoded_the_same_way_whatever_its_insertion_order() -> None:
    codec = Codec([Box])
    words = ["delta", "alpha", "charlie", "bravo", "echo"]
    forward: set[str] = set()
    backward: set[str] = set()
    for w in words:
        forward.add(w)
    for w in reversed(words):
        backward.add(w)

    text = codec.dumps(Box(forward))

    assert text == codec.dumps(Box(backward))
    assert text == codec.dumps(Box(frozenset(sorted(words))))
    assert text == '{"@type":"Box","payload":{"@set":["alpha","bravo","charlie","delta","echo"]}}'


def test_encoding_the_same_message_twice_gives_the_same_text() -> None:
    codec = Codec([AppendEntries])

    assert codec.dumps(sample_message()) == codec.dumps(sample_message())


# -- no aliasing --------------------------------------------------------------------------


def test_the_decoded_message_is_a_new_object_unchanged_by_later_mutation() -> None:
    codec = Codec([Box])
    inner = [2, 3]
    items = [1, inner]
    sent = Box(items)

    text = codec.dumps(sent)
    items.append(4)
    inner.append(5)
    received = codec.loads(text)

    assert received == Box([1, [2, 3]])
    assert received.payload is not items


def test_decoding_the_same_encoding_twice_gives_independent_objects() -> None:
    # The simulator encodes once per send and decodes once per delivered copy.
    codec = Codec([Box])
    items = [1, 2]
    body = codec.encode(Box(items))
    items.append(3)

    first = codec.decode(body)
    second = codec.decode(body)
    first.payload.append(99)

    assert second == Box([1, 2])
    assert first.payload is not second.payload


# -- what cannot be sent: SerializationError names the field ------------------------------


def test_a_lock_inside_a_field_names_the_field_path() -> None:
    codec = Codec([Box])

    with pytest.raises(SerializationError) as info:
        codec.dumps(Box(threading.Lock()))

    message = str(info.value)
    assert message.startswith("message.payload: a lock cannot be sent or stored")
    assert "use None, bool, int, float, str, bytes, list, tuple, set, dict or a message dataclass" in message


def test_a_lambda_deep_inside_a_message_names_the_whole_path() -> None:
    codec = Codec([Crate])
    crate = Crate(boxes=[Box(1), Box([0, lambda: None])], labels={})

    with pytest.raises(SerializationError) as info:
        codec.dumps(crate)

    assert str(info.value).startswith("message.boxes[1].payload[1]: a function cannot be sent")


def test_an_unsendable_dict_value_names_its_key() -> None:
    codec = Codec([Crate])

    with pytest.raises(SerializationError) as info:
        codec.dumps(Crate(boxes=[], labels={"owner": object()}))

    message = str(info.value)
    assert message.startswith("message.labels['owner']: ")
    assert "cannot be sent or stored" in message


def test_a_dataclass_the_codec_does_not_know_is_refused() -> None:
    codec = Codec([Box])

    with pytest.raises(SerializationError) as info:
        codec.dumps(Box(Stranger(1)))

    message = str(info.value)
    assert message.startswith("message.payload: Stranger is not a message type of this cluster")
    assert "@on(...)" in message


def test_decoding_an_unknown_type_tag_is_refused() -> None:
    with pytest.raises(SerializationError, match="unknown message type 'Stranger'"):
        Codec([Box]).loads('{"@type": "Stranger", "x": 1}')


def test_registering_something_that_is_not_a_dataclass_is_refused() -> None:
    with pytest.raises(SerializationError, match="is not a dataclass"):
        Codec([dict])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_a_non_finite_float_is_refused_naming_the_field(bad: float) -> None:
    codec = Codec([Reading])

    with pytest.raises(SerializationError) as info:
        codec.dumps(Reading(bad))

    assert str(info.value).startswith("message.celsius: ")


def make_message_class(module: str) -> type:
    """A message class called ``Vote``, as if defined in ``module``."""

    @dataclass(frozen=True)
    class Vote:
        term: int

    Vote.__qualname__ = "Vote"
    Vote.__module__ = module
    return Vote


def test_two_different_classes_with_the_same_name_are_refused_naming_both() -> None:
    first = make_message_class("labs.raft.messages")
    second = make_message_class("labs.kv.messages")
    codec = Codec([first])

    with pytest.raises(SerializationError) as info:
        codec.register(second)

    message = str(info.value)
    assert "two different message classes are both called 'Vote'" in message
    assert "labs.raft.messages" in message
    assert "labs.kv.messages" in message
    assert "rename one of them" in message


def test_registering_the_same_class_twice_is_fine() -> None:
    codec = Codec([AppendEntries, AppendEntries, Entry])

    assert codec.types == {"AppendEntries": AppendEntries, "Entry": Entry}
