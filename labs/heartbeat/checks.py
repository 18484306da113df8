"""What the heartbeat lab's tests check, each reading a finished run (its trace) only.

Each answer the clerks got is judged against what really happened to the members, which the
trace knows and the monitor does not: when each member was down (crashed and not yet restarted),
paused, or cut off from the monitor by a partition. An answer is computed at some moment between
its question and its reply, so a claim holds only when it holds for that whole span:

* **complete**: a member down since long enough before the question (``TIMEOUT`` and a margin
  for messages still in flight, after both its crash and the monitor's own last start) must be in
  the answer;
* **accurate**: a member that was up, running and connected to the monitor for ``TIMEOUT``
  before the question and until the reply must not be: ten heartbeats in a row would have had to
  be lost.

Anything in between (a member crashed a moment ago, a paused one) may be answered either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from labs.checkers import pair_trace_calls
from labs.runtime.lab import Check, Finding, RunResult, no_node_errors
from labs.runtime.trace import Event

from .node import MONITOR, RETRY, TIMEOUT

MARGIN = 0.1
"""Seconds allowed for heartbeats already in flight and for the monitor's view to catch up."""


@dataclass
class Member:
    """When one member was down, paused or cut off from the monitor: lists of [start, end)."""

    down: list[list[float]] = field(default_factory=list)
    unheard: list[list[float]] = field(default_factory=list)
    """Down, paused, cut off, or the monitor paused: times when the monitor could not hear it."""


@dataclass(frozen=True)
class Answer:
    client: str
    asked: float
    answered: float
    members: tuple[str, ...]


def members(run: RunResult) -> dict[str, Member]:
    """What happened to each member, from the trace's faults (open spans end at the run's end).

    A member is unheard while any cause holds: it is down, it is paused, it is cut off from the
    monitor, or the monitor itself is paused; each cause is followed on its own, so that one ending
    (a restart while the partition still holds) never hides another."""
    names = [n for n in run.lab.node_names() if n != MONITOR]
    out = {name: Member() for name in names}
    causes: dict[str, set[str]] = {name: set() for name in names}
    end = max((e["t"] for e in run.trace if "t" in e), default=0.0)
    for e in run.trace:
        kind, node, t = e["type"], e.get("node"), e.get("t", 0.0)
        before = {name: bool(c) for name, c in causes.items()}
        if node in out and kind == "crash":
            causes[node].discard("paused")  # a restart is a new process, not a resumed one
            causes[node].add("down")
            _open(out[node].down, t)
        elif node in out and kind == "restart":
            causes[node].discard("down")
            _close(out[node].down, t)
        elif kind in ("pause", "resume") and (node in out or node == MONITOR):
            cause = "monitor paused" if node == MONITOR else "paused"
            for name in names if node == MONITOR else [str(node)]:
                (causes[name].add if kind == "pause" else causes[name].discard)(cause)
        elif kind in ("partition", "heal"):
            blocked = {(a, b) for a, b in e.get("blocked", [])} if kind == "partition" else set()
            for name in names:
                (causes[name].add if (name, MONITOR) in blocked else causes[name].discard)("cut")
        for name, was in before.items():
            if bool(causes[name]) != was:
                (_open if causes[name] else _close)(out[name].unheard, t)
    for member in out.values():
        for spans in (member.down, member.unheard):
            if spans and len(spans[-1]) == 1:
                spans[-1].append(end)
    return out


def _open(spans: list[list[float]], t: float) -> None:
    if not spans or len(spans[-1]) == 2:
        spans.append([t])


def _close(spans: list[list[float]], t: float) -> None:
    if spans and len(spans[-1]) == 1:
        spans[-1].append(t)


def answers(trace: Sequence[Event]) -> list[Answer]:
    """Every question that got an answer, with its times, in the order the answers came."""
    out: list[Answer] = []
    for asked, done in pair_trace_calls(trace):
        if done is not None and done.get("outcome") == "ok":
            value = done.get("value")
            listed = tuple(str(m) for m in value) if isinstance(value, list) else ("(not a list)",)
            out.append(Answer(done["node"], asked["t"], done["t"], listed))
    return out


def monitor_started(run: RunResult) -> list[float]:
    return [e["t"] for e in run.trace if e.get("node") == MONITOR and e["type"] in ("start", "restart")]


def _covers(spans: list[list[float]], start: float, end: float) -> bool:
    return any(a <= start and end <= b for a, b in spans)


def _touches(spans: list[list[float]], start: float, end: float) -> bool:
    return any(a < end and start < b for a, b in spans)


def crashed_members_suspected(run: RunResult) -> list[Finding]:
    """Every answer names the members that had been down long enough before it was asked for."""
    found = members(run)
    starts = monitor_started(run)
    for a in answers(run.trace):
        since = max((t for t in starts if t <= a.asked), default=0.0)
        for name, m in found.items():
            settled = a.asked - TIMEOUT - MARGIN
            if name not in a.members and since <= settled and _covers(m.down, settled, a.answered):
                crash = next(s[0] for s in m.down if s[0] <= settled <= s[1])
                return [Finding(f"{a.client} asked at {a.asked:.3f} and was told {list(a.members)}, without "
                                f"{name}, down since {crash:.3f} ({a.asked - crash:.2f} s before the question, "
                                f"more than TIMEOUT = {TIMEOUT} s): does the monitor suspect silent members?")]
    return []


def living_members_trusted(run: RunResult) -> list[Finding]:
    """No answer names a member that was up and reachable the whole time before and during it."""
    found = members(run)
    for a in answers(run.trace):
        for name in a.members:
            m = found.get(name)
            if m is None:
                return [Finding(f"{a.client} was told {list(a.members)} at {a.answered:.3f}: {name!r} is not "
                                f"a member (the members are {', '.join(found)})")]
            if not _touches(m.unheard, a.asked - TIMEOUT, a.answered):
                return [Finding(f"{a.client} asked at {a.asked:.3f} and was told {list(a.members)}, but {name} "
                                f"was up and reachable from {a.asked - TIMEOUT:.3f} on, sending a heartbeat every "
                                "INTERVAL: does the monitor forget a member's last heartbeat, or suspect too soon?")]
    return []


def answers_arrive(run: RunResult) -> list[Finding]:
    """At least 90% of the questions get an answer (the clerk asks again until one comes)."""
    asked = sum(1 for e in run.trace if e["type"] == "invoke")
    got = len(answers(run.trace))
    if asked and got >= 0.9 * asked:
        return []
    return [Finding(f"{got} of {asked} questions got an answer: does the clerk ask again after RETRY "
                    "seconds when the question or its answer is lost?")]


@dataclass
class _Asking:
    """One clerk operation as the trace shows it: the questions it sent, by (client, seq)."""

    index: int
    invoked: float
    asked: dict[tuple[str, int], float] = field(default_factory=dict)
    """Each question (client, seq) this operation sent, with when it was first sent."""
    last: dict[tuple[str, int], float] = field(default_factory=dict)
    """When each question was last sent."""


def _question(body: object) -> tuple[str, int] | None:
    if isinstance(body, dict) and isinstance(body.get("client"), str) and isinstance(body.get("seq"), int):
        return body["client"], body["seq"]
    return None


def _named(q: tuple[str, int]) -> str:
    return f"question {q[1]} of {q[0]}"


def questions_asked_right(run: RunResult) -> list[Finding]:
    """Each operation asks its own question (a (client, seq) no other operation used), asks it
    again no faster than every RETRY seconds, and stops asking once the answer came."""
    # Ray stamps a node's sends on its host and the completions in the driver: allow for that.
    slack = 0.0 if run.runtime == "sim" else 0.05
    clerks = set(run.lab.client_names())
    running: dict[str, _Asking] = {}
    owner: dict[tuple[str, int], tuple[str, _Asking]] = {}  # question -> (node, its operation)
    ended: dict[tuple[str, int], float] = {}  # question -> when its operation ended
    for e in run.trace:
        kind, node = e["type"], e.get("node")
        if node not in clerks:
            continue
        t = float(e.get("t", 0.0))
        if kind == "invoke":
            running[node] = _Asking(int(e["index"]), t)
        elif kind == "complete":
            op = running.pop(node, None)
            if op is not None:
                for question in op.asked:
                    ended[question] = t
        elif kind == "send" and e.get("msg") == "WhoIsDown":
            q = _question(e.get("body"))
            if q is None:
                continue
            op = running.get(node)
            if op is None:
                done = ended.get(q)
                if done is not None and t > done + slack:
                    return [Finding(f"{node} sent {_named(q)} again at {t:.3f}, after that question's operation "
                                    f"had ended at {done:.3f}: does the clerk stop asking once it has its answer "
                                    "(or a reminder of an old question keep asking)?")]
                continue
            first = owner.setdefault(q, (node, op))
            if first[1] is not op:
                return [Finding(f"{node} sent {_named(q)} for its operation invoked at {op.invoked:.3f}, but "
                                f"the operation invoked at {first[1].invoked:.3f} had already asked that very "
                                "question: each question needs a number of its own, or a late answer to the "
                                "first is taken for the answer to the second")]
            before = op.last.get(q)
            if before is not None and t - before < 0.8 * RETRY - slack:
                return [Finding(f"{node} sent {_named(q)} at {before:.3f} and again at {t:.3f}, "
                                f"{t - before:.3f} s later, sooner than RETRY = {RETRY} s: does each question "
                                "keep one reminder only (an old question's reminder must not ask the new one)?")]
            op.asked.setdefault(q, t)
            op.last[q] = t
    return []


def answer_is_to_this_question(run: RunResult) -> list[Finding]:
    """An operation completes with an answer to a question it asked itself, never with a late or
    duplicated answer to an earlier question (of this clerk, or of the clerk it replaced).

    The simulator records the message a node handled right before the completion it caused; a
    Ray trace mixes the hosts' and the driver's stamps, so there the check has nothing to go on."""
    if run.runtime != "sim":
        return []
    clerks = set(run.lab.client_names())
    running: dict[str, _Asking] = {}
    sent: dict[int, tuple[str, float, object]] = {}  # message id -> (type, when, body)
    asked_at: dict[tuple[str, int], float] = {}
    handled: dict[str, Event] = {}  # node -> the last event it handled
    for e in run.trace:
        kind, node = e["type"], e.get("node")
        if kind == "send" and e.get("msg") in ("Suspects", "WhoIsDown"):
            sent[int(e["id"])] = (str(e["msg"]), float(e["t"]), e.get("body"))
            q = _question(e.get("body"))
            if e["msg"] == "WhoIsDown" and q is not None:
                asked_at.setdefault(q, float(e["t"]))
        if node not in clerks:
            continue
        if kind == "invoke":
            running[node] = _Asking(int(e["index"]), float(e["t"]))
            handled[node] = e
        elif kind in ("deliver", "timer_fire", "start"):
            handled[node] = e
        elif kind == "send" and e.get("msg") == "WhoIsDown" and node in running:
            q = _question(e.get("body"))
            if q is not None:
                running[node].asked.setdefault(q, float(e["t"]))
        elif kind == "complete":
            op = running.pop(node, None)
            cause = handled.get(node)
            if op is None or e.get("outcome") != "ok" or cause is None or cause["type"] != "deliver":
                continue
            msg, when, body = sent.get(int(cause["id"]), ("", 0.0, None))
            q = _question(body)
            if msg != "Suspects" or q is None or q in op.asked:
                continue
            mine = ", ".join(_named(a) for a in op.asked) or "no question yet"
            earlier = asked_at.get(q)
            origin = f" (asked at {earlier:.3f})" if earlier is not None else ""
            return [Finding(f"{node}'s operation invoked at {op.invoked:.3f} asked {mine}, but it completed at "
                            f"{float(e['t']):.3f} with the monitor's answer to {_named(q)}{origin}, sent at "
                            f"{when:.3f}: a late or duplicated answer to an earlier question was taken for "
                            "this one; take only an answer whose client and seq are this question's")]
    return []


CHECKS: dict[str, Check] = {
    "no-node-errors": no_node_errors,
    "answers-arrive": answers_arrive,
    "crashed-members-suspected": crashed_members_suspected,
    "living-members-trusted": living_members_trusted,
    "questions-asked-right": questions_asked_right,
    "answer-is-to-this-question": answer_is_to_this_question,
}
"""The checks a suite may name, by the name it uses."""
