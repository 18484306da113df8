"""Part E of the Raft lab: a linearizable key-value service on Raft (given code, not yours).

Your ``KVServer`` (in ``node.py``) is a ``RaftNode`` that serves :class:`KVRequest` from clerks:
it starts each request as a command in the Raft log (``encode``), executes commands in log
order as they are applied (the harness calls its ``service_apply``), and answers the request from
the server that started it. Your ``KVClerk`` finds the leader and retries until it gets an
answer; the server executes each request once however often it arrives (the clerk's id and
sequence number), so that a retried append is not appended twice.

This module holds what the tests and your code share: the two messages, the command
encoding, the clients' workloads and the checks. Every history is checked with the
linearizability checker (:mod:`labs.checkers`) against a key-value store (get / put / append).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from labs.checkers.findings import linearizability_findings
from labs.checkers.history import pair_calls
from labs.checkers.standard_models import KV
from labs.runtime.lab import Check, Finding, RunResult
from labs.runtime.node import Op

OPS = ("get", "put", "append")
KEYS = ("a", "b", "c")


@dataclass(frozen=True)
class KVRequest:
    """A clerk asks: ``op`` is ``"get"``, ``"put"`` or ``"append"``; ``value`` is ``""`` for a
    get. ``client`` and ``seq`` name the request: a retry has the same ones."""

    client: str
    seq: int
    op: str
    key: str
    value: str


@dataclass(frozen=True)
class KVReply:
    """The answer to the request ``(client, seq)``. ``ok`` False: this server does not lead, or
    lost its leadership before the request was committed; ask another (``value`` is then
    meaningless). For a get, ``value`` is the key's value (``""`` if it has none)."""

    client: str
    seq: int
    ok: bool
    value: str


def encode(request: KVRequest) -> str:
    """The request as a Raft command: compact JSON, without spaces (the trace shows it whole)."""
    return json.dumps([request.client, request.seq, request.op, request.key, request.value],
                      separators=(",", ":"))


def decode(command: str) -> KVRequest:
    """The request a command holds (what :func:`encode` made of it)."""
    client, seq, op, key, value = json.loads(command)
    return KVRequest(str(client), int(seq), str(op), str(key), str(value))


# -- workloads ----------------------------------------------------------------------------


def _tag(rng: random.Random, client: int) -> str:
    return f"c{client}.{rng.getrandbits(24):06x};"


def kv_mixed(rng: random.Random, client: int) -> Op:
    """Gets, puts and appends over three keys; written values are unique, so a value read names
    the operations that wrote it."""
    key = rng.choice(KEYS)
    r = rng.random()
    if r < 0.4:
        return Op("get", key)
    if r < 0.6:
        return Op("put", key, _tag(rng, client))
    return Op("append", key, _tag(rng, client))


def kv_appends(rng: random.Random, client: int) -> Op:
    """Appends to one key with a get now and then: an append executed twice shows in the value."""
    if rng.random() < 0.25:
        return Op("get", "log")
    return Op("append", "log", _tag(rng, client))


# -- checks -------------------------------------------------------------------------------


def linearizable_kv(run: RunResult) -> list[Finding]:
    """The clients' history is linearizable as a key-value store (get / put / append)."""
    return linearizability_findings(run.history, KV, hint="is every request executed once, in log "
                                    "order, and answered only by the server that started it, once committed?")


def kv_operations_complete(share: float) -> Check:
    """At least ``share`` of the clients' operations complete in time."""

    def check(run: RunResult) -> list[Finding]:
        ops = [end for _, end in pair_calls(run.history) if end is not None]
        if not ops:
            return [Finding("no client operation ended at all")]
        done = sum(1 for end in ops if end["type"] == "ok")
        if done >= share * len(ops):
            return []
        return [Finding(f"only {done} of {len(ops)} operations completed ({done / len(ops):.0%}, expected "
                        f"at least {share:.0%}): does the clerk move on to another server when one does "
                        "not lead or does not answer, and does the leader answer once committed?")]

    check.__doc__ = f"At least {share:.0%} of the clients' operations complete in time."
    return check
