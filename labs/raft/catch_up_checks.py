"""Catching up: how many messages a server that fell behind needs from the leader (a few round
trips, not one per entry), and how far a leader backs up its next index for it.

On the second: a follower that applied the entries 1..H holds them for good (committed entries
are never cut, and while its disk is kept a restart does not lose them), and every leader holds
the same entries at the same indexes. When its log conflicts with the leader's, the conflict is at an
entry of the term of its entry at H or a later one (terms never decrease along a log), so the
backing up of section 5.3 of the Raft paper (skip to the first index the follower holds of the
conflicting term) never sends it an entry of an older term at or below H again. A leader that
does backs up by a rule that throws known agreement away: it starts over from a guess (index 1,
half its log) instead of from what the follower answered.
"""

from __future__ import annotations

import itertools

from labs.runtime.lab import Finding, RunResult

from .parse import RaftRun, message_entries, parse_run

CATCH_UP_MESSAGES = 20
"""After the final heal, at most this many messages from the leader (counted from its election,
if later) may reach a node before it holds every entry committed by then: a follower far behind
is brought up to date in a few round trips, not one per entry."""


def backing_up_keeps_what_the_follower_holds(run: RunResult) -> list[Finding]:
    """After the final heal, no leader sends a server an entry at or below the last index H it
    applied before the heal (with its disk kept since) whose term is older than that of its
    entry at H."""
    v = parse_run(run)
    heal = run.schedule.end()
    term_of: dict[int, int] = {}
    for a in v.applies:
        term_of.setdefault(a.index, a.term)
    held: dict[str, int] = {}
    lost_disk: dict[str, float] = {}  # the last crash of each server that lost its disk, before the heal
    for e in run.trace:
        if e.get("type") == "crash" and e.get("disk") != "keep" and float(e["t"]) <= heal:
            lost_disk[str(e.get("node"))] = float(e["t"])
    for a in v.applies:
        if a.t <= heal and a.t > lost_disk.get(a.node, -1.0):
            held[a.node] = max(held.get(a.node, 0), a.index)
    for e in run.trace:
        if e.get("type") == "crash" and e.get("disk") != "keep" and float(e["t"]) > heal:
            held.pop(str(e.get("node")), None)  # after the heal: it needs everything again
        if e.get("type") != "send" or e.get("msg") != "AppendEntries" or float(e["t"]) < heal:
            continue
        n, body = str(e.get("dst")), e.get("body")
        top = held.get(n, 0)
        if not top or top not in term_of or not isinstance(body, dict):
            continue
        prev = body.get("prev_log_index")
        if not isinstance(prev, int):
            continue
        for index in range(prev + 1, min(prev + len(message_entries(body)), top) + 1):
            if term_of.get(index, term_of[top]) < term_of[top]:
                return [Finding(f"at t={float(e['t']):.3f} the leader {e.get('node')} sent {n} the entries from index "
                                f"{prev + 1} on, though {n} had applied every entry up to {top} (of term "
                                f"{term_of[top]}) before the heal at t={heal:.3f}: the entry at {index} is of the "
                                f"older term {term_of[index]}, which a conflict never reaches back to (does the leader "
                                "set next_index from the follower's answer, to the first index it holds of the "
                                "conflicting term, rather than starting over?)")]
    return []


def backup_hint(run: RunResult, follower: str, leader: str | None, since: float, until: float) -> str:
    """Why a follower may have needed so many messages to catch up, read from its answers: if it
    rejected request after request with conflict indexes one apart, it names the index it was
    asked about instead of the first it holds of the conflicting term; otherwise the leader is
    asked whether it skips a whole term."""
    answers = [e["body"].get("conflict_index") for e in run.trace
               if e.get("type") == "send" and e.get("msg") == "AppendEntriesReply" and e.get("node") == follower
               and leader in (None, e.get("dst")) and since <= float(e["t"]) <= until
               and isinstance(e.get("body"), dict) and e["body"].get("success") is False]
    steps = [a - b for a, b in itertools.pairwise(answers) if isinstance(a, int) and isinstance(b, int)]
    if len(steps) >= 3 and sum(1 for s in steps if s == 1) * 2 >= len(steps):
        shown = ", ".join(str(a) for a in answers[:4])
        return (f"{follower} rejected {len(answers)} requests with conflict indexes one apart ({shown}, ...): "
                "does a follower answer with the first index it holds of the conflicting term, not the "
                "index it was asked about?")
    return "does the leader skip a whole conflicting term at once?"


def _catching_up(v: RaftRun, n: str, heal: float, done: float) -> tuple[str | None, float, int]:
    """The leader that caught ``n`` up by ``done`` (the last one elected by then), when its
    catching up began (the later of the heal and its election: an election after the heal is not
    the follower's catching up), and how many messages it sent ``n`` from then to ``done``."""
    leader = max((e for e in v.elected if e.t <= done), key=lambda e: e.t, default=None)
    since = heal if leader is None else max(heal, leader.t)
    sender = None if leader is None else leader.node
    received = sum(1 for t, src, dst in v.server_sends if dst == n and since <= t <= done and sender in (None, src))
    return sender, since, received


def far_behind_follower_catches_up_quickly(run: RunResult) -> list[Finding]:
    """After the final heal, each server holds every entry committed by then after at most
    CATCH_UP_MESSAGES messages have reached it (fast backup, not one entry per round trip)."""
    v = parse_run(run)
    heal = run.schedule.end()
    progress = v.progress()
    committed = max((i for t, _, _, i in progress if t <= heal), default=0)
    if committed == 0:
        return [Finding("nothing was committed before the final heal: the test shows nothing")]
    for n in v.servers:
        done = min((t for t, m, _, i in progress if m == n and i >= committed and t >= heal), default=None)
        if done is None:
            if any(m == n and i >= committed and t < heal for t, m, _, i in progress):
                continue  # it held everything already
            return [Finding(f"{n} never applied index {committed}, committed before the final heal at "
                            f"t={heal:.3f}")]
        sender, since, received = _catching_up(v, n, heal, done)
        if received > CATCH_UP_MESSAGES:
            return [Finding(f"{n} needed {received} messages from the leader {sender} (t={since:.3f} to "
                            f"{done:.3f}) to catch up to index {committed}; at most {CATCH_UP_MESSAGES} "
                            f"may be needed ({backup_hint(run, n, sender, since, done)})")]
    return []


def rejoined_servers_catch_up_quickly(run: RunResult) -> list[Finding]:
    """After every heal (not only the final one), each server that is up holds every entry
    committed by then after at most CATCH_UP_MESSAGES messages from the leader: an old leader
    that rejoins with a divergent tail, its log cut off by the others' snapshots, takes the
    leader's snapshot and throws its own entries away in a few messages."""
    v = parse_run(run)
    progress = v.progress()
    for heal in sorted({float(e["t"]) for e in run.trace if e.get("type") == "heal"}):
        committed = max((i for t, _, _, i in progress if t <= heal), default=0)
        if committed == 0:
            continue
        for n in v.servers:
            if n not in v.network_at(heal).up:
                continue  # down or paused: it catches up when it is back (every-node-catches-up)
            done = min((t for t, m, _, i in progress if m == n and i >= committed and t >= heal), default=None)
            if done is None:
                continue  # held everything already, or never caught up (every-node-catches-up)
            sender, since, received = _catching_up(v, n, heal, done)
            if received <= CATCH_UP_MESSAGES:
                continue
            ignored = [e for e in run.trace if e.get("type") == "send" and e.get("msg") == "InstallSnapshot"
                       and e.get("dst") == n and since <= float(e["t"]) < done and sender in (None, e.get("node"))]
            hint = ("it was sent the leader's snapshot up to index "
                    f"{ignored[0]['body'].get('last_included_index')} at t={float(ignored[0]['t']):.3f} and did "
                    "not install it: does a follower whose log reaches a snapshot's last index, with an entry of "
                    "another term there, throw its log away and install the snapshot?"
                    if ignored and isinstance(ignored[0].get("body"), dict)
                    else "does the leader skip a whole conflicting term at once?")
            return [Finding(f"after the heal at t={heal:.3f}, {n} needed {received} messages from the leader "
                            f"{sender} (t={since:.3f} to {done:.3f}) to catch up to index {committed}; at most "
                            f"{CATCH_UP_MESSAGES} may be needed ({hint})")]
    return []
