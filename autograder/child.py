"""Running grading work in a child process that cannot outlive its time limit."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path


def run_child(args: Sequence[str], stdin: str, timeout: float, cwd: Path,
              env: dict[str, str] | None = None,
              preexec_fn: Callable[[], None] | None = None,
              pass_fds: Sequence[int] = ()) -> subprocess.CompletedProcess[str] | None:
    """Run ``args`` in a session of its own; None when it ran out of time, in which case the
    child and everything it started are killed (a timeout of ``subprocess.run`` kills only the
    child itself)."""
    child = subprocess.Popen(list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=cwd, env=env, preexec_fn=preexec_fn, start_new_session=True,
                             pass_fds=tuple(pass_fds))
    return finish(child, stdin, timeout)


def finish(child: subprocess.Popen[str], stdin: str, timeout: float) -> subprocess.CompletedProcess[str] | None:
    """Feed ``child`` (started in a session of its own) and wait for it; None, with its whole
    session killed, when it ran out of time."""
    try:
        stdout, stderr = child.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return None
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr)
