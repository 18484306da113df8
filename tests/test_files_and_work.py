"""The runtime's shared files and works in the simulator: work takes virtual time, a crash tears
the write it interrupts at an exact byte, a pause freezes a work, a work that raises crashes its
node, results reach the node as messages, nodes of several parts get their own handlers, and
runs stay byte-for-byte reproducible."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from labs.runtime.files import SIM_BYTES_PER_SECOND, Work
from labs.runtime.lab import Lab
from labs.runtime.node import Node, SharedFiles, on
from labs.runtime.roles import by_name
from labs.runtime.schedule import builder
from labs.runtime.sim import first_difference, run_sim
from labs.runtime.simnodes import WORK_SPEED

TEXT = "x" * 100_000


@dataclass(frozen=True)
class Go:
    mode: str


@dataclass(frozen=True)
class Done:
    size: int


def writer(work: Work, mode: str) -> Done:
    if mode == "raise":
        work.spend(0.3)
        raise ValueError("the work failed")
    work.spend(0.5)
    if mode == "atomic":
        work.files.write("tmp/out", TEXT)
        work.files.rename("tmp/out", "out")
    else:
        work.files.write("out", TEXT)
    return Done(len(work.files.read("out")))


class Boss(Node):
    def on_start(self) -> None:
        if self.id == "n1":
            self.send("n2", Go(self.storage.get("mode", "in-place")))


class Hand(SharedFiles, Node):
    def on_start(self) -> None:
        self.sizes: list[int] = []

    @on(Go)
    def handle_go(self, msg: Go, sender: str) -> None:
        self.start_work(writer, msg.mode)
        self.log("started")  # the handler goes on at once

    @on(Done)
    def handle_done(self, msg: Done, sender: str) -> None:
        self.log(f"done {msg.size} from {sender}")


def lab(mode: str) -> Lab:
    class ModeBoss(Boss):
        def on_start(self) -> None:
            self.send("n2", Go(mode))

    node = by_name("Pair", {"n1": ModeBoss}, default=Hand)
    return Lab(name="files-test", description="a work that writes a file", node=node, nodes=2,
               min_duration=3.0, settle=0.5)


def files_at_end(result: object) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for e in result.trace:  # type: ignore[attr-defined]
        if e["type"] == "file" and e["op"] in ("written", "torn"):
            sizes[e["name"]] = e["bytes"]
        elif e["type"] == "file" and e["op"] == "rename":
            sizes[e["to"]] = sizes.pop(e["name"])
    return sizes


def test_a_work_takes_virtual_time_and_its_result_comes_back_as_a_message() -> None:
    result = run_sim(lab("in-place"), builder("calm").duration(3.0).build(), seed=1)
    logs = [(e["t"], e["text"]) for e in result.trace if e["type"] == "log"]
    assert logs[0][1] == "started" and logs[1][1] == "done 100000 from n2"
    took = logs[1][0] - logs[0][0]
    fastest = 0.5 + 2 * len(TEXT) / (SIM_BYTES_PER_SECOND * WORK_SPEED[1])
    slowest = 0.5 + 2 * len(TEXT) / (SIM_BYTES_PER_SECOND * WORK_SPEED[0])
    assert fastest <= took <= slowest
    assert [e["op"] for e in result.trace if e["type"] == "work"] == ["start", "end"]


@pytest.mark.parametrize(("mode", "torn"), [("in-place", True), ("atomic", False)])
def test_a_crash_in_the_middle_of_a_write_leaves_the_part_written(mode: str, torn: bool) -> None:
    schedule = builder("crash mid-write").at(0.6).crash("n2").duration(3.0).build()
    result = run_sim(lab(mode), schedule, seed=1)
    sizes = files_at_end(result)
    if torn:
        assert 0 < sizes["out"] < len(TEXT)
        (event,) = [e for e in result.trace if e["type"] == "file" and e["op"] == "torn"]
        assert event["t"] == 0.6 and event["name"] == "out"
    else:
        assert "out" not in sizes and 0 < sizes["tmp/out"] < len(TEXT)
    assert not [e for e in result.trace if e["type"] == "log" and e["text"].startswith("done")]


def test_a_pause_freezes_the_work() -> None:
    calm = run_sim(lab("in-place"), builder("calm").duration(3.0).build(), seed=1)
    paused = run_sim(lab("in-place"), builder("gc").at(0.2).pause("n2", 1.0).duration(3.0).build(), seed=1)

    def done(r: object) -> float:
        return next(e["t"] for e in r.trace if e["type"] == "log" and e["text"].startswith("done"))  # type: ignore[attr-defined]

    assert done(paused) == pytest.approx(done(calm) + 1.0, abs=0.01)


def test_a_work_that_raises_crashes_its_node_when_it_gets_there() -> None:
    result = run_sim(lab("raise"), builder("calm").duration(3.0).build(), seed=1)
    (crash,) = [e for e in result.trace if e["type"] == "crash"]
    started = next(e["t"] for e in result.trace if e["type"] == "work")
    assert crash["node"] == "n2" and crash["t"] == pytest.approx(started + 0.3)
    assert "ValueError: the work failed" in crash["error"] and "work writer" in crash["error"]


def test_runs_with_works_are_reproducible() -> None:
    schedule = builder("crash mid-write").at(0.6).crash("n2").at(1.0).restart("n2").duration(3.0).build()
    a = run_sim(lab("in-place"), schedule, seed=4)
    b = run_sim(lab("in-place"), schedule, seed=4)
    assert first_difference(a.trace, b.trace) is None


def test_a_part_without_a_handler_crashes_its_node_saying_so() -> None:
    class Quiet(Node):
        """Handles nothing."""

    class Loud(Hand):
        def on_start(self) -> None:
            super().on_start()
            self.send("n1", Go("x"))  # n1 runs Quiet: no handler for Go there

    node = by_name("Mixed", {"n1": Quiet}, default=Loud)
    assert Go in node.handled_messages() and Done in node.handled_messages()
    result = run_sim(Lab(name="roles", description="", node=node, nodes=2, min_duration=1.0, settle=0.1),
                     builder("calm").duration(1.0).build(), seed=1)
    (crash,) = [e for e in result.trace if e["type"] == "crash"]
    assert crash["node"] == "n1"
    assert "n1 is a Quiet, which has no handler for the message Go: add a method with @on(Go) to Quiet" in crash["error"]


class Hoarder(SharedFiles, Node):
    """Writes file after file of 8 MiB, as a submission that means to fill the grader's memory."""

    def on_start(self) -> None:
        if self.storage.get("hoarded"):
            return  # once: after its crash and restart it need not hand over as much again
        self.storage["hoarded"] = True
        for i in range(40):
            self.files.write(f"hoard-{i}", "x" * (8 << 20))


HOARDS = """
class KVServer(reference.KVServer):
    def on_start(self) -> None:
        if self.storage.get("hoarded"):
            return  # once: after its crash and restart it need not hand over as much again
        self.storage["hoarded"] = True
        files = self._context().files  # a lab without SharedFiles hides them; the seam still has them
        for i in range(40):
            files.write(f"hoard-{i}", "x" * (8 << 20))


KVClerk = reference.KVClerk
"""


@pytest.mark.parametrize("where", ["in-process", "sealed"])
def test_files_that_would_pass_their_room_are_refused_and_the_node_crashes_saying_so(where: str, tmp_path: Path) -> None:
    """The simulator's files live in the grader's memory: a run may hold MAX_FILES of them in all."""
    from submissions import standalone

    from labs.runtime.files import MAX_FILES
    from labs.runtime.lab import get_lab
    from labs.runtime.nursery import Nursery, isolation_available
    from labs.runtime.sim import Simulation

    schedule = builder("calm").duration(1.0).build()
    if where == "in-process":
        hoard = Lab(name="files-test", description="files that fill the memory", node=Hoarder, nodes=1,
                    min_duration=1.0, settle=0.1)
        result = run_sim(hoard, schedule, seed=1)
    else:
        if isolation_available() is not None:
            pytest.fail(f"no sealed runs here: {isolation_available()}")
        lab = get_lab("rpc").with_impl_source(standalone(HOARDS, tmp_path / "node.py"))
        with Nursery() as nursery:
            result = Simulation(lab, schedule, 1, nodes=nursery.nodes(lab, 60.0)).run()
    crash = next(e for e in result.trace if e["type"] == "crash")
    assert "no room: this write would take the run's files to" in crash["error"], crash["error"]
    written = [e for e in result.trace if e["type"] == "file" and e["op"] == "written" and e["t"] == 0.0]
    assert len(written) == MAX_FILES // (8 << 20)  # as many as there was room for
