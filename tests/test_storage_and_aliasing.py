"""Copies, not references: messages and stored values behave the same in both runtimes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from probe import events

from labs.runtime.codec import Codec
from labs.runtime.lab import Lab
from labs.runtime.node import Node, on, on_timer
from labs.runtime.run import run
from labs.runtime.schedule import builder
from labs.runtime.storage import FileDisk


@dataclass(frozen=True)
class Batch:
    items: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Go:
    pass


class Aliaser(Node):
    """n1 sends a list, then changes it; n2 reports what it got. Both also test their disk."""

    def on_start(self) -> None:
        if self.id == "n1":
            self.set_timer(0.1, Go())

    @on_timer(Go)
    def go(self, timer: Go) -> None:
        items = [1, 2, 3]
        self.send("n2", Batch(items))
        items.append(4)  # an aliasing bug in the making: the sent message must not change
        self.storage["items"] = items
        read = self.storage["items"]
        read.append(5)  # changing what was read must not change the disk
        self.log("stored", json.dumps(self.storage["items"]))

    @on(Batch)
    def handle_batch(self, msg: Batch, sender: str) -> None:
        self.log("got", json.dumps(msg.items))


ALIASER = Lab(name="aliaser", description="aliasing probe", node=Aliaser, nodes=2,
              min_duration=0.5, settle=0.1)


def test_a_sent_message_and_a_stored_value_are_copies(runtime: str) -> None:
    result = run(ALIASER, runtime, builder("quiet").duration(0.5).build(), seed=1)
    texts = {e["node"]: e["text"] for e in events(result.trace, "log")}
    assert texts["n2"] == "got [1, 2, 3]"
    assert texts["n1"] == "stored [1, 2, 3, 4]"


def test_file_disk_survives_reopening_and_a_torn_last_write(tmp_path: Path) -> None:
    codec = Codec([Batch])
    disk = FileDisk(codec, tmp_path)
    disk["term"] = 3
    disk["log"] = [Batch([1]), Batch([2, 3])]
    disk["gone"] = "x"
    del disk["gone"]
    disk.close()
    with open(tmp_path / "storage.jsonl", "a") as f:
        f.write('{"k":"term","v":"9')  # the process died in the middle of a write
    again = FileDisk(codec, tmp_path)
    assert again["term"] == 3
    assert again["log"] == [Batch([1]), Batch([2, 3])]
    assert "gone" not in again
    assert again.get("missing", 7) == 7


def test_file_disk_compacts_a_long_log(tmp_path: Path) -> None:
    disk = FileDisk(Codec(), tmp_path)
    disk.COMPACT_AFTER = 50
    for i in range(300):
        disk["counter"] = i
    lines = (tmp_path / "storage.jsonl").read_text().splitlines()
    assert len(lines) < 60
    disk.close()
    assert FileDisk(Codec(), tmp_path)["counter"] == 299


def test_a_handlers_writes_are_logged_together_or_not_at_all(tmp_path: Path) -> None:
    """The Ray host brackets each handler with begin/commit: a process killed in the middle of
    a handler (before the commit) or in the middle of the commit's one line leaves none of the
    handler's writes, never a part of them (the RPC lab's data and its duplicate table once
    came apart that way, and a retried append ran twice after a restart)."""
    disk = FileDisk(Codec([]), tmp_path)
    disk["before"] = 1
    disk.begin()
    disk["kv/x"] = "a"
    disk["client/c1"] = [7, "append"]
    assert disk["kv/x"] == "a"  # the handler reads its own writes at once
    disk.close()  # killed before the commit
    again = FileDisk(Codec([]), tmp_path)
    assert dict(again.items()) == {"before": 1}
    again.begin()
    again["kv/x"] = "a"
    again["client/c1"] = [7, "append"]
    again.commit()
    again.close()
    log = tmp_path / "storage.jsonl"
    whole = log.read_text()
    assert whole.count("\n") == 2  # the two writes are one line
    assert dict(FileDisk(Codec([]), tmp_path).items()) == {"before": 1, "kv/x": "a", "client/c1": [7, "append"]}
    log.write_text(whole[: len(whole) - 15])  # killed in the middle of that line
    assert dict(FileDisk(Codec([]), tmp_path).items()) == {"before": 1}
