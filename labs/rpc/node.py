"""The RPC lab: a key-value server that executes every request at most once, and its client.

Read the handout first (``site/labs/rpc.md``, or the course site). In short:

* :class:`KVServer` holds a map from keys to ``(value, version)``. ``Get`` returns both; a
  conditional ``Put`` succeeds only when its version is the key's current version (and then the
  version goes up by one); ``Append`` adds to the value (and also raises the version).
* :class:`KVClerk` is the client library. The network loses, delays, duplicates and reorders
  messages, so the clerk retries until it gets an answer, and the server must recognise a
  request it has already executed and answer it again without executing it twice.
* The server must not remember clients forever: a client that has been silent for
  ``FORGET_AFTER`` seconds may be forgotten.

The messages and timers below are the protocol; keep their names and fields (the tests and the
pictures know them). Write your code where it says ``raise NotImplementedError``.
"""

from __future__ import annotations

from dataclasses import dataclass

from labs.runtime.node import Clerk, Node, Op, on, on_timer

RETRY = 0.1
"""Seconds a clerk waits for an answer before it sends the request again."""
FORGET_AFTER = 2.0
"""Seconds of silence after which the server may forget a client. A clerk gives up on an
operation after the workload's timeout (1 s) and never sends it again, and no message lives in
the network for a whole second, so a request older than this can no longer arrive."""
SWEEP = 0.5
"""How often the server looks for clients to forget."""


# -- requests and replies -----------------------------------------------------------------


@dataclass(frozen=True)
class GetRequest:
    key: str
    client: str
    seq: int


@dataclass(frozen=True)
class GetReply:
    client: str
    seq: int
    value: str
    version: int


@dataclass(frozen=True)
class PutRequest:
    key: str
    value: str
    version: int
    client: str
    seq: int


@dataclass(frozen=True)
class PutReply:
    client: str
    seq: int
    ok: bool  # False: the key's version was not the one the put asked for


@dataclass(frozen=True)
class AppendRequest:
    key: str
    value: str
    client: str
    seq: int


@dataclass(frozen=True)
class AppendReply:
    client: str
    seq: int


# -- timers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """The server's reminder to forget clients that went quiet."""


@dataclass(frozen=True)
class Retry:
    seq: int


Request = GetRequest | PutRequest | AppendRequest
Reply = GetReply | PutReply | AppendReply


class KVServer(Node):
    """The key-value server (one node, ``n1``)."""

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        # On disk: every key as "kv/<key>" -> [value, version], and every client's last
        # executed request as "client/<id>" -> [seq, kind, ok, last_seen], so that a restart
        # with its disk neither loses writes nor executes a retried request twice.
        self.data: dict[str, tuple[str, int]] = {}
        self.clients: dict[str, tuple[int, str, bool, float]] = {}
        for name in list(self.storage):
            kind, _, rest = name.partition("/")
            if kind == "kv":
                value, version = self.storage[name]
                self.data[rest] = (value, version)
            elif kind == "client":
                seq, what, ok, _last_seen = self.storage[name]
                self.clients[rest] = (seq, what, ok, self.now())  # silence counts from now
        self.set_timer(SWEEP, Sweep())
        ### END SOLUTION

    @on(GetRequest)
    def handle_get(self, msg: GetRequest, sender: str) -> None:
        ### BEGIN SOLUTION
        # A get changes nothing: executing it again is harmless, so it is not remembered.
        self.seen(msg.client)
        value, version = self.data.get(msg.key, ("", 0))
        self.send(sender, GetReply(msg.client, msg.seq, value, version))
        ### END SOLUTION

    @on(PutRequest)
    def handle_put(self, msg: PutRequest, sender: str) -> None:
        ### BEGIN SOLUTION
        if self.answer_again(msg, sender):
            return
        _, version = self.data.get(msg.key, ("", 0))
        ok = msg.version == version
        if ok:
            self.write(msg.key, msg.value, version + 1)
        self.remember(msg.client, msg.seq, "put", ok)
        self.send(sender, PutReply(msg.client, msg.seq, ok))
        ### END SOLUTION

    @on(AppendRequest)
    def handle_append(self, msg: AppendRequest, sender: str) -> None:
        ### BEGIN SOLUTION
        if self.answer_again(msg, sender):
            return
        value, version = self.data.get(msg.key, ("", 0))
        self.write(msg.key, value + msg.value, version + 1)
        self.remember(msg.client, msg.seq, "append", True)
        self.send(sender, AppendReply(msg.client, msg.seq))
        ### END SOLUTION

    @on_timer(Sweep)
    def handle_sweep(self, timer: Sweep) -> None:
        ### BEGIN SOLUTION
        now = self.now()
        for client, (_seq, _kind, _ok, last_seen) in list(self.clients.items()):
            if now - last_seen > FORGET_AFTER:
                del self.clients[client]
                del self.storage[f"client/{client}"]
        self.set_timer(SWEEP, Sweep())
        ### END SOLUTION

    ### BEGIN SOLUTION
    def answer_again(self, msg: PutRequest | AppendRequest, sender: str) -> bool:
        """True when ``msg`` was executed already: its reply is sent again (or, for an older
        request than the client's last one, nothing is sent: the client has moved on)."""
        last = self.clients.get(msg.client)
        if last is None or msg.seq > last[0]:
            return False
        self.seen(msg.client)
        seq, kind, ok, _ = last
        if msg.seq == seq:
            self.send(sender, PutReply(msg.client, seq, ok) if kind == "put" else AppendReply(msg.client, seq))
        return True

    def remember(self, client: str, seq: int, kind: str, ok: bool) -> None:
        self.clients[client] = (seq, kind, ok, self.now())
        self.storage[f"client/{client}"] = [seq, kind, ok, self.now()]

    def seen(self, client: str) -> None:
        last = self.clients.get(client)
        if last is not None:
            self.clients[client] = (*last[:3], self.now())

    def write(self, key: str, value: str, version: int) -> None:
        self.data[key] = (value, version)
        self.storage[f"kv/{key}"] = [value, version]
    ### END SOLUTION


class KVClerk(Clerk):
    """The client library: one operation at a time, retried until the server answers.

    The workload driver calls :meth:`on_invoke` with ``Op("get", key)``,
    ``Op("put", key, [value, version])`` or ``Op("append", key, value)``; the clerk calls
    ``complete([value, version])`` for a get, ``complete(True)`` / ``complete(False)`` for a put
    (did the version match?) and ``complete(None)`` for an append.
    """

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        # A clerk may be replaced by a fresh one under the same node name: the random suffix
        # keeps their requests (and the replies to them) apart.
        self.client = f"{self.id}-{self.random.getrandbits(48):012x}"
        self.seq = 0
        self.request: Request | None = None
        self.server = self.nodes[0]
        ### END SOLUTION

    def on_invoke(self, op: Op) -> None:
        ### BEGIN SOLUTION
        self.seq += 1
        key = str(op.key)
        if op.f == "get":
            self.request = GetRequest(key, self.client, self.seq)
        elif op.f == "put":
            assert isinstance(op.value, list)
            value, version = op.value
            self.request = PutRequest(key, str(value), int(version), self.client, self.seq)
        elif op.f == "append":
            self.request = AppendRequest(key, str(op.value), self.client, self.seq)
        else:
            raise ValueError(f"the key-value clerk knows get, put and append, not {op.f!r}")
        self.try_once()
        ### END SOLUTION

    ### BEGIN SOLUTION
    def try_once(self) -> None:
        assert self.request is not None
        self.send(self.server, self.request)
        self.set_timer(RETRY, Retry(self.seq))

    def mine(self, reply: Reply) -> bool:
        return self.request is not None and reply.client == self.client and reply.seq == self.seq

    ### END SOLUTION

    @on(GetReply)
    def handle_get_reply(self, msg: GetReply, sender: str) -> None:
        ### BEGIN SOLUTION
        if self.mine(msg):
            self.request = None
            self.complete([msg.value, msg.version])
        ### END SOLUTION

    @on(PutReply)
    def handle_put_reply(self, msg: PutReply, sender: str) -> None:
        ### BEGIN SOLUTION
        if self.mine(msg):
            self.request = None
            self.complete(msg.ok)
        ### END SOLUTION

    @on(AppendReply)
    def handle_append_reply(self, msg: AppendReply, sender: str) -> None:
        ### BEGIN SOLUTION
        if self.mine(msg):
            self.request = None
            self.complete(None)
        ### END SOLUTION

    @on_timer(Retry)
    def handle_retry(self, timer: Retry) -> None:
        ### BEGIN SOLUTION
        if self.request is not None and timer.seq == self.seq:
            self.try_once()
        ### END SOLUTION
