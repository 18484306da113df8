"""Chapter 4's live demos: the Raft lab's servers under schedules that tell the chapter's
stories, and readings of their traces.

The demos run the lab's own ``RaftNode`` from ``labs/raft/node.py``. In the course's copy that is
the reference solution. In a student's copy it is the student's own code: until it works, its
servers crash with "not implemented yet" (:func:`run` says so, the pictures show the crashes and
the tables come out empty), and the course site shows the same demos run on the reference.

Everything measured here is read from what the lab's harness writes into the trace, never from
the node's own messages, so it reads any implementation: the ``raft state``, ``raft leader`` and
``raft apply`` lines (through :mod:`labs.raft.timeline`) and the harness's client messages
(``SubmitReply``: the index and term a leader gave a command).

* :func:`raft_lab` and :func:`run`: a cluster of the lab's servers and clerks, and a run of it
  in the simulator;
* schedules: :func:`quiet`, :func:`majority_story`, :func:`leader_cut_off`,
  :func:`leader_crash`, :func:`unreliable`, :func:`figure8` and :func:`forgetful_voter`;
* readings: :func:`leader_at`, :func:`terms`, :func:`phases`, :func:`accepted`, :func:`fates`,
  :func:`repair`, :func:`contested_index`, :func:`index_story`, :func:`recovery`,
  :func:`committed_twice`, :func:`verdicts`, :func:`first_elections`;
* knobs: :func:`election_timeout` (the range the lab's node draws its timeouts from) and
  :func:`with_commit_rule` (the lab's node with another rule for advancing its commit index).
"""

from __future__ import annotations

import dataclasses
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import labs.raft.node as lab_node
from labs.raft import LAB
from labs.raft.checks import CHECKS
from labs.raft.node import RaftNode
from labs.raft.timeline import RaftTimeline, read_timeline
from labs.raft.workloads import WORKLOADS
from labs.runtime.lab import Lab, RunResult, no_node_errors
from labs.runtime.run import run as run_lab
from labs.runtime.schedule import Schedule, builder

from .charts import Table, table_of

DELAYS = (0.001, 0.01)
"""Seconds a message takes on the demos' networks (uniform): a LAN, give or take."""
SERVERS = ("n1", "n2", "n3", "n4", "n5")


# -- clusters and runs --------------------------------------------------------------------------


def raft_lab(nodes: int = 5, clients: int = 3, think: float | None = None,
             node: type[RaftNode] | None = None, workload: str = "one-at-a-time") -> Lab:
    """The Raft lab with ``nodes`` servers and ``clients`` clerks, its servers running ``node``
    (default: the lab's own). Each clerk submits one command at a time (``workload=
    "one-at-a-time"``) or five to twenty at once (``"bursts"``), ``think`` seconds apart."""
    ops = LAB.workload
    if ops is not None:
        ops = dataclasses.replace(ops, generate=WORKLOADS[workload], clients=clients,
                                  think=ops.think if think is None else think)
    return dataclasses.replace(LAB, nodes=nodes, node=node or LAB.node,
                               workload=ops if clients else None,
                               clerk=LAB.clerk if clients else None)


def run(schedule: Schedule, seed: int = 1, nodes: int = 5, clients: int = 3,
        think: float | None = None, node: type[RaftNode] | None = None,
        workload: str = "one-at-a-time") -> RunResult:
    """One run in the simulator (see :func:`raft_lab`). When a server raised, says so: in a
    student's copy of the course, before the lab is done, that is "not implemented yet"."""
    result = run_lab(raft_lab(nodes, clients, think, node, workload), "sim", schedule, seed)
    problems = no_node_errors(result)
    if problems:
        print(f"(the servers of this run raised {len(result.errors)} times; first: {problems[0]}. "
              "The demos run labs/raft/node.py: the course site shows them on the reference.)")
    return result


def timeline(run: RunResult) -> RaftTimeline:
    """The run's Raft time line as data (what the picture's Raft views draw)."""
    return read_timeline(run.trace)


def leader_at(run: RunResult, t: float) -> str | None:
    """The server leading at ``t``: of those that believed they led, the one of the highest
    term (``None`` if nobody did)."""
    tl = timeline(run)
    acting = [(tl.role_at(n, t) or (0, ""))[0] for n in tl.leader_at(t)]
    return max(zip(acting, tl.leader_at(t), strict=True))[1] if acting else None


# -- schedules ----------------------------------------------------------------------------------


def quiet(duration: float = 3.0) -> Schedule:
    """Nothing fails; messages take 1 to 10 ms."""
    return builder("quiet", "Nothing fails.").delay(uniform=DELAYS).duration(duration).build()


MAJORITY_PHASES = ((0.0, 1.5, "all five together"), (1.5, 3.5, "n1 n2 | n3 n4 n5"),
                   (3.5, 5.5, "n1 | n2 | n3 | n4 n5"), (5.5, 8.5, "healed"))
"""The phases of :func:`majority_story`: (from, to, who can talk to whom)."""


def majority_story() -> Schedule:
    """Five servers split into two and three, then into groups none of which is a majority,
    then healed (see :data:`MAJORITY_PHASES`)."""
    return (builder("majorities", "Split 2|3, then no majority anywhere, then healed.")
            .delay(uniform=DELAYS)
            .at(1.5).partition(["n1", "n2"], ["n3", "n4", "n5"])
            .at(3.5).partition(["n1"], ["n2"], ["n3"], ["n4", "n5"])
            .at(5.5).heal()
            .duration(5.5).build())


def leader_cut_off(start: float = 1.5, end: float = 3.5) -> Schedule:
    """The leader is cut off from the other servers from ``start`` to ``end``, with clients c1
    and c2 still on its side: their commands reach a leader that can no longer commit anything,
    while c3's reach the new leader the others elect."""
    return (builder("leader-cut-off", "The leader, c1 and c2 are cut off from the rest.")
            .delay(uniform=DELAYS)
            .at(start).partition(["leader", "c1", "c2"], "rest")
            .at(end).heal()
            .duration(end + 1.0).build())


def leader_crash(start: float = 1.5, end: float = 3.0) -> Schedule:
    """The leader crashes at ``start`` and restarts with its disk at ``end``."""
    return (builder("leader-crash", "The leader crashes and later restarts with its disk.")
            .delay(uniform=DELAYS)
            .at(start).crash("leader", disk="keep")
            .at(end).restart("all")
            .duration(end + 1.0).build())


def unreliable(duration: float = 4.0) -> Schedule:
    """A network that loses one message in ten, duplicates some, and delays and reorders the
    rest (1 to 40 ms); the leader also crashes once."""
    return (builder("unreliable", "Loss, duplication, delay and reordering; one leader crash.")
            .loss(0.1).duplicate(0.05).delay(uniform=(0.001, 0.04))
            .at(1.5).crash("leader", disk="keep")
            .at(2.0).restart("all")
            .duration(duration).build())


FIGURE8_ROLES = {"S1": "n2", "S2": "n3", "S3": "n4", "S4": "n5", "S5": "n1"}
"""Who plays which server of the Raft paper's Figure 8 in :func:`figure8`. S5 is n1 because
the clerks try n1 first: in step (c) the clients must find S5 quickly."""


def figure8(clients: Sequence[str] = ("c1",)) -> Schedule:
    """The Raft paper's Figure 8, forced by crashes and partitions rather than by luck (the
    paper's S1..S5 are :data:`FIGURE8_ROLES`):

    * (a) n2 leads term 1 (the others start late, so that its election timer fires first) and
      commits some entries everywhere; then n4 and n5 crash, and later n1, so that n2's next
      entry reaches n3 only: on two servers of five, not committed.
    * (b) n2 and n3 crash. n1, n4 and n5 come back, cut off from the clients; n1's log is the
      longest of the three, so only n1 can be elected.
    * (c) n1 alone with the clients: it accepts new entries, at the same index as n2's
      uncommitted one, in its own term, and cannot replicate them.
    * (d) n1 crashes; n2 comes back with n4 and n5 (n2's log is the most up to date: it is
      elected), still cut off from the clients, and copies its old entry to n4 and n5: a
      majority holds it now. Is it committed?
    * (e) n2 crashes; n1 comes back, everything heals. n1's last entry has a later term than
      anyone's: only n1 can be elected, and it replaces that index with its own entry.
    """
    lo, hi = lab_node.ELECTION_TIMEOUT
    head_start = max(lo, hi - lo)  # n2's timer fires before any other's can
    late = [n for n in SERVERS if n != "n2"]
    b = builder("figure-8", "The Raft paper's Figure 8: S1..S5 are n2, n3, n4, n5, n1.")
    b.at(0.001)
    for n in late:
        b.crash(n, disk="keep")
    b.at(head_start)
    for n in late:
        b.restart(n)
    b.at(1.2).crash("n4").crash("n5")
    b.at(1.5).crash("n1")
    b.at(1.8).crash("n2").crash("n3").restart("n1").restart("n4").restart("n5")
    b.partition(["n1", "n4", "n5"], "rest")
    b.at(3.3).partition(["n1", *clients], "rest")
    b.at(5.5).crash("n1").restart("n2").partition(["n2", "n4", "n5"], "rest")
    b.at(8.0).crash("n2").restart("n1").heal()
    return b.duration(11.0).build()


def forgetful_voter(disk: str) -> Schedule:
    """Three servers. n1 is elected in term 1 with n2's vote (n2 and n3 start late, so that
    n1's timer fires first). At 1 s n2 crashes and n1 is cut off; at 1.1 s n2 restarts, with
    its disk (``disk="keep"``) or with an empty one (``"lose"``), and n3 with it: the two of
    them can elect a leader. Does n2 remember that it already voted in term 1?"""
    lo, hi = lab_node.ELECTION_TIMEOUT
    return (builder(f"forgetful-voter-{disk}", f"n2 votes in term 1, then restarts, disk {disk}.")
            .at(0.001).crash("n2").crash("n3")
            .at(max(lo, hi - lo)).restart("n2")
            .at(1.0).crash("n2", disk=disk).partition(["n1"], "rest")
            .at(1.1).restart("n2").restart("n3")
            .duration(3.0).build())


# -- knobs --------------------------------------------------------------------------------------


@contextmanager
def election_timeout(lo: float, hi: float) -> Iterator[None]:
    """Inside the ``with`` block, the lab's node draws its election timeouts from [lo, hi]
    (it reads ``ELECTION_TIMEOUT`` from its module each time it draws one). In this process
    only: simulated runs only."""
    saved = lab_node.ELECTION_TIMEOUT
    lab_node.ELECTION_TIMEOUT = (lo, hi)
    try:
        yield
    finally:
        lab_node.ELECTION_TIMEOUT = saved


CommitRule = Callable[[list[int], Callable[[int], int], int, int], int]
"""``rule(match, term_at, current_term, commit_index) -> new commit index``: ``match`` holds,
for every server (the leader included), the highest index known to be in its log as in the
leader's; ``term_at(i)`` is the term of the leader's entry ``i``."""


def counts_replicas(match: list[int], term_at: Callable[[int], int], current_term: int,
                    commit_index: int) -> int:
    """The tempting rule, and the Figure 8 bug: an entry is committed once a majority of the
    servers hold it, whatever its term."""
    ranked = sorted(match, reverse=True)
    return max(commit_index, ranked[len(match) // 2])


def with_commit_rule(rule: CommitRule) -> type[RaftNode]:
    """The lab's node with ``rule`` deciding its commit index. It replaces a method of the
    reference (``advance_commit``, which the leader calls whenever a follower's match index
    grows); a node that commits in a method of another name runs unchanged."""

    def advance(node: RaftNode) -> None:
        matched = [node.last_index(), *node.match_index.values()]
        chosen = rule(matched, node.term_at, node.current_term, node.commit_index)
        if chosen > node.commit_index:
            node.commit_index = chosen
            node.apply_committed()

    name = f"RaftNode committing by {rule.__name__}"
    return cast(type[RaftNode], type(name, (RaftNode,), {"advance_commit": advance, "__doc__": name}))


# -- readings -----------------------------------------------------------------------------------


def terms(run: RunResult, limit: int = 12) -> Table:
    """One row per term (the first ``limit``): who stood for election in it, who won, when,
    and with how many votes (counted from the servers' vote replies, when they are the lab's
    ``RequestVoteReply`` messages)."""
    tl = timeline(run)
    stood: dict[int, list[str]] = defaultdict(list)
    for node, stints in tl.stints.items():
        for s in stints:
            if s.role == "candidate" and node not in stood[s.term]:
                stood[s.term].append(node)
    votes: dict[tuple[int, str], int] = defaultdict(int)
    for e in run.trace:
        if e.get("type") == "send" and e.get("msg") == "RequestVoteReply":
            body = e.get("body") or {}
            if body.get("vote_granted"):
                votes[(int(body.get("term", 0)), str(e["dst"]))] += 1
    won = {e.term: e for e in tl.elections}
    rows = []
    for term in sorted(set(stood) | set(won))[:limit]:
        winner = won.get(term)
        rows.append({"term": term, "stood": " ".join(sorted(stood[term])) or "-",
                     "elected": winner.node if winner else "nobody",
                     "at (s)": round(winner.t, 3) if winner else None,
                     "votes from others": votes[(term, winner.node)] if winner else None})
    return table_of(rows, title="Elections, term by term")


def phases(run: RunResult, cuts: Sequence[tuple[float, float, str]]) -> Table:
    """Per phase (from, to, label): who acted as leader at some moment of it, and how many new
    entries the cluster committed (the highest index any server applied, at the end of the
    phase against its start)."""
    tl = timeline(run)
    rows = []
    for start, end, label in cuts:
        moments = sorted({start, *(s.start for st in tl.stints.values() for s in st if start < s.start < end)})
        led = sorted({f"{n} (term {(tl.role_at(n, t) or (0, ''))[0]})" for t in moments for n in tl.leader_at(t)})
        rows.append({"from (s)": start, "to (s)": end, "who can talk": label,
                     "acting as leader": ", ".join(led) or "nobody",
                     "entries committed": _top(tl, end) - _top(tl, start)})
    return table_of(rows, title="Who leads, and what gets committed, phase by phase")


def _top(tl: RaftTimeline, t: float) -> int:
    """The highest index any server had applied by ``t``."""
    return max((a.index or 0 for steps in tl.applied.values() for a in steps if a.t <= t), default=0)


@dataclasses.dataclass(frozen=True)
class Accepted:
    """A leader took ``command`` at ``index`` in ``term`` (it told the client so at ``t``)."""

    t: float
    leader: str
    index: int
    term: int
    command: str


def accepted(run: RunResult, leader: str | None = None, start: float = 0.0,
             end: float = float("inf")) -> list[Accepted]:
    """The commands a leader (any, or ``leader``) accepted from clients between ``start`` and
    ``end``, from the harness's replies to the clients."""
    out = []
    for e in run.trace:
        if e.get("type") != "send" or e.get("msg") != "SubmitReply" or not start <= e["t"] <= end:
            continue
        body = e.get("body") or {}
        if body.get("is_leader") and (leader is None or e["node"] == leader):
            out.append(Accepted(e["t"], str(e["node"]), int(body["index"]), int(body["term"]),
                                str(body["command"])))
    return out


def applied_at(run: RunResult) -> dict[int, dict[str, str]]:
    """Index -> {server: what it applied there, ``"<command> (term <t>)"``} (the last life of
    each server wins; a correct run has one entry per index)."""
    out: dict[int, dict[str, str]] = defaultdict(dict)
    for e in run.trace:
        if e.get("type") == "log" and str(e.get("text", "")).startswith("raft apply "):
            fields = _fields(str(e["text"]))
            out[int(fields["index"])][str(e["node"])] = f"{fields['cmd']} (term {fields['term']})"
    return out


def _command(entry: str) -> str:
    return entry.split(" (term ", 1)[0]


def fates(run: RunResult, taken: Sequence[Accepted]) -> Table:
    """What became of each accepted command: what the servers applied at its index in the
    end, and whether the command itself was committed somewhere (a client that heard nothing
    back submits it again, maybe to another leader)."""
    at = applied_at(run)
    where: dict[str, list[int]] = defaultdict(list)
    for index, by_server in sorted(at.items()):
        for command in {_command(entry) for entry in by_server.values()}:
            where[command].append(index)
    rows = []
    for a in taken:
        there = sorted(set(at.get(a.index, {}).values()))
        here = a.command in {_command(entry) for entry in there}
        elsewhere = [i for i in where[a.command] if i != a.index]
        rows.append({"accepted at (s)": round(a.t, 3), "by": a.leader, "term": a.term, "index": a.index,
                     "command": a.command, "applied at that index": " / ".join(there) or "nothing",
                     "the command itself": "committed there" if here else
                                           (f"committed later, at index {', '.join(map(str, elsewhere))}"
                                            if elsewhere else "never committed")})
    return table_of(rows, title="What the cut-off leader accepted, and what became of it")


def contested_index(run: RunResult, leader: str = "n2", start: float = 1.4, end: float = 1.8) -> int | None:
    """In :func:`figure8`: the index of the entry n2 accepted while only n3 could hear it (step
    (a)), the index the story is about; ``None`` if it accepted none."""
    taken = accepted(run, leader, start, end)
    return taken[0].index if taken else None


def index_story(run: RunResult, index: int | None) -> Table:
    """Everything that happened at one log index: which leader accepted which command there,
    in which term, and which server applied what there, in time order (nothing for ``None``)."""
    rows: list[dict[str, Any]] = [
        {"t (s)": round(a.t, 3), "server": a.leader, "what": f"accepts {a.command} as leader of term {a.term}"}
        for a in accepted(run) if a.index == index]
    for e in run.trace:
        if e.get("type") == "log" and str(e.get("text", "")).startswith(f"raft apply index={index} "):
            fields = _fields(str(e["text"]))
            rows.append({"t (s)": round(float(e["t"]), 3), "server": e["node"],
                         "what": f"applies {fields['cmd']} (an entry of term {fields['term']})"})
    rows.sort(key=lambda r: r["t (s)"])
    return table_of(rows, title=f"Index {index}, from first proposal to application")


def repair(run: RunResult, leader: str | None, follower: str | None, start: float, limit: int = 8) -> Table:
    """The first AppendEntries exchanges from ``leader`` to ``follower`` after ``start``, and
    the replies: how the leader finds the last index where their logs agree (read from the
    lab's message fields; a node whose messages are named otherwise gives an empty table)."""
    rows: list[dict[str, Any]] = []
    for e in run.trace:
        if e.get("type") != "send" or e["t"] < start or len(rows) >= limit:
            continue
        body = e.get("body") or {}
        if e.get("msg") == "AppendEntries" and (e["node"], e["dst"]) == (leader, follower):
            entries = body.get("entries") or []
            if isinstance(entries, dict):  # a tuple, as the trace encodes one
                entries = entries.get("@tuple") or []
            entry_terms = sorted({int(x["term"]) for x in entries if isinstance(x, dict) and "term" in x})
            rows.append({"t (s)": round(e["t"], 4), "message": f"{leader} → {follower} AppendEntries",
                         "says": f"after index {body.get('prev_log_index')} (term {body.get('prev_log_term')}): "
                                 f"{len(entries)} entries" + (f" of term {', '.join(map(str, entry_terms))}" if entry_terms else "")
                                 + f"; commit index {body.get('leader_commit')}"})
        elif e.get("msg") == "AppendEntriesReply" and (e["node"], e["dst"]) == (follower, leader):
            says = (f"yes: I now hold up to index {body.get('match_index')}" if body.get("success") else
                    f"no: my log differs there; look from index {body.get('conflict_index')}"
                    + (f" (my entry there is of term {body.get('conflict_term')})" if body.get("conflict_term") else ""))
            rows.append({"t (s)": round(e["t"], 4), "message": f"{follower} → {leader} reply", "says": says})
    return table_of(rows, title=f"How {leader or 'the leader'} repairs {follower or 'the follower'}'s log")


def committed_twice(run: RunResult) -> dict[str, list[int]]:
    """Commands committed at more than one index: a client that heard nothing back from a
    leader submitted the same command again."""
    where: dict[str, set[int]] = defaultdict(set)
    for index, by_server in applied_at(run).items():
        for entry in by_server.values():
            where[_command(entry)].add(index)
    return {c: sorted(ix) for c, ix in where.items() if len(ix) > 1}


def recovery(run: RunResult, node: str | None) -> Table:
    """The crashes of ``node`` and how it came back: when it restarted, the term and role it
    reported first, and when its applied index was back to where the cluster had been at its
    restart (it re-applies its log from index 1: the state machine is not on disk)."""
    tl = timeline(run)
    node = node or "nobody"
    steps = tl.applied.get(node, [])
    rows = []
    for crash in (s for s in tl.stints.get(node, []) if s.role == "down"):
        back = next((s for s in tl.stints[node] if s.start >= crash.end and s.role != "down"), None)
        target = _top(tl, crash.end)
        caught = next((a.t for a in steps if a.t >= crash.end and (a.index or 0) >= target), None)
        rows.append({"crashed at (s)": round(crash.start, 3), "applied then": tl.applied_at(node, crash.start - 1e-9),
                     "restarted at (s)": round(crash.end, 3),
                     "first says": f"term {back.term} {back.role}" if back else "nothing",
                     "cluster had applied": target,
                     "back there at (s)": round(caught, 3) if caught is not None else None})
    return table_of(rows, title=f"{node}'s crashes and recoveries")


SAFETY = ("election-safety", "state-machine-safety", "leader-completeness",
          "leader-commits-only-through-its-term")
"""The lab's safety checks (``labs/raft/checks.py``), by name."""


def verdicts(run: RunResult, checks: Sequence[str] = SAFETY, width: int = 110) -> dict[str, str]:
    """Check name -> "ok" or the first thing it found wrong, on one line of at most ``width``
    characters."""
    out = {}
    for name in checks:
        found = CHECKS[name](run)
        line = "ok" if not found else str(found[0]).splitlines()[0]
        out[name] = line if len(line) <= width else line[:width - 1] + "…"
    return out


def first_elections(lo: float, hi: float, seeds: int = 20, duration: float = 5.0) -> dict[str, Any]:
    """Five servers and no clients on :func:`quiet`, election timeouts drawn from [lo, hi]:
    how long until the first leader and in which term, over ``seeds`` runs."""
    times, numbers = [], []
    with election_timeout(lo, hi):
        for seed in range(1, seeds + 1):
            tl = timeline(run_lab(raft_lab(clients=0), "sim", quiet(duration), seed))
            if tl.elections:
                times.append(tl.elections[0].t)
                numbers.append(tl.elections[0].term)
    return {"timeouts from (s)": lo, "to (s)": hi, f"runs with no leader in {duration:g} s": seeds - len(times),
            "first leader, median (s)": statistics.median(times) if times else None,
            "slowest (s)": max(times) if times else None,
            "terms it took, at most": max(numbers) if numbers else None}


def _fields(text: str) -> dict[str, str]:
    """``raft <word> k=v k=v ...`` -> {k: v}."""
    return dict(kv.split("=", 1) for kv in text.split()[2:] if "=" in kv)
