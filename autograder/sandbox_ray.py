"""The sandbox's Ray: the node processes of the grader's Ray runs, started inside the sandbox.

The grader runs the Ray driver (:class:`labs.runtime.ray_runtime.RayRun`: the clock, the
schedule, the workload and the history it records) but needs no Ray of its own: a helper
process, running as the sandbox user, starts a Ray instance of that user on loopback and does
what the driver asks of :class:`SandboxHosts`, one JSON line at a time::

    grader -> helper   {"op": "spawn", "id": 3, "serial": 3, "avoid": [], "config": "...", "source": "..."}
                       {"op": "control" | "set_peers", "id": 3, "text": "..."}   {"op": "kill", "id": 3}
                       {"op": "wipe", "path": "..."}   {"op": "top_up", "count": 2, "preload": ["labs.raft.node"]}
                       {"op": "spares", "q": 1, "preload": ["labs.raft.node"]}
    helper -> grader   {"k": "ready"}   {"k": "configured", "id": 3, "error": null | "..."}   {"k": "spares", "q": 1}

Whatever the helper says is read as plain JSON and checked; the nodes themselves call the
driver back over its loopback socket, as in every Ray run. The helper is untrusted (student
code runs in its Ray), so nothing it says can do more than fail the run.

Both sides are here: :class:`SandboxHosts` in the grader, :func:`helper_main` in the sandbox
(``python -m autograder.sandbox_ray``, as the sandbox user, with the released packages).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from labs.runtime.ray_processes import START_TIMEOUT, Host, HostError, Hosts, LocalHosts
from labs.runtime.ray_runtime import RayRunError

MAX_LINE = 1 << 20
"""The longest line the grader reads from the helper."""
RAY_FOLDER = "/tmp/ray"
"""The sandbox's Ray keeps its sockets and logs in the grading's private ``/tmp`` (a path under
the work folder would pass the 107 bytes a socket's path may have)."""


class _Disk(Protocol):
    @property
    def root(self) -> Path: ...


class Box(Protocol):
    """What :class:`SandboxHosts` needs of the sandbox that owns it (an
    :class:`autograder.sandbox.Sandbox`), described here rather than imported: the sandbox
    imports this module, and this module also runs alone inside the sandbox, as the helper."""

    @property
    def python(self) -> Path: ...

    @property
    def home(self) -> Path: ...

    @property
    def disk(self) -> _Disk: ...

    def popen(self, args: Sequence[str], extra_limits: Callable[[], None] | None = None,
              **options: Any) -> subprocess.Popen[Any]: ...

    def kill_all(self) -> None: ...


class SandboxHost(Host):
    def __init__(self, hosts: SandboxHosts, key: int) -> None:
        self.hosts, self.key = hosts, key

    async def configured(self) -> None:
        error = await asyncio.wrap_future(self.hosts.pending(self.key))
        if error is not None:
            raise HostError(error)

    def set_peers(self, addresses: str) -> None:
        self.hosts.send({"op": "set_peers", "id": self.key, "text": addresses})

    def control(self, command: str) -> None:
        self.hosts.send({"op": "control", "id": self.key, "text": command})

    def kill(self) -> None:
        self.hosts.send({"op": "kill", "id": self.key})


class SandboxHosts(Hosts):
    """The driver's side of the helper (see the module docstring)."""

    def __init__(self, sandbox: Box) -> None:
        self.sandbox = sandbox
        self.helper: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()
        self.futures: dict[str, concurrent.futures.Future[str | None]] = {}
        self.keys = 0
        self.runs = 0
        self.stopped = False  # the helper is gone (killed by the watchdog?): nothing it owed will come
        self.log = sandbox.disk.root / "ray.log"  # on the grading's disk: it counts against it

    # -- the helper ------------------------------------------------------------------------

    def ensure(self) -> None:
        if self.helper is not None and self.helper.poll() is None:
            return
        self.close()
        self.sandbox.kill_all()  # a helper that died (killed by the watchdog?) leaves its Ray behind
        self.stopped = False
        log = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        try:
            self.helper = self.sandbox.popen(
                [str(self.sandbox.python), "-m", "autograder.sandbox_ray"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log)
        finally:
            os.close(log)
        ready = self.pending("ready")
        threading.Thread(target=self._read, args=(self.helper,), daemon=True, name="sandbox-hosts").start()
        try:
            ready.result(timeout=START_TIMEOUT)
        except (concurrent.futures.TimeoutError, HostError) as exc:
            tail = self.log.read_text(errors="replace").strip().splitlines()[-6:]
            self.close()
            raise RayRunError(f"the sandbox's Ray did not start ({exc or 'timed out'}): " + " | ".join(tail)) from None

    def close(self) -> None:
        helper, self.helper = self.helper, None
        if helper is not None:
            with contextlib.suppress(OSError):
                helper.kill()
            helper.wait()
        with self.lock:
            futures, self.futures = self.futures, {}
        for f in futures.values():
            if not f.done():
                f.set_exception(HostError("the sandbox's Ray helper stopped"))

    def send(self, message: dict[str, Any]) -> None:
        helper = self.helper
        if helper is None or helper.stdin is None:
            return
        with self.lock, contextlib.suppress(OSError, ValueError):
            helper.stdin.write(json.dumps(message).encode() + b"\n")
            helper.stdin.flush()

    def pending(self, key: int | str) -> concurrent.futures.Future[str | None]:
        with self.lock:
            f = self.futures.setdefault(str(key), concurrent.futures.Future())
            if self.stopped and not f.done():
                f.set_exception(HostError("the sandbox's Ray helper stopped"))
            return f

    def _read(self, helper: subprocess.Popen[bytes]) -> None:
        assert helper.stdout is not None
        while line := helper.stdout.readline(MAX_LINE):
            try:
                m = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if type(m) is not dict:
                continue
            k = m.get("k")
            if k == "ready":
                key = "ready"
            elif k == "configured" and type(m.get("id")) is int:
                key = str(m["id"])
            elif k == "spares" and type(m.get("q")) is int:
                key = f"spares-{m['q']}"
            else:
                continue
            error = m.get("error")
            f = self.pending(key)
            if not f.done():
                f.set_result(error[:2000] if type(error) is str else None)
        with self.lock:
            futures = list(self.futures.values()) if self.helper is helper else []
            if self.helper is helper:
                self.stopped = True
        for f in futures:
            if not f.done():
                f.set_exception(HostError("the sandbox's Ray helper stopped"))

    # -- what the driver asks --------------------------------------------------------------

    def spawn(self, serial: int, avoid: set[str], config: str, classes: tuple[Any, Any, list[type]] | None,
              source: str | None) -> Host:
        if source is None:
            raise RayRunError("the sandbox runs a submission's files only (Lab.with_impl_source)")
        with self.lock:
            self.keys += 1
            key = self.keys
        self.pending(key)
        self.send({"op": "spawn", "id": key, "serial": serial, "avoid": sorted(avoid), "config": config,
                   "source": source})
        return SandboxHost(self, key)

    async def spares_booted(self, preload: tuple[str, ...] = ()) -> None:
        with self.lock:
            self.keys += 1
            q = self.keys
        f = self.pending(f"spares-{q}")
        self.send({"op": "spares", "q": q, "preload": list(preload)})
        with contextlib.suppress(TimeoutError, HostError):
            await asyncio.wait_for(asyncio.wrap_future(f), START_TIMEOUT)

    def top_up(self, count: int, preload: tuple[str, ...] = ()) -> None:
        self.send({"op": "top_up", "count": count, "preload": list(preload)})

    def storage_root(self, lab: str) -> Path:
        # Created by the nodes themselves, as the sandbox user: the grader makes nothing in the
        # user's folder (where a planted link could turn its writes elsewhere).
        self.runs += 1
        return self.sandbox.home / "runs" / f"{lab}-{self.runs}"

    def wipe(self, path: Path) -> None:
        self.send({"op": "wipe", "path": str(path)})


# -- the helper, in the sandbox --------------------------------------------------------------


def helper_main() -> None:
    """Run as the sandbox user: a Ray instance of its own, and the driver's requests on stdin."""
    import ray  # Ray only in the helper (it takes seconds to import): the grader's side needs none

    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed here goes to the log, not into the replies

    def say(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")

    ray.init(address="local", include_dashboard=False, configure_logging=False, log_to_driver=False,
             _temp_dir=RAY_FOLDER, num_cpus=2, object_store_memory=100 << 20)
    hosts = LocalHosts()
    procs: dict[int, Host] = {}
    say({"k": "ready"})

    async def configured(key: int, host: Host) -> None:
        try:
            await host.configured()
            say({"k": "configured", "id": key, "error": None})
        except HostError as exc:
            say({"k": "configured", "id": key, "error": str(exc)})

    async def spares(q: int, preload: tuple[str, ...]) -> None:
        await hosts.spares_booted(preload)
        say({"k": "spares", "q": q})

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=64 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        tasks: set[asyncio.Task[None]] = set()
        while line := await reader.readline():
            m = json.loads(line)
            op, key = m.get("op"), m.get("id")
            host = procs.get(key) if isinstance(key, int) else None
            if op == "spawn":
                try:
                    procs[key] = hosts.spawn(m["serial"], set(m["avoid"]), m["config"], None, m["source"])
                except Exception as exc:  # no machine left, Ray refusing...
                    say({"k": "configured", "id": key, "error": f"{type(exc).__name__}: {exc}"})
                    continue
                task = loop.create_task(configured(key, procs[key]))
            elif op == "spares":
                task = loop.create_task(spares(m["q"], tuple(str(name) for name in m.get("preload") or [])))
            else:
                if op == "control" and host:
                    host.control(m["text"])
                elif op == "set_peers" and host:
                    host.set_peers(m["text"])
                elif op == "kill" and host:
                    with contextlib.suppress(Exception):
                        host.kill()
                elif op == "wipe":
                    shutil.rmtree(m["path"], ignore_errors=True)
                elif op == "top_up":
                    preload = m.get("preload") or []
                    hosts.top_up(int(m["count"]), tuple(str(name) for name in preload))
                continue
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    asyncio.run(serve())


if __name__ == "__main__":
    helper_main()


__all__ = ["Box", "SandboxHost", "SandboxHosts", "helper_main"]
