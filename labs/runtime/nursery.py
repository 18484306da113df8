"""The nursery: a small process that forks each simulated node into a process of its own, cut
off from everything but its socket to the world (see :mod:`.worker`).

The grader starts one nursery per grading (in the sandbox, as the sandbox's user); it imports
the runtime and the lab's released packages once, never student code, and then, for every node
incarnation of every run, forks a child that:

* enters new namespaces of its own (user, mount, network, IPC, PID, hostname), so it has no
  network at all (not even loopback to its siblings), sees no other process, and gets an empty
  private ``/tmp``, ``/var/tmp`` and ``/dev/shm`` (each a small tmpfs);
* keeps one open file: its socket to the world (stdin, stdout and stderr lead to ``/dev/null``),
  so it cannot ask the nursery for anything, and drops every capability (no new ones either);
* only then imports the student's files (written into its private ``/tmp``) and serves events.

A crash of a node kills its process (the PID namespace's first process: every process it
started dies with it), so nothing of a node's memory outlives a crash: a restart is a new
process, as on a real machine. The nursery's own protocol with the grader, in :mod:`.worker`'s
frames over a Unix socket:
``{"op": "run", ...}`` (the classes of the next runs), ``{"op": "spawn"}`` (answered with the
child's pid, the node's socket attached), ``{"op": "kill", "pid": p}``.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import os
import pkgutil
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .hosting import format_error
from .lab import Lab, load_submission
from .mounts import (
    CLONE,
    MS_BIND,
    MS_NODEV,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    PR_SET_CHILD_SUBREAPER,
    PR_SET_NO_NEW_PRIVS,
    check,
    load_libc,
    mount,
    read_only_elsewhere,
)
from .mounts import IsolationError as IsolationError
from .node import Clerk, Node, NodeError
from .node_classes import class_path, cluster_classes
from .nodeside import NodeSide, World
from .search import SearchSpec, searched_lab
from .worker import (
    RUN_CPU,
    SPIN,
    Budget,
    ChannelClosed,
    Frames,
    RemoteNode,
    process_cpu,
    process_memory,
    serve,
)

TMPFS = "size=64m,mode=1777"
"""Each node's private ``/tmp``: small, so that filling it costs that node only."""
NODE_MEMORY = 2 << 30
"""Bytes of address space one node's process may map."""
SEAL_SECONDS = 30.0
"""Seconds a new node process may take to say it is sealed."""
RUN_SECONDS = 120.0
"""Seconds of real time a run may take before it counts as hung."""

POOL = 4
"""Node processes the nursery keeps sealed and loaded ahead, so that a start (or a restart, or a
new clerk) need not wait for one: they get ready while the simulator runs on the other core."""


# -- the grader's side --------------------------------------------------------------------------


class Nursery:
    """The grader's handle on a nursery process. ``launch(fd)`` starts ``python -m
    labs.runtime.nursery FD`` (as the sandbox user, when grading) with ``fd`` passed to it."""

    def __init__(self, launch: Callable[[int], subprocess.Popen[bytes]] | None = None, isolate: bool = True,
                 pool: int = POOL) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock = mine
        self._frames = Frames(mine)
        fd = theirs.fileno()
        args = [sys.executable, "-m", "labs.runtime.nursery", str(fd), f"--pool={pool}"]
        args += [] if isolate else ["--no-isolation"]
        self.process = launch(fd) if launch is not None else subprocess.Popen(args, pass_fds=[fd])
        theirs.close()
        self.isolate = isolate

    def _ask(self, request: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
        try:
            self._frames.send(request)
            answer, fds = self._frames.recv_with_fds()
        except (OSError, NodeError) as exc:
            raise IsolationError(f"the nursery process is gone ({exc})") from None
        if type(answer) is not dict:
            raise IsolationError(f"the nursery answered {str(answer)[:100]}")
        if "error" in answer:
            for fd in fds:
                os.close(fd)
            raise IsolationError(str(answer["error"]))
        return answer, fds

    def nodes(self, lab: Lab, seconds: float = RUN_SECONDS, core: int | None = None) -> ProcessNodes:
        """The node processes of one run of ``lab`` (see :class:`ProcessNodes`)."""
        return self.run(run_config(lab), seconds, core=core)

    def search_nodes(self, lab: Lab, spec: SearchSpec, seconds: float, core: int | None = None) -> ProcessNodes:
        """The node processes of one search of ``lab`` (:mod:`.search`): thousands of runs in the
        same processes, so they share the search's allowance of ``seconds``, real and CPU time,
        not one run's."""
        budget = Budget(time.monotonic() + seconds, max_cpu=seconds)
        return self.run(run_config(searched_lab(lab, spec)), budget=budget, core=core)

    def run(self, config: dict[str, Any], seconds: float = RUN_SECONDS, budget: Budget | None = None,
            core: int | None = None) -> ProcessNodes:
        """The node processes of one run given its :func:`run_config`, which may use ``seconds``
        of real time together (or the given ``budget``); ``core``: the CPU they share with the
        world (see :func:`one_core`)."""
        self._ask({"op": "run", "config": config})
        return ProcessNodes(self, budget or Budget(time.monotonic() + seconds), core)

    def spawn(self) -> tuple[socket.socket, int]:
        """A sealed node process, ready (the student's files loaded): a socket to it, and its pid."""
        answer, fds = self._ask({"op": "spawn"})
        if len(fds) != 1:
            raise IsolationError("the nursery handed over no socket")
        return socket.socket(fileno=fds[0]), int(answer["pid"])

    def kill(self, pid: int) -> None:
        with contextlib.suppress(OSError):
            self._ask({"op": "kill", "pid": pid})

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        self._sock.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> Nursery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProcessNodes:
    """:data:`~labs.runtime.sim.NodeProcesses` for one run: each incarnation forked by the nursery."""

    def __init__(self, nursery: Nursery, budget: Budget, core: int | None = None) -> None:
        self._nursery = nursery
        self.budget = budget
        self.core = core

    def __call__(self, name: str, world: World) -> RemoteNode:
        sock, pid = self._nursery.spawn()
        if self.core is not None:  # an optimisation only: a node elsewhere is slower, not wrong
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, {self.core})
        # A world that shares its core with the node sleeps while the node works; one on its own
        # core polls for the reply a moment first (see worker.Frames).
        frames = Frames(sock, spin=0.0 if self.core is not None else SPIN)
        sock.settimeout(SEAL_SECONDS)
        try:
            said = frames.recv()
        except (OSError, ValueError, NodeError) as exc:
            said = ["broken", f"no word from it ({exc})"]
        if said != ["sealed"]:
            self._nursery.kill(pid)
            sock.close()
            why = said[1] if isinstance(said, list) and len(said) == 2 and said[0] == "broken" else said
            raise IsolationError(f"{name}'s process could not be sealed: {why}")
        frames.send(["node", name])
        isolated = self._nursery.isolate
        return RemoteNode(name, frames, world, self.budget, lambda: self._nursery.kill(pid),
                          lambda: process_memory(pid, whole_namespace=isolated), lambda: process_cpu(pid))


@contextlib.contextmanager
def one_core() -> Iterator[int | None]:
    """Run the world (this thread) on one CPU for a while, and give that CPU to the run's node
    processes too (pass what this yields to :meth:`Nursery.nodes`); None: this machine will not.

    A simulated run hands its nodes one event at a time, and waits for each. Between processes
    on different CPUs, each hand-over wakes a sleeping CPU: about 70 µs per round trip measured on
    a 2-core machine, against about 5 µs between processes that share one, where the world's
    sleep lets the node run at once. The run is sequential anyway; other CPUs stay free for other
    runs and for the nursery's spare processes."""
    try:
        before = os.sched_getaffinity(0)
        core = _current_core(before)
        os.sched_setaffinity(0, {core})
    except OSError:
        yield None
        return
    try:
        yield core
    finally:
        os.sched_setaffinity(0, before)


def _current_core(allowed: set[int]) -> int:
    """The CPU this thread runs on now (where the scheduler put it), if it is allowed."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/thread-self/stat") as f:
            core = int(f.read().rsplit(")", 1)[1].split()[36])  # field 39, "processor"
        if core in allowed:
            return core
    return min(allowed)


def isolation_available() -> str | None:
    """Why this machine cannot seal node processes (no user namespaces), or None when it can."""
    probe = ("import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); "
             f"sys.exit(0 if libc.unshare({CLONE['NEWUSER'] | CLONE['NEWNET']}) == 0 else 1)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True)
    return None if done.returncode == 0 else "this machine does not allow new user namespaces"


def run_config(lab: Lab) -> dict[str, Any]:
    """What a node's process needs to know about a run: the classes (by module and name, or the
    student's files as text), the names of the nodes and the test's parameters. Nothing else: not
    the schedule, the seed, the test's name or the network."""
    return {"lab": lab.name, "server": class_path(lab.node), "clerk": class_path(lab.clerk), "source": lab.impl_source,
            "servers": lab.node_names(), "clients": lab.client_names(), "params": dict(lab.params)}


# -- the nursery process ------------------------------------------------------------------------


def _enter_namespaces(libc: Any) -> None:
    """The first child: new namespaces, this user mapped to itself inside them."""
    uid, gid = os.getuid(), os.getgid()
    check(libc.unshare(sum(CLONE.values())), "unshare")
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _seal(libc: Any, keep: int) -> None:
    """The node's own process (first of its PID namespace): private mounts, no files but its
    socket, no capabilities, no way to gain any."""
    mount(libc, "none", "/", None, MS_REC | MS_PRIVATE, None)
    mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV, None)
    places = [p for p in ("/tmp", "/var/tmp", "/dev/shm") if os.path.isdir(p)]
    # Where Python finds the released packages may lie under one of those (the sandbox's work
    # folder is in /tmp): keep each such folder, read-only, at its own path.
    keep_paths = [p for p in sys.path if p and os.path.isdir(p) and any(p.startswith(t + "/") for t in places)]
    held = [(p, os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in keep_paths]
    for place in places:
        mount(libc, "tmpfs", place, "tmpfs", MS_NOSUID | MS_NODEV, TMPFS)
    for path, fd in held:
        os.makedirs(path, exist_ok=True)
        mount(libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC, None)
        mount(libc, "none", path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, None)
        os.close(fd)
    read_only_elsewhere(libc, {"/proc", *places, *keep_paths})
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 16)
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()
    check(libc.capset(ctypes.byref(header), data), "capset")
    resource.setrlimit(resource.RLIMIT_AS, (NODE_MEMORY, NODE_MEMORY))
    # The kernel's own stop, for what the grader's readings between events miss (a process the
    # node forks, threads that spin together): past it the process is killed (SIGXCPU, then
    # SIGKILL). Above what one thread can use in a run's real time, so that a handler that never
    # returns is still reported as such, at the run's time limit.
    cpu = int(max(RUN_CPU, 2 * RUN_SECONDS))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.environ["TMPDIR"] = "/tmp"
    os.environ["HOME"] = "/tmp"
    os.chdir("/tmp")


def _classes(config: dict[str, Any]) -> tuple[type[Node], type[Clerk] | None]:
    if config["source"] is not None:
        return load_submission(config["source"], Path(tempfile.mkdtemp(prefix="submission-")))

    def load(where: str | None) -> Any:
        if where is None:
            return None
        module, name = where.split(":")
        return getattr(importlib.import_module(module), name)

    return load(config["server"]), load(config["clerk"])


def _node(config: dict[str, Any], name: str, loaded: tuple[type[Node], type[Clerk] | None], frames: Frames) -> None:
    """Serve events as node ``name``."""
    server, clerk = loaded
    classes, codec = cluster_classes(server, clerk, config["servers"], config["clients"])
    servers = tuple(config["servers"])
    serve(frames, lambda world: NodeSide(name, classes[name], classes, codec, servers, config["params"], world))


def _refuse(frames: Frames, report: str) -> None:
    """Answer every event with ``report`` (the node crashes with it, each time it is started)."""
    while True:
        try:
            frames.recv()
        except ChannelClosed:
            return
        frames.send(["done", [], report, None])


def _preload(lab: str) -> None:
    """Import the lab's released packages now: a node's process, once sealed, may not see them."""
    package = importlib.import_module(f"labs.{lab}")
    for info in pkgutil.walk_packages(package.__path__, f"labs.{lab}."):
        with contextlib.suppress(Exception):
            importlib.import_module(info.name)


class _Forked:
    """A node process on its way: its socket, and the pipe on which it will say its pid."""

    def __init__(self, sock: socket.socket, pid_pipe: int) -> None:
        self.sock, self._pipe = sock, pid_pipe
        self._pid: int | None = None

    def pid(self) -> int:
        """Its pid (the first of its own PID namespace), once it is known (waits for it)."""
        if self._pid is None:
            with os.fdopen(self._pipe, "rb") as f:
                said = f.read().decode()
            if not said.isdigit():
                self.sock.close()
                raise IsolationError(said.removeprefix("error: ") or "the node's process could not start")
            self._pid = int(said)
        return self._pid


def _prefork(libc: Any, config: dict[str, Any], isolate: bool) -> _Forked:
    """Fork a node process, which seals itself and loads the student's files, then waits to be
    told its name. Returns at once: the process gets ready meanwhile."""
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    read, write = os.pipe()
    first = os.fork()
    if first == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read)
            mine.close()
            if isolate:
                _enter_namespaces(libc)
            node = os.fork()  # the first process of the new PID namespace
            if node == 0:
                os.close(write)
                try:
                    _node_process(libc, config, theirs, isolate)
                    code = 0
                finally:
                    os._exit(code)
            os.write(write, str(node).encode())
            code = 0
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.write(write, f"error: {exc}".encode())
        finally:
            os._exit(code)
    os.close(write)
    theirs.close()
    return _Forked(mine, read)


def _node_process(libc: Any, config: dict[str, Any], sock: socket.socket, isolate: bool) -> None:  # pragma: no cover
    """A node's process: sealed first, then the student's files, then its name, then events."""
    frames = Frames(sock)  # it waits asleep: polling here too would take the cores from the others
    try:
        os.setsid()  # a group of its own: kill(0, ...) reaches no process but its own
        if isolate:
            _seal(libc, sock.fileno())
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    except BaseException as exc:
        frames.send(["broken", f"{type(exc).__name__}: {exc}"])
        raise
    frames.send(["sealed"])  # said before any student code runs, so student code cannot say it
    try:
        classes: tuple[type[Node], type[Clerk] | None] | None = _classes(config)
        failure: Exception | None = None
    except Exception as exc:  # the student's file does not import: every event will say so
        classes, failure = None, exc
    try:
        told = frames.recv()
    except ChannelClosed:
        return
    name = str(told[1])
    if classes is None:
        assert failure is not None
        _refuse(frames, format_error(name, "loading the submission", failure))
        return
    _node(config, name, classes, frames)




class _Pool:
    """The nursery's node processes made ahead for the current run's configuration."""

    def __init__(self, libc: Any, isolate: bool, size: int = POOL) -> None:
        self.libc, self.isolate, self.size = libc, isolate, size
        self.config: dict[str, Any] | None = None
        self.ready: list[_Forked] = []

    def configure(self, config: dict[str, Any]) -> None:
        if config != self.config:
            self.drain()
            self.config = config
            _preload(config["lab"])

    def take(self) -> tuple[int, socket.socket]:
        if self.config is None:
            raise IsolationError("spawn before run")
        forked = self.ready.pop(0) if self.ready else _prefork(self.libc, self.config, self.isolate)
        return forked.pid(), forked.sock

    def fill(self) -> None:
        while self.config is not None and len(self.ready) < self.size:
            self.ready.append(_prefork(self.libc, self.config, self.isolate))

    def drain(self) -> None:
        for forked in self.ready:
            with contextlib.suppress(ProcessLookupError, IsolationError):
                os.kill(forked.pid(), signal.SIGKILL)
            forked.sock.close()
        self.ready.clear()


def serve_nursery(control: socket.socket, isolate: bool, size: int = POOL) -> None:
    libc = load_libc()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they end
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # nodes whose first child is gone come back here
    pool = _Pool(libc, isolate, size)
    frames = Frames(control)
    try:
        while True:
            try:
                request = frames.recv()
            except (OSError, NodeError):
                return
            answer: dict[str, Any] = {}
            handed: socket.socket | None = None
            try:
                if request["op"] == "run":
                    pool.configure(request["config"])
                elif request["op"] == "spawn":
                    answer["pid"], handed = pool.take()
                elif request["op"] == "kill":
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(request["pid"]), signal.SIGKILL)
            except Exception as exc:
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            frames.send(answer, [handed.fileno()] if handed else None)
            if handed is not None:
                handed.close()
            with contextlib.suppress(IsolationError, OSError):
                pool.fill()  # while the grader runs the simulation
    finally:
        pool.drain()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    control = socket.socket(fileno=int(args[0]))
    size = next((int(a.split("=", 1)[1]) for a in args if a.startswith("--pool=")), POOL)
    serve_nursery(control, isolate="--no-isolation" not in args, size=size)


if __name__ == "__main__":
    main()
