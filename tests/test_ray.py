"""What only the Ray runtime has to prove: real processes, real kills, and a driver that trusts
nothing but plain data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from probe import BOMBER, PROBE, events

from labs.runtime.run import run
from labs.runtime.schedule import builder

pytestmark = pytest.mark.usefixtures("ray_session")

CRASHES = (
    builder("crashes")
    .at(0.5).crash("n2", disk="keep")
    .at(0.5).crash("n3", disk="lose")
    .at(1.0).restart("all")
    .duration(1.5)
    .build()
)


def test_every_node_is_its_own_process_and_a_restart_is_a_new_one() -> None:
    result = run(PROBE, "ray", CRASHES, seed=1)
    starts = {e["node"]: e["pid"] for e in events(result.trace, "start")}
    assert set(starts) == {"n1", "n2", "n3", "n4", "n5"}
    assert len(set(starts.values())) == 5
    assert os.getpid() not in starts.values()
    restarted = {e["node"]: e["pid"] for e in events(result.trace, "restart")}
    assert set(restarted) == {"n2", "n3"}
    for node, pid in restarted.items():
        assert pid != starts[node]
        assert pid not in starts.values()


def test_a_raising_handler_kills_only_its_node_and_the_run_goes_on() -> None:
    result = run(BOMBER, "ray", builder("quiet").duration(1.5).build(), seed=1)
    (crash,) = events(result.trace, "crash", node="n2")
    assert crash["reason"] == "error"
    assert "n2 crashed while handling Boom() from n1" in crash["error"]
    assert "ZeroDivisionError: boom on purpose" in crash["error"]
    assert any("ZeroDivisionError" in e for e in result.errors)
    # Its process is gone: it sends nothing more until the final heal restarts it, elsewhere.
    quiet = [e for e in events(result.trace, "send", node="n2") if crash["t"] + 0.1 < e["t"] < 1.5]
    assert quiet == []
    (restart,) = events(result.trace, "restart", node="n2")
    first = events(result.trace, "start", node="n2")[0]
    assert restart["pid"] != first["pid"]
    # The others went on.
    assert [e for e in events(result.trace, "send", node="n1") if e["t"] > crash["t"] + 0.2]


def test_lossy_network_drops_and_duplicates_on_ray() -> None:
    lossy = builder("lossy").loss(0.2).duplicate(0.2).delay(uniform=(0.0, 0.01)).duration(1.0).build()
    result = run(PROBE, "ray", lossy, seed=2)
    sent = len(events(result.trace, "send"))
    lost = len(events(result.trace, "drop", reason="loss"))
    doubled = len(events(result.trace, "duplicate"))
    assert sent > 200
    assert 0.1 < lost / sent < 0.3
    assert 0.1 < doubled / (sent - lost) < 0.3


# Crashes and restarts on Ray every CI run: test_sealed_ray, and the labs' own Ray tests.
@pytest.mark.parametrize("schedule", ["leader-isolated", pytest.param("crash-restart", marks=pytest.mark.slow)])
def test_demo_lab_keeps_its_guarantees_on_ray(schedule: str) -> None:
    result = run("demo", "ray", schedule, seed=1)
    assert result.violations() == []
    ops = result.summary().operations
    assert ops["ok"] > 20


def test_a_students_file_runs_on_ray(tmp_path: Path) -> None:
    """A student's node.py, outside the installed package, reaches the actors by value."""
    mine = tmp_path / "my_solution"
    mine.mkdir()
    reference = Path(__file__).parents[1] / "labs" / "demo" / "node.py"
    shutil.copy(reference, mine / "node.py")
    result = run("demo", "ray", "none", seed=3, impl=mine)
    assert result.lab.node.__module__.startswith("_student_")
    assert result.violations() == []


def test_the_drivers_commands_run_in_the_order_it_sent_them_whatever_order_ray_delivers_them() -> None:
    """Ray runs an async actor's calls in any order: an ``invoke`` that overtook the ``start``
    before it was once dropped (the clerk was not started yet), and a MapReduce job was never
    submitted. The driver numbers its calls; the host holds one back until those before it ran."""
    from labs.runtime.ray_actor import NodeHost

    host = NodeHost()
    ran: list[str] = []
    host._in_order(2, lambda: ran.append("invoke"))
    host._in_order(3, lambda: ran.append("crash"))
    host._in_order(0, lambda: ran.append("net"))
    assert ran == ["net"]
    host._in_order(1, lambda: ran.append("start"))
    assert ran == ["net", "start", "invoke", "crash"]
    host._in_order(4, lambda: ran.append("restart"))
    assert ran[-1] == "restart" and not host.early
