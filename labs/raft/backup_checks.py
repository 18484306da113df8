"""How far a leader backs up a follower's next index: never past what the follower must hold.

A follower that applied the entries 1..H holds them for good (committed entries are never cut,
and while its disk is kept a restart does not lose them), and every leader holds the same
entries at the same indexes. When its log conflicts with the leader's, the conflict is at an
entry of the term of its entry at H or a later one (terms never decrease along a log), so the
backing up of section 5.3 of the Raft paper (skip to the first index the follower holds of the
conflicting term) never sends it an entry of an older term at or below H again. A leader that
does backs up by a rule that throws known agreement away: it starts over from a guess (index 1,
half its log) instead of from what the follower answered.
"""

from __future__ import annotations

import itertools
from typing import Any

from labs.runtime.lab import Finding, RunResult

from .parse import parse_run


def _entries(body: dict[str, Any]) -> list[Any]:
    entries = body.get("entries")
    if isinstance(entries, dict):  # a tuple, as the trace writes it
        entries = entries.get("@tuple")
    return entries if isinstance(entries, list) else []


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
        for k, _ in enumerate(_entries(body)):
            index = prev + 1 + k
            if index > top:
                break
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
