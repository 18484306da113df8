"""Two copies of the same data, and the ways keeping them equal goes wrong.

Two demos of chapter 0 live here:

* :func:`write_both_lab`: the client writes every value to both machines itself ("just write to
  both"), with or without resending until both acknowledge ("just retry"). With message loss a
  write reaches one machine and not the other; with retries and several clients, the two
  machines apply the same writes in different orders. :func:`contents` and :func:`diverged` read
  what each machine holds from the trace.
* :func:`register_lab`: a register kept on two machines, each serving its nearby clients, built
  the available way (``"ap"``: answer from the local copy, copy to the other side later) or the
  consistent way (``"cp"``: everything goes through ``n1``; ``n2`` refuses when it cannot reach
  it). :func:`split_brain` is the schedule that puts a partition between them.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from labs.checkers import pair_calls
from labs.runtime.lab import Lab, RunResult, Workload
from labs.runtime.node import Clerk, Node, Op, on, on_timer
from labs.runtime.schedule import Schedule, builder

# -- "just write to both" -----------------------------------------------------------------


@dataclass(frozen=True)
class Put:
    key: str
    value: int
    req: int


@dataclass(frozen=True)
class PutOk:
    key: str
    req: int


@dataclass(frozen=True)
class Resend:
    req: int


class Store(Node):
    """One machine holding a key-value map on its disk. It applies every ``Put`` it receives."""

    def on_start(self) -> None:
        self.data: dict[str, int] = self.storage.get("data", {})

    @on(Put)
    def handle_put(self, msg: Put, sender: str) -> None:
        self.data[msg.key] = msg.value
        self.storage["data"] = self.data
        self.log(f"applied {msg.key}={msg.value} req {msg.req} from {sender}")
        self.send(sender, PutOk(msg.key, msg.req))


class WriteBothClerk(Clerk):
    """Sends each write to every machine and reports success once all of them acknowledged.

    With ``retry`` it resends the write every ``retry_every`` seconds to the machines that have
    not acknowledged yet; without, it waits, and the workload's timeout ends the operation as
    unknown.
    """

    retry = False
    retry_every = 0.05

    def on_start(self) -> None:
        self.req = self.random.randrange(1 << 40)  # random start: never mistake a late answer for ours
        self.op: Op | None = None
        self.acked: set[str] = set()

    def on_invoke(self, op: Op) -> None:
        self.op = op
        self.req += 1
        self.acked = set()
        self.send_missing()

    def send_missing(self) -> None:
        assert self.op is not None and self.op.key is not None
        for node in self.nodes:
            if node not in self.acked:
                self.send(node, Put(self.op.key, int(self.op.value), self.req))
        if self.retry:
            self.set_timer(self.retry_every, Resend(self.req))

    @on(PutOk)
    def handle_ok(self, msg: PutOk, sender: str) -> None:
        if self.op is None or msg.req != self.req:
            return
        self.acked.add(sender)
        if len(self.acked) == len(self.nodes):
            self.op = None
            self.complete()

    @on_timer(Resend)
    def resend(self, timer: Resend) -> None:
        if self.op is not None and timer.req == self.req:
            self.send_missing()


def write_both_lab(retry: bool = False, clients: int = 1, keys: str = "x") -> Lab:
    """Two machines (``n1``, ``n2``) and ``clients`` clients writing random numbers to ``keys``
    (one letter a key) through :class:`WriteBothClerk`."""
    key_list = list(keys)

    def next_op(rng: random.Random, client: int) -> Op:
        return Op("put", rng.choice(key_list), rng.randrange(1000))

    clerk = type("WriteBothClerk", (WriteBothClerk,), {"retry": retry, "__module__": __name__})
    return Lab(
        name="ch0-write-both",
        description="a client writes each value to two machines" + (", resending" if retry else ""),
        node=Store, clerk=clerk, nodes=2,
        workload=Workload(generate=next_op, clients=clients, timeout=0.2, think=0.05),
        min_duration=1.0, settle=0.0,
    )


def lossy(loss: float = 0.1, duration: float = 3.0, delay: tuple[float, float] = (0.001, 0.02)) -> Schedule:
    """A network that loses ``loss`` of the messages and delays each by ``delay`` (seconds)."""
    return (builder(f"lossy-{loss:g}", f"loses {loss:.0%} of messages").loss(loss)
            .delay(uniform=delay).duration(duration).build())


def contents(run: RunResult) -> dict[str, dict[str, int]]:
    """What each machine holds at the end, replayed from the ``Put`` messages delivered to it."""
    puts = {e["id"]: e["body"] for e in run.trace if e["type"] == "send" and e["msg"] == "Put"}
    out: dict[str, dict[str, int]] = {n: {} for n in run.lab.node_names()}
    for e in run.trace:
        if e["type"] == "deliver" and e["id"] in puts and e["node"] in out:
            body = puts[e["id"]]
            out[e["node"]][body["key"]] = body["value"]
    return out


def disagreement(run: RunResult) -> float:
    """Seconds during which the two machines held different values for some key."""
    puts = {e["id"]: e["body"] for e in run.trace if e["type"] == "send" and e["msg"] == "Put"}
    held: dict[str, dict[str, int]] = {n: {} for n in run.lab.node_names()}
    total, since = 0.0, None
    for e in run.trace:
        if e["type"] == "deliver" and e["id"] in puts and e["node"] in held:
            held[e["node"]][puts[e["id"]]["key"]] = puts[e["id"]]["value"]
            differ = len({tuple(sorted(d.items())) for d in held.values()}) > 1
            if differ and since is None:
                since = e["t"]
            elif not differ and since is not None:
                total += e["t"] - since
                since = None
    if since is not None:
        total += run.trace[-1]["t"] - since
    return total


def diverged(run: RunResult) -> list[str]:
    """The keys on which the two machines end up holding different values."""
    held = list(contents(run).values())
    keys = sorted({k for d in held for k in d})
    return [k for k in keys if len({d.get(k) for d in held}) > 1]


def reached(run: RunResult) -> dict[tuple[str, int, str, int], set[str]]:
    """For every write a client sent (key, value, client, request number): the machines that
    applied it, read from their ``applied`` log lines."""
    out: dict[tuple[str, int, str, int], set[str]] = {}
    for e in run.trace:
        if e["type"] == "log" and (m := _APPLIED.fullmatch(str(e["text"]))):
            out.setdefault((m["key"], int(m["value"]), m["client"], int(m["req"])), set()).add(e["node"])
    for e in run.trace:  # the writes no machine applied
        if e["type"] == "send" and e.get("msg") == "Put":
            b = e["body"]
            out.setdefault((b["key"], b["value"], e["node"], b["req"]), set())
    return out


_APPLIED = re.compile(r"applied (?P<key>\S+)=(?P<value>-?\d+) req (?P<req>\d+) from (?P<client>\S+)")


# -- a register on two machines: available or consistent -----------------------------------


@dataclass(frozen=True)
class Write:
    req: int
    value: int


@dataclass(frozen=True)
class Read:
    req: int


@dataclass(frozen=True)
class Result:
    req: int
    ok: bool
    value: Any = None


@dataclass(frozen=True)
class Copy:
    """The sender's latest value and its stamp, for the other machine to adopt if newer."""

    stamp: tuple[int, int]
    value: Any


@dataclass(frozen=True)
class Forward:
    """``n2`` passing a client's request on to ``n1`` (the ``cp`` design)."""

    client: str
    req: int
    f: str
    value: Any


@dataclass(frozen=True)
class Forwarded:
    client: str
    req: int
    value: Any


@dataclass(frozen=True)
class Tick:
    pass


TICK = 0.05
"""How often a machine copies its value to the other (and ``n1`` says it is alive)."""
SILENCE = 0.15
"""In the ``cp`` design, ``n2`` refuses clients when it has not heard ``n1`` for this long."""


class RegisterNode(Node):
    """One machine of the two-machine register (see the module docstring for the two designs).

    Both designs copy the newest value to the other machine every ``TICK``: the last writer wins,
    by a stamp of (counter, machine). In ``ap`` each machine answers its own clients from its own
    copy; in ``cp`` only ``n1`` answers, ``n2`` forwards to it, and refuses when ``n1`` is silent.
    """

    mode = "ap"

    def on_start(self) -> None:
        self.stamp: tuple[int, int] = tuple(self.storage.get("stamp", (0, 0)))
        self.value: Any = self.storage.get("value")
        self.heard = -1.0  # when n1 last spoke to us (used by n2 in cp)
        self.set_timer(TICK, Tick())

    def other(self) -> str:
        return self.peers[0]

    def apply(self, stamp: tuple[int, int], value: Any) -> None:
        if stamp > self.stamp:
            self.stamp, self.value = stamp, value
            self.storage["stamp"], self.storage["value"] = stamp, value

    def local(self, f: str, value: Any) -> Any:
        """Serve a read or a write from this machine's copy."""
        if f == "write":
            self.apply((self.stamp[0] + 1, self.nodes.index(self.id)), value)
            return None
        return self.value

    @on_timer(Tick)
    def tick(self, timer: Tick) -> None:
        self.send(self.other(), Copy(self.stamp, self.value))
        self.set_timer(TICK, Tick())

    @on(Copy)
    def handle_copy(self, msg: Copy, sender: str) -> None:
        self.heard = self.now()
        self.apply(tuple(msg.stamp), msg.value)  # type: ignore[arg-type]

    def serve(self, client: str, req: int, f: str, value: Any) -> None:
        if self.mode == "ap" or self.id == self.nodes[0]:
            self.send(client, Result(req, True, self.local(f, value)))
        elif self.now() - self.heard > SILENCE:
            self.send(client, Result(req, False, "cannot reach n1"))
        else:
            self.send(self.nodes[0], Forward(client, req, f, value))

    @on(Write)
    def handle_write(self, msg: Write, sender: str) -> None:
        self.serve(sender, msg.req, "write", msg.value)

    @on(Read)
    def handle_read(self, msg: Read, sender: str) -> None:
        self.serve(sender, msg.req, "read", None)

    @on(Forward)
    def handle_forward(self, msg: Forward, sender: str) -> None:
        self.send(sender, Forwarded(msg.client, msg.req, self.local(msg.f, msg.value)))

    @on(Forwarded)
    def handle_forwarded(self, msg: Forwarded, sender: str) -> None:
        self.send(msg.client, Result(msg.req, True, msg.value))


class RegisterClerk(Clerk):
    """Talks to its nearby machine only: clients ``c1``, ``c3``... to ``n1``; ``c2``, ``c4``... to
    ``n2``. A refusal ends the operation as failed (it certainly did not happen)."""

    def on_start(self) -> None:
        self.home = self.nodes[(int(self.id[1:]) + 1) % 2]
        self.req = self.random.randrange(1 << 40)  # random start: never mistake a late answer for ours

    def on_invoke(self, op: Op) -> None:
        self.req += 1
        self.send(self.home, Write(self.req, op.value) if op.f == "write" else Read(self.req))

    @on(Result)
    def handle_result(self, msg: Result, sender: str) -> None:
        if msg.req != self.req:
            return
        if msg.ok:
            self.complete(msg.value)
        else:
            self.fail(str(msg.value))


def register_lab(mode: str = "ap", clients: int = 4) -> Lab:
    """The two-machine register in the ``ap`` or ``cp`` design, with ``clients`` clients doing
    reads and writes of random numbers half and half."""
    if mode not in ("ap", "cp"):
        raise ValueError(f"mode is 'ap' or 'cp', not {mode!r}")

    def next_op(rng: random.Random, client: int) -> Op:
        return Op("write", None, rng.randrange(10**6)) if rng.random() < 0.5 else Op("read")

    node = type("RegisterNode", (RegisterNode,), {"mode": mode, "__module__": __name__})
    return Lab(
        name="ch0-register",
        description=f"a register on two machines, the {mode.upper()} way",
        node=node, clerk=RegisterClerk, nodes=2,
        workload=Workload(generate=next_op, clients=clients, timeout=0.5, think=0.05),
        min_duration=1.0, settle=0.5,
    )


def split_brain(start: float = 1.0, end: float = 3.0, duration: float = 4.0, clients: int = 4) -> Schedule:
    """A partition from ``start`` to ``end`` that leaves each machine with its own clients."""
    names = [f"c{i}" for i in range(1, clients + 1)]
    side1 = ["n1", *names[0::2]]
    side2 = ["n2", *names[1::2]]
    return (builder("split-brain", "each machine is cut off from the other, with its own clients")
            .delay(uniform=(0.001, 0.005))
            .at(start).partition(side1, side2).at(end).heal().duration(duration).build())


def stale_reads(run: RunResult, start: float = 0.0, end: float = float("inf")) -> int:
    """Reads invoked in ``[start, end)`` that returned a value older than one whose write had
    already finished.

    Values are unique, so a read of ``v`` is stale when some write finished before the read
    began, and that write itself began after the write of ``v`` had finished.
    """
    writes: dict[Any, tuple[float, float]] = {}
    reads: list[tuple[float, Any]] = []
    for call, done in pair_calls(run.history):
        if done is None or done["type"] != "ok":
            continue
        if call["f"] == "write":
            writes[call["value"]] = (call["time"], done["time"])
        else:
            reads.append((call["time"], done["value"]))
    stale = 0
    for t, v in reads:
        if v not in writes or not start <= t < end:
            continue
        _, v_end = writes[v]
        if any(w_start > v_end and w_end < t for w_start, w_end in writes.values()):
            stale += 1
    return stale
