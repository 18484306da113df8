"""A work in the simulator: its function runs step by step, in step with virtual time.

The simulator cannot let a function run "for two seconds", so it runs the function in a thread of
its own and lets it go one step at a time: the function runs until it needs time (reading or
writing a file costs :data:`~labs.runtime.files.SIM_BYTES_PER_SECOND`, ``spend(s)`` costs ``s``),
then waits while the simulator moves virtual time on, and goes on when its moment comes. Only one
thread runs at any moment (the simulator waits while the work runs), so a run stays exactly
reproducible, and every file operation happens at its own moment: a read sees what other nodes
wrote before it, a write truncates its file when it begins and fills it when it ends, and a crash
in between leaves the part written so far (the simulator does that, see ``SimNodes._crash``).

A crash (or the end of the run) cancels the work: its thread is woken with :class:`Cancelled`,
which unwinds it without running anything more of the node's code.

Known limit: this needs threads, which a browser's Python (Pyodide) does not have; labs without
works still run there.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any, Protocol

from .files import SIM_BYTES_PER_SECOND, WorkBase, _check_seconds, _size, _text, check_name

__all__ = ["Cancelled", "SimWork", "WorkHost"]


class Cancelled(BaseException):
    """Raised inside a work's thread when its node crashed: the work stops where it was."""


class WorkHost(Protocol):
    """What a work needs from the simulator: the shared files and the moment's file changes."""

    def text(self, name: str) -> str | None: ...
    def names(self) -> list[str]: ...
    def write_begins(self, name: str, text: str, duration: float) -> int: ...
    def write_ends(self, key: int) -> None: ...
    def renamed(self, src: str, dst: str) -> None: ...
    def removed(self, name: str) -> None: ...


class SimWork(WorkBase):
    """One work: the thread that runs its function, and the handoff with the simulator.

    The simulator calls :meth:`step` (first to start, then each time the requested time has
    passed); it returns the seconds until the work wants to go on, or ``None`` when the work is
    over (then :attr:`result` or :attr:`failure` says how it ended)."""

    def __init__(self, node: str, host: WorkHost, rng: random.Random, fn: Callable[..., object],
                 args: tuple[Any, ...], rate: float = SIM_BYTES_PER_SECOND) -> None:
        self._node = node
        self._host = host
        self._random = rng
        self._rate = rate
        self._files = _WorkFiles(self)
        self._go = threading.Semaphore(0)
        self._back = threading.Semaphore(0)
        self._wait: float | None = None
        self._cancelled = False
        self.done = False
        self.result: object = None
        self.failure: Exception | None = None
        self._thread = threading.Thread(target=self._body, args=(fn, args), daemon=True,
                                        name=f"simwork-{node}")
        self._started = False

    # -- the simulator's side -------------------------------------------------------------

    def step(self) -> float | None:
        """Let the work run until it needs time or ends."""
        if not self._started:
            self._started = True
            self._thread.start()
        else:
            self._go.release()
        self._back.acquire()
        return None if self.done else self._wait

    def cancel(self) -> None:
        """Stop the work where it is (its node crashed, or the run is over)."""
        if self.done or not self._started:
            self.done = True
            return
        self._cancelled = True
        self._go.release()
        self._back.acquire()

    # -- the work's side ------------------------------------------------------------------

    def _body(self, fn: Callable[..., object], args: tuple[Any, ...]) -> None:
        try:
            self.result = fn(self, *args)
        except Cancelled:
            pass
        except Exception as exc:
            self.failure = exc
        self.done = True
        self._back.release()

    def _take(self, seconds: float) -> None:
        """Wait until ``seconds`` of virtual time have passed."""
        if self._cancelled:  # the work caught Cancelled and went on: stop it again
            raise Cancelled
        if seconds <= 0:
            return
        self._wait = seconds
        self._back.release()
        self._go.acquire()
        if self._cancelled:
            raise Cancelled

    def spend(self, seconds: float) -> None:
        self._take(_check_seconds(seconds))

    def _read(self, name: str) -> str:
        text = self._host.text(check_name(name))
        if text is None:
            raise FileNotFoundError(f"no file {name!r}")
        self._take(_size(text) / self._rate)
        return text

    def _write(self, name: str, text: str) -> None:
        duration = _size(_text(text)) / self._rate
        key = self._host.write_begins(check_name(name), text, duration)
        self._take(duration)
        self._host.write_ends(key)

    def _rename(self, src: str, dst: str) -> None:
        if self._host.text(check_name(src)) is None:
            raise FileNotFoundError(f"no file {src!r} to rename")
        self._host.renamed(src, check_name(dst))

    def _remove(self, name: str) -> None:
        if self._host.text(check_name(name)) is not None:
            self._host.removed(name)


class _WorkFiles:
    """The :class:`~labs.runtime.files.Files` view of a :class:`SimWork`."""

    def __init__(self, work: SimWork) -> None:
        self._work = work

    def read(self, name: str) -> str:
        return self._work._read(name)

    def write(self, name: str, text: str) -> None:
        self._work._write(name, text)

    def rename(self, src: str, dst: str) -> None:
        self._work._rename(src, dst)

    def remove(self, name: str) -> None:
        self._work._remove(name)

    def exists(self, name: str) -> bool:
        return self._work._host.text(check_name(name)) is not None

    def list(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self._work._host.names() if n.startswith(prefix))
