"""The job client: how a user submits a MapReduce job and reads its output (given, not a lab part).

The workload driver asks the client for one operation, ``Op("job", app, {"corpus": ...,
"reduces": ...})``. The client copies the corpus's books into the shared files (``input/...``, as
one copies input into GFS before a job), sends :class:`SubmitJob` to the coordinator, resends it
until a :class:`JobDone` comes back, then reads every ``mr-out-*`` file and completes the operation
with what it read. The checks compare it with a sequential run: reading the output at the moment
the coordinator says "done" is what catches a coordinator that says it too early.

What it reports: for each output file its line count and a digest of its sorted lines, and the
files' text too when it is small (under ``TEXT_LIMIT`` bytes in all), so that a failure can name
the keys that differ. A big job's text stays out: a result travels to the driver as one line of at
most 64 KB, and the trace would carry megabytes for nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from labs.runtime.node import Clerk, Op, SharedFiles, on, on_timer

from .corpus import read_books

COORDINATOR = "n1"
"""The coordinator's node name; every other server node is a worker."""
RESEND = 0.5
"""Seconds between copies of a job submission that got no answer."""
TEXT_LIMIT = 40_000
"""Bytes of output up to which the client reports the output's text, not only its digests."""


def digest(lines: list[str]) -> str:
    """A digest of some output lines, whatever their order."""
    return hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()[:16]


def report(outputs: dict[str, str]) -> dict[str, Any]:
    """What the client completes a job with (see the module docstring)."""
    files = {}
    for name, text in outputs.items():
        lines = [line for line in text.splitlines() if line.strip()]
        files[name] = {"lines": len(lines), "digest": digest(lines)}
    out: dict[str, Any] = {"files": files}
    if sum(len(t.encode("utf-8")) for t in outputs.values()) <= TEXT_LIMIT:
        out["outputs"] = outputs
    return out


@dataclass(frozen=True)
class SubmitJob:
    """Run ``app`` over the ``inputs`` (names in the shared files) with ``reduces`` reduce tasks."""

    app: str
    inputs: list[str]
    reduces: int


@dataclass(frozen=True)
class JobDone:
    """The job is finished: its output files are committed."""


@dataclass(frozen=True)
class Resend:
    pass


@lru_cache(maxsize=4)
def _books(corpus: str) -> tuple[tuple[str, str], ...]:
    return tuple(read_books(corpus).items())


class JobClient(SharedFiles, Clerk):
    """Submits one job and reads its output (see the module docstring)."""

    def on_start(self) -> None:
        self.job: SubmitJob | None = None

    def on_invoke(self, op: Op) -> None:
        spec = op.value if isinstance(op.value, dict) else {}
        inputs = []
        for name, text in _books(str(spec.get("corpus", "small"))):
            self.files.write(f"input/{name}", text)
            inputs.append(f"input/{name}")
        self.job = SubmitJob(str(op.key), inputs, int(spec.get("reduces", 4)))
        self.submit()

    def submit(self) -> None:
        assert self.job is not None
        self.send(COORDINATOR, self.job)
        self.set_timer(RESEND, Resend())

    @on_timer(Resend)
    def handle_resend(self, timer: Resend) -> None:
        if self.job is not None:
            self.submit()

    @on(JobDone)
    def handle_job_done(self, msg: JobDone, sender: str) -> None:
        if self.job is None:
            return
        self.job = None
        self.complete(report({name: self.files.read(name) for name in self.files.list("mr-out-")}))
