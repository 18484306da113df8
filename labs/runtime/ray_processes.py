"""Where a Ray run's node processes come from: the hosts a driver starts, controls and kills.

The driver (:mod:`.ray_runtime`) decides *what* happens in a run; a :class:`Hosts` decides *how*
a node's process (a :class:`~labs.runtime.ray_actor.NodeHost` actor) is started, told things and
killed. Two kinds exist:

* :class:`LocalHosts` (the default): Ray actors of the Ray instance this process is connected to.
* ``autograder.sandbox_ray.SandboxHosts`` (the grader's): the same actors, started by a helper process that runs as
  another, unprivileged OS user with a Ray instance of its own. Only JSON text crosses between the
  driver and that helper, so the grader needs no Ray at all and never touches an object built by
  student code.

Everything a host says back about the run (its trace events, a clerk's results) comes to the
driver over its own loopback socket, whoever started the host.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .ray_actor import NodeHost

WARM = 0
"""How many idle host processes to leave booting after each run (see :func:`keep_warm`)."""

START_TIMEOUT = 120.0
"""Seconds to wait for an actor's process to start and call back (slow on a busy 2-core box)."""


class RayRunError(RuntimeError):
    """A Ray run could not be carried out (an actor never started, Ray is unreachable...)."""


class HostError(RuntimeError):
    """A host could not become its node: the student's files do not import, say. The message
    is the cause's last line."""


class Host(ABC):
    """One node's process, as the driver drives it."""

    @abstractmethod
    async def configured(self) -> None:
        """Return once the process has taken its node's part; raise :class:`HostError` if it could not."""
        ...

    @abstractmethod
    def set_peers(self, addresses: str) -> None:
        """Tell the process where its peers listen (JSON: ``{name: [host, port]}``)."""
        ...

    @abstractmethod
    def control(self, command: str) -> None:
        """A driver command (JSON), for example ``{"cmd": "start"}``."""
        ...

    @abstractmethod
    def kill(self) -> None:
        """End the process at once, as a crash does."""
        ...


class Hosts(ABC):
    """Starts node processes for Ray runs."""

    def ensure(self) -> None:
        """Be ready to start processes (connect to Ray, start a helper...)."""
        return None

    @abstractmethod
    def spawn(self, serial: int, avoid: set[str], config: str, classes: tuple[Any, Any, list[type]] | None,
              source: str | None) -> Host:
        """A process for one node incarnation, configured with ``config`` (JSON) and either the
        node ``classes`` (server, clerk, message types) or the student's files as ``source``."""
        ...

    async def spares_booted(self, preload: tuple[str, ...] = ()) -> None:
        """Return once the idle processes booted ahead of time are up and have imported the
        modules named in ``preload`` (none by default)."""
        return None

    def top_up(self, count: int, preload: tuple[str, ...] = ()) -> None:
        """Boot idle processes until ``count`` wait to be used (by default: boot none); a process
        booted now imports the modules named in ``preload`` (the lab's) while it boots."""
        return None

    def driver_host(self) -> str:
        """The address the driver listens on for its hosts."""
        return "127.0.0.1"

    def storage_root(self, lab: str) -> Path:
        """A new, empty folder for one run's node storage."""
        return Path(tempfile.mkdtemp(prefix=f"labs-{lab}-"))

    def wipe(self, path: Path) -> None:
        """Remove a node's storage (the schedule said its disk was lost)."""
        shutil.rmtree(path, ignore_errors=True)


class RayActorHost(Host):
    """A :class:`~labs.runtime.ray_actor.NodeHost` actor of the connected Ray instance."""

    def __init__(self, handle: Any, configure_ref: Any) -> None:
        self.handle = handle
        self.ref = configure_ref
        self.calls = 0  # numbers the calls whose order matters: the actor runs them in this order

    async def configured(self) -> None:
        try:
            await self.ref
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise HostError(cause(exc)) from None

    def set_peers(self, addresses: str) -> None:
        self.calls += 1
        self.handle.set_peers.remote(self.calls - 1, addresses)

    def control(self, command: str) -> None:
        self.calls += 1
        self.handle.control.remote(self.calls - 1, command)

    def kill(self) -> None:
        import ray  # kept here: importing this module loads no Ray

        ray.kill(self.handle, no_restart=True)


class LocalHosts(Hosts):
    """Actors of the Ray instance this process is connected to (one is started on loopback if
    none is)."""

    def ensure(self) -> None:
        ensure_ray()

    def spawn(self, serial: int, avoid: set[str], config: str, classes: tuple[Any, Any, list[type]] | None,
              source: str | None) -> Host:
        handle = _take_host(serial, avoid)
        if source is not None:
            return RayActorHost(handle, handle.configure.remote(config, None, None, [], source))
        assert classes is not None
        server, clerk, types = classes
        return RayActorHost(handle, handle.configure.remote(config, server, clerk, types))

    async def spares_booted(self, preload: tuple[str, ...] = ()) -> None:
        """Wait until the idle processes have booted and imported the lab's modules, so that none
        boots (and takes the CPU) during a run, and a restart's process starts its node at once.

        A booting Python process takes a core for a second or more; on a small machine that would
        delay the schedule's faults and the nodes' timers of the run that has just begun.
        """
        ready = [handle.preload.remote(list(preload)) for handle, _ in _idle()]
        if ready:
            await asyncio.wait([asyncio.ensure_future(ref) for ref in ready], timeout=START_TIMEOUT)

    def top_up(self, count: int, preload: tuple[str, ...] = ()) -> None:
        idle = _idle()
        while len(idle) < count:
            idle.append(_boot_host(len(idle), set(), preload))

    def driver_host(self) -> str:
        """Loopback, unless some Ray node lives on another machine and must call back to us."""
        import ray  # kept here: importing this module loads no Ray

        addresses = {n.get("NodeManagerAddress") for n in _machines() if n.get("Alive")}
        if all(a is None or a.startswith("127.") or a == "localhost" for a in addresses):
            return "127.0.0.1"
        return str(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]


def ensure_ray(address: str | None = None) -> None:
    """Join ``address``, or start a local Ray on loopback unless one is already connected."""
    import ray  # kept here: importing this module loads no Ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    # "local": a Ray of our own. With no address Ray would join whatever cluster another
    # process of this user last started on the machine (it leaves its address in /tmp/ray).
    ray.init(address=address or "local", include_dashboard=False, configure_logging=False)


def keep_warm(processes: int) -> None:
    """After each run, boot this many empty host processes for the next run to use.

    A process takes a second or two to start; a notebook or a test session that runs many short
    Ray runs saves that much per node and run. An empty host has never run node code, so a node
    started in one is as fresh as in a new process.
    """
    global WARM
    WARM = processes


def send_by_value(classes: Iterable[type | None]) -> None:
    """Classes from outside the installed ``labs`` package (a student's file, a test module)
    travel to the actors by value: the actors could not import them by name."""
    import ray.cloudpickle as cloudpickle  # kept here: importing this module loads no Ray

    for cls in classes:
        if cls is None or cls.__module__.split(".")[0] in ("labs", "__main__"):
            continue
        module = sys.modules.get(cls.__module__)
        if module is not None:
            cloudpickle.register_pickle_by_value(module)  # type: ignore[no-untyped-call]


def cause(exc: BaseException) -> str:
    """The student's error inside Ray's wrapping of it: its last line."""
    inner = getattr(exc, "cause", None) or exc
    text = str(inner).strip().splitlines()
    return f"{type(inner).__name__}: {text[-1]}" if text else type(inner).__name__


# -- the actors of the connected Ray ----------------------------------------------------------

_HOST: Any = None
_IDLE: dict[str, list[tuple[Any, str | None]]] = {}
"""Booted, never-used host processes of each Ray job, with the machine each was placed on."""


def _host_actor() -> Any:
    global _HOST
    if _HOST is None:
        import ray  # kept here: importing this module loads no Ray

        _HOST = ray.remote(NodeHost)
    return _HOST


def _idle() -> list[tuple[Any, str | None]]:
    import ray  # kept here: importing this module loads no Ray

    return _IDLE.setdefault(ray.get_runtime_context().get_job_id(), [])


def _boot_host(serial: int, avoid: set[str], preload: tuple[str, ...] = ()) -> tuple[Any, str | None]:
    strategy, machine = _placement(serial, avoid)
    handle = _host_actor().options(
        num_cpus=0, max_restarts=0, max_task_retries=0, scheduling_strategy=strategy
    ).remote(tuple(preload))
    return handle, machine


def _take_host(serial: int, avoid: set[str]) -> Any:
    """An idle host on a live machine if one is booted, else a new one."""
    alive = {n["NodeID"] for n in _machines() if n.get("Alive")} - avoid
    idle = _idle()
    for i, (handle, machine) in enumerate(idle):
        if (machine is None and not avoid) or machine in alive:
            del idle[i]
            return handle
    return _boot_host(serial, avoid)[0]


def _placement(serial: int, avoid: set[str]) -> tuple[Any, str | None]:
    """Spread nodes over the cluster's machines, round robin, avoiding machines that failed.

    The affinity is hard: Ray's soft affinity was seen to fall back to another machine while the
    chosen one was still starting its workers. A machine that just failed may still be listed as
    alive for a while, which is why the driver also avoids machines where processes died.
    """
    # kept here: importing this module loads no Ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    every = sorted(n["NodeID"] for n in _machines() if n.get("Alive"))
    alive = [m for m in every if m not in avoid]
    if len(alive) <= 1 and not avoid:
        return "DEFAULT", None
    if not every:
        raise RayRunError("no machine of the Ray cluster is left alive to start a node on")
    # A process that died unasked may have taken only itself (os._exit, a student's crash):
    # when every machine Ray still calls alive is suspect, try them rather than give up.
    alive = alive or every
    machine = alive[serial % len(alive)]
    return NodeAffinitySchedulingStrategy(machine, soft=False), machine


def _machines() -> list[dict[str, Any]]:
    """Ray's list of the cluster's machines (``ray.nodes()``)."""
    import ray  # kept here: importing this module loads no Ray

    return ray.nodes()  # type: ignore[no-any-return,no-untyped-call]


__all__ = ["Host", "HostError", "Hosts", "LocalHosts", "RayActorHost", "RayRunError", "cause", "ensure_ray",
           "keep_warm", "send_by_value"]
