"""Exploring: random fault schedules, one per seed, thrown at a lab until one breaks it.

The suite's tests replay schedules someone wrote down. Exploration draws new ones: a random
network (loss, duplication, delay, reordering) and a handful of random faults (crashes with or
without the disk, restarts, pauses, partitions where the lab has several servers), each schedule
fixed by its seed. A test of the suite gives the workload and the checks; only its schedule is
replaced. The first failure is shrunk and reported like any test failure.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from pathlib import Path

from labs.runtime.network import Delay, Network
from labs.runtime.schedule import (
    REST,
    Crash,
    Event,
    Heal,
    Partition,
    Pause,
    Restart,
    Schedule,
    parse,
)

from .runner import Outcome, run_test
from .suite import Test


def random_schedule(seed: int, servers: list[str], duration: float = 4.0, disk_loss: bool = False) -> Schedule:
    """A schedule drawn from ``seed``: the same seed, the same schedule."""
    rng = random.Random(f"explore:{seed}")
    loss = round(rng.uniform(0.0, 0.3), 3) if rng.random() < 0.8 else 0.0
    duplicate = round(rng.uniform(0.0, 0.3), 3) if rng.random() < 0.6 else 0.0
    delay = Delay("uniform", 0.001, round(rng.uniform(0.002, 0.06), 4)) if rng.random() < 0.8 else Delay()
    reorder = rng.random() < 0.5
    events: list[Event] = []
    busy: dict[str, float] = {}  # a node takes one fault at a time
    for _ in range(rng.randint(0, 3)):
        at = round(rng.uniform(0.2, duration - 0.5), 3)
        node = rng.choice(servers)
        if at <= busy.get(node, -1.0):
            continue
        kind = rng.choice(["crash", "pause"] + (["partition"] if len(servers) > 2 else []))
        if kind == "crash":
            disk = "lose" if disk_loss and rng.random() < 0.3 else "keep"
            back = min(round(at + rng.uniform(0.05, 0.5), 3), duration)
            events += [Crash(at, node, disk), Restart(back, node)]
        elif kind == "pause":
            length = min(round(rng.uniform(0.05, 0.4), 3), round(duration - at, 3))
            back = at + length
            events.append(Pause(at, node, length))
        else:
            back = min(round(at + rng.uniform(0.1, 1.0), 3), duration)
            events += [Partition(at, ((node,), (REST,))), Heal(back)]
        busy[node] = back + 0.01
    events.sort(key=lambda e: e.at)
    drawn = Schedule(f"explore-{seed}", f"drawn at random from seed {seed}",
                     Network(loss, delay, duplicate, reorder), tuple(events), duration=duration)
    return parse(drawn.to_data(), "explore")  # checked as a written schedule would be


def explore(test: Test, seeds: range, impl: str | Path | None = None,
            disk_loss: bool = False) -> Iterator[Outcome]:
    """Run ``test``'s workload and checks under one random schedule per seed."""
    servers = test.lab.node_names()
    for seed in seeds:
        schedule = random_schedule(seed, servers, max(test.lab.min_duration, 4.0), disk_loss)
        yield run_test(dataclasses.replace(test, schedule=schedule, schedule_name=schedule.name), seed, "sim", impl)
