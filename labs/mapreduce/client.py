"""The job client: how a user submits a MapReduce job and reads its output (given, not a lab part).

The workload driver asks the client for one operation, ``Op("job", app, {"corpus": ...,
"reduces": ...})``. The client copies the corpus's books into the shared files (``input/...``, as
one copies input into GFS before a job), sends :class:`SubmitJob` to the coordinator, resends it
until a :class:`JobDone` comes back, then reads every ``mr-out-*`` file and completes the operation
with their text. The checks compare that text with a sequential run: reading the output at the
moment the coordinator says "done" is what catches a coordinator that says it too early.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from labs.runtime.node import Clerk, Op, on, on_timer

from .corpus import read_books

COORDINATOR = "n1"
"""The coordinator's node name; every other server node is a worker."""
RESEND = 0.5
"""Seconds between copies of a job submission that got no answer."""


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


class JobClient(Clerk):
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
        self.complete({"outputs": {name: self.files.read(name) for name in self.files.list("mr-out-")}})
