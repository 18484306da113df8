"""Long key-value histories for the linearizability checker, generated from a seed.

    generate(operations=5000, clients=50, flavour="ok", seed=0) -> list[Operation]

A real run of a sequential store (the ``kv`` model: get / put / append on string values):
each client runs one operation after another, each operation an interval of time, and each
takes effect at an instant inside its interval; the outputs are those of the store with the
operations applied in the order of those instants. So an ``ok`` history is linearizable by
construction. Some operations end with their outcome unknown (ret = inf, output unknown): they
took effect or not (half of them each), and their client comes back under a new id, as a
crashed Jepsen process does.

Values are unique markers, ``[p17]`` for a put and ``(a17)`` for an append, so that a key's
value says which put it started from and which appends followed, in order. Two flavours break
one completed get (in the second half of the history) so that no order can explain it:

* ``junk``: the get returns ``{junk}``, which no operation ever wrote;
* ``stale``: the get returns the key's value from before some write ``w`` that returned before
  the get was called, while ``w`` itself came after (in real time) the operation that made that
  value. The value names its last put and the appends after it; ``w`` must take effect between
  them and the get, and would leave its own mark (a put would replace the value's put, an append
  would add its marker), so the get cannot see that value.

Deterministic per seed (``random.Random(seed)``; no clock, no hash ordering).
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass

from labs.checkers.history import UNKNOWN, Input, Operation

FLAVOURS = ("ok", "junk", "stale")


@dataclass
class _Op:
    id: int
    client: int
    f: str
    key: str
    value: str | None
    call: float
    ret: float
    effect: float  # math.inf: never took effect
    pending: bool
    output: str | None = None
    before: str = ""  # the key's value just before this operation took effect
    after: str = ""


def generate(operations: int = 5000, clients: int = 50, flavour: str = "ok", seed: int = 0,
             keys: int = 10, unknown: float = 0.01, gets: float = 0.5, puts: float = 0.15) -> list[Operation]:
    """A history of ``operations`` operations by ``clients`` concurrent clients over ``keys``
    keys; ``unknown``, ``gets`` and ``puts`` are the shares of operations with an unknown
    outcome, of gets and of puts (the rest are appends). ``flavour`` is one of :data:`FLAVOURS`."""
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}, not {flavour!r}")
    rng = random.Random(f"{seed}/{operations}/{clients}/{keys}/{flavour}")
    names = [str(k) for k in range(keys)]
    free = [(rng.uniform(0.0, 1.0), slot) for slot in range(clients)]  # (idle from, client slot)
    heapq.heapify(free)
    ids = list(range(clients))
    next_id = clients
    ops: list[_Op] = []
    for i in range(operations):
        idle, slot = heapq.heappop(free)
        call = idle + rng.expovariate(2.0)
        ret = call + rng.expovariate(1.0) + 0.01
        r = rng.random()
        f = "get" if r < gets else "put" if r < gets + puts else "append"
        value = None if f == "get" else f"[p{i}]" if f == "put" else f"(a{i})"
        pending = rng.random() < unknown
        effect = rng.uniform(call, ret)
        if pending and rng.random() < 0.5:
            effect = math.inf
        ops.append(_Op(i, ids[slot], f, rng.choice(names), value, call, ret, effect, pending))
        heapq.heappush(free, (ret, slot))
        if pending:
            ids[slot], next_id = next_id, next_id + 1
    store: dict[str, str] = {}
    for o in sorted((o for o in ops if o.effect < math.inf), key=lambda o: o.effect):
        o.before = store.get(o.key, "")
        if o.f == "put":
            store[o.key] = o.value or ""
        elif o.f == "append":
            store[o.key] = o.before + (o.value or "")
        o.after = store.get(o.key, "")
        o.output = o.after if o.f == "get" else None
    if flavour != "ok":
        _break(ops, flavour, rng)
    return [Operation(o.id, o.client, Input(o.f, o.key, o.value),
                      UNKNOWN if o.pending else o.output, o.call, math.inf if o.pending else o.ret)
            for o in sorted(ops, key=lambda o: (o.call, o.id))]


def _break(ops: list[_Op], flavour: str, rng: random.Random) -> None:
    """Make one completed get of the second half impossible (see the module docstring)."""
    n = len(ops)
    order = list(range(n // 2, n))
    rng.shuffle(order)
    for g in (ops[i] for i in order):
        if g.f != "get" or g.pending:
            continue
        if flavour == "junk":
            g.output = "{junk}"
            return
        stale = _stale_value(ops, g)
        if stale is not None:
            g.output = stale
            return
    raise ValueError("no get to break: make the history longer")


def _stale_value(ops: list[_Op], g: _Op) -> str | None:
    """A value of ``g``'s key older than a write that returned before ``g`` was called: the value
    just after a completed write ``o`` of the key, where a completed write ``w`` of the key was
    called after ``o`` returned and returned before ``g`` was called (or the initial ``""`` when
    only ``w`` is needed). The latest such, for a read barely stale; None if there is none."""
    writes = [o for o in ops if o.key == g.key and o.f != "get" and not o.pending]
    before_g = [w for w in writes if w.ret < g.call]
    if not before_g:
        return None
    w = max(before_g, key=lambda w: w.call)
    earlier = [o for o in writes if o.ret < w.call]
    if not earlier:
        return ""
    o = max(earlier, key=lambda o: o.effect)
    return o.after if o.after != g.output else None
