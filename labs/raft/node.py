"""The Raft lab: leader election (part A), log replication (B), persistence (C), snapshots (D).

Read the handout first (``site/labs/raft.md``, or the course site) and the Raft paper's
Figure 2, which this file follows. In short, :class:`RaftNode` implements, for the tests:

* ``get_state()``: ``(current term, role)``, the role being ``"follower"``, ``"candidate"`` or
  ``"leader"``;
* ``last_log()``: ``(index, term)`` of its last log entry, ``(0, 0)`` for an empty log;
* ``start(command)``: on the leader, append ``command`` to the log and return
  ``(its index, the term, True)`` at once; elsewhere return ``(-1, term, False)``;
* and it calls ``self.apply(index, term, command)`` for every committed entry, in order from 1.

Part E (at the end of this file): :class:`KVServer`, a key-value service on your Raft, and
:class:`KVClerk`, its client library (see :mod:`labs.raft.kv`).

Part D: ``snapshot(index, data)`` is called when the state machine took a snapshot; keep it and
discard the log up to ``index``, send it in an :class:`InstallSnapshot` to a follower that needs
entries the log no longer has, and hand it back with ``self.install(index, term, data)`` on a
restart and when one arrives (see the handout, and ``labs/raft/harness.py``).

Everything the node must remember across a crash goes into ``self.storage`` before the node
answers anyone (part C). The messages and timers below are yours to extend, but keep the names
the handout uses: the pictures show them. Write your code where it says ``raise
NotImplementedError``.
"""

from __future__ import annotations

from dataclasses import dataclass

from labs.raft.harness import RaftBase, RaftClerk
from labs.raft.kv import KVReply, KVRequest, decode, encode
from labs.runtime.node import Clerk, Op, on, on_timer

HEARTBEAT = 0.1
"""Seconds between a leader's AppendEntries to each follower when it has nothing new to send:
at most ten per second, as the tests count messages."""
ELECTION_TIMEOUT = (0.3, 0.6)
"""A follower that hears no leader for a time drawn from this range (seconds) stands for
election. It must be random: with equal timeouts, candidates split the vote forever."""
BATCH_DELAY = 0.005
"""A leader waits this long after ``start`` before sending, so that commands started together
travel together."""
MAX_ENTRIES = 64
"""At most this many entries in one AppendEntries."""
CLERK_RETRY = 0.4
"""Part E: seconds a clerk waits for an answer before it asks the next server."""
CLERK_BACKOFF = 0.02
"""Part E: seconds a clerk waits before asking the next server, after one said it does not
lead (while there is no leader, every server says so: no need to ask a thousand times a second)."""


# -- messages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    term: int
    command: str


@dataclass(frozen=True)
class RequestVote:
    term: int
    candidate: str
    last_log_index: int
    last_log_term: int


@dataclass(frozen=True)
class RequestVoteReply:
    term: int
    vote_granted: bool


@dataclass(frozen=True)
class AppendEntries:
    term: int
    leader: str
    prev_log_index: int
    prev_log_term: int
    entries: tuple[Entry, ...]
    leader_commit: int


@dataclass(frozen=True)
class InstallSnapshot:
    """Part D: the leader's snapshot, for a follower that needs entries its log no longer has."""

    term: int
    leader: str
    last_included_index: int
    last_included_term: int
    data: str


@dataclass(frozen=True)
class InstallSnapshotReply:
    term: int
    last_included_index: int
    """The snapshot this answers (the follower now holds the log up to it)."""


@dataclass(frozen=True)
class AppendEntriesReply:
    term: int
    success: bool
    match_index: int
    """On success: the index of the last entry the follower now holds from this request."""
    conflict_index: int
    """On failure: where the leader should look next (the fast backup of the handout)."""
    conflict_term: int
    """On failure: the term of the follower's entry at prev_log_index (0: it has none)."""


# -- timers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ElectionTimeout:
    pass


@dataclass(frozen=True)
class HeartbeatTimer:
    term: int


@dataclass(frozen=True)
class ReplicateTimer:
    term: int


@dataclass(frozen=True)
class ClerkRetry:
    """Part E: the clerk's attempt ``attempt`` went unanswered for a while (``move``: ask the
    next server), or it is time to send the request again (to the server already chosen)."""

    attempt: int
    move: bool


__all__ = ["AppendEntries", "AppendEntriesReply", "ClerkRetry", "ElectionTimeout", "Entry",
           "HeartbeatTimer", "InstallSnapshot", "InstallSnapshotReply", "KVClerk", "KVServer",
           "RaftClerk", "RaftNode", "ReplicateTimer", "RequestVote", "RequestVoteReply"]


class RaftNode(RaftBase):
    """One Raft server."""

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        # On disk: "vote" -> [current term, voted for], "snapshot" -> [index, term, data] (part
        # D), "log/<i>" -> [term, command] for i = snapshot index + 1 .. log_len, and "log_len".
        # Everything else is volatile.
        term, voted_for = self.storage.get("vote", [0, None])
        self.current_term: int = term
        self.voted_for: str | None = voted_for
        snap_index, snap_term, snap_data = self.storage.get("snapshot", [0, 0, ""])
        self.snap_index: int = snap_index  # the log starts after the snapshot's last entry
        self.snap_data: str = snap_data
        # entries[i - snap_index] is index i; entries[0] stands for the snapshot's last entry
        self.entries: list[Entry] = [Entry(snap_term, "")]
        for i in range(snap_index + 1, self.storage.get("log_len", 0) + 1):
            t, command = self.storage[f"log/{i}"]
            self.entries.append(Entry(t, command))
        self.role_name = "follower"
        self.leader_id: str | None = None
        self.commit_index = snap_index  # a snapshot holds only committed entries
        self.last_applied = snap_index
        if snap_index:
            self.install(snap_index, snap_term, snap_data)
        self.votes: set[str] = set()
        self.next_index: dict[str, int] = {}
        self.match_index: dict[str, int] = {}
        self.replicate_pending = False
        self.reset_election_deadline()
        self.set_timer(self.election_deadline - self.now(), ElectionTimeout())
        ### END SOLUTION

    def get_state(self) -> tuple[int, str]:
        ### BEGIN SOLUTION
        return self.current_term, self.role_name
        ### END SOLUTION

    def last_log(self) -> tuple[int, int]:
        ### BEGIN SOLUTION
        return self.last_index(), self.entries[-1].term
        ### END SOLUTION

    def start(self, command: str) -> tuple[int, int, bool]:
        ### BEGIN SOLUTION
        if self.role_name != "leader":
            return -1, self.current_term, False
        index = self.last_index() + 1
        self.append_entries_to_log(index, [Entry(self.current_term, command)])
        if len(self.nodes) == 1:
            self.advance_commit()  # a cluster of one commits alone
        if not self.replicate_pending:
            self.replicate_pending = True
            self.set_timer(BATCH_DELAY, ReplicateTimer(self.current_term))
        return index, self.current_term, True
        ### END SOLUTION

    # -- part A: elections ----------------------------------------------------------------

    @on_timer(ElectionTimeout)
    def handle_election_timeout(self, timer: ElectionTimeout) -> None:
        ### BEGIN SOLUTION
        # One timer always runs; hearing from a leader moves the deadline, not the timer.
        now = self.now()
        if self.role_name == "leader" or now < self.election_deadline:
            if self.role_name == "leader":
                self.reset_election_deadline()
            self.set_timer(max(self.election_deadline - now, 0.001), ElectionTimeout())
            return
        self.role_name = "candidate"
        self.leader_id = None
        self.persist_vote(self.current_term + 1, self.id)
        self.votes = {self.id}
        self.reset_election_deadline()
        self.set_timer(self.election_deadline - now, ElectionTimeout())
        last_index, last_term = self.last_log()
        self.broadcast(RequestVote(self.current_term, self.id, last_index, last_term))
        self.count_votes()
        ### END SOLUTION

    @on(RequestVote)
    def handle_request_vote(self, msg: RequestVote, sender: str) -> None:
        ### BEGIN SOLUTION
        if msg.term > self.current_term:
            self.become_follower(msg.term)
        last_index, last_term = self.last_log()
        up_to_date = (msg.last_log_term, msg.last_log_index) >= (last_term, last_index)
        granted = (msg.term == self.current_term and up_to_date
                   and self.voted_for in (None, msg.candidate))
        if granted:
            if self.voted_for is None:
                self.persist_vote(self.current_term, msg.candidate)  # on disk before the reply
            self.reset_election_deadline()
        self.send(sender, RequestVoteReply(self.current_term, granted))
        ### END SOLUTION

    @on(RequestVoteReply)
    def handle_request_vote_reply(self, msg: RequestVoteReply, sender: str) -> None:
        ### BEGIN SOLUTION
        if msg.term > self.current_term:
            self.become_follower(msg.term)
            return
        if self.role_name != "candidate" or msg.term != self.current_term or not msg.vote_granted:
            return
        self.votes.add(sender)
        self.count_votes()
        ### END SOLUTION

    # -- part B: log replication ----------------------------------------------------------

    @on_timer(HeartbeatTimer)
    def handle_heartbeat(self, timer: HeartbeatTimer) -> None:
        ### BEGIN SOLUTION
        if self.role_name != "leader" or timer.term != self.current_term:
            return
        for peer in self.peers:
            self.send_append_entries(peer)
        self.set_timer(HEARTBEAT, HeartbeatTimer(self.current_term))
        ### END SOLUTION

    @on_timer(ReplicateTimer)
    def handle_replicate(self, timer: ReplicateTimer) -> None:
        ### BEGIN SOLUTION
        self.replicate_pending = False
        if self.role_name != "leader" or timer.term != self.current_term:
            return
        for peer in self.peers:
            if self.next_index[peer] <= self.last_index():
                self.send_append_entries(peer)
        ### END SOLUTION

    @on(AppendEntries)
    def handle_append_entries(self, msg: AppendEntries, sender: str) -> None:
        ### BEGIN SOLUTION
        if msg.term < self.current_term:
            self.send(sender, AppendEntriesReply(self.current_term, False, 0, 0, 0))
            return
        if msg.term > self.current_term or self.role_name != "follower":
            self.become_follower(msg.term)
        self.leader_id = msg.leader
        self.reset_election_deadline()
        prev, entries = msg.prev_log_index, msg.entries
        if prev < self.snap_index:  # what the snapshot holds is committed, so it matches
            entries = entries[self.snap_index - prev:]
            prev = self.snap_index
        elif prev > self.last_index():
            self.send(sender, AppendEntriesReply(self.current_term, False, 0, self.last_index() + 1, 0))
            return
        elif self.term_at(prev) != msg.prev_log_term:
            conflict_term = self.term_at(prev)
            first = prev
            while first > self.snap_index + 1 and self.term_at(first - 1) == conflict_term:
                first -= 1
            self.send(sender, AppendEntriesReply(self.current_term, False, 0, first, conflict_term))
            return
        # Skip what matches; cut the log only at a real conflict, never because a (stale,
        # reordered) request is shorter than the log: its entries may be committed.
        for i, entry in enumerate(entries):
            index = prev + 1 + i
            if index > self.last_index() or self.term_at(index) != entry.term:
                self.append_entries_to_log(index, list(entries[i:]))
                break
        match = prev + len(entries)
        if msg.leader_commit > self.commit_index:
            self.commit_index = max(self.commit_index, min(msg.leader_commit, match))
            self.apply_committed()
        self.send(sender, AppendEntriesReply(self.current_term, True, match, 0, 0))
        ### END SOLUTION

    @on(AppendEntriesReply)
    def handle_append_entries_reply(self, msg: AppendEntriesReply, sender: str) -> None:
        ### BEGIN SOLUTION
        if msg.term > self.current_term:
            self.become_follower(msg.term)
            return
        if self.role_name != "leader" or msg.term != self.current_term:
            return
        if msg.success:
            if msg.match_index > self.match_index[sender]:
                self.match_index[sender] = msg.match_index
                self.advance_commit()
            self.next_index[sender] = max(self.next_index[sender], msg.match_index + 1)
        else:
            # Fast backup: skip the follower's whole conflicting term (or to the end of its
            # log) in one step instead of one entry per round trip.
            target = msg.conflict_index
            if msg.conflict_term > 0:
                mine = [i for i in range(self.last_index(), self.snap_index, -1)
                        if self.term_at(i) == msg.conflict_term]
                if mine:
                    target = mine[0] + 1
            self.next_index[sender] = max(self.match_index[sender] + 1, min(target, self.last_index() + 1))
        if self.next_index[sender] <= self.last_index():
            self.send_append_entries(sender)
        ### END SOLUTION

    # -- part D: snapshots ----------------------------------------------------------------

    @on(InstallSnapshot)
    def handle_install_snapshot(self, msg: InstallSnapshot, sender: str) -> None:
        ### BEGIN SOLUTION
        if msg.term < self.current_term:
            self.send(sender, InstallSnapshotReply(self.current_term, 0))
            return
        if msg.term > self.current_term or self.role_name != "follower":
            self.become_follower(msg.term)
        self.leader_id = msg.leader
        self.reset_election_deadline()
        index = msg.last_included_index
        if index > self.commit_index:  # else it holds all of it already (and has applied it)
            if index <= self.last_index() and self.term_at(index) == msg.last_included_term:
                rest = self.entries[index - self.snap_index + 1:]  # a matching log goes on after it
            else:
                rest = []
            self.save_snapshot(index, msg.last_included_term, msg.data, rest)
            self.commit_index = self.last_applied = index
            self.install(index, msg.last_included_term, msg.data)
        self.send(sender, InstallSnapshotReply(self.current_term, index))
        ### END SOLUTION

    @on(InstallSnapshotReply)
    def handle_install_snapshot_reply(self, msg: InstallSnapshotReply, sender: str) -> None:
        ### BEGIN SOLUTION
        if msg.term > self.current_term:
            self.become_follower(msg.term)
            return
        if self.role_name != "leader" or msg.term != self.current_term:
            return
        if msg.last_included_index > self.match_index[sender]:
            self.match_index[sender] = msg.last_included_index
            self.advance_commit()
        self.next_index[sender] = max(self.next_index[sender], msg.last_included_index + 1)
        if self.next_index[sender] <= self.last_index():
            self.send_append_entries(sender)
        ### END SOLUTION

    ### BEGIN SOLUTION
    def snapshot(self, index: int, data: str) -> None:
        if index <= self.snap_index:
            return
        self.save_snapshot(index, self.term_at(index), data, self.entries[index - self.snap_index + 1:])
    ### END SOLUTION

    ### BEGIN SOLUTION
    # -- helpers of the reference ---------------------------------------------------------

    def majority(self) -> int:
        return len(self.nodes) // 2 + 1

    def reset_election_deadline(self) -> None:
        self.election_deadline = self.now() + self.random.uniform(*ELECTION_TIMEOUT)

    def persist_vote(self, term: int, voted_for: str | None) -> None:
        self.current_term, self.voted_for = term, voted_for
        self.storage["vote"] = [term, voted_for]

    def become_follower(self, term: int) -> None:
        if term > self.current_term:
            self.persist_vote(term, None)
        if self.role_name != "follower":
            self.role_name = "follower"
            self.reset_election_deadline()

    def count_votes(self) -> None:
        if self.role_name != "candidate" or len(self.votes) < self.majority():
            return
        self.role_name = "leader"
        self.leader_id = self.id
        self.next_index = {p: self.last_index() + 1 for p in self.peers}
        self.match_index = {p: 0 for p in self.peers}
        self.handle_heartbeat(HeartbeatTimer(self.current_term))

    def last_index(self) -> int:
        return self.snap_index + len(self.entries) - 1

    def term_at(self, index: int) -> int:
        """The term of the entry at ``index``, from the snapshot's last entry on."""
        return self.entries[index - self.snap_index].term

    def append_entries_to_log(self, index: int, entries: list[Entry]) -> None:
        """Replace the log from ``index`` on with ``entries``, on disk first."""
        if index <= self.last_index():
            self.storage["log_len"] = index - 1  # a crash in between leaves a clean prefix
            for i in range(index, self.last_index() + 1):
                del self.storage[f"log/{i}"]
            del self.entries[index - self.snap_index:]
        for entry in entries:
            self.entries.append(entry)
            self.storage[f"log/{self.last_index()}"] = [entry.term, entry.command]
        self.storage["log_len"] = self.last_index()

    def save_snapshot(self, index: int, term: int, data: str, rest: list[Entry]) -> None:
        """Keep the snapshot at ``index`` with the log entries after it, ``rest`` (the log's own
        tail after ``index``, or nothing): the snapshot on disk first, then the entries it
        replaces are removed."""
        old_start, old_last = self.snap_index + 1, self.last_index()
        self.storage["snapshot"] = [index, term, data]
        for i in range(old_start, old_last + 1):
            if i <= index or i > index + len(rest):
                del self.storage[f"log/{i}"]
        self.snap_index, self.snap_data = index, data
        self.entries = [Entry(term, ""), *rest]
        self.storage["log_len"] = self.last_index()

    def send_append_entries(self, peer: str) -> None:
        prev = self.next_index[peer] - 1
        if prev < self.snap_index:  # the entries it needs are in the snapshot only
            self.send(peer, InstallSnapshot(self.current_term, self.id, self.snap_index,
                                            self.term_at(self.snap_index), self.snap_data))
            return
        start = prev + 1 - self.snap_index
        entries = tuple(self.entries[start:start + MAX_ENTRIES])
        self.send(peer, AppendEntries(self.current_term, self.id, prev, self.term_at(prev),
                                      entries, self.commit_index))

    def advance_commit(self) -> None:
        """Commit the newest index a majority holds, if its entry is of this term (Figure 8: an
        entry of an earlier term is committed only through a later one of this term)."""
        held = sorted([self.last_index(), *self.match_index.values()], reverse=True)
        n = held[self.majority() - 1]
        if n > self.commit_index and self.term_at(n) == self.current_term:
            self.commit_index = n
            self.apply_committed()

    def apply_committed(self) -> None:
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            entry = self.entries[self.last_applied - self.snap_index]
            self.apply(self.last_applied, entry.term, entry.command)
    ### END SOLUTION


# -- part E: a key-value service on Raft ------------------------------------------------------


class KVServer(RaftNode):
    """A key-value server: a Raft node whose state machine is a dict of strings.

    It starts every request (gets too: a get answered from a server's own dict could be stale)
    as a command in the log, executes commands as they are applied, each (client, seq) once,
    and answers a request once its command is applied at the index where this server started
    it. Its state (the dict, and what it remembers of each client) goes into snapshots.
    """

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        self.store: dict[str, str] = {}
        self.last: dict[str, tuple[int, str]] = {}  # client -> (its last executed seq, the result)
        self.waiting: dict[int, tuple[str, KVRequest]] = {}  # index -> (clerk, request started there)
        ### END SOLUTION
        super().on_start()  # after the service's fields: it may install a snapshot into them

    @on(KVRequest)
    def handle_kv_request(self, msg: KVRequest, sender: str) -> None:
        ### BEGIN SOLUTION
        done = self.last.get(msg.client)
        if done is not None and done[0] == msg.seq and self.role_name == "leader":
            self.send(sender, KVReply(msg.client, msg.seq, True, done[1]))  # executed already
            return
        index, _, is_leader = self.start(encode(msg))
        if not is_leader:
            self.send(sender, KVReply(msg.client, msg.seq, False, ""))
            return
        self.waiting[index] = (sender, msg)
        ### END SOLUTION

    def service_apply(self, index: int, term: int, command: str) -> None:
        ### BEGIN SOLUTION
        request = decode(command)
        done = self.last.get(request.client)
        if done is not None and request.seq <= done[0]:
            result = done[1] if request.seq == done[0] else ""  # a duplicate: not executed again
        else:
            current = self.store.get(request.key, "")
            if request.op == "put":
                self.store[request.key] = request.value
            elif request.op == "append":
                self.store[request.key] = current + request.value
            result = current if request.op == "get" else ""
            self.last[request.client] = (request.seq, result)
        waiting = self.waiting.pop(index, None)
        if waiting is not None:
            clerk, started = waiting
            same = (started.client, started.seq) == (request.client, request.seq)
            # Another command at its index: this server lost its leadership, and its request
            # may never be committed. The clerk asks again, elsewhere.
            self.send(clerk, KVReply(started.client, started.seq, same, result if same else ""))
        ### END SOLUTION

    def service_state(self) -> object:
        ### BEGIN SOLUTION
        return {"store": self.store, "last": {c: list(v) for c, v in self.last.items()}}
        ### END SOLUTION

    def service_restore(self, state: object) -> None:
        ### BEGIN SOLUTION
        assert isinstance(state, dict)
        self.store = dict(state["store"])
        self.last = {c: (int(v[0]), str(v[1])) for c, v in state["last"].items()}
        ### END SOLUTION


class KVClerk(Clerk):
    """The key-value service's client library: one operation at a time, sent to the server it
    believes leads, and to the next one when that one does not lead or does not answer.

    The workload calls :meth:`on_invoke` with ``Op("get", key)``, ``Op("put", key, value)`` or
    ``Op("append", key, value)``; the clerk calls ``complete(value)`` for a get and
    ``complete(None)`` for a put or an append.
    """

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        # A clerk may be replaced by a new one under the same name: its id tells them apart.
        self.client = f"{self.id}-{self.random.getrandbits(48):012x}"
        self.seq = 0
        self.attempt = 0
        self.request: KVRequest | None = None
        self.server = self.nodes[0]
        ### END SOLUTION

    def on_invoke(self, op: Op) -> None:
        ### BEGIN SOLUTION
        self.seq += 1
        value = "" if op.f == "get" else str(op.value)
        self.request = KVRequest(self.client, self.seq, op.f, str(op.key), value)
        self.try_server()
        ### END SOLUTION

    @on(KVReply)
    def handle_kv_reply(self, msg: KVReply, sender: str) -> None:
        ### BEGIN SOLUTION
        request = self.request
        if request is None or (msg.client, msg.seq) != (request.client, request.seq):
            return  # a reply to an earlier request, or a duplicate
        if not msg.ok:
            if sender == self.server:
                self.next_server()
                self.attempt += 1
                self.set_timer(CLERK_BACKOFF, ClerkRetry(self.attempt, False))
            return
        self.request = None
        self.complete(msg.value if request.op == "get" else None)
        ### END SOLUTION

    @on_timer(ClerkRetry)
    def handle_clerk_retry(self, timer: ClerkRetry) -> None:
        ### BEGIN SOLUTION
        if self.request is not None and timer.attempt == self.attempt:
            if timer.move:
                self.next_server()
            self.try_server()
        ### END SOLUTION

    ### BEGIN SOLUTION
    def next_server(self) -> None:
        self.server = self.nodes[(self.nodes.index(self.server) + 1) % len(self.nodes)]

    def try_server(self) -> None:
        assert self.request is not None
        self.attempt += 1
        self.send(self.server, self.request)
        self.set_timer(CLERK_RETRY, ClerkRetry(self.attempt, True))
    ### END SOLUTION

