"""The Raft lab: leader election (part A), log replication (B) and persistence (C).

Read the handout first (``site/labs/raft.md``, or the course site) and the Raft paper's
Figure 2, which this file follows. In short, :class:`RaftNode` implements, for the tests:

* ``get_state()``: ``(current term, role)``, the role being ``"follower"``, ``"candidate"`` or
  ``"leader"``;
* ``last_log()``: ``(index, term)`` of its last log entry, ``(0, 0)`` for an empty log;
* ``start(command)``: on the leader, append ``command`` to the log and return
  ``(its index, the term, True)`` at once; elsewhere return ``(-1, term, False)``;
* and it calls ``self.apply(index, term, command)`` for every committed entry, in order from 1.

Everything the node must remember across a crash goes into ``self.storage`` before the node
answers anyone (part C). The messages and timers below are yours to extend, but keep the names
the handout uses: the pictures show them. Write your code where it says ``raise
NotImplementedError``.
"""

from __future__ import annotations

from dataclasses import dataclass

from labs.raft.harness import RaftBase, RaftClerk
from labs.runtime.node import on, on_timer

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


__all__ = ["AppendEntries", "AppendEntriesReply", "ElectionTimeout", "Entry", "HeartbeatTimer",
           "RaftClerk", "RaftNode", "ReplicateTimer", "RequestVote", "RequestVoteReply"]


class RaftNode(RaftBase):
    """One Raft server."""

    def on_start(self) -> None:
        ### BEGIN SOLUTION
        # On disk: "vote" -> [current term, voted for], "log/<i>" -> [term, command] for
        # i = 1..log_len, and "log_len". Everything else is volatile.
        term, voted_for = self.storage.get("vote", [0, None])
        self.current_term: int = term
        self.voted_for: str | None = voted_for
        self.entries: list[Entry] = [Entry(0, "")]  # entries[i] is index i; index 0 is a sentinel
        for i in range(1, self.storage.get("log_len", 0) + 1):
            t, command = self.storage[f"log/{i}"]
            self.entries.append(Entry(t, command))
        self.role_name = "follower"
        self.leader_id: str | None = None
        self.commit_index = 0
        self.last_applied = 0
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
        return len(self.entries) - 1, self.entries[-1].term
        ### END SOLUTION

    def start(self, command: str) -> tuple[int, int, bool]:
        ### BEGIN SOLUTION
        if self.role_name != "leader":
            return -1, self.current_term, False
        self.append_entries_to_log(len(self.entries), [Entry(self.current_term, command)])
        index = len(self.entries) - 1
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
            if self.next_index[peer] < len(self.entries):
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
        last = len(self.entries) - 1
        if msg.prev_log_index > last:
            self.send(sender, AppendEntriesReply(self.current_term, False, 0, last + 1, 0))
            return
        if self.entries[msg.prev_log_index].term != msg.prev_log_term:
            conflict_term = self.entries[msg.prev_log_index].term
            first = msg.prev_log_index
            while first > 1 and self.entries[first - 1].term == conflict_term:
                first -= 1
            self.send(sender, AppendEntriesReply(self.current_term, False, 0, first, conflict_term))
            return
        # Skip what matches; cut the log only at a real conflict, never because a (stale,
        # reordered) request is shorter than the log: its entries may be committed.
        for i, entry in enumerate(msg.entries):
            index = msg.prev_log_index + 1 + i
            if index >= len(self.entries) or self.entries[index].term != entry.term:
                self.append_entries_to_log(index, list(msg.entries[i:]))
                break
        match = msg.prev_log_index + len(msg.entries)
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
                mine = [i for i in range(len(self.entries) - 1, 0, -1)
                        if self.entries[i].term == msg.conflict_term]
                if mine:
                    target = mine[0] + 1
            self.next_index[sender] = max(self.match_index[sender] + 1, min(target, len(self.entries)))
        if self.next_index[sender] < len(self.entries):
            self.send_append_entries(sender)
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
        self.next_index = {p: len(self.entries) for p in self.peers}
        self.match_index = {p: 0 for p in self.peers}
        self.handle_heartbeat(HeartbeatTimer(self.current_term))

    def append_entries_to_log(self, index: int, entries: list[Entry]) -> None:
        """Replace the log from ``index`` on with ``entries``, on disk first."""
        if index < len(self.entries):
            self.storage["log_len"] = index - 1  # a crash in between leaves a clean prefix
            del self.entries[index:]
        for entry in entries:
            self.entries.append(entry)
            self.storage[f"log/{len(self.entries) - 1}"] = [entry.term, entry.command]
        self.storage["log_len"] = len(self.entries) - 1

    def send_append_entries(self, peer: str) -> None:
        prev = self.next_index[peer] - 1
        entries = tuple(self.entries[prev + 1:prev + 1 + MAX_ENTRIES])
        self.send(peer, AppendEntries(self.current_term, self.id, prev, self.entries[prev].term,
                                      entries, self.commit_index))

    def advance_commit(self) -> None:
        """Commit the newest index a majority holds, if its entry is of this term (Figure 8: an
        entry of an earlier term is committed only through a later one of this term)."""
        held = sorted([len(self.entries) - 1, *self.match_index.values()], reverse=True)
        n = held[self.majority() - 1]
        if n > self.commit_index and self.entries[n].term == self.current_term:
            self.commit_index = n
            self.apply_committed()

    def apply_committed(self) -> None:
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            entry = self.entries[self.last_applied]
            self.apply(self.last_applied, entry.term, entry.command)
    ### END SOLUTION
