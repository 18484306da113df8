"""The demo cluster: a counter replicated on a majority, led by a node that holds a lease.

It is small, but it is a real protocol, so that the runtime, the schedules and the pictures have
something worth breaking before the course's labs exist:

* **Election.** A node that has not heard the leader for a while asks for an *epoch* with
  ``Prepare``. Nodes promise never to accept an older epoch, and tell the candidate what they
  accepted last. With promises from a majority the candidate adopts the newest state it was told
  about, writes it to a majority in its own epoch, and leads.
* **Writes.** The leader sends every new counter state to all nodes (``Accept``) and answers the
  client once a majority (itself included) has stored it on disk. Client retries are recognised by
  a table of the last request of each client, kept inside the replicated state.
* **Reads and the lease.** The leader sends heartbeats; a node that acknowledges one promises not
  to help elect anyone else for ``GUARD`` seconds. Holding acknowledgements from a majority, the
  leader knows no rival can exist for ``LEASE`` (< ``GUARD``) seconds and answers reads alone.
  This is safe only while clocks run at the same rate: a schedule that skews one clock's rate
  shows how leases break.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labs.runtime.node import Clerk, Node, Op, on, on_timer

HEARTBEAT = 0.05
LEASE = 0.3
GUARD = 0.4
RETRY = 0.2


# -- messages between servers -------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """The replicated state: the counter and each client's last request and its answer."""

    value: int = 0
    last: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Prepare:
    epoch: int


@dataclass(frozen=True)
class Promise:
    epoch: int
    ok: bool
    accepted_epoch: int
    state: State


@dataclass(frozen=True)
class Accept:
    epoch: int
    state: State


@dataclass(frozen=True)
class Accepted:
    epoch: int
    ok: bool
    value: int


@dataclass(frozen=True)
class Heartbeat:
    epoch: int
    sent_at: float


@dataclass(frozen=True)
class HeartbeatAck:
    epoch: int
    sent_at: float


# -- messages with clients ----------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    client: str
    req: int
    f: str  # "incr" or "read"


@dataclass(frozen=True)
class Reply:
    req: int
    ok: bool
    value: int = 0
    leader: str | None = None


# -- timers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ElectionTimeout:
    pass


@dataclass(frozen=True)
class Tick:
    pass


@dataclass(frozen=True)
class Retry:
    req: int


class CounterNode(Node):
    def on_start(self) -> None:
        # On disk: the highest epoch promised, and the last state accepted with its epoch.
        self.promised: int = self.storage.get("promised", 0)
        self.accepted_epoch: int = self.storage.get("accepted_epoch", 0)
        self.state: State = self.storage.get("state", State())
        # In memory only.
        self.leading = False
        self.epoch = 0  # the epoch this node leads or is trying to lead
        self.leader: str | None = None
        self.promises: dict[str, Promise] = {}
        self.acks: dict[str, float] = {}  # follower -> send time of the newest heartbeat it acked
        self.committed: State | None = None  # the newest state a majority stored in my epoch
        self.pending: list[tuple[str, Request]] = []  # increments not yet being written
        self.waiting: list[tuple[str, Request]] = []  # increments in the current write
        self.writing: State | None = None
        self.write_acks: set[str] = set()
        # A restarted node forgot when it last promised a lease: wait out a whole guard.
        self.last_heartbeat = self.now()
        self.election_timer = self.set_timer(self.election_timeout(), ElectionTimeout())

    def role(self) -> str | None:
        return "leader" if self.leading else None

    def election_timeout(self) -> float:
        return self.random.uniform(GUARD + 0.1, 2 * GUARD + 0.2)

    # -- election -------------------------------------------------------------------------

    @on_timer(ElectionTimeout)
    def start_election(self, timer: ElectionTimeout) -> None:
        self.election_timer = self.set_timer(self.election_timeout(), ElectionTimeout())
        if self.leading:
            return
        n = len(self.nodes)
        self.epoch = (max(self.promised, self.epoch) // n + 1) * n + self.nodes.index(self.id)
        self.promises = {}
        self.log("asks to lead epoch", self.epoch)
        for node in self.nodes:
            self.send(node, Prepare(self.epoch))

    @on(Prepare)
    def handle_prepare(self, msg: Prepare, sender: str) -> None:
        # Within GUARD of a heartbeat, this node has promised the leader not to help a rival.
        guarded = sender != self.leader and self.now() - self.last_heartbeat < GUARD
        ok = msg.epoch > self.promised and not guarded
        if ok:
            self.promised = msg.epoch
            self.storage["promised"] = msg.epoch
            if self.leading and msg.epoch > self.epoch:
                self.step_down()
        self.send(sender, Promise(msg.epoch, ok, self.accepted_epoch, self.state))

    @on(Promise)
    def handle_promise(self, msg: Promise, sender: str) -> None:
        if msg.epoch != self.epoch or self.leading or not msg.ok:
            return
        self.promises[sender] = msg
        if len(self.promises) == self.majority():
            # Within one epoch, later states have larger values.
            newest = max(self.promises.values(), key=lambda p: (p.accepted_epoch, p.state.value))
            self.log("elected for epoch", self.epoch)
            self.leading = True
            self.leader = self.id
            self.acks = {}
            self.committed = None
            self.write(newest.state)
            self.heartbeat(Tick())

    def step_down(self) -> None:
        self.leading = False
        for client, request in self.waiting:
            self.send(client, Reply(request.req, False))
        self.waiting = []
        self.pending = []
        self.writing = None
        self.committed = None

    def majority(self) -> int:
        return len(self.nodes) // 2 + 1

    # -- heartbeats and the lease ---------------------------------------------------------

    @on_timer(Tick)
    def heartbeat(self, timer: Tick) -> None:
        if not self.leading:
            return
        self.broadcast(Heartbeat(self.epoch, self.now()))
        if self.writing is not None:  # the network may have lost the write: send it again
            for node in self.nodes:
                if node not in self.write_acks:
                    self.send(node, Accept(self.epoch, self.writing))
        self.set_timer(HEARTBEAT, Tick())

    @on(Heartbeat)
    def handle_heartbeat(self, msg: Heartbeat, sender: str) -> None:
        if msg.epoch < self.promised:
            return
        if msg.epoch > self.promised:
            self.promised = msg.epoch
            self.storage["promised"] = msg.epoch
        if self.leading and sender != self.id:
            self.step_down()
        self.leader = sender
        self.last_heartbeat = self.now()
        self.cancel_timer(self.election_timer)
        self.election_timer = self.set_timer(self.election_timeout(), ElectionTimeout())
        self.send(sender, HeartbeatAck(msg.epoch, msg.sent_at))

    @on(HeartbeatAck)
    def handle_heartbeat_ack(self, msg: HeartbeatAck, sender: str) -> None:
        if self.leading and msg.epoch == self.epoch:
            self.acks[sender] = max(self.acks.get(sender, 0.0), msg.sent_at)

    def lease_valid(self) -> bool:
        """True while a majority (this node included) acknowledged a heartbeat of the last LEASE."""
        if not self.leading or self.committed is None:
            return False
        times = sorted(self.acks.values(), reverse=True)
        needed = self.majority() - 1  # followers besides this node
        return len(times) >= needed and (needed == 0 or self.now() - times[needed - 1] < LEASE)

    # -- writes ---------------------------------------------------------------------------

    def write(self, state: State) -> None:
        self.writing = state
        self.write_acks = set()
        for node in self.nodes:
            self.send(node, Accept(self.epoch, state))

    @on(Accept)
    def handle_accept(self, msg: Accept, sender: str) -> None:
        ok = msg.epoch >= self.promised
        if ok:
            self.promised = msg.epoch
            self.accepted_epoch = msg.epoch
            self.state = msg.state
            self.storage["promised"] = msg.epoch
            self.storage["accepted_epoch"] = msg.epoch
            self.storage["state"] = msg.state
        self.send(sender, Accepted(msg.epoch, ok, msg.state.value))

    @on(Accepted)
    def handle_accepted(self, msg: Accepted, sender: str) -> None:
        if not self.leading or msg.epoch != self.epoch or self.writing is None:
            return
        if not msg.ok:
            self.step_down()
            return
        if msg.value != self.writing.value:
            return
        self.write_acks.add(sender)
        if len(self.write_acks) == self.majority():
            self.committed, self.writing = self.writing, None
            for client, request in self.waiting:
                self.send(client, Reply(request.req, True, self.committed.last[request.client][1]))
            self.waiting = []
            self.next_write()

    def next_write(self) -> None:
        """Start one write for every increment that queued up meanwhile (batching)."""
        if self.writing is not None or self.committed is None or not self.pending:
            return
        state = self.committed
        last = dict(state.last)
        value = state.value
        batch, self.pending = self.pending, []
        for _client, request in batch:
            seen = last.get(request.client)
            if seen is None or seen[0] < request.req:
                value += 1
                last[request.client] = (request.req, value)
        self.waiting = batch
        self.write(State(value, last))

    # -- clients --------------------------------------------------------------------------

    @on(Request)
    def handle_request(self, msg: Request, sender: str) -> None:
        if not self.leading:
            self.send(sender, Reply(msg.req, False, leader=self.leader))
            return
        seen = self.committed.last.get(msg.client) if self.committed else None
        if seen is not None and seen[0] == msg.req:
            self.send(sender, Reply(msg.req, True, seen[1]))  # a retry of a finished increment
            return
        if msg.f == "read":
            if self.lease_valid():
                assert self.committed is not None
                self.send(sender, Reply(msg.req, True, self.committed.value))
            else:
                self.send(sender, Reply(msg.req, False, leader=self.id))
            return
        if not any(r.client == msg.client and r.req == msg.req for _, r in self.pending + self.waiting):
            self.pending = [*self.pending, (sender, msg)]
        self.next_write()


class CounterClerk(Clerk):
    """Finds the leader, sends the request, retries (with the same request number) until done."""

    def on_start(self) -> None:
        self.name = f"{self.id}-{self.random.getrandbits(32):08x}"
        self.req = 0
        self.target = self.nodes[0]
        self.op: Op | None = None
        self.answered = False  # did the leader itself answer "not now" to this attempt?
        self.retry_timer: int | None = None

    def on_invoke(self, op: Op) -> None:
        self.op = op
        self.req += 1
        self.try_once()

    def try_once(self) -> None:
        assert self.op is not None
        self.answered = False
        self.send(self.target, Request(self.name, self.req, self.op.f))
        if self.retry_timer is not None:
            self.cancel_timer(self.retry_timer)
        self.retry_timer = self.set_timer(RETRY, Retry(self.req))

    @on(Reply)
    def handle_reply(self, msg: Reply, sender: str) -> None:
        if self.op is None or msg.req != self.req:
            return
        self.answered = msg.leader == sender == self.target
        if msg.ok:
            self.op = None
            self.complete(msg.value)
        elif msg.leader is not None and msg.leader != self.target:
            self.target = msg.leader
            self.try_once()

    @on_timer(Retry)
    def handle_retry(self, timer: Retry) -> None:
        self.retry_timer = None
        if self.op is None or timer.req != self.req:
            return
        if not self.answered:  # silence: try the next server
            i = self.nodes.index(self.target)
            self.target = self.nodes[(i + 1) % len(self.nodes)]
        self.try_once()
