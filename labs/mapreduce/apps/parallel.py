"""Watches how many tasks run at once (test-only), as 6.824's mtiming and rtiming do.

Each map task, and each reduce of a ``phase-*`` key, leaves a marker file with its worker's name
(``par/<phase>/<worker>-<n>``), spends ``HOLD`` seconds, counts the workers with a marker, and
removes its own. The output says the most workers seen at once in each phase
(``parallel-maps``, ``parallel-reduces``) and which workers ran maps (``ran-map-<worker>``).
"""

from __future__ import annotations

from labs.runtime.files import Work

HOLD = 0.4
KEYS = 6
"""``phase-*`` keys, spread over the reduce tasks by their hash."""


def overlap(work: Work, phase: str) -> int:
    """How many workers (this one included) are inside this phase right now."""
    me = f"par/{phase}/{work.node}-{work.random.getrandbits(32):08x}"
    work.files.write(me, "")
    work.spend(HOLD)
    workers = {name.rsplit("/", 1)[1].rsplit("-", 1)[0] for name in work.files.list(f"par/{phase}/")}
    work.files.remove(me)
    return len(workers)


def map(work: Work, name: str, text: str) -> list[tuple[str, str]]:
    seen = overlap(work, "map")
    return [("parallel-maps", str(seen)), (f"ran-map-{work.node}", "1")] + [
        (f"phase-{i}", "1") for i in range(KEYS)]


def reduce(work: Work, key: str, values: list[str]) -> str:
    if key.startswith("phase-"):
        return str(overlap(work, "reduce"))
    if key == "parallel-maps":
        return str(max(int(v) for v in values))
    return str(len(values))
