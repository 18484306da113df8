"""The simulator split at the trust line: the world here, each node in a sealed process of its own
(labs.runtime.nursery). The same seed gives the same trace as the in-process simulator, and a node
process reaches nothing: no network, no other node, no files but its own, no schedule."""

from __future__ import annotations

import ast
import contextlib
import socket
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autograder.suite import load_graded_suite
from labs.runtime.lab import Lab, RunResult, get_lab
from labs.runtime.nursery import IsolationError, Nursery, isolation_available, one_core
from labs.runtime.schedule import Schedule, load, parse
from labs.runtime.sim import Simulation, first_difference
from labs.runtime.worker import NodeHung

pytestmark = pytest.mark.skipif(isolation_available() is not None, reason="no user namespaces here")


@pytest.fixture(scope="module")
def nursery() -> Iterator[Nursery]:
    with Nursery() as n:
        yield n


def _comparable(trace: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A trace without the memory a node holds: measured from the real process when it runs apart
    (a property of that process, not of the simulated run), so it is left out, with what kind of
    measure it was. Everything else, the disk sizes too, is the same."""
    return [{k: v for k, v in e.items() if not (e["type"] == "memory" and k in ("bytes", "of"))} for e in trace]


SAME_TRACE = [
    ("demo", None), ("rpc", "restart-with-disk"), ("rpc", "hidden-churn"), ("rpc", "memory-bounded"),
    ("raft", "C-restart-leader"), ("raft", "D-snapshots-crashes"), ("raft", "E-unreliable"),
    ("mapreduce", "crash-partial-output"), ("mapreduce", "hidden-paused-workers"),
]


@pytest.mark.parametrize(("lab_name", "test_name"), SAME_TRACE)
def test_an_isolated_run_gives_the_in_process_trace(nursery: Nursery, lab_name: str, test_name: str | None) -> None:
    if test_name is None:
        lab, schedule, seeds = get_lab(lab_name), load("leader-isolated-then-crash"), [1, 2]
    else:
        test = next(t for t in load_graded_suite(lab_name).tests if t.name == test_name)
        lab, schedule, seeds = test.lab, test.schedule, list(test.seeds[:2])
    for seed in seeds:
        here = Simulation(lab, schedule, seed).run()
        apart = Simulation(lab, schedule, seed, nodes=nursery.nodes(lab)).run()
        assert apart.errors == here.errors
        diff = first_difference(_comparable(here.trace), _comparable(apart.trace))
        assert diff is None, f"seed {seed}: the traces part at event {diff}"
        # Memory: here the node's fields; apart the node's process, as the grader read it.
        assert {e["of"] for e in here.trace if e["type"] == "memory"} <= {"fields"}
        measured = [e["bytes"] for e in apart.trace if e["type"] == "memory"]
        assert all(type(b) is int and b > 1 << 20 for b in measured), measured[:5]


PROBE = '''
import gc, os, socket, sys
from labs.rpc.node import KVServer as _Server, KVClerk as _Clerk


def _try(what, fn):
    try:
        return f"{what}: {fn()!r}"
    except Exception as exc:
        return f"{what}: refused ({type(exc).__name__})"


def _connect(port):
    s = socket.socket()
    s.settimeout(1)
    s.connect(("127.0.0.1", port))
    return "connected"


def _strings_with(marker):
    mine = globals()
    return sum(1 for o in gc.get_objects()
               if o is not mine and isinstance(o, (dict, list, tuple)) and marker in repr(o)[:100000])


class KVServer(_Server):
    def on_start(self):
        super().on_start()
        report = [
            _try("connect", lambda: _connect(PORT)),
            _try("tmp", lambda: sorted(os.listdir("/tmp"))),
            _try("secret", lambda: open(SECRET).read()),
            _try("pids", lambda: sorted(p for p in os.listdir("/proc") if p.isdigit())),
            _try("fds", lambda: len(os.listdir("/proc/self/fd"))),
            _try("marker", lambda: _strings_with(MARKER) + sum(MARKER in v for v in os.environ.values())),
            _try("argv", lambda: open("/proc/self/cmdline").read()),
            _try("lock", lambda: open("/run/lock/left-by-" + self.id, "w").write("x")),
        ]
        with open("/tmp/left-by-" + self.id, "w") as f:
            f.write("x")
        for line in report:
            self.log(line)


class KVClerk(_Clerk):
    def on_start(self):
        super().on_start()
        self.log(_try("tmp", lambda: sorted(os.listdir("/tmp"))))
'''


@contextlib.contextmanager
def bait() -> Iterator[tuple[int, Path]]:
    """What a sealed node must not reach, while it lasts: a listener on this machine's loopback
    (its port) and a secret file in this /tmp."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    secret = Path("/tmp") / f"isolation-secret-{port}"
    secret.write_text("the hidden schedule")
    try:
        yield port, secret
    finally:
        listener.close()
        secret.unlink()


@contextlib.contextmanager
def probing(tmp_path: Path, duration: float | None = None) -> Iterator[tuple[Lab, Schedule]]:
    """The RPC lab with the PROBE submission, and a schedule whose name is the secret it looks
    for; while the run lasts, the :func:`bait` it tries to reach."""
    with bait() as (port, secret):
        submission = tmp_path / "node.py"
        submission.write_text(f"PORT = {port}\nSECRET = {str(secret)!r}\nMARKER = 'secret-' + 'schedule-{port}'\n"
                              + textwrap.dedent(PROBE))
        schedule = parse({"name": f"secret-schedule-{port}", "events": [],
                          **({"duration": duration} if duration else {})})
        yield get_lab("rpc").with_impl_source(submission), schedule


def assert_reached_nothing(run: RunResult) -> None:
    """What the PROBE's nodes logged: every reach refused, and nothing to find."""
    assert not run.errors, run.errors
    logs = {(e["node"], str(e["text"]).split(":")[0]): str(e["text"]) for e in run.trace if e["type"] == "log"}
    assert logs[("n1", "connect")] == "connect: refused (OSError)"  # not even loopback
    assert logs[("n1", "secret")] == "secret: refused (FileNotFoundError)"
    # Its own files, and nothing else: but for the folders that lead to the released packages when
    # those live under /tmp (the sandbox's work folder; a checkout in /tmp), kept read-only.
    allowed = {p.split("/")[2] for p in sys.path if p.startswith("/tmp/")}
    seen = ast.literal_eval(logs[("n1", "tmp")].removeprefix("tmp: "))  # the names the node logged
    assert [n for n in seen if n not in allowed and not n.startswith("submission-")] == [], seen
    assert any(n.startswith("submission-") for n in seen)
    assert logs[("n1", "pids")] == "pids: ['1']"  # alone in its PID namespace
    assert logs[("n1", "fds")] == "fds: 5"  # stdin, stdout, stderr, its socket, and the listing itself
    assert logs[("n1", "marker")] == "marker: 0"
    assert "secret-schedule" not in logs[("n1", "argv")]
    assert logs[("n1", "lock")] == "lock: refused (OSError)"  # a folder anyone may write to, read-only
    for clerk in ("c1", "c2", "c3"):  # nothing the server left in its /tmp
        assert "left-by" not in logs[(clerk, "tmp")]


def test_a_node_process_reaches_nothing(nursery: Nursery, tmp_path: Path) -> None:
    with probing(tmp_path) as (lab, schedule):
        run = Simulation(lab, schedule, 7, nodes=nursery.nodes(lab)).run()
    assert_reached_nothing(run)


BROKEN = {
    "exits": "os._exit(3)",
    "garbage": "os.write(_socket_fd(), b'\\x00\\x00\\x00\\x05hello')",
}


@pytest.mark.parametrize("how", sorted(BROKEN))
def test_a_node_process_that_dies_or_babbles_crashes_that_node_only(nursery: Nursery, tmp_path: Path, how: str) -> None:
    submission = tmp_path / "node.py"
    submission.write_text(textwrap.dedent(f'''
        import os
        from labs.rpc.node import KVServer as _Server, KVClerk

        def _socket_fd():
            for fd in range(3, 64):
                try:
                    if os.readlink(f"/proc/self/fd/{{fd}}").startswith("socket:"):
                        return fd
                except OSError:
                    pass

        class KVServer(_Server):
            def on_start(self):
                super().on_start()
                if self.now() < 0.5:
                    {BROKEN[how]}
    '''))
    lab = get_lab("rpc").with_impl_source(submission)
    schedule = parse({"events": [{"at": 1.0, "restart": "n1"}]})
    run = Simulation(lab, schedule, 3, nodes=nursery.nodes(lab)).run()
    crashes = [e for e in run.trace if e["type"] == "crash" and e["node"] == "n1"]
    assert len(crashes) == 1 and crashes[0]["reason"] == "error"
    assert ("ended while handling on_start" if how == "exits" else "that is not JSON") in str(crashes[0]["error"])
    assert any(e["type"] == "restart" and e["node"] == "n1" for e in run.trace)
    assert any(e["type"] == "complete" and e["outcome"] == "ok" and e["t"] > 1.0 for e in run.trace)  # it went on


def test_a_handler_that_never_returns_stops_the_run(nursery: Nursery, tmp_path: Path) -> None:
    submission = tmp_path / "node.py"
    submission.write_text(textwrap.dedent('''
        from labs.rpc.node import KVServer as _Server, KVClerk

        class KVServer(_Server):
            def on_start(self):
                while True:
                    pass
    '''))
    lab = get_lab("rpc").with_impl_source(submission)
    with pytest.raises(NodeHung, match="n1 did not return from handling on_start"):
        Simulation(lab, parse({"events": []}), 3, nodes=nursery.nodes(lab, seconds=2.0)).run()


def test_a_thread_left_spinning_between_events_stops_the_run_when_its_cpu_time_is_spent(
        nursery: Nursery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every handler returns at once, so no event is late: the grader reads the node processes'
    CPU time as the run goes, and stops the run past RUN_CPU (2 s here), saying so."""
    import labs.runtime.worker as worker

    monkeypatch.setattr(worker, "RUN_CPU", 2.0)
    submission = tmp_path / "node.py"
    submission.write_text(textwrap.dedent('''
        import threading
        from labs.rpc.node import KVServer as _Server, KVClerk

        def spin():
            while True:
                pass

        class KVServer(_Server):
            def on_start(self):
                super().on_start()
                threading.Thread(target=spin, daemon=True).start()
    '''))
    lab = get_lab("rpc").with_impl_source(submission)
    with pytest.raises(worker.TooMuchCPU, match=r"the nodes used \d+ s of CPU time in one run, more than the 2 s"), \
            one_core() as core:
        Simulation(lab, parse({"duration": 300.0, "events": []}), 3, nodes=nursery.nodes(lab, 60.0, core)).run()


def test_a_nursery_says_why_it_cannot_isolate() -> None:
    with Nursery() as n, pytest.raises(IsolationError, match="spawn before run"):
        n.spawn()


def test_a_run_on_one_core_puts_its_nodes_on_that_core_and_gives_the_world_its_cores_back(
        nursery: Nursery, tmp_path: Path) -> None:
    """A sealed run hands its nodes one event at a time: world and nodes share one CPU, where a
    hand-over costs a context switch rather than waking another CPU (see nursery.one_core)."""
    import os


    submission = tmp_path / "node.py"
    submission.write_text(textwrap.dedent('''
        import os
        from labs.rpc.node import KVServer as _Server, KVClerk as _Clerk

        class KVServer(_Server):
            def on_start(self):
                super().on_start()
                self.log(f"cores {sorted(os.sched_getaffinity(0))}")

        class KVClerk(_Clerk):
            def on_start(self):
                super().on_start()
                self.log(f"cores {sorted(os.sched_getaffinity(0))}")
    '''))
    lab = get_lab("rpc").with_impl_source(submission)
    before = os.sched_getaffinity(0)
    with one_core() as core:
        assert core is not None and os.sched_getaffinity(0) == {core}
        here = Simulation(lab, parse({"events": [{"at": 1.0, "crash": "n1"}, {"at": 1.5, "restart": "n1"}]}), 3,
                          nodes=nursery.nodes(lab, core=core)).run()
    assert os.sched_getaffinity(0) == before
    said = [e["text"] for e in here.trace if e["type"] == "log" and str(e["text"]).startswith("cores")]
    assert len(said) == 5 and set(said) == {f"cores [{core}]"}  # n1 twice, three clerks
    assert not here.errors
