"""What the Raft lab's tests check, reading a finished run's trace only (see :mod:`.parse`).

Safety (every test): at most one leader per term, the same entry at the same index on every
node (state machine safety, which with the entry's term is log matching on committed entries),
and leader completeness (a leader elected after an entry was committed holds a log at least as
up to date as that entry). Liveness, with explicit bounds: a leader within ``LEADER_BOUND``
seconds whenever a majority can talk, every node caught up by the end, client commands
committed. Each finding is one line naming the property, with the trace lines behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from labs.checkers.invariants import (
    Event,
    Invariant,
    Violation,
    all_agree,
    as_check,
    at_most_one_per,
    describe_event,
    log_matches,
)
from labs.runtime.lab import Check, Finding, RunResult, no_node_errors, unreadable_memory

from .catch_up_checks import (
    backing_up_keeps_what_the_follower_holds,
    far_behind_follower_catches_up_quickly,
    rejoined_servers_catch_up_quickly,
)
from .harness import chain
from .kv import clerks_keep_asking, kv_operations_complete, linearizable_kv
from .log_checks import followers_match_before_they_take
from .parse import APPLY, RaftRun, parse_run
from .term_checks import (
    higher_term_makes_a_follower,
    leaders_step_down_only_for_higher_terms,
    leaders_win_votes_of_their_term,
    terms_never_go_back,
)

LEADER_BOUND = 2.5
"""Seconds within which a majority that can talk must have a leader (about five election
timeouts: enough for a few split votes, far too few for timeouts that are not random)."""
ELECTION_MESSAGES = 15
"""Messages between servers per server (beyond the first) that electing the first leader may
take: 30 for three servers, as in the classic lab."""
IDLE_MESSAGES_PER_SECOND = 30
"""Messages between servers per second, per follower, that a leader with nothing to send may
cause (heartbeats and their replies; the reference needs 20)."""
MESSAGES_PER_ENTRY = 3
"""Messages between servers per follower per committed entry, beyond the heartbeats' share."""
LOG_BOUND = 48 << 10
"""Bytes of memory and disk together a server may hold in part D's tests, where the state
machine takes a snapshot every 20 entries or so: the reference holds a few KiB, a log that is
never cut holds hundreds (every test of part D commits thousands of entries)."""

# -- safety ---------------------------------------------------------------------------------

ELECTION_SAFETY = at_most_one_per(
    "election safety", "at most one leader per term",
    log_matches(r"^raft leader term=(?P<term>\d+)", term=int), per="term")


def _applied(event: Event) -> dict[str, object] | None:
    if event.get("type") != "log":
        return None
    m = APPLY.match(str(event.get("text", "")))
    if m is None:
        return None
    return {"node": event.get("node"), "index": int(m[1]), "entry": f"{m[3]} (term {m[2]})"}


STATE_MACHINE_SAFETY = all_agree(
    "state machine safety", "every node applies the same entry (command and term) at each index",
    _applied, at="index", value="entry")


_ELECTED = log_matches(r"^raft leader term=(?P<term>\d+) last_index=(?P<i>-?\d+) last_term=(?P<lt>-?\d+)",
                       term=int, i=int, lt=int)


def _leader_completeness(trace: Sequence[Event]) -> Iterator[Violation]:
    """A leader of term T holds every entry committed before it was elected with a term < T,
    so its last entry is at least as up to date as each of them."""
    applied = [(i, m) for i, e in enumerate(trace) if (m := _applied(e)) is not None]
    first: dict[int, tuple[int, int, Event]] = {}  # index -> (position, term, event)
    for pos, m in applied:
        index = int(str(m["index"]))
        if index not in first:
            term = int(str(m["entry"]).rsplit("(term ", 1)[1].rstrip(")"))
            first[index] = (pos, term, trace[pos])
    for pos, e in enumerate(trace):
        fields = _ELECTED(e)
        if fields is None:
            continue
        term, last = int(fields["term"]), (int(fields["lt"]), int(fields["i"]))
        missing = [(index, t, ev) for index, (p, t, ev) in first.items()
                   if p < pos and t < term and (t, index) > last]
        if missing:
            index, t, ev = max(missing)
            yield Violation(f"{e['node']} was elected for term {term} with last entry (index {last[1]}, "
                            f"term {last[0]}), but index {index} (term {t}) had been committed before: "
                            "it cannot hold it (is the candidate's log checked to be up to date?)", (ev, e))


LEADER_COMPLETENESS = Invariant(
    "leader completeness", "a new leader holds every entry committed before its election",
    _leader_completeness)

SAFETY = (ELECTION_SAFETY, STATE_MACHINE_SAFETY, LEADER_COMPLETENESS)


def _safety_check(invariant: Invariant) -> Check:
    inner = as_check(invariant)

    def check(run: RunResult) -> list[Finding]:
        return inner(run)[:3]

    check.__doc__ = inner.__doc__
    return check


def leader_commits_only_through_its_term(run: RunResult) -> list[Finding]:
    """The commitment rule of Figure 8: a leader of term U counts replicas only for entries of
    term U. So when a leader applies an entry of an earlier term that nobody had committed
    before its election, it applies, in the same step, an entry of term U at or after it."""
    v = parse_run(run)
    first: dict[int, float] = {}
    for a in v.applies:
        first.setdefault(a.index, a.t)
    elected = {(e.node, e.term): e.t for e in v.elected}
    by_step: dict[tuple[str, int], list[int]] = {}
    for a in v.applies:
        by_step.setdefault((a.node, a.step), []).append(a.index)
    terms = {(a.node, a.life, a.index): a.term for a in v.applies}
    for a in v.applies:
        term, role = v.state_at(a.node, a.t)
        if role != "leader" or a.term >= term or first[a.index] < elected.get((a.node, term), a.t):
            continue
        step = by_step[(a.node, a.step)]
        if any(i >= a.index and terms.get((a.node, a.life, i)) == term for i in step):
            continue
        return [Finding(f"{a.node}, leader of term {term}, committed index {a.index} of term {a.term} at "
                        f"t={a.t:.3f} without an entry of term {term} after it: an entry of an earlier "
                        "term may be committed only by committing one of the current term (the "
                        "Figure 8 scenario: a later leader could still overwrite it)",
                        describe_event(a.event, a.pos + 1))]
    return []


# -- elections ------------------------------------------------------------------------------


def leader_when_majority_connected(run: RunResult) -> list[Finding]:
    """Whenever a majority of servers is up and can all talk to each other for LEADER_BOUND
    seconds, one of them is, at some moment of that time, a leader of the highest term among
    them."""
    v = parse_run(run)
    times = sorted({t for changes in v.states.values() for t, _, _ in changes})
    for i, net in enumerate(v.networks):
        until = v.networks[i + 1].t if i + 1 < len(v.networks) else v.end
        if until - net.t < LEADER_BOUND:
            continue
        deadline = net.t + LEADER_BOUND
        moments = [net.t] + [t for t in times if net.t < t <= deadline]
        for group in v.connected_majorities(net):
            if not any(_leads(v, group, t) for t in moments):
                return [Finding(f"no leader among {', '.join(sorted(group))} within {LEADER_BOUND} s, "
                                f"though they were up and connected from t={net.t:.3f} "
                                f"to t={until:.3f}{_election_evidence(v, group, net.t, deadline)}",
                                _states_text(v, group, net.t, deadline))]
    return []


SPLIT = 0.005
"""Seconds within which two servers standing for the same term stood "together"."""


def _election_evidence(v: RaftRun, group: frozenset[str], start: float, end: float) -> str:
    """What the servers' elections in ``[start, end]`` say about why none won, as the end of a
    finding's line: nothing when they say nothing clear."""
    stood: dict[int, list[float]] = {}  # term -> when each server stood for it
    for node in group:
        for t, term, role in v.states.get(node, []):
            if role == "candidate" and start <= t <= end:
                stood.setdefault(term, []).append(t)
    if not stood:
        return ": no server among them stood for election (does a follower that hears no leader stand?)"
    together = [term for term, times in stood.items() if len(times) > 1 and max(times) - min(times) <= SPLIT]
    if len(together) >= 2:
        return (f": in {len(together)} of {len(stood)} elections, two or more servers stood for the same "
                f"term within {SPLIT * 1000:g} ms of each other and split the vote (are election timeouts random?)")
    return ""


def _leads(v: RaftRun, group: frozenset[str], t: float) -> bool:
    states = {n: v.state_at(n, t) for n in group}
    top = max(term for term, _ in states.values())
    return any(role == "leader" and term == top for term, role in states.values())


def _states_text(v: RaftRun, group: frozenset[str], a: float, b: float) -> str:
    rows = [f"t={t:.3f}  {n}  term {term}  {role}" for n in sorted(group)
            for t, term, role in v.states.get(n, []) if a - 1.0 <= t <= b]
    return "\n".join(sorted(rows)[:40])


def one_election_when_nothing_fails(run: RunResult) -> list[Finding]:
    """On a network that loses nothing and with no faults, once a leader is elected nobody
    stands for election again: heartbeats keep every follower quiet."""
    v = parse_run(run)
    if not v.elected:
        return [Finding("no leader was ever elected")]
    first = v.elected[0]
    later = [(t, n, term, role) for n, changes in v.states.items() for t, term, role in changes
             if t > first.t and role == "candidate"]
    if later:
        t, n, term, _ = min(later)
        return [Finding(f"{n} stood for election in term {term} at t={t:.3f}, though {first.node} "
                        f"had been leader since t={first.t:.3f} and nothing failed (are heartbeats "
                        "sent often enough, and do they reset the election timer?)")]
    return []


def no_leader_without_majority(run: RunResult) -> list[Finding]:
    """A node becomes leader only if it could reach a majority while it was a candidate."""
    v = parse_run(run)
    for e in v.elected:
        since = max((t for t, term, role in v.states.get(e.node, [])
                     if t <= e.t and role == "candidate" and term == e.term), default=e.t)
        if not v.reached_majority(e.node, since, e.t):
            return [Finding(f"{e.node} became leader of term {e.term} at t={e.t:.3f}, but since it "
                            f"stood at t={since:.3f} it could reach no majority of the "
                            f"{len(v.servers)} servers (does it count votes of the right term only, "
                            "and need a majority of all servers?)", describe_event(e.event, e.pos + 1))]
    return []


# -- agreement ------------------------------------------------------------------------------


def no_commit_without_majority(run: RunResult) -> list[Finding]:
    """An entry is first applied (committed) only by a node that could reach a majority since
    its command was submitted."""
    v = parse_run(run)
    seen: set[int] = set()
    for a in v.applies:
        if a.index in seen:
            continue
        seen.add(a.index)
        since = v.invoked.get(a.command, 0.0)
        if not v.reached_majority(a.node, since, a.t):
            return [Finding(f"{a.node} committed index {a.index} ({a.command}) at t={a.t:.3f}, but "
                            f"since it was submitted at t={since:.3f} it could reach no majority "
                            "(does the leader count only followers that stored the entry?)",
                            describe_event(a.event, a.pos + 1))]
    return []


def every_node_catches_up(run: RunResult) -> list[Finding]:
    """By the end, every server has applied (or installed a snapshot of) every entry committed
    a second before the end; when a leader is in office at the end, every entry it had applied
    a second before the end. (A new leader learns that entries of earlier terms are committed
    only when one of its own term is, the Figure 8 rule: with no client command after its
    election it rightly stays behind what an earlier leader committed, and so do its followers.)"""
    v = parse_run(run)
    progress = v.progress()
    lives = {n: max((life for _, m, life, _ in progress if m == n), default=-1) for n in v.servers}
    final = next((e for e in reversed(v.elected) if v.state_at(e.node, v.end) == (e.term, "leader")), None)
    committed = max((i for t, m, life, i in progress if t <= v.end - 1.0
                     and (final is None or (m == final.node and life == lives[m]))), default=0)
    if committed == 0:
        return []
    for n in v.servers:
        top = max((i for _, m, life, i in progress if m == n and life == lives[n]), default=0)
        if top < committed:
            return [Finding(f"{n} applied only up to index {top} by the end, though index {committed} "
                            f"was committed by t={v.end - 1.0:.3f} (does the leader send a lagging "
                            "follower what it misses, and the commit index?)")]
    return []


def commands_committed_where_acknowledged(run: RunResult) -> list[Finding]:
    """Each command whose client was told "applied at index i" is the entry applied at i."""
    v = parse_run(run)
    at: dict[int, str] = {}
    for a in v.applies:
        at.setdefault(a.index, a.command)
    for call, done in v.completed:
        if done.get("outcome") != "ok":
            continue
        for command, index in zip(call["value"], done["value"], strict=False):
            if at.get(int(index)) != command:
                return [Finding(f"operation #{call['index']}: {command} was reported applied at index "
                                f"{index}, where the log has {at.get(int(index))!r}")]
    return []


def client_operations_complete(share: float) -> Check:
    """At least ``share`` of the client operations are committed in time."""

    def check(run: RunResult) -> list[Finding]:
        v = parse_run(run)
        if not v.completed:
            return [Finding("no client operation ended at all")]
        ok = sum(1 for _, done in v.completed if done.get("outcome") == "ok")
        if ok >= share * len(v.completed):
            return []
        late = next(call for call, done in v.completed if done.get("outcome") != "ok")
        return [Finding(f"only {ok} of {len(v.completed)} client operations were committed in time "
                        f"({ok / len(v.completed):.0%}, expected at least {share:.0%}); the first not "
                        f"committed in time was started at t={late['t']:.3f} (does the leader replicate "
                        "and commit new entries?)")]

    check.__doc__ = f"At least {share:.0%} of the client operations are committed in time."
    return check


# -- snapshots (part D) ---------------------------------------------------------------------


def snapshots_match_the_log(run: RunResult) -> list[Finding]:
    """Every snapshot installed at index I holds exactly the commands committed at 1..I (its
    state is a hash of them): a snapshot sent with the wrong index, or taken from the wrong
    state, would make a node skip or repeat commands."""
    v = parse_run(run)
    commands: dict[int, str] = {}
    for a in v.applies:
        commands.setdefault(a.index, a.command)
    digests: dict[int, str] = {}
    digest, i = "", 0
    for install in sorted(v.installs, key=lambda x: x.index):
        while i < install.index and i + 1 in commands:
            i += 1
            digest = chain(digest, commands[i])
            digests[i] = digest
    for install in v.installs:
        expected = digests.get(install.index)
        if expected is not None and install.digest != expected:
            return [Finding(f"{install.node} installed a snapshot at index {install.index} (t={install.t:.3f}) "
                            "whose state is not that of the committed entries 1.."
                            f"{install.index} (did it send or keep a snapshot with another index's data?)",
                            describe_event(install.event, install.pos + 1))]
    first: dict[int, tuple[str, str]] = {}
    for install in v.installs:
        seen = first.setdefault(install.index, (install.node, install.digest))
        if seen[1] != install.digest:
            return [Finding(f"{seen[0]} and {install.node} installed different snapshots at index "
                            f"{install.index}: state machine safety", describe_event(install.event, install.pos + 1))]
    return []


def log_stays_bounded(run: RunResult) -> list[Finding]:
    """With snapshots, a server's memory and disk stay under LOG_BOUND bytes however many
    entries were committed: the log is cut at each snapshot, in memory and on disk.

    Where the grader runs each server in a process of its own, the memory is what that process
    holds, read from outside it: what counts is how much it grew since the first sample of its
    incarnation (a process starts with the runtime's own megabytes)."""
    v = parse_run(run)
    samples = [e for e in run.trace if e.get("type") == "memory" and e.get("node") in v.servers]
    if not samples:
        return [Finding("no memory samples in the trace: the test must set memory_every")]
    unread = unreadable_memory(samples)
    if unread:
        return unread
    incarnation: dict[str, int] = {}
    first: dict[tuple[str, int], int] = {}
    for e in run.trace:
        node = e.get("node")
        if e.get("type") in ("start", "restart") and node in v.servers:
            incarnation[node] = incarnation.get(node, 0) + 1
        if e.get("type") != "memory" or node not in v.servers:
            continue
        memory = int(e["bytes"])
        if e.get("of") == "process":
            memory -= first.setdefault((node, incarnation.get(node, 0)), memory)
        if memory + int(e["disk"]) > LOG_BOUND:
            entries = max((i for t, _, _, i in v.progress() if t <= float(e["t"])), default=0)
            held = (f"{node}'s process grew by {memory:,} bytes (measured from outside it) and it held"
                    if e.get("of") == "process" else f"{node} held {memory:,} bytes in memory and")
            return [Finding(f"{held} {int(e['disk']):,} on disk at t={float(e['t']):.1f} with {entries} entries "
                            f"committed; with snapshots it should hold under {LOG_BOUND >> 10} KiB (does "
                            "snapshot() cut the log up to its index, in memory and on disk?)")]
    return []


def messages_bounded(run: RunResult) -> list[Finding]:
    """Elections and replication do not flood the network: the first election takes at most
    ELECTION_MESSAGES per follower, and after it the servers send at most
    IDLE_MESSAGES_PER_SECOND per follower per second plus MESSAGES_PER_ENTRY per follower per
    committed entry."""
    v = parse_run(run)
    if not v.elected:
        return [Finding("no leader was ever elected")]
    followers = len(v.servers) - 1
    first = v.elected[0].t
    before = sum(1 for t, _, _ in v.server_sends if t <= first)
    if before > ELECTION_MESSAGES * followers:
        return [Finding(f"electing the first leader took {before} messages between servers; at most "
                        f"{ELECTION_MESSAGES * followers} may be needed (does a node stand again before "
                        "its timeout, or send its RequestVote more than once?)")]
    after = len(v.server_sends) - before
    entries = len({a.index for a in v.applies})
    allowed = int(IDLE_MESSAGES_PER_SECOND * followers * (v.end - first) + MESSAGES_PER_ENTRY * followers * entries)
    if after > allowed:
        return [Finding(f"{after} messages between servers after the first election for {entries} committed "
                        f"entries in {v.end - first:.1f} s; at most {allowed} may be needed (heartbeats "
                        f"at most every 0.1 s; new entries sent together, not one message each)")]
    return []


CHECKS: dict[str, Check] = {
    "no-node-errors": no_node_errors,
    "election-safety": _safety_check(ELECTION_SAFETY),
    "terms-never-go-back": terms_never_go_back,
    "followers-match-before-they-take": followers_match_before_they_take,
    "higher-term-makes-a-follower": higher_term_makes_a_follower,
    "leaders-step-down-only-for-higher-terms": leaders_step_down_only_for_higher_terms,
    "leaders-win-votes-of-their-term": leaders_win_votes_of_their_term,
    "state-machine-safety": _safety_check(STATE_MACHINE_SAFETY),
    "leader-completeness": _safety_check(LEADER_COMPLETENESS),
    "leader-commits-only-through-its-term": leader_commits_only_through_its_term,
    "leader-when-majority-connected": leader_when_majority_connected,
    "one-election-when-nothing-fails": one_election_when_nothing_fails,
    "no-leader-without-majority": no_leader_without_majority,
    "no-commit-without-majority": no_commit_without_majority,
    "every-node-catches-up": every_node_catches_up,
    "commands-committed-where-acknowledged": commands_committed_where_acknowledged,
    "every-operation-completes": client_operations_complete(1.0),
    "most-operations-complete": client_operations_complete(0.8),
    "far-behind-follower-catches-up-quickly": far_behind_follower_catches_up_quickly,
    "rejoined-servers-catch-up-quickly": rejoined_servers_catch_up_quickly,
    "backing-up-keeps-what-the-follower-holds": backing_up_keeps_what_the_follower_holds,
    "messages-bounded": messages_bounded,
    "snapshots-match-the-log": snapshots_match_the_log,
    "log-stays-bounded": log_stays_bounded,
    "linearizable-kv": linearizable_kv,
    "clerks-keep-asking": clerks_keep_asking,
    "most-kv-operations-complete": kv_operations_complete(0.8),
    "every-kv-operation-completes": kv_operations_complete(1.0),
    # Under heavy churn a leader exists only part of the time (on Ray a restart takes a new
    # process): a third still shows that clerks and leaders get through, while a server that
    # never answers gets none.
    "a-third-of-kv-operations-complete": kv_operations_complete(1 / 3),
}

GOALS: dict[str, Callable[[RunResult], bool]] = {
    "leader-elected": lambda run: bool(parse_run(run).elected),
    "command-applied": lambda run: bool(parse_run(run).applies),
}
"""States a staged search test may aim for first (``stages: [{goal: leader-elected, depth: 6}]``,
see ``autograder/suite.py``): a leader was elected; a server applied a command."""

DEFAULT_CHECKS: tuple[Check, ...] = (
    no_node_errors, CHECKS["election-safety"], CHECKS["state-machine-safety"],
    CHECKS["leader-completeness"], terms_never_go_back, higher_term_makes_a_follower,
    leader_when_majority_connected, every_node_catches_up,
)
"""What ``python -m labs run raft`` checks."""
