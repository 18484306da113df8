"""Simulated nodes in processes of their own: the world in one process, each node in another.

For graded runs the simulator's world (:mod:`.sim`: time, the network's dice, the faults, the
disks, the workload, the history) stays in the grader's process, and each incarnation of each
node runs in a process of its own, forked by a :mod:`.nursery` into namespaces that reach
nothing but one socket to the world. Over that socket go frames of JSON (a 4-byte length, then
the text), nothing the world would have to trust more than data:

* world -> node: ``[event, local time, id counter]`` (see :meth:`.nodeside.NodeSide.handle`);
* node -> world: ``["call", effects, request]`` (answered ``["ok", answer, id counter]`` or
  ``["no", exception name, text]``), then ``["done", effects, error report, value]``.

The world checks every frame's shape before it applies anything: a node process that sends
garbage, dies or hangs crashes that node (or stops the run) with a report saying so; it never
crashes the grader.
"""

from __future__ import annotations

import json
import math
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

from .hosting import format_error
from .node import NodeError
from .nodeside import CallRefused, Effect, NodeSide, Reply, World

FRAME = struct.Struct("!I")
MAX_FRAME = 64 << 20
"""Bytes one frame may hold (a message, a file written by a work...)."""
SPIN = 0.001
"""Seconds the world polls for a node's reply before it goes to sleep (see :meth:`Frames._poll`)."""


class ChannelClosed(ConnectionError):
    """The other end of a node's socket went away."""


class Frames:
    """Frames over one socket, both ways. Reads are buffered: one system call brings in a whole
    frame, mostly (a run hands thousands of small frames back and forth)."""

    def __init__(self, sock: socket.socket, spin: float = 0.0) -> None:
        self.sock = sock
        self.spin = spin
        self._buffer = bytearray()

    def send(self, obj: Any, fds: list[int] | None = None) -> None:
        """Send ``obj``; ``fds``: open files that go along with its first bytes (Unix sockets)."""
        data = json.dumps(obj, separators=(",", ":")).encode("utf-8")
        if len(data) > MAX_FRAME:
            raise NodeError(f"a frame of {len(data):,} bytes is more than the {MAX_FRAME:,} allowed")
        frame = FRAME.pack(len(data)) + data
        sent = socket.send_fds(self.sock, [frame], fds) if fds else 0
        self.sock.sendall(frame[sent:])

    def recv_with_fds(self, most: int = 1) -> tuple[Any, list[int]]:
        """The next frame, and the open files (at most ``most``) sent along with it."""
        fds: list[int] = []
        if not self._buffer:
            chunk, fds, _, _ = socket.recv_fds(self.sock, 1 << 16, most)
            if not chunk:
                raise ChannelClosed("the other end closed the socket")
            self._buffer += chunk
        return self.recv(), fds

    def _fill(self, need: int) -> None:
        while len(self._buffer) < need:
            size = max(1 << 16, min(need - len(self._buffer), 1 << 24))
            chunk = self._poll(size) if self.spin else None
            if chunk is None:
                chunk = self.sock.recv(size)
            if not chunk:
                raise ChannelClosed("the other end closed the socket")
            self._buffer += chunk

    def _poll(self, size: int) -> bytes | None:
        """What arrives within ``spin`` seconds of asking, without going to sleep (None: nothing
        yet). A reply to an event takes microseconds of the node's time, while a sleeping reader
        takes tens of microseconds more to wake up: that wake-up, once per event, was most of what
        a sealed node cost."""
        timeout = self.sock.gettimeout()
        self.sock.setblocking(False)
        try:
            deadline = time.perf_counter() + self.spin
            while True:
                try:
                    return self.sock.recv(size)
                except BlockingIOError:
                    if time.perf_counter() >= deadline:
                        return None
        finally:
            self.sock.settimeout(timeout)

    def recv(self, count: Callable[[int], None] | None = None) -> Any:
        """The next frame; ``count`` hears its size before it is read."""
        self._fill(FRAME.size)
        (size,) = FRAME.unpack_from(self._buffer)
        if size > MAX_FRAME:
            raise NodeError(f"a frame of {size:,} bytes is more than the {MAX_FRAME:,} allowed")
        if count is not None:
            count(size)
        self._fill(FRAME.size + size)
        data = bytes(self._buffer[FRAME.size:FRAME.size + size])
        del self._buffer[:FRAME.size + size]
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise NodeError(f"a frame that is not JSON: {exc}") from None


# -- the node's side: runs in the node's own process ------------------------------------------


class _Channel:
    """:class:`~.nodeside.World` over the socket, from the node's process."""

    def __init__(self, frames: Frames) -> None:
        self.frames = frames

    def call(self, effects: list[Effect], request: tuple[Any, ...]) -> tuple[Any, int]:
        self.frames.send(["call", effects, list(request)])
        answer = self.frames.recv()
        if answer[0] == "no":
            raise CallRefused(str(answer[1]), str(answer[2]))
        return answer[1], int(answer[2])


def _random_state(state: Any) -> Any:
    """A ``random.Random`` state as JSON carried it (lists) back in the form ``setstate`` takes."""
    return None if state is None else (state[0], tuple(state[1]), state[2])


def serve(frames: Frames, make: Callable[[World], NodeSide]) -> None:
    """Run one node incarnation: events in, effects out, until the world closes the socket."""
    side = make(_Channel(frames))
    while True:
        try:
            frame = frames.recv()
        except ChannelClosed:
            return
        event, now, ids = frame
        if event[0] in ("start", "step"):
            event[2] = _random_state(event[2])
        try:
            effects, error, value = side.handle(float(now), int(ids), tuple(event))
        except Exception as exc:  # the event itself made no sense to the node (a timer it never set...)
            effects, error, value = [], format_error(side.name, f"the event {event[0]!r}", exc), None
        frames.send(["done", effects, error, value])


# -- the world's side: runs in the grader's process -------------------------------------------


class RunAborted(RuntimeError):
    """The run cannot go on (the message says why); it is a failure of the submission."""


class NodeHung(RunAborted):
    """A node's process did not answer in time (a handler that never returns): the run stops."""


class TooMuchData(RunAborted):
    """The nodes handed back more bytes than a run may hold: the run stops."""


class TooMuchCPU(RunAborted):
    """The nodes used more CPU time than a run may: the run stops."""


RUN_BYTES = 256 << 20
"""Bytes all node processes of one run may hand back together (their messages, logs, results)."""
RUN_CPU = 20.0
"""Seconds of CPU time all node processes of one run may use together (the reference's use a
second or two): a thread left spinning between events would otherwise take its CPU from the
world's and every other run's."""
CPU_EVERY = 0.2
"""Seconds of real time between two readings of a node process's CPU time."""


class Budget:
    """Real time and bytes one run's node processes may use together."""

    def __init__(self, deadline: float, max_bytes: int = RUN_BYTES, max_cpu: float | None = None) -> None:
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.received = 0
        self.max_cpu = RUN_CPU if max_cpu is None else max_cpu
        self.cpu: dict[int, float] = {}  # the last reading of each node process

    def charge(self, process: int, seconds: float) -> None:
        self.cpu[process] = seconds
        used = sum(self.cpu.values())
        if used > self.max_cpu:
            raise TooMuchCPU(f"the nodes used {used:.0f} s of CPU time in one run, more than the {self.max_cpu:.0f} s "
                             "allowed (the reference's use a second or two): a thread that spins, or a handler that "
                             "does far too much?")

    def count(self, size: int) -> None:
        self.received += size
        if self.received > self.max_bytes:
            raise TooMuchData(f"the nodes handed back more than {self.max_bytes >> 20} MiB in one run (messages, "
                              "logs, results): a message storm, or messages too big?")


_JSONABLE = (type(None), bool, int, float, str, list, dict)


def _effects(raw: Any, node: str) -> list[Effect]:
    """The effects of a frame, each checked for its shape (see :mod:`.nodeside`)."""
    if type(raw) is not list:
        raise NodeError(f"{node}'s process handed back effects that are not a list")
    out: list[Effect] = []
    for e in raw:
        if type(e) is not list or not e or type(e[0]) is not str or not _EFFECT_SHAPES.get(e[0], _bad)(e):
            raise NodeError(f"{node}'s process handed back a malformed effect: {str(e)[:200]}")
        out.append(tuple(e))
    return out


def _bad(e: list[Any]) -> bool:
    return False


def _number(x: Any) -> bool:
    return type(x) in (int, float) and math.isfinite(x) and x >= 0


_EFFECT_SHAPES: dict[str, Callable[[list[Any]], bool]] = {
    "send": lambda e: len(e) == 4 and type(e[1]) is str and type(e[2]) is str and isinstance(e[3], _JSONABLE),
    "timer": lambda e: len(e) == 4 and type(e[1]) is int and type(e[2]) is str and _number(e[3]),
    "cancel": lambda e: len(e) == 2 and type(e[1]) is int,
    "log": lambda e: len(e) == 2 and type(e[1]) is str,
    "complete": lambda e: len(e) == 3 and e[1] in ("ok", "fail") and isinstance(e[2], _JSONABLE),
    "work": lambda e: len(e) == 3 and type(e[1]) is int and type(e[2]) is str,
    "put": lambda e: len(e) == 3 and type(e[1]) is str and type(e[2]) is str,
    "del": lambda e: len(e) == 2 and type(e[1]) is str,
}


_EVENTS = {"start": "on_start", "fire": "a timer", "invoke": "an operation", "step": "a step of a work",
           "result": "the result of a work", "role": "role()", "measure": "a measurement",
           "dump": "a look at its fields"}
"""Events as a report names them."""


class RemoteNode:
    """One node incarnation in a process of its own, as the simulator drives it."""

    own_process = True

    def __init__(self, name: str, frames: Frames, world: World, budget: Budget,
                 kill: Callable[[], None], memory: Callable[[], int | None] = lambda: None,
                 cpu: Callable[[], float | None] = lambda: None) -> None:
        self.name = name
        self.memory = memory
        self._cpu = cpu
        self._cpu_read = time.monotonic()
        self._sock = frames.sock
        self._frames = frames
        self._world = world
        self._budget = budget
        self._kill = kill
        self._dead: str | None = None

    def handle(self, now: float, ids: int, event: tuple[Any, ...]) -> Reply:
        what = _EVENTS.get(str(event[0]), str(event[0]))
        if event[0] == "deliver":
            what = f"a message from {event[1]}"
        if self._dead is not None:
            return [], None, None
        if time.monotonic() - self._cpu_read > CPU_EVERY:
            self._cpu_read = time.monotonic()
            used = self._cpu()
            if used is not None:
                self._budget.charge(id(self), used)
        try:
            self._frames.send([list(event), now, ids])
            while True:
                frame = self._receive(what)
                if type(frame) is not list or not frame:
                    raise NodeError(f"{self.name}'s process handed back something that is not a frame")
                if frame[0] == "done" and len(frame) == 4:
                    error = frame[2]
                    if error is not None and type(error) is not str:
                        raise NodeError(f"{self.name}'s process handed back an error report that is not text")
                    return _effects(frame[1], self.name), error, frame[3]
                if frame[0] != "call" or len(frame) != 3 or type(frame[2]) is not list or not frame[2]:
                    raise NodeError(f"{self.name}'s process handed back something that is not a frame")
                try:
                    answer, counter = self._world.call(_effects(frame[1], self.name), tuple(frame[2]))
                except CallRefused as exc:
                    self._frames.send(["no", exc.kind, str(exc)])
                else:
                    self._frames.send(["ok", answer, counter])
        except (ChannelClosed, OSError) as exc:
            self._dead = f"{self.name}'s process ended while handling {what} ({exc})"
            self._kill()
            return [], self._dead, None
        except NodeError as exc:
            self._dead = str(exc)
            self._kill()
            return [], f"{self.name} crashed while handling {what}: {exc}", None

    @property
    def dead(self) -> bool:
        """Its process ended, or handed back something that made no sense: it handles nothing more."""
        return self._dead is not None

    def _receive(self, what: str) -> Any:
        left = self._budget.deadline - time.monotonic()
        if left <= 0:
            raise NodeHung(f"the run ran out of real time while {self.name} was handling {what}")
        self._sock.settimeout(left)
        try:
            return self._frames.recv(self._budget.count)
        except TimeoutError:
            self._kill()
            raise NodeHung(f"{self.name} did not return from handling {what}: a handler that never returns "
                           "(an endless loop?)") from None

    def stop(self) -> None:
        self._dead = self._dead or f"{self.name}'s process was stopped"
        self._kill()
        self._sock.close()


def process_cpu(pid: int) -> float | None:
    """Seconds of CPU time process ``pid`` (all its threads) has used, read from ``/proc`` by the
    grader; None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, ValueError, IndexError):
        return None


_TICKS = os.sysconf("SC_CLK_TCK")


def process_memory(pid: int, whole_namespace: bool) -> int | None:
    """Bytes of anonymous memory (heap and stacks: where a program keeps its data) that process
    ``pid`` holds, and with ``whole_namespace`` every process of its PID namespace too (a node may
    fork one to keep data in), read from ``/proc`` by the grader. None when it cannot be read."""

    def anonymous(p: int | str) -> int | None:
        try:
            with open(f"/proc/{p}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Anonymous:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            return None
        return None

    own = anonymous(pid)
    if own is None or not whole_namespace:
        return own
    try:
        namespace = os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None
    total = own
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == pid:
            continue
        try:
            if os.readlink(f"/proc/{entry.name}/ns/pid") != namespace:
                continue
        except OSError:
            continue
        total += anonymous(entry.name) or 0
    return total
