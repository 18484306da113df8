"""The Raft lab's test harness: what sits between a student's Raft node and the tests.

Not student code, and not stripped from the release. A student's ``RaftNode`` subclasses
:class:`RaftBase` and implements three things the tests drive it through, as in the classic
Raft labs:

* ``get_state() -> (term, role)``: its current term and ``"follower"``, ``"candidate"`` or
  ``"leader"``;
* ``last_log() -> (index, term)``: the index and term of the last entry of its log (``(0, 0)``
  for an empty log);
* ``start(command) -> (index, term, is_leader)``: append ``command`` to the log if this node is
  the leader and return at once, without waiting for it to commit;

and it calls ``self.apply(index, term, command)`` for each committed entry, in index order.

Part D adds snapshots. In part D's tests (which set the lab's ``snapshot_every`` parameter,
see ``Node.params``), each time that many more entries were applied the harness's state machine
takes a snapshot and hands it to the node, after the handler that applied them returns, by
calling ``snapshot(index, data)``: the node keeps ``data`` (on disk, with its state) and may
then discard its log up to ``index``. Parts A-C never take snapshots. The default ``snapshot``
keeps the whole log, which part D's tests find (the log must stay bounded). The node
hands a snapshot back to the state machine with ``self.install(index, term, data)``: when it
restarts with one on disk, and when a leader sent it one (InstallSnapshot) because the entries
it lacks are gone from the leader's log.

Why a harness and not messages of the student's own: the tests must observe the protocol
without trusting a particular message layout. After every handler the harness asks the node for
its state and writes what changed into the trace (``raft state ...``, ``raft leader ...``), and
``apply`` writes ``raft apply ...``; the checks (``labs/raft/checks.py``) and the Raft time-line
picture read those lines only. Clients (:class:`RaftClerk`) submit commands with
:class:`Submit`; the harness calls ``start`` and tells the client when its command is applied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labs.runtime.node import Clerk, Node, Op, on, on_timer

ROLES = ("follower", "candidate", "leader")
CLIENT_RETRY = 1.0
"""Seconds a client waits for its commands to be applied before it submits them elsewhere."""
CLIENT_BACKOFF = 0.02
"""Seconds a client waits before asking the next server, after one said it does not lead (so
that clients do not flood the network while there is no leader)."""


@dataclass(frozen=True)
class Submit:
    """A client asks a server to start ``command`` (the server calls ``start``)."""

    command: str


@dataclass(frozen=True)
class SubmitReply:
    command: str
    index: int
    term: int
    is_leader: bool


@dataclass(frozen=True)
class Applied:
    """The server that started ``command`` at ``index`` applied ``applied`` there."""

    index: int
    command: str
    applied: str


@dataclass(frozen=True)
class ClientRetry:
    attempt: int
    move: bool
    """Ask the next server (the current one is silent), or the current one (chosen already)."""


class RaftBase(Node):
    """The base class of a Raft node: the tests' view of it (see the module docstring)."""

    # -- what the student implements ------------------------------------------------------

    def get_state(self) -> tuple[int, str]:
        """``(current term, role)``, role being ``"follower"``, ``"candidate"`` or ``"leader"``."""
        raise NotImplementedError("not implemented yet: RaftNode.get_state (see the lab's handout)")

    def last_log(self) -> tuple[int, int]:
        """``(index, term)`` of the last log entry, ``(0, 0)`` when the log is empty."""
        raise NotImplementedError("not implemented yet: RaftNode.last_log (see the lab's handout)")

    def start(self, command: str) -> tuple[int, int, bool]:
        """Start agreement on ``command``: ``(index it will have, current term, is leader)``."""
        raise NotImplementedError("not implemented yet: RaftNode.start (see the lab's handout)")

    def snapshot(self, index: int, data: str) -> None:
        """Part D: the state machine has taken a snapshot, ``data``, of everything applied up to
        and including ``index``. Keep it (on disk, before the log entries it replaces are gone)
        and discard the log up to ``index``; send it to a follower that needs entries the log no
        longer has. Called by the harness after a handler returns, never from inside ``apply``.
        This default keeps the whole log: it passes parts A-C and fails part D."""

    # -- what the harness gives -----------------------------------------------------------

    def apply(self, index: int, term: int, command: str) -> None:
        """Hand a committed entry to the state machine. Call it once per index, in order,
        starting at 1, or after the snapshot last installed (and again from the start after a
        restart: the state machine is not on disk, its snapshot is, in part D)."""
        applied = self.__dict__.get("_raft_applied", 0)
        if index != applied + 1:
            raise RuntimeError(f"apply({index}) after {self._raft_last_step()}: apply each index once, "
                               f"in order, from 1 or from just after an installed snapshot")
        self._raft_applied = index
        self._raft_digest = chain(self.__dict__.get("_raft_digest", ""), command)
        self.log(f"raft apply index={index} term={term} cmd={command}")
        self.service_apply(index, term, command)
        in_start = self.__dict__.get("_raft_in_start")
        if in_start is not None:  # applied inside start(): handle_submit reports it
            in_start[index] = command
        watchers: dict[int, tuple[str, str]] = self.__dict__.setdefault("_raft_watch", {})
        watch = watchers.pop(index, None)
        if watch is not None:
            self.send(watch[0], Applied(index, watch[1], command))

    def install(self, index: int, term: int, data: str) -> None:
        """Hand the state machine a snapshot taken at ``index`` (of term ``term``), ``data``
        being what ``snapshot`` was given: on a restart with a snapshot on disk, or when a
        leader sent one. The next entry to apply is then ``index + 1``."""
        applied = self.__dict__.get("_raft_applied", 0)
        try:
            state = json.loads(data)
            taken, digest, service = int(state["index"]), str(state["digest"]), state.get("service")
        except (TypeError, ValueError, KeyError) as exc:
            raise RuntimeError(f"install({index}, {term}, ...): data is not a snapshot the harness "
                               f"gave snapshot() ({exc!r}); pass it on unchanged") from None
        if taken != index:
            raise RuntimeError(f"install({index}, {term}, ...) with the snapshot taken at index {taken}: "
                               "keep each snapshot's index with its data")
        if index <= applied:
            raise RuntimeError(f"install({index}) after {self._raft_last_step()}: a snapshot no newer "
                               "than the state machine would take it back (ignore such snapshots)")
        self._raft_applied, self._raft_digest, self._raft_snapshot_at = index, digest, index
        self.log(f"raft install index={index} term={term} digest={digest}")
        self.service_restore(service)

    def _raft_last_step(self) -> str:
        applied = self.__dict__.get("_raft_applied", 0)
        return f"apply({applied})" if applied else "a start with nothing applied"

    def _raft_maybe_snapshot(self) -> None:
        """After a handler: take a snapshot if enough was applied since the last one."""
        every = self.params.get("snapshot_every", 0)
        applied = self.__dict__.get("_raft_applied", 0)
        if not every or applied - self.__dict__.get("_raft_snapshot_at", 0) < every:
            return
        self._raft_snapshot_at = applied
        digest = self.__dict__.get("_raft_digest", "")
        self.log(f"raft snapshot index={applied} digest={digest}")
        data = {"index": applied, "digest": digest, "service": self.service_state()}
        self.snapshot(applied, json.dumps(data, separators=(",", ":")))

    # -- part E: a service on top (the key-value server overrides these) ------------------

    def service_apply(self, index: int, term: int, command: str) -> None:
        """A committed entry reached the state machine (after the harness recorded it): the
        service on top executes it here. Nothing in parts A-D."""

    def service_state(self) -> Any:
        """What the service needs to go on from a snapshot (plain JSON data), taken with it."""
        return None

    def service_restore(self, state: Any) -> None:
        """Set the service back to ``state``, from a snapshot being installed."""

    @on(Submit)
    def handle_submit(self, msg: Submit, sender: str) -> None:
        self._raft_in_start: dict[int, str] = {}  # only while start() runs: a cluster of one commits in it
        try:
            index, term, is_leader = self.start(msg.command)
        finally:
            applied = self.__dict__.pop("_raft_in_start")
        self.send(sender, SubmitReply(msg.command, index, term, is_leader))
        if is_leader and index in applied:
            self.send(sender, Applied(index, msg.command, applied[index]))
        elif is_leader:
            self.__dict__.setdefault("_raft_watch", {})[index] = (sender, msg.command)

    # -- observing the node after every handler -------------------------------------------

    def _observe(self) -> None:
        term, role = self.get_state()
        seen = self.__dict__.get("_raft_seen")
        if seen == (term, role):
            return
        if role not in ROLES:
            raise RuntimeError(f"get_state() returned role {role!r}; it must be one of {', '.join(ROLES)}")
        self._raft_seen = (term, role)
        self.log(f"raft state term={term} role={role}")
        if role == "leader":
            index, last_term = self.last_log()
            self.log(f"raft leader term={term} last_index={index} last_term={last_term}")

    def _observed(self, handler: Callable[..., None]) -> Callable[..., None]:
        def run(*args: Any) -> None:
            handler(*args)
            self._raft_maybe_snapshot()
            self._observe()

        return run

    def _handler_for_message(self, msg: object) -> Callable[[Any, str], None] | None:
        handler = super()._handler_for_message(msg)
        return None if handler is None else self._observed(handler)

    def _handler_for_timer(self, timer: object) -> Callable[[Any], None] | None:
        handler = super()._handler_for_timer(timer)
        return None if handler is None else self._observed(handler)


class RaftClerk(Clerk):
    """The tests' client: submits a batch of commands (``Op("start", value=[...])``) to the
    server it believes leads, and completes with their indexes once each was applied there.

    A server that is not the leader, or a command applied at its index in place of another (a
    leader that lost its entries), sends it on to the next server. The same command may then be
    committed twice; the lab has no duplicate detection (that is part E's).
    """

    def on_start(self) -> None:
        self.target = self.nodes[0]
        self.pending: list[str] = []
        self.indexes: dict[str, int] = {}
        self.attempt = 0

    def on_invoke(self, op: Op) -> None:
        commands = op.value if isinstance(op.value, list) else [op.value]
        self.pending = [str(c) for c in commands]
        self.indexes = {}
        self.submit()

    def submit(self) -> None:
        self.attempt += 1
        for command in self.pending:
            if command not in self.indexes:
                self.send(self.target, Submit(command))
        self.set_timer(CLIENT_RETRY, ClientRetry(self.attempt, True))

    def next_server(self) -> None:
        i = self.nodes.index(self.target)
        self.target = self.nodes[(i + 1) % len(self.nodes)]

    @on(SubmitReply)
    def handle_submit_reply(self, msg: SubmitReply, sender: str) -> None:
        if sender != self.target or msg.command not in self.pending or msg.is_leader:
            return
        self.next_server()
        self.attempt += 1
        self.set_timer(CLIENT_BACKOFF, ClientRetry(self.attempt, False))

    @on(Applied)
    def handle_applied(self, msg: Applied, sender: str) -> None:
        if msg.command not in self.pending or msg.command in self.indexes:
            return
        if msg.applied != msg.command:  # another command took its index: try elsewhere
            if sender == self.target:
                self.next_server()
            self.submit()
            return
        self.indexes[msg.command] = msg.index
        if len(self.indexes) == len(self.pending):
            done = [self.indexes[c] for c in self.pending]
            self.pending = []
            self.complete(done)

    @on_timer(ClientRetry)
    def handle_client_retry(self, timer: ClientRetry) -> None:
        if self.pending and timer.attempt == self.attempt:
            if timer.move:
                self.next_server()
            self.submit()


def chain(digest: str, command: str) -> str:
    """The state machine's state: a hash of every command applied so far, in order (two
    servers that applied different commands, or the same ones in another order, differ)."""
    return hashlib.sha256(f"{digest}|{command}".encode()).hexdigest()[:16]
