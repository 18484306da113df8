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

import itertools
import json
import random
from dataclasses import dataclass

from labs.checkers.findings import linearizability_findings, operations_complete
from labs.checkers.history import pair_trace_calls
from labs.checkers.standard_models import KV
from labs.runtime.kv_workloads import appends, mixed
from labs.runtime.lab import Check, Finding, RunResult
from labs.runtime.node import Op

CLERK_SILENCE = 1.2
"""Seconds a clerk may go without sending while its operation is in progress: three times the
``CLERK_RETRY`` of ``node.py`` (0.4 s), so a busy machine's late timer is never taken for a bug."""

OPS = ("get", "put", "append")


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


kv_mixed = mixed
"""Gets, puts and appends over three keys (:func:`labs.runtime.kv_workloads.mixed`)."""


def kv_appends(rng: random.Random, client: int) -> Op:
    """Appends to one key with a get now and then: an append executed twice shows in the value."""
    return appends(rng, client, gets=0.25)


# -- checks -------------------------------------------------------------------------------


def linearizable_kv(run: RunResult) -> list[Finding]:
    """The clients' history is linearizable as a key-value store (get / put / append)."""
    return linearizability_findings(run.history, KV, hint="is every request executed once, in log "
                                    "order, and answered only by the server that started it, once committed?")


def kv_operations_complete(share: float) -> Check:
    """At least ``share`` of the clients' operations complete in time."""
    return operations_complete(share, "does the clerk move on to another server when one does not lead or does "
                                      "not answer, and does the leader answer once committed?")


def clerks_keep_asking(run: RunResult) -> list[Finding]:
    """A clerk with an operation in progress sends its request again within a few seconds:
    an operation never waits out its timeout because one request or reply was lost."""
    sends: dict[str, list[float]] = {}
    answers: dict[str, list[float]] = {}  # when each clerk was delivered a message
    for e in run.trace:
        if e["type"] == "send" and e.get("msg") == "KVRequest":
            sends.setdefault(str(e["node"]), []).append(float(e["t"]))
        elif e["type"] == "deliver":
            answers.setdefault(str(e["node"]), []).append(float(e["t"]))
    end_of_run = float(run.trace[-1]["t"]) if run.trace else 0.0
    silences = []  # (start of the silence, its length, the operation, how it ended)
    for call, end in pair_trace_calls(run.trace):
        clerk, started = str(call["node"]), float(call["t"])
        until = float(end["t"]) if end is not None else end_of_run
        times = [started, *(t for t in sends.get(clerk, []) if started <= t <= until), until]
        gap, at = max((b - a, a) for a, b in itertools.pairwise(times))
        if gap > CLERK_SILENCE:
            silences.append((at, gap, call, end))
    if not silences:
        return []
    at, gap, call, end = min(silences, key=lambda s: s[0])
    clerk = call["node"]
    how = ("was still running when the run ended" if end is None
           else f"timed out at t={end['t']:.3f}" if end.get("outcome") == "info" else f"ended at t={end['t']:.3f}")
    heard = [t for t in answers.get(clerk, []) if at < t < at + gap]
    after = (f"after the answer it was delivered at t={heard[-1]:.3f}, which did not end the operation: does "
             "the clerk ask the next server when one says it does not lead?" if heard else
             "though no answer came: does the clerk ask again (the next server) when CLERK_RETRY passes "
             "without an answer?")
    return [Finding(f"{clerk}'s {call['f']} started at t={call['t']:.3f} {how}, and {clerk} sent no request "
                    f"from t={at:.3f} to t={at + gap:.3f} ({gap:.1f} s, more than {CLERK_SILENCE} s) {after}")]
