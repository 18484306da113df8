"""Running grading work in a child process that cannot outlive its time limit, nor flood the
grader: of what the child prints, only the last :data:`KEEP` bytes of each stream are kept."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

KEEP = 1 << 20
"""Bytes of a child's stdout, and of its stderr, the grader keeps (the last ones)."""
READ = 1 << 16
LINGER = 10.0
"""Seconds to wait for the end of a child's output once it has exited."""


def run_child(args: Sequence[str], stdin: str, timeout: float, cwd: Path,
              env: dict[str, str] | None = None,
              preexec_fn: Callable[[], None] | None = None,
              pass_fds: Sequence[int] = ()) -> subprocess.CompletedProcess[str] | None:
    """Run ``args`` in a session of its own; None when it ran out of time, in which case the
    child and everything it started are killed (a timeout of ``subprocess.run`` kills only the
    child itself)."""
    child = subprocess.Popen(list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             cwd=cwd, env=env, preexec_fn=preexec_fn, start_new_session=True,
                             pass_fds=tuple(pass_fds))
    return finish(child, stdin, timeout)


class Tail:
    """Reads a stream to its end in a thread of its own, keeping its last ``keep`` bytes."""

    def __init__(self, stream: IO[bytes], keep: int = KEEP) -> None:
        self.keep, self.dropped = keep, 0
        self._data = bytearray()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True, name="child-output")
        self._thread.start()

    def _read(self, stream: IO[bytes]) -> None:
        with stream:
            while chunk := stream.read1(READ) if hasattr(stream, "read1") else stream.read(READ):
                self._data += chunk
                over = len(self._data) - self.keep
                if over > 0:
                    del self._data[:over]
                    self.dropped += over

    def text(self) -> str:
        """What was kept, as text, saying how much went before it. (A process the child left
        behind may hold the stream open: it is not waited for long.)"""
        self._thread.join(timeout=LINGER)
        kept = self._data.decode("utf-8", errors="replace")
        return f"[{self.dropped} bytes left out]\n{kept}" if self.dropped else kept


def finish(child: subprocess.Popen[bytes], stdin: str, timeout: float) -> subprocess.CompletedProcess[str] | None:
    """Feed ``child`` (started in a session of its own, its pipes in bytes) and wait for it; the
    last :data:`KEEP` bytes of each of its outputs come back as text. None, with its whole session
    killed, when it ran out of time."""
    assert child.stdout is not None and child.stderr is not None
    out, err = Tail(child.stdout), Tail(child.stderr)
    if child.stdin is not None:  # in a thread: a child that reads none of it must not stop us
        threading.Thread(target=_feed, args=(child.stdin, stdin.encode()), daemon=True, name="child-input").start()
    try:
        child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        out.text(), err.text()
        return None
    return subprocess.CompletedProcess(child.args, child.returncode, out.text(), err.text())


def _feed(stream: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(OSError), stream:
        stream.write(data)
