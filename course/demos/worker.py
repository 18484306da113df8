"""A server with one worker and a waiting line: the building block of the chapter 0 demos.

A real server has a fixed number of threads; requests that arrive while they are busy wait in a
queue. :class:`Worker` models the simplest case, one thread and a first-come-first-served queue,
inside the node API: handlers never block, so "working on a request for 10 ms" is a timer that
fires 10 ms later. Subclasses say how long a job takes (:meth:`Worker.service_time`) and what
happens when it is done (:meth:`Worker.finished`).

The queue may be bounded (``limit``): :meth:`Worker.admit` then refuses a job when the line is
full, which is how a server pushes back on its callers instead of drowning.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from labs.runtime.node import Node, on_timer


@dataclass(frozen=True)
class JobDone:
    """Timer: the worker finished the job it was serving."""


class Worker(Node):
    """A node with one worker thread in front of a FIFO queue of jobs (any Python objects)."""

    limit: int | None = None
    """How many jobs may wait (not counting the one being served); ``None``: no limit."""

    def on_start(self) -> None:
        self.waiting: deque[Any] = deque()
        self.serving: Any = None
        self.busy = False

    def admit(self, job: Any) -> bool:
        """Put ``job`` in line; ``False`` (and nothing queued) when the line is full."""
        if not self.busy:
            self._serve(job)
            return True
        if self.limit is not None and len(self.waiting) >= self.limit:
            return False
        self.waiting.append(job)
        return True

    def backlog(self) -> int:
        """Jobs in the server: waiting, plus the one being served."""
        return len(self.waiting) + (1 if self.busy else 0)

    def service_time(self, job: Any) -> float:
        """Seconds the worker spends on ``job``."""
        raise NotImplementedError

    def finished(self, job: Any) -> None:
        """Called when ``job`` is done (send the reply here)."""
        raise NotImplementedError

    def skip(self, job: Any) -> bool:
        """Return ``True`` to throw ``job`` away unserved when its turn comes (default: never)."""
        return False

    def _serve(self, job: Any) -> None:
        self.busy = True
        self.serving = job
        self.set_timer(self.service_time(job), JobDone())

    @on_timer(JobDone)
    def job_done(self, timer: JobDone) -> None:
        job, self.serving, self.busy = self.serving, None, False
        self.finished(job)
        while self.waiting:
            nxt = self.waiting.popleft()
            if not self.skip(nxt):
                self._serve(nxt)
                break
