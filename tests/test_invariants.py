"""Invariants over traces, checked on real simulator runs: held ones pass, broken ones are shown
with the events that break them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from labs.checkers.invariants import (
    Invariant,
    Violation,
    all_agree,
    as_check,
    at_most_one_per,
    check_invariants,
    describe_event,
    log_matches,
    output_equals,
)
from labs.runtime.lab import Lab, get_lab
from labs.runtime.node import Node, on, on_timer
from labs.runtime.run import run
from labs.runtime.trace import read_trace

ONE_LEADER = at_most_one_per(
    "one leader per epoch", "no two nodes are elected for the same epoch",
    log_matches(r"elected for epoch (?P<epoch>\d+)", epoch=int), per="epoch")


# -- the demo lab: at most one leader per epoch -------------------------------------------


def test_a_held_invariant_passes_on_real_runs() -> None:
    for schedule, seed in [("lossy", 1), ("churn", 3), ("leader-isolated", 2)]:
        result = run(get_lab("demo"), "sim", schedule, seed=seed)
        elected = [e for e in result.trace if e["type"] == "log" and "elected" in e["text"]]
        assert elected, "the invariant must have something to look at"
        report = check_invariants(result.trace, [ONE_LEADER])
        assert report.ok, report.render()
        assert report.render() == "held   one leader per epoch"


def test_two_leaders_in_one_epoch_are_shown_with_both_elections(tmp_path: Path) -> None:
    result = run(get_lab("demo"), "sim", "churn", seed=3)
    trace = list(result.trace)
    first = next(e for e in trace if e["type"] == "log" and e["text"].startswith("elected"))
    rival = {**first, "node": "n1" if first["node"] != "n1" else "n2", "t": first["t"] + 0.25}
    trace.insert(next(i for i, e in enumerate(trace) if e.get("t", 0) > rival["t"]), rival)
    path = tmp_path / "edited.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in trace))

    report = check_invariants(read_trace(path), [ONE_LEADER])
    (v,) = report.violations
    epoch = first["text"].split()[-1]
    assert v.invariant == "one leader per epoch"
    assert v.message == f"2 different nodes for epoch {epoch}: {first['node']}, {rival['node']}"
    assert list(v.events) == [first, rival]
    file_lines = path.read_text().splitlines()
    assert [json.loads(file_lines[n - 1]) for n in v.lines if n is not None] == [first, rival]
    text = report.render()
    assert text.startswith("BROKEN one leader per epoch (no two nodes are elected for the same epoch)")
    assert f"line {v.lines[1]}  t={rival['t']:.6f}  {rival['node']}  log  elected for epoch {epoch}" in text
    data = json.loads(report.to_json())
    assert data["ok"] is False and data["invariants"][0]["held"] is False
    assert [e["event"] for e in data["violations"][0]["events"]] == [first, rival]


# -- a replicated log: every node applies the same command at each index ------------------


@dataclass(frozen=True)
class Append:
    index: int
    command: str


@dataclass(frozen=True)
class Tick:
    pass


class Replica(Node):
    """n1 numbers twenty commands and sends each to every node; every node applies what arrives."""

    def on_start(self) -> None:
        self.next = 1
        if self.id == "n1":
            self.set_timer(0.05, Tick())

    @on_timer(Tick)
    def propose(self, timer: Tick) -> None:
        command = f"put x={self.random.randint(0, 99)}"
        for node in self.nodes:
            self.send(node, Append(self.next, command))
        self.next += 1
        if self.next <= 20:
            self.set_timer(0.05, Tick())

    @on(Append)
    def apply(self, msg: Append, sender: str) -> None:
        self.log(f"applied {msg.index} {self.command_for(msg)}")

    def command_for(self, msg: Append) -> str:
        return msg.command


class ForgetfulReplica(Replica):
    """n3 applies a command of its own at index 5."""

    def command_for(self, msg: Append) -> str:
        return "put x=-1" if self.id == "n3" and msg.index == 5 else msg.command


SAME_COMMANDS = all_agree(
    "same command at each index", "every node applies the same command at each log index",
    log_matches(r"applied (?P<index>\d+) (?P<command>.+)$", index=int), at="index", value="command")


def replicated(node: type[Node]) -> Lab:
    return Lab(name="replicated-log", description="a fixed sequencer", node=node, nodes=3,
               min_duration=1.5, settle=0.5, checks=(as_check(SAME_COMMANDS, ONE_LEADER),))


def test_nodes_that_agree_pass_even_on_a_lossy_network() -> None:
    result = run(replicated(Replica), "sim", "lossy", seed=4)
    applied = check_invariants(result.trace, [SAME_COMMANDS])
    assert applied.ok and result.violations() == []
    assert sum(1 for e in result.trace if e["type"] == "log") > 40


def test_a_node_that_applies_something_else_is_caught() -> None:
    result = run(replicated(ForgetfulReplica), "sim", "none", seed=4)
    (v,) = check_invariants(result.trace, [SAME_COMMANDS]).violations
    applied_5 = [e for e in result.trace if e["type"] == "log" and e["text"].startswith("applied 5 ")]
    good = next(e for e in applied_5 if e["node"] != "n3")
    bad = next(e for e in applied_5 if e["node"] == "n3")
    assert bad["text"] == "applied 5 put x=-1" and good["text"] != bad["text"]
    first, second = sorted([good, bad], key=result.trace.index)  # shown in trace order
    said = {id(good): f"{good['node']} has '{good['text'][10:]}'", id(bad): "n3 has 'put x=-1'"}
    assert v.message == f"different commands at index 5: {said[id(first)]}, {said[id(second)]}"
    assert list(v.events) == [first, second]
    assert v.lines == (result.trace.index(first) + 1, result.trace.index(second) + 1)
    # As a lab check: one entry, naming the invariant, with the two events under it.
    (problem,) = result.violations()
    assert problem.message.startswith("same command at each index: different commands at index 5")
    assert ("\n" + problem.details).count("\n    line ") == 2


# -- MapReduce-like word count: the output equals a sequential run ------------------------

SENTENCE = "the fox ran over the dog and the dog ran over the hill while the fox slept far away"
TEXT = SENTENCE.split()


@dataclass(frozen=True)
class Chunk:
    words: tuple[str, ...]


@dataclass(frozen=True)
class Counts:
    counts: dict[str, int]


class WordCount(Node):
    """n1 hands each node (itself included) a slice of the text, then sums their counts."""

    def on_start(self) -> None:
        self.replies: dict[str, dict[str, int]] = {}
        if self.id == "n1":
            for i, node in enumerate(self.nodes):
                self.send(node, Chunk(tuple(TEXT[i::len(self.nodes)])))

    @on(Chunk)
    def count_words(self, msg: Chunk, sender: str) -> None:
        self.send(sender, Counts(dict(Counter(self.words(msg)))))

    def words(self, msg: Chunk) -> Sequence[str]:
        return msg.words

    @on(Counts)
    def merge(self, msg: Counts, sender: str) -> None:
        self.replies[sender] = msg.counts
        if len(self.replies) == len(self.nodes):
            total: Counter[str] = Counter()
            for counts in self.replies.values():
                total.update(counts)
            for word, n in sorted(total.items()):
                self.log(f"output {word} {n}")


class SloppyWordCount(WordCount):
    """n2 skips the first word of its slice."""

    def words(self, msg: Chunk) -> Sequence[str]:
        return msg.words[1:] if self.id == "n2" else msg.words


WORD_COUNTS = output_equals(
    "output equals a sequential run", "the word counts equal those of one sequential pass",
    log_matches(r"^output (?P<word>\S+) (?P<count>\d+)$", count=int), key="word", value="count",
    expected=lambda trace: dict(Counter(TEXT)))


def word_count(node: type[Node]) -> Lab:
    return Lab(name="word-count", description="a one-round MapReduce", node=node, nodes=3,
               min_duration=1.0, settle=0.5)


def test_a_correct_word_count_equals_the_sequential_run() -> None:
    result = run(word_count(WordCount), "sim", "none", seed=1)
    report = check_invariants(result.trace, [WORD_COUNTS])
    assert report.ok, report.render()


def test_a_wrong_word_count_is_shown_with_the_output_line() -> None:
    result = run(word_count(SloppyWordCount), "sim", "none", seed=1)
    report = check_invariants(result.trace, [WORD_COUNTS])
    skipped = TEXT[1]  # n2's slice starts at the second word
    (v,) = report.violations
    expected = Counter(TEXT)[skipped]
    assert expected == 2
    assert v.message == f"word {skipped!r} is {expected - 1}, the reference has {expected}"
    (event,) = v.events
    assert event["text"] == f"output {skipped} {expected - 1}" and event["node"] == "n1"


def test_missing_extra_and_contradictory_output() -> None:
    match = log_matches(r"^out (?P<k>\w+)=(?P<v>\w+)$")
    trace = [{"t": 0.1, "type": "log", "node": "n1", "text": "out a=1"},
             {"t": 0.2, "type": "log", "node": "n2", "text": "out a=2"},
             {"t": 0.3, "type": "log", "node": "n1", "text": "out z=9"}]
    inv = output_equals("out", "as expected", match, key="k", value="v", expected={"a": "1", "b": "2"})
    messages = [v.message for v in inv.check(trace)]
    assert messages == ["k 'a' was output twice, as '1' and as '2'",
                        "k 'z' is in the output ('9') but not in the reference",
                        "k 'b' is missing from the output (the reference has '2')"]


# -- declaring an invariant by hand, and how events print ---------------------------------


def test_a_hand_written_invariant_and_its_errors() -> None:
    def no_drops(trace: Sequence[dict[str, Any]]) -> Iterator[Violation]:
        for e in trace:
            if e["type"] == "drop":
                yield Violation(f"{e['src']} -> {e['dst']} lost a message", (e,))

    result = run(get_lab("demo"), "sim", "lossy", seed=1)
    report = check_invariants(result.trace, [Invariant("no drops", "the network is perfect", no_drops), ONE_LEADER])
    drops = [e for e in result.trace if e["type"] == "drop"]
    assert len(report.violations) == len(drops) > 5
    assert report.render(limit=2).count("lost a message") == 2
    assert f"... and {len(drops) - 2} more" in report.render(limit=2)
    assert "held   one leader per epoch" in report.render()

    def broken(trace: Sequence[dict[str, Any]]) -> Iterator[Violation]:
        raise KeyError("term")

    with pytest.raises(KeyError) as info:
        check_invariants(result.trace, [Invariant("typo", "a bug in the lab", broken)])
    assert "while checking the invariant 'typo'" in "".join(info.value.__notes__)


def test_events_print_on_one_line() -> None:
    send = {"t": 1.5, "type": "send", "node": "n1", "dst": "n2", "id": 7, "msg": "Accept",
            "body": {"epoch": 3, "state": "x" * 200}}
    line = describe_event(send, 12)
    assert line.startswith("line 12  t=1.500000  n1  send  dst=n2  id=7  msg=Accept  body={")
    assert line.endswith("...") and "\n" not in line
    assert describe_event({"t": 2, "type": "heal", "final": True}) == "t=2.000000  heal  final=true"
