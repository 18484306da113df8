"""The jobs the MapReduce lab's tests submit: one per run, named here for ``suite.yaml``.

Each is a function ``(rng, client) -> Op`` like every lab's workload: ``Op("job", app, {"corpus":
..., "reduces": ...})``. The job client (``client.py``) runs it and returns the output. The
workload's timeout (set per test) is the job's time limit, and its think time (60 s, longer than
any run) keeps the driver from submitting a second job after the first.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from labs.runtime.node import Op

Generate = Callable[[random.Random, int], Op]


def job(app: str, corpus: str = "small", reduces: int | tuple[int, ...] = 4) -> Generate:
    """The workload that submits ``app`` over ``corpus`` with ``reduces`` reduce tasks (one of
    them, drawn from the run's seed, when several are given: each seed then splits the job its own
    way)."""
    choices = reduces if isinstance(reduces, tuple) else (reduces,)

    def generate(rng: random.Random, client: int) -> Op:
        return Op("job", app, {"corpus": corpus, "reduces": rng.choice(choices)})

    generate.__doc__ = f"{app} over the {corpus} corpus, {' or '.join(map(str, choices))} reduce tasks"
    return generate


WORKLOADS: dict[str, Generate] = {
    "word-count": job("wc", reduces=(2, 3, 4, 5)),
    "index": job("indexer", reduces=(2, 3, 4)),
    "crash": job("crash", reduces=(3, 4, 5)),
    "slow": job("slow", reduces=(3, 4)),
    "early-exit": job("early_exit", reduces=3),
    "parallel": job("parallel", reduces=3),
    "paced": job("paced", reduces=(2, 3, 4)),
    "bulky": job("bulky", reduces=(3, 4, 5)),
    "word-count-tiny": job("wc", "tiny", 2),
    "word-count-full": job("wc", "full", 6),
    "index-full": job("indexer", "full", 6),
}
