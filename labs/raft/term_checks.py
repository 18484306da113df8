"""Checks on terms, the Raft lab's invariants over every run (the suite's ``every_test``).

Figure 2's rules for all servers say three things about a server's current term that hold at
every moment of every run, whatever the schedule, and its rules for candidates a fourth:

* it never goes back, a restart included: the term is on disk before the server answers anyone;
* a server that handles a message carrying a higher term than its own is, when the handler
  returns, a follower of that term;
* a leader stays leader of its term until it crashes or learns of a higher term: nothing of its
  own term or older (a late reply, a vote from a past election) makes it step down;
* a server becomes leader of a term only with votes granted in that term by a majority.

All four are read from the trace: the harness's ``raft state`` lines (written after every handler,
see :mod:`.harness`) and the messages' own ``term`` fields, which the handout keeps in every
message between servers. A message without a ``term`` field is passed over.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from labs.runtime.lab import Finding, RunResult

from .parse import STATE, parse_run

HANDLER_BEGINS = ("deliver", "timer_fire", "start", "restart", "crash")
"""Trace events after which a server's earlier handler is over."""


def server_events(run: RunResult, servers: set[str]) -> Iterator[tuple[dict[str, Any], Any, str, Any]]:
    """The trace's events of servers as ``(event, type, server, delivered)``: ``delivered`` is
    the body of the message a ``deliver`` event hands over, if a server sent it, else None."""
    bodies: dict[Any, Any] = {}  # message id -> body, for messages between servers
    for e in run.trace:
        kind, node = e.get("type"), str(e.get("node"))
        if kind == "send" and node in servers and e.get("dst") in servers:
            bodies[e.get("id")] = e.get("body")
        if node in servers:
            yield e, kind, node, bodies.get(e.get("id")) if kind == "deliver" else None


def terms_never_go_back(run: RunResult) -> list[Finding]:
    """A server's current term never decreases, across restarts too."""
    v = parse_run(run)
    for node in v.servers:
        top, since, restarted = 0, 0.0, False
        for t, term, role in v.states.get(node, []):
            if role == "down":
                restarted = True
                continue
            if term < top:
                why = (f"after a restart: is the current term on disk before {node} answers anyone?"
                       if restarted else "within one life of the server")
                return [Finding(f"{node}'s term went back from {top} (t={since:.3f}) to {term} at t={t:.3f}, "
                                f"{why}")]
            if term > top:
                top, since, restarted = term, t, False
    return []


def higher_term_makes_a_follower(run: RunResult) -> list[Finding]:
    """A server that handles a message of a higher term than its own is a follower of that term
    when the handler returns."""
    servers = set(parse_run(run).servers)
    state: dict[str, tuple[int, str]] = {}  # server -> (term, role) as last written
    waiting: dict[str, tuple[int, dict[str, Any], Any]] = {}  # server -> (term, deliver event, body)

    def handler_over(node: str) -> Finding | None:
        if node not in waiting:
            return None
        term, event, body = waiting.pop(node)
        now = state.get(node, (0, "follower"))
        if now == (term, "follower"):
            return None
        return Finding(f"{node} handled {body.get('@type', 'a message')} of term {term} from {event.get('src')} "
                       f"at t={float(event.get('t', 0.0)):.3f} while its own term was lower, and was then "
                       f"{now[1]} of term {now[0]}: a higher term makes a server a follower of that term "
                       "before anything else")

    for e, kind, node, delivered in server_events(run, servers):
        if kind == "crash" and e.get("reason") == "error":
            waiting.pop(node, None)  # its handler raised: no_node_errors says so
        if kind in HANDLER_BEGINS:
            found = handler_over(node)
            if found is not None:
                return [found]
            if kind == "crash":
                state.pop(node, None)  # its next life writes its state again
        if kind == "log" and (m := STATE.match(str(e.get("text", "")))) is not None:
            state[node] = (int(m[1]), m[2])
        elif kind == "deliver":
            term = delivered.get("term") if isinstance(delivered, dict) else None
            if type(term) is int and node in state and term > state[node][0]:
                waiting[node] = (term, e, delivered)
    for node in list(waiting):
        found = handler_over(node)
        if found is not None:
            return [found]
    return []


def leaders_step_down_only_for_higher_terms(run: RunResult) -> list[Finding]:
    """A leader stays leader until it crashes or its term rises: no message of its own term or
    older (a late reply, a vote from a past election) makes it a follower, and it never becomes
    a candidate without a new term. (Stepping down on a timer, when no majority has answered for
    a while, is allowed: the Raft thesis's check-quorum does that.)"""
    servers = set(parse_run(run).servers)
    state: dict[str, tuple[float, int, str]] = {}  # server -> (since, term, role) as last written
    cause: dict[str, dict[str, Any]] = {}  # server -> the event its running handler began with
    for e in run.trace:
        kind, node = e.get("type"), str(e.get("node"))
        if node not in servers:
            continue
        if kind in HANDLER_BEGINS:
            cause[node] = e
            if kind == "crash":
                state.pop(node, None)
        if kind != "log" or (m := STATE.match(str(e.get("text", "")))) is None:
            continue
        t, term, role = float(e.get("t", 0.0)), int(m[1]), m[2]
        before = state.get(node)
        state[node] = (t, term, role) if before is None or (term, role) != before[1:] else before
        if before is None or before[2] != "leader" or role == "leader" or term > before[1]:
            continue
        by = cause.get(node, {})
        if role == "follower" and by.get("type") != "deliver":
            continue
        what = (f"on handling a message from {by.get('src')} at t={float(by.get('t', t)):.3f}"
                if by.get("type") == "deliver" else f"at t={t:.3f}")
        return [Finding(f"{node} was leader of term {before[1]} (from t={before[0]:.3f}) and became {role} of "
                        f"term {term} {what}, without learning of a higher term: a leader steps down only "
                        "for a higher term (does a late reply of an older term, or a vote from a past "
                        "election, make it step down?)")]
    return []


def leaders_win_votes_of_their_term(run: RunResult) -> list[Finding]:
    """A server becomes leader of a term only with votes granted in that term by a majority
    (itself included): a vote granted in an earlier election, arriving late, counts for nothing.
    Read from the RequestVoteReply messages delivered to it in its current life; a server that
    was granted no vote of another term either is passed over (it may count votes some other way)."""
    v = parse_run(run)
    servers = set(v.servers)
    majority = len(v.servers) // 2 + 1
    granted: dict[str, dict[int, set[str]]] = {}  # server -> term -> voters, in its current life
    state: dict[str, tuple[int, str]] = {}
    for e, kind, node, delivered in server_events(run, servers):
        if kind in ("crash", "restart"):
            granted.pop(node, None)
            state.pop(node, None)
        elif kind == "deliver":
            body = delivered
            if (isinstance(body, dict) and body.get("@type") == "RequestVoteReply" and body.get("vote_granted") is True
                    and type(body.get("term")) is int):
                granted.setdefault(node, {}).setdefault(body["term"], set()).add(str(e.get("src")))
        elif kind == "log" and (m := STATE.match(str(e.get("text", "")))) is not None:
            term, role = int(m[1]), m[2]
            before, state[node] = state.get(node), (term, role)
            if role != "leader" or before == (term, "leader"):
                continue
            votes = granted.get(node, {})
            mine = votes.get(term, set()) - {node}
            stale = sorted((t, sorted(voters)) for t, voters in votes.items() if t < term)
            if len(mine) + 1 < majority and stale:
                shown = "; ".join(f"term {t} by {', '.join(voters)}" for t, voters in stale[-3:])
                return [Finding(f"{node} became leader of term {term} at t={float(e['t']):.3f} with votes of term "
                                f"{term} from {', '.join(sorted(mine)) or 'nobody else'} only (a majority of "
                                f"{len(v.servers)} servers is {majority}, itself included); it had been granted "
                                f"votes in earlier elections ({shown}): a vote counts only in the term it was "
                                "granted in")]
    return []
