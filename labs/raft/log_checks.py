"""Log matching at every step: the Raft lab's invariant over every run.

Section 5.3 of the Raft paper: if two logs hold an entry with the same index and term, they hold
the same entries at every index before it. What keeps that true is the follower's check: it takes
a leader's entries only if its own entry at ``prev_log_index`` has ``prev_log_term``. A follower
that skips or botches that check ends up with a log that agrees with the leader's on the new
entries but not on those before them, which no applied entry may show for a long time.

So the check is made where it happens, on every AppendEntries answered with success, against
what the trace shows of the follower's log: what it sent as a leader (``prev_log_term`` is the
term of its entry at ``prev_log_index``, ``entries`` its entries from there on) and what it took
before. The harness sees only a node's last entry, so this is the log as far as the messages show
it, and whatever is not known for sure is forgotten rather than guessed.
"""

from __future__ import annotations

from typing import Any

from labs.runtime.lab import Finding, RunResult

from .parse import message_entries, parse_run
from .term_checks import HANDLER_BEGINS, server_events


def followers_match_before_they_take(run: RunResult) -> list[Finding]:
    """A server answers an AppendEntries with success only when its own entry at
    prev_log_index has prev_log_term, as far as the trace shows its log.

    What a server holds is read from the trace: what it sends as a leader (its log from
    prev_log_index on) and what it takes (the entries of an AppendEntries it answers with success,
    up to the match index it answers). What is not known for sure is forgotten: the entries past
    the match index after a success; from prev_log_index on after an AppendEntries answered no (or
    not at all); everything after an InstallSnapshot, or a crash that loses the disk."""
    servers = set(parse_run(run).servers)
    holds: dict[str, dict[int, tuple[int, str]]] = {s: {} for s in servers}  # index -> (term, how known)
    handling: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # server -> (deliver, AppendEntries)

    def forget(node: str, above: int) -> None:
        for i in [i for i in holds[node] if i > above]:
            del holds[node][i]

    def handler_over(node: str) -> None:
        ongoing = handling.pop(node, None)
        if ongoing is not None:  # answered no, or nothing: it may have cut its log from prev_log_index
            forget(node, int(ongoing[1]["prev_log_index"]) - 1)

    for e, kind, node, delivered in server_events(run, servers):
        if kind in HANDLER_BEGINS:
            handler_over(node)
        if kind == "crash" and e.get("disk") not in (None, "keep"):
            holds[node].clear()
        elif kind == "deliver" and isinstance(delivered, dict):
            if delivered.get("@type") == "AppendEntries" and isinstance(delivered.get("prev_log_index"), int):
                handling[node] = (e, delivered)
            elif delivered.get("@type") == "InstallSnapshot":
                holds[node].clear()  # what it kept of its log past the snapshot is not known
        elif kind == "send" and isinstance(body := e.get("body"), dict):
            if e.get("msg") == "AppendEntries" and isinstance(body.get("prev_log_index"), int):
                _learn(holds[node], body, None, f"the AppendEntries it sent at t={float(e['t']):.3f}")
            elif e.get("msg") == "AppendEntriesReply" and body.get("success") is True and node in handling:
                deliver, request = handling.pop(node)
                prev, term = request["prev_log_index"], request.get("prev_log_term")
                own = holds[node].get(prev)
                if own is not None and prev > 0 and own[0] != term:
                    return [Finding(
                        f"log matching: {node} answered success at t={float(e['t']):.3f} to {deliver.get('src')}'s "
                        f"AppendEntries with prev_log_index {prev} and prev_log_term {term}, while its own entry "
                        f"{prev} was of term {own[0]} (known from {own[1]}): a follower takes entries only when its entry "
                        "at prev_log_index has prev_log_term; otherwise the two logs agree on the new entries but "
                        "not on those before them")]
                match = body.get("match_index")
                _learn(holds[node], request, match if isinstance(match, int) else None,
                       f"{deliver.get('src')}'s AppendEntries it took at t={float(deliver['t']):.3f}")
    return []


def _learn(holds: dict[int, tuple[int, str]], body: dict[str, Any], match: int | None, how: str) -> None:
    """What an AppendEntries says its holder has: the entry at prev_log_index and the entries
    (up to ``match``, past which nothing is known any more, if given)."""
    index = body["prev_log_index"]
    if index > 0 and isinstance(body.get("prev_log_term"), int):
        holds[index] = (body["prev_log_term"], how)
    for entry in message_entries(body):
        if not isinstance(entry, dict) or not isinstance(entry.get("term"), int):
            break
        index += 1
        if match is not None and index > match:
            break
        holds[index] = (entry["term"], how)
    if match is not None:
        for i in [i for i in holds if i > match]:
            del holds[i]
