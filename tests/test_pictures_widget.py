"""The JupyterLab side of the pictures: the trace widget's model state, the control panel that
re-runs a simulated cluster, and how both show in a notebook rendered without a kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_pictures import count

from labs.pictures import ControlPanel, TraceWidget, picture_of
from labs.pictures.display import ENV
from labs.runtime.run import run
from labs.runtime.trace import write_trace

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True)
def live(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests play the live notebook, whatever process runs them."""
    monkeypatch.setenv(ENV, "live")


def test_the_widget_holds_the_picture_of_a_real_run() -> None:
    r = run("demo", "sim", "churn", seed=1)
    w = TraceWidget(r)
    state = w.get_state()
    data = state["data"]
    arrows = count(r.trace, "send") + count(r.trace, "duplicate")
    assert state["arrows"] == arrows == len(data["m"]["s"]) == len(data["m"]["f"])
    drop_marks = sum(1 for f in data["m"]["f"] if 1 <= f & 7 <= 3)
    assert state["drops"] == drop_marks == count(r.trace, "drop") > 0
    assert data["counts"]["partitions"] == count(r.trace, "partition")
    assert sum(1 for s in data["spans"] if s[3] == "crash") == count(r.trace, "crash")
    assert len(data["ops"]) == count(r.trace, "invoke")
    assert data["lanes"] == r.trace[0]["nodes"] + r.trace[0]["clients"]
    assert data["dash"]["pct"]["p50"] == r.summary().latency_percentiles()["p50"]
    assert [v["name"] for v in data["views"]] == ["log-lines", "demo-leaders"]
    assert state["title"] == "demo · sim · schedule churn · seed 1"
    assert "DSPictures.render" in state["_esm"] and "export default" in state["_esm"]
    assert state["selected"] == {}


def test_the_widget_takes_a_trace_file_or_events_and_can_show_another_run(tmp_path: Path) -> None:
    lossy = run("demo", "sim", "lossy", seed=3)
    write_trace(lossy.trace, tmp_path / "lossy.jsonl")
    w = TraceWidget(tmp_path / "lossy.jsonl")
    assert w.arrows == picture_of(lossy).arrows
    assert TraceWidget(lossy.trace).data == w.data
    calm = run("demo", "sim", "none", seed=3)
    w.show(calm, title="a calm run")
    assert w.title == "a calm run" and w.drops == 0
    assert w.arrows == count(calm.trace, "send")


def test_its_display_carries_the_standalone_page_for_static_notebooks() -> None:
    w = TraceWidget(run("demo", "sim", "lossy", seed=1))
    data, _ = w._repr_mimebundle_()
    assert data[WIDGET_VIEW]["model_id"] == w.model_id
    page = data["text/html"]
    assert page.startswith("<iframe") and "srcdoc=" in page and "DSPictures" in page
    assert len(page) < 300_000


def test_while_building_static_pages_it_shows_the_page_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "static")
    w = TraceWidget(run("demo", "sim", "lossy", seed=1))
    data, _ = w._repr_mimebundle_()
    assert WIDGET_VIEW not in data and "<iframe" in data["text/html"]
    state = w.get_state()
    assert state["data"] == {} and len(state["_esm"]) < 100 and state["arrows"] > 0


@pytest.mark.parametrize(("parent", "live"), [("mkdocs", False), ("jupyter-nbconvert", False),
                                              ("lab-session", True)])
def test_a_static_site_build_is_recognised_from_the_parent_process(
        tmp_path: Path, parent: str, live: bool) -> None:
    # A script named like the builder starts a kernel-like child, as mkdocs-jupyter does.
    child = "from labs.pictures.display import live_widgets; print(live_widgets())"
    script = tmp_path / parent
    script.write_text(f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {child!r}], check=True)\n")
    env = {k: v for k, v in os.environ.items() if k not in (ENV, "JPY_SESSION_NAME")}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == str(live)


def test_the_control_panel_reruns_the_simulation_on_every_change() -> None:
    panel = ControlPanel("demo", seed=4, delay_ms=10)
    assert panel.runs == 1 and panel.picture.drops == 0
    first = panel.picture.data

    panel.loss.value = 0.2
    assert panel.runs == 2
    assert panel.result.schedule.network.loss == 0.2
    assert panel.picture.drops == count(panel.result.trace, "drop") > 0
    assert panel.picture.data != first
    assert "loss 0.2" in panel.status.value

    panel.loss.value = 0.0
    panel.partition.value = True
    assert panel.runs == 4
    parts = [e for e in panel.result.trace if e["type"] == "partition"]
    assert len(parts) == 1 and parts[0]["t"] == 1.0 and len(parts[0]["groups"][0]) == 1
    assert panel.picture.data["counts"]["partitions"] == 1

    panel.crash_target.value = "n2"
    panel.crash.value = True
    crashes = [e for e in panel.result.trace if e["type"] == "crash" and e["node"] == "n2"]
    assert [e["t"] for e in crashes] == [1.5]
    assert any(s[0] == 1 and s[3] == "crash" for s in panel.picture.data["spans"])  # lane of n2

    before = panel.result.trace
    panel.seed.value = 5
    assert panel.result.seed == 5 and panel.result.trace != before
    panel.duration.value = 6.0
    assert panel.result.trace[-1]["t"] > before[-1]["t"]
    assert panel.runs == 7

    data, _ = panel._repr_mimebundle_()
    assert WIDGET_VIEW in data and "<iframe" in data["text/html"]
