"""The primary-backup lab: a view service, and key-value servers replicated primary to backup.

Read the handout first (``site/labs/primary-backup.md``, or the course site). In short:

* ``n1`` runs the :class:`ViewServer` (part A). Every key-value server pings it every
  ``PING_INTERVAL`` seconds with the number of the view it holds; it answers with its current
  :class:`View`: who is primary, who is backup. A server it has not heard from for
  ``DEAD_PINGS`` intervals is dead. It changes the view one step at a time, and never before the
  primary of the current view has acknowledged it (pinged with its number): a primary that has
  not acknowledged a view may not know it exists. It promotes only the backup of the current
  view (an idle server holds no data); a server that restarted (its pings say it started later)
  is dead to the view it was in, and may come back as an idle server.
* ``n2``, ``n3``... run :class:`PBServer` (part B): the primary executes each client request at
  most once and forwards it, reads included, to the backup before answering (with no backup, it
  answers nothing: one copy is no copy); the backup takes forwards only from the primary of the
  view it is in; a new backup first gets the whole state (state transfer), and the primary
  acknowledges a view only when its backup holds the state.
* :class:`PBClerk` asks the view service who is primary, sends its request there, and asks again
  when the primary does not answer or says it is not primary.

The messages and timers below are the protocol; keep their names and fields (the tests and the
pictures know them). Write your code where it says ``raise NotImplementedError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from labs.runtime.node import Clerk, Node, Op, on, on_timer
from labs.runtime.roles import by_name

VIEW_SERVICE = "n1"
"""The node that runs the view service; the others are key-value servers."""
PING_INTERVAL = 0.1
"""Seconds between a server's pings, and between the view service's looks at who is alive."""
DEAD_PINGS = 5
"""Intervals without a ping after which the view service takes a server for dead."""
RETRY = 0.1
"""Seconds a clerk (or a primary forwarding, or transferring state) waits before trying again."""


@dataclass(frozen=True)
class View:
    """View ``viewnum``: its primary and backup (``""``: none). View 0 is the empty one."""

    viewnum: int
    primary: str = ""
    backup: str = ""


NO_VIEW = View(0)


# -- messages: servers and the view service ---------------------------------------------------


@dataclass(frozen=True)
class Ping:
    """A server to the view service: alive, holding view ``viewnum`` (0 until it learns one),
    since ``started`` (its clock's reading when it started: a later one means it restarted and
    lost what it held). From the primary of the current view, this acknowledges it."""

    viewnum: int
    started: float


@dataclass(frozen=True)
class PingReply:
    view: View


@dataclass(frozen=True)
class GetView:
    """A clerk to the view service: who is primary now?"""


@dataclass(frozen=True)
class GetViewReply:
    view: View


# -- messages: clients, primary and backup ---------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A clerk's operation: ``op`` is ``get``, ``put`` or ``append``; ``seq`` numbers the
    clerk's operations (a retry has the same)."""

    client: str
    seq: int
    op: str
    key: str
    value: str = ""


@dataclass(frozen=True)
class Reply:
    """``err`` is ``""`` (done: ``value`` is a get's result) or ``"wrong-server"`` (not the
    primary, or its backup refused: ask the view service again)."""

    client: str
    seq: int
    err: str
    value: str = ""


@dataclass(frozen=True)
class Forward:
    """The primary of ``view`` to its backup: execute this request too."""

    view: View
    request: Request


@dataclass(frozen=True)
class ForwardReply:
    viewnum: int
    client: str
    seq: int
    ok: bool


@dataclass(frozen=True)
class Transfer:
    """The primary of ``view`` to its new backup: the whole state, the store and what was last
    done for each client, as ``[client, seq, value]`` lists."""

    view: View
    store: dict[str, str] = field(default_factory=dict)
    done: tuple[tuple[str, int, str], ...] = ()


@dataclass(frozen=True)
class TransferReply:
    viewnum: int


# -- timers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    """Every PING_INTERVAL: the view service looks at who is alive; a server pings."""


@dataclass(frozen=True)
class Retry:
    """A clerk's request, or a primary's forward or transfer, may be lost: try again."""

    seq: int


# -- part A: the view service ---------------------------------------------------------------


class ViewServer(Node):
    """The single source of truth about who is primary and who is backup."""

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        self.view = NO_VIEW
        self.acked = False  # the primary of self.view pinged with its number
        self.last_ping: dict[str, float] = {}
        self.started: dict[str, float] = {}  # when each server's current life began, as it says
        self.restarted: set[str] = set()  # servers of the current view that restarted since
        self.set_timer(PING_INTERVAL, Tick())
        ### END SOLUTION

    @on(Ping)
    def handle_ping(self, msg: Ping, sender: str) -> None:
        ### BEGIN SOLUTION
        began = self.started.get(sender)
        if began is not None and msg.started < began:
            return  # a late ping from a life that has ended
        if began is not None and msg.started > began and sender in (self.view.primary, self.view.backup):
            self.restarted.add(sender)  # it lost what it held: dead to this view
        self.started[sender] = msg.started
        self.last_ping[sender] = self.now()
        if sender == self.view.primary and msg.viewnum == self.view.viewnum and sender not in self.restarted:
            self.acked = True
        if self.view.viewnum == 0:
            self.change(View(1, sender, ""))
        else:
            self.maybe_change()
        self.send(sender, PingReply(self.view))
        ### END SOLUTION

    @on(GetView)
    def handle_get_view(self, msg: GetView, sender: str) -> None:
        ### BEGIN SOLUTION
        self.send(sender, GetViewReply(self.view))
        ### END SOLUTION

    @on_timer(Tick)
    def handle_tick(self, timer: Tick) -> None:
        ### BEGIN SOLUTION
        self.maybe_change()
        self.set_timer(PING_INTERVAL, Tick())
        ### END SOLUTION

    ### BEGIN SOLUTION
    def alive(self, server: str) -> bool:
        heard = self.last_ping.get(server)
        return (server not in self.restarted and heard is not None
                and self.now() - heard < DEAD_PINGS * PING_INTERVAL)

    def idle(self) -> str:
        """A live server in neither role, or ``""``."""
        return next((s for s in sorted(self.last_ping)
                     if s not in (self.view.primary, self.view.backup) and self.alive(s)), "")

    def maybe_change(self) -> None:
        """One step towards a primary and a backup that are alive, once the primary has
        acknowledged the current view."""
        if not self.acked:
            return
        v = self.view
        if not self.alive(v.primary):
            if v.backup and self.alive(v.backup):  # only the backup holds the data
                self.change(View(v.viewnum + 1, v.backup, self.idle()))
        elif (v.backup and not self.alive(v.backup)) or (not v.backup and self.idle()):
            self.change(View(v.viewnum + 1, v.primary, self.idle()))  # a new backup, or none

    def change(self, view: View) -> None:
        self.view, self.acked = view, False
        self.restarted.clear()  # they are out of the view: back, they are idle servers
        self.log(f"view {view.viewnum} primary={view.primary or '-'} backup={view.backup or '-'}")
    ### END SOLUTION


# -- part B: the key-value servers ------------------------------------------------------------


class PBServer(Node):
    """A key-value server: primary, backup or idle, as the view service says."""

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        self.view = NO_VIEW
        self.store: dict[str, str] = {}
        self.done: dict[str, tuple[int, str]] = {}  # client -> (its last seq executed, the result)
        self.ready = False  # holds the state of self.view (a new backup: once transferred)
        self.synced = ""  # the backup the state was transferred to in this view
        self.acknowledged = 0  # the view this server tells the view service it holds
        self.started = self.now()
        self.queue: list[tuple[str, Request]] = []  # (who asked, request), the head being forwarded
        self.forwarding = False
        self.attempt = 0
        self.ping()
        self.set_timer(PING_INTERVAL, Tick())
        ### END SOLUTION

    ### BEGIN SOLUTION
    def ping(self) -> None:
        # The primary acknowledges a view only once its backup holds the state.
        v = self.view
        if v.primary != self.id or not v.backup or self.synced == v.backup:
            self.acknowledged = v.viewnum
        self.send(VIEW_SERVICE, Ping(self.acknowledged, self.started))

    def primary(self) -> bool:
        return self.view.primary == self.id and self.ready

    def adopt(self, view: View) -> None:
        """A newer view: what this server is in it."""
        if view.viewnum <= self.view.viewnum:
            return
        prev, self.view = self.view, view
        if view.primary == self.id:  # the first primary starts empty; later ones held the state
            self.ready = view.viewnum == 1 or (self.ready and self.id in (prev.primary, prev.backup))
        elif view.backup == self.id:  # a new backup waits for the state
            self.ready = self.ready and prev.backup == self.id
        else:
            self.ready = False
        if not self.primary():
            self.fail_queue()
        if view.primary == self.id and view.backup:  # a new view's backup is new (or came back empty)
            self.synced = ""
            self.transfer()
        self.pump()

    def transfer(self) -> None:
        if self.primary() and self.view.backup and self.synced != self.view.backup:
            done = tuple(sorted((c, seq, result) for c, (seq, result) in self.done.items()))
            self.send(self.view.backup, Transfer(self.view, dict(self.store), done))
            self.attempt += 1
            self.set_timer(RETRY, Retry(self.attempt))

    def execute(self, r: Request) -> str:
        """Run ``r`` once (a retry gets the first run's result)."""
        last = self.done.get(r.client)
        if last is not None and last[0] >= r.seq:  # done already (an older one: a late copy)
            return last[1]
        result = self.store.get(r.key, "")
        if r.op == "put":
            self.store[r.key], result = r.value, ""
        elif r.op == "append":
            self.store[r.key], result = self.store.get(r.key, "") + r.value, ""
        self.done[r.client] = (r.seq, result)
        return result

    def pump(self) -> None:
        """Forward the head of the queue to the backup: one at a time, so the backup executes
        the requests in the primary's order. With no backup holding the state, wait: an
        answer given on one copy would be lost with it."""
        if self.queue and not self.forwarding and self.primary():
            if not self.view.backup or self.synced != self.view.backup:
                return  # one copy is no copy: wait for a backup that holds the state
            r = self.queue[0][1]
            self.forwarding = True
            self.send(self.view.backup, Forward(self.view, r))
            self.attempt += 1
            self.set_timer(RETRY, Retry(self.attempt))

    def fail_queue(self) -> None:
        for sender, r in self.queue:
            self.send(sender, Reply(r.client, r.seq, "wrong-server"))
        self.queue.clear()
        self.forwarding = False
    ### END SOLUTION

    @on_timer(Tick)
    def handle_tick(self, timer: Tick) -> None:
        ### BEGIN SOLUTION
        self.ping()
        self.set_timer(PING_INTERVAL, Tick())
        ### END SOLUTION

    @on(PingReply)
    def handle_ping_reply(self, msg: PingReply, sender: str) -> None:
        ### BEGIN SOLUTION
        self.adopt(msg.view)
        ### END SOLUTION

    @on(Request)
    def handle_request(self, msg: Request, sender: str) -> None:
        ### BEGIN SOLUTION
        if not self.primary():
            self.send(sender, Reply(msg.client, msg.seq, "wrong-server"))
            return
        last = self.done.get(msg.client)
        if last is not None and last[0] >= msg.seq:
            if last[0] == msg.seq:  # a retry: the first run's answer again (an older one is a late copy)
                self.send(sender, Reply(msg.client, msg.seq, "", last[1]))
            return
        if any(r == msg for _, r in self.queue):
            return  # already on its way
        self.queue.append((sender, msg))
        self.pump()
        ### END SOLUTION

    @on(Forward)
    def handle_forward(self, msg: Forward, sender: str) -> None:
        ### BEGIN SOLUTION
        self.adopt(msg.view)
        ok = self.view == msg.view and msg.view.backup == self.id and sender == msg.view.primary and self.ready
        if ok:
            self.execute(msg.request)
        self.send(sender, ForwardReply(msg.view.viewnum, msg.request.client, msg.request.seq, ok))
        ### END SOLUTION

    @on(ForwardReply)
    def handle_forward_reply(self, msg: ForwardReply, sender: str) -> None:
        ### BEGIN SOLUTION
        if not (self.forwarding and self.queue and msg.viewnum == self.view.viewnum):
            return
        who, r = self.queue[0]
        if (msg.client, msg.seq) != (r.client, r.seq):
            return
        self.queue.pop(0)
        self.forwarding = False
        if msg.ok:
            self.send(who, Reply(r.client, r.seq, "", self.execute(r)))
        else:  # the backup is in another view: this server may no longer be primary
            self.send(who, Reply(r.client, r.seq, "wrong-server"))
        self.pump()
        ### END SOLUTION

    @on(Transfer)
    def handle_transfer(self, msg: Transfer, sender: str) -> None:
        ### BEGIN SOLUTION
        self.adopt(msg.view)
        if self.view == msg.view and msg.view.backup == self.id and sender == msg.view.primary:
            if not self.ready:  # a late copy must not take back what was forwarded since
                self.store = dict(msg.store)
                self.done = {c: (seq, result) for c, seq, result in msg.done}
                self.ready = True
            self.send(sender, TransferReply(msg.view.viewnum))
        ### END SOLUTION

    @on(TransferReply)
    def handle_transfer_reply(self, msg: TransferReply, sender: str) -> None:
        ### BEGIN SOLUTION
        if msg.viewnum == self.view.viewnum and sender == self.view.backup and self.primary():
            self.synced = sender
            self.ping()  # acknowledge the view now: the backup holds the state
            self.pump()
        ### END SOLUTION

    @on_timer(Retry)
    def handle_retry(self, timer: Retry) -> None:
        ### BEGIN SOLUTION
        if timer.seq != self.attempt or not self.primary():
            return
        if self.view.backup and self.synced != self.view.backup:
            self.transfer()
        elif self.forwarding and self.queue:
            self.forwarding = False
            self.pump()
        ### END SOLUTION


# -- the clerk --------------------------------------------------------------------------------


class PBClerk(Clerk):
    """The client library: asks the view service who is primary, then the primary; one
    operation at a time, retried until a primary answers.

    The workload calls :meth:`on_invoke` with ``Op("get", key)``, ``Op("put", key, value)`` or
    ``Op("append", key, value)``; the clerk calls ``complete(value)`` for a get and
    ``complete(None)`` for a put or an append.
    """

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        self.client = f"{self.id}-{self.random.getrandbits(48):012x}"
        self.seq = 0
        self.request: Request | None = None
        self.primary = ""
        ### END SOLUTION

    def on_invoke(self, op: Op) -> None:
        ### BEGIN SOLUTION
        if op.f not in ("get", "put", "append"):
            raise ValueError(f"the key-value clerk knows get, put and append, not {op.f!r}")
        self.seq += 1
        self.request = Request(self.client, self.seq, op.f, str(op.key), "" if op.value is None else str(op.value))
        self.try_once()
        ### END SOLUTION

    ### BEGIN SOLUTION
    def try_once(self) -> None:
        if self.primary:
            assert self.request is not None
            self.send(self.primary, self.request)
        else:
            self.send(VIEW_SERVICE, GetView())
        self.set_timer(RETRY, Retry(self.seq))
    ### END SOLUTION

    @on(GetViewReply)
    def handle_get_view_reply(self, msg: GetViewReply, sender: str) -> None:
        ### BEGIN SOLUTION
        if msg.view.primary and msg.view.primary != self.primary:
            self.primary = msg.view.primary
            if self.request is not None:
                self.send(self.primary, self.request)
        ### END SOLUTION

    @on(Reply)
    def handle_reply(self, msg: Reply, sender: str) -> None:
        ### BEGIN SOLUTION
        if self.request is None or (msg.client, msg.seq) != (self.client, self.seq):
            return
        if msg.err:
            self.primary = ""  # ask the view service again at the next retry
            return
        op, self.request = self.request.op, None
        self.complete(msg.value if op == "get" else None)
        ### END SOLUTION

    @on_timer(Retry)
    def handle_retry(self, timer: Retry) -> None:
        ### BEGIN SOLUTION
        if self.request is not None and timer.seq == self.seq:
            if self.primary:  # no answer from it: it may be gone; ask the view service too
                self.send(VIEW_SERVICE, GetView())
            self.try_once()
        ### END SOLUTION


PBNode = by_name("PBNode", {VIEW_SERVICE: ViewServer}, default=PBServer)

__all__ = ["DEAD_PINGS", "PING_INTERVAL", "RETRY", "VIEW_SERVICE", "Forward", "ForwardReply", "GetView",
           "GetViewReply", "PBClerk", "PBNode", "PBServer", "Ping", "PingReply", "Reply", "Request", "Retry",
           "Tick", "Transfer", "TransferReply", "View", "ViewServer"]
