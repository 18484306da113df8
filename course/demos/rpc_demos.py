"""Chapter 2's live demos: one small key-value store called over RPC, built several ways.

The store holds strings under keys and answers three calls: ``get(key)``, ``put(key, value)``
(replace) and ``append(key, value)`` (add to the end). It is checked against the checker's
:data:`~labs.checkers.KV` model. It is *not* the RPC lab's protocol (no versions, no disk):
the chapter shows the ideas here, and the lab is where you build them for real.

Servers (node ``n1``):

* :class:`Store`: **at-least-once**. It executes every request that arrives, copies included.
* :func:`dedup_store`: **at-most-once**, by a reply cache: it keeps every call it executed, with
  its answer, under (client id, sequence number); a call found there is answered from the cache
  and not executed again. It drops a client's calls after ``forget_after`` seconds of silence
  from that client (``None``: never). The test for "seen before" can be swapped for a function
  ``check(table, client, seq)``: the chapter's first exercise plugs yours in. (The lab's server
  keeps far less per client: working out how is the lab's job, not this demo's.)

Clients: :func:`caller` makes a clerk that sends each call once (``resend=None``) or resends it
every ``resend`` seconds until an answer comes. Its client id is its node name plus a random part
(``fresh_ids``), so that a clerk that replaces another never passes for it; with
``fresh_ids=False`` the id is the bare node name.

Every execution is a ``log`` line in the trace (``execute <client> #<seq> <f>``), so that
:func:`executions` can count how many times each request really ran.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from labs.checkers import KV, LinearizabilityResult, check_linearizability
from labs.runtime.lab import Lab, RunResult, Workload
from labs.runtime.node import Clerk, Node, Op, on, on_timer
from labs.runtime.schedule import Schedule, builder

RESEND = 0.1
"""Seconds a resending clerk waits for an answer before it sends the call again."""
GIVE_UP = 1.0
"""Seconds after which the workload gives up on a call (the outcome is then unknown) and a
fresh clerk, with a new client id, takes over."""
TICK = 0.25
"""How often a deduplicating server looks for clients to forget and notes its table's size."""

# -- the protocol -------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """A request: ``f`` (get, put or append) on ``key``, from ``client``, its ``seq``-th call."""

    client: str
    seq: int
    f: str
    key: str
    value: str


@dataclass(frozen=True)
class Answer:
    client: str
    seq: int
    value: str | None  # the value for a get; None for put and append


@dataclass(frozen=True)
class Resend:
    seq: int


@dataclass(frozen=True)
class Tick:
    pass


# -- servers ------------------------------------------------------------------------------


class Store(Node):
    """At-least-once: executes every request it receives and answers it."""

    def on_start(self) -> None:
        self.data: dict[str, str] = {}

    @on(Call)
    def handle_call(self, msg: Call, sender: str) -> None:
        self.send(sender, Answer(msg.client, msg.seq, self.execute(msg)))

    def execute(self, msg: Call) -> str | None:
        self.log(f"execute {msg.client} #{msg.seq} {msg.f} {msg.key}")
        current = self.data.get(msg.key, "")
        if msg.f == "get":
            return current
        self.data[msg.key] = msg.value if msg.f == "put" else current + msg.value
        return None


Table = dict[str, int]
"""The exercise's view of a server's memory: client id -> the number of the last call executed."""


class DedupStore(Store):
    """At-most-once, by a **reply cache**: every call executed is kept with its answer, under its
    (client id, number), until its client has been silent for ``forget_after`` seconds; a call
    found there is answered from it and not executed. (Simple and generous: the lab's server must
    make do with much less, see the chapter.) With ``check`` plugged in, ``check(table, client,
    seq)`` decides instead whether a call was executed before."""

    forget_after: float | None = None
    check: Callable[[Table, str, int], bool] | None = None

    def on_start(self) -> None:
        super().on_start()
        self.replies: dict[tuple[str, int], str | None] = {}
        self.last: Table = {}
        self.heard: dict[str, float] = {}
        self.set_timer(TICK, Tick())

    @on(Call)
    def handle_call(self, msg: Call, sender: str) -> None:
        key = (msg.client, msg.seq)
        check = type(self).check
        if msg.client in self.heard:
            self.heard[msg.client] = self.now()
        seen = key in self.replies if check is None else check(dict(self.last), msg.client, msg.seq)
        if seen:
            if key in self.replies:  # its answer may have been lost: send it again
                self.send(sender, Answer(msg.client, msg.seq, self.replies[key]))
            return
        self.replies[key] = self.execute(msg)
        self.last[msg.client] = max(msg.seq, self.last.get(msg.client, 0))
        self.heard[msg.client] = self.now()
        self.send(sender, Answer(msg.client, msg.seq, self.replies[key]))

    @on_timer(Tick)
    def tick(self, timer: Tick) -> None:
        limit = type(self).forget_after
        if limit is not None:
            now = self.now()
            gone = {c for c, t in self.heard.items() if now - t > limit}
            self.replies = {key: answer for key, answer in self.replies.items() if key[0] not in gone}
            for client in gone:
                del self.last[client], self.heard[client]
        self.log(f"remembering {len(self.heard)} clients")
        self.set_timer(TICK, Tick())


def dedup_store(forget_after: float | None = None,
                check: Callable[[Table, str, int], bool] | None = None) -> type[DedupStore]:
    """An at-most-once server that forgets a client after ``forget_after`` seconds of silence
    (``None``: never), deciding "seen before" with ``check(table, client, seq)``."""
    return type("DedupStore", (DedupStore,), {"forget_after": forget_after,
                                              "check": None if check is None else staticmethod(check),
                                              "__module__": __name__})


# -- clients ------------------------------------------------------------------------------


class Caller(Clerk):
    """Sends each call to ``n1``; resends it every ``resend`` seconds until answered
    (``None``: sends it once and waits)."""

    resend: float | None = RESEND
    fresh_ids: bool = True

    def on_start(self) -> None:
        fresh = type(self).fresh_ids
        self.client = f"{self.id}.{self.random.getrandbits(24):06x}" if fresh else self.id
        self.seq = 0
        self.call: Call | None = None

    def on_invoke(self, op: Op) -> None:
        self.seq += 1
        value = "" if op.value is None else str(op.value)
        self.call = Call(self.client, self.seq, op.f, str(op.key), value)
        self.send_call()

    def send_call(self) -> None:
        assert self.call is not None
        self.send(self.nodes[0], self.call)
        if type(self).resend is not None:
            self.set_timer(type(self).resend, Resend(self.call.seq))

    @on_timer(Resend)
    def resend_call(self, timer: Resend) -> None:
        if self.call is not None and self.call.seq == timer.seq:
            self.send_call()

    @on(Answer)
    def handle_answer(self, msg: Answer, sender: str) -> None:
        call = self.call
        if call is not None and msg.client == self.client and msg.seq == call.seq:
            self.call = None
            self.complete(msg.value if call.f == "get" else None)


def caller(resend: float | None = RESEND, fresh_ids: bool = True) -> type[Caller]:
    return type("Caller", (Caller,), {"resend": resend, "fresh_ids": fresh_ids, "__module__": __name__})


# -- workloads ----------------------------------------------------------------------------


def _tag(rng: random.Random, client: int) -> str:
    return f"<{client}.{rng.getrandbits(24):06x}>"


def appends(rng: random.Random, client: int) -> Op:
    """Appends of a unique tag to key ``x``, and a get now and then: a tag seen twice in a get
    is an append executed twice."""
    if rng.random() < 0.25:
        return Op("get", "x")
    return Op("append", "x", _tag(rng, client))


def puts(rng: random.Random, client: int) -> Op:
    """Puts of a unique tag to key ``x`` (each replaces the value), and gets."""
    if rng.random() < 0.4:
        return Op("get", "x")
    return Op("put", "x", _tag(rng, client))


def spread_puts(rng: random.Random, client: int) -> Op:
    """Puts and gets over three keys: the store stays the same size however long the run."""
    key = rng.choice("abc")
    if rng.random() < 0.4:
        return Op("get", key)
    return Op("put", key, _tag(rng, client))


WORKLOADS = {"appends": appends, "puts": puts, "spread-puts": spread_puts}


def lab(server: type[Node] = Store, client: type[Clerk] | None = None, workload: str = "appends",
        clients: int = 3, session: int = 0, give_up: float = GIVE_UP, memory_every: float = 0.0,
        think: float = 0.02) -> Lab:
    """The store ``n1`` and ``clients`` clerks calling it. With ``session`` each clerk leaves after
    that many calls and a fresh one takes its place, as users come and go."""
    return Lab(name="ch2-rpc", description=f"{server.__name__} called by {clients} clients",
               node=server, clerk=client or caller(), nodes=1,
               workload=Workload(generate=WORKLOADS[workload], clients=clients, timeout=give_up,
                                 think=think, session=session),
               min_duration=1.0, settle=give_up + 0.5, memory_every=memory_every)


# -- schedules ----------------------------------------------------------------------------


def network(loss: float = 0.2, duplicate: float = 0.1, delay: tuple[float, float] = (0.001, 0.05),
            duration: float = 3.0, name: str = "flaky") -> Schedule:
    """A network that loses ``loss`` of the messages, sends ``duplicate`` of them twice and
    delays each by a uniform time in ``delay`` (so messages overtake each other)."""
    return (builder(name).loss(loss).duplicate(duplicate).delay(uniform=delay)
            .duration(duration).build())


def late_copies(duplicate: float = 0.3, duration: float = 3.0) -> Schedule:
    """No loss; a third of the messages arrive twice, and delays are long-tailed (exponential,
    mean 30 ms), so a copy often arrives well after the original."""
    return builder("late-copies").duplicate(duplicate).delay(exponential=0.03).duration(duration).build()


# -- what a run shows ---------------------------------------------------------------------

_EXECUTE = re.compile(r"execute (\S+) #(\d+) (\w+) (\S+)")
_REMEMBER = re.compile(r"remembering (\d+) clients")


def executed(run: RunResult) -> list[tuple[str, int, str, str]]:
    """Every execution on the server, in order: ``(client, seq, f, key)``."""
    return [(m[1], int(m[2]), m[3], m[4]) for e in run.trace
            if e["type"] == "log" and e["node"] == "n1" and (m := _EXECUTE.fullmatch(e["text"]))]


def executions(run: RunResult) -> Counter[tuple[str, int, str]]:
    """How many times the server executed each request, by ``(client, seq, f)``."""
    return Counter((client, seq, f) for client, seq, f, _ in executed(run))


def resurrections(run: RunResult) -> int:
    """Puts executed again after another put to the same key: each one brought back a value
    that had already been replaced."""
    latest: dict[str, tuple[str, int]] = {}
    seen: set[tuple[str, int]] = set()
    count = 0
    for client, seq, f, key in executed(run):
        if f != "put":
            continue
        if (client, seq) in seen and latest.get(key) != (client, seq):
            count += 1
        seen.add((client, seq))
        latest[key] = (client, seq)
    return count


def repeated_updates(run: RunResult) -> int:
    """Puts and appends the server executed more than once."""
    return sum(1 for (_, _, f), n in executions(run).items() if n > 1 and f != "get")


def remembered(run: RunResult) -> list[tuple[float, float]]:
    """How many clients a deduplicating server remembered, over time."""
    return [(e["t"], float(m[1])) for e in run.trace
            if e["type"] == "log" and e["node"] == "n1" and (m := _REMEMBER.fullmatch(e["text"]))]


def memory(run: RunResult) -> list[tuple[float, float]]:
    """The server's memory (its fields, pickled) in bytes, over time (needs ``memory_every``)."""
    return [(e["t"], float(e["bytes"])) for e in run.trace if e["type"] == "memory" and e["node"] == "n1"]


def verdict(run: RunResult, timeout: float = 10.0) -> LinearizabilityResult:
    """The linearizability checker's verdict on the run's history, as a key-value store."""
    return check_linearizability(run.history, KV, timeout=timeout)


def fates(run: RunResult) -> dict[str, int]:
    """What became of each call: answered, or unknown to its client, and then whether the server
    executed it all the same."""
    done = {(c, s) for c, s, _ in executions(run)}
    running: dict[str, int] = {}  # clerk -> the history index of the call it is making
    call_of: dict[int, tuple[str, int]] = {}  # history index -> (client id, seq)
    out = {"answered": 0, "unknown, never executed": 0, "unknown, executed": 0}
    for e in run.trace:
        if e["type"] == "invoke":
            running[e["node"]] = e["index"]
        elif e["type"] == "send" and e["msg"] == "Call" and e["node"] in running:
            call_of.setdefault(running[e["node"]], (e["body"]["client"], e["body"]["seq"]))
        elif e["type"] == "complete":
            if e["outcome"] == "ok":
                out["answered"] += 1
            elif call_of.get(e["index"]) in done:
                out["unknown, executed"] += 1
            else:
                out["unknown, never executed"] += 1
    return out


def shown_twice(run: RunResult) -> list[tuple[str, list[str]]]:
    """Gets that returned a value holding some append more than once: ``(value, [tags])``."""
    out = []
    for h in run.history:
        if h["type"] == "ok" and h["f"] == "get" and isinstance(h["value"], str):
            tags = Counter(re.findall(r"<[^>]*>", h["value"]))
            twice = [t for t, n in tags.items() if n > 1]
            if twice:
                out.append((h["value"], twice))
    return out


__all__ = ["GIVE_UP", "RESEND", "Answer", "Call", "Caller", "DedupStore", "Store", "appends",
           "caller", "dedup_store", "executed", "executions", "fates", "lab", "late_copies",
           "memory", "network", "puts", "remembered", "repeated_updates", "resurrections", "shown_twice",
           "spread_puts", "verdict"]
