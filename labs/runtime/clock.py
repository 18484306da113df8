"""A node's local clock, as a schedule's ``skew`` sets it: both runtimes keep one per node."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Clock:
    """A node's local clock: ``offset`` ahead of true time, running at ``rate``, since ``since``."""

    offset: float = 0.0
    rate: float = 1.0
    since: float = 0.0

    def local(self, t: float) -> float:
        return t + self.offset + (self.rate - 1.0) * (t - self.since)

    def real_delay(self, local_delay: float) -> float:
        """True seconds until this clock has advanced by ``local_delay``."""
        return local_delay / self.rate

    def reset(self, t: float, offset: float, rate: float) -> None:
        self.offset, self.rate, self.since = offset, rate, t
