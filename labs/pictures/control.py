"""A control panel for a small simulated cluster: move a slider, press a fault button, and see
the run again.

Each change builds a schedule with :func:`labs.runtime.schedule.builder` and re-runs the lab in the
simulator (a few tenths of a second for the demo lab), then redraws the picture below it. The
same seed with the same settings is the same run, so a student can flip one setting and compare.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from labs.runtime.lab import Lab, RunResult, get_lab
from labs.runtime.run import run
from labs.runtime.schedule import Schedule, builder

from .widget import TraceWidget, with_static_html

PARTITION_AT, HEAL_AT = 1.0, 2.5
CRASH_AT, RESTART_AT = 1.5, 3.0


class ControlPanel(w.VBox):  # type: ignore[misc]  # ipywidgets ships no type information
    """Sliders for the network (loss, delay), the run's length and seed, and two fault buttons
    (isolate the leader from 1 s to 2.5 s; crash a node from 1.5 s to 3 s), over a
    :class:`TraceWidget` of the latest run. ``result`` is that run and ``runs`` counts them."""

    def __init__(self, lab: str | Lab = "demo", seed: int = 1, loss: float = 0.0,
                 delay_ms: float = 20.0, duration: float = 4.0) -> None:
        self.lab = get_lab(lab) if isinstance(lab, str) else lab
        servers = self.lab.node_names()
        style = {"description_width": "80px"}
        self.loss = w.FloatSlider(value=loss, min=0.0, max=0.5, step=0.01, description="loss",
                                  readout_format=".0%", continuous_update=False, style=style)
        self.delay = w.FloatSlider(value=delay_ms, min=1.0, max=200.0, step=1.0,
                                   description="delay ≤ (ms)", continuous_update=False, style=style)
        self.duration = w.FloatSlider(value=duration, min=max(3.0, self.lab.min_duration),
                                      max=15.0, step=0.5, description="faults for (s)",
                                      continuous_update=False, style=style)
        self.seed = w.BoundedIntText(value=seed, min=0, max=2**31 - 1, description="seed",
                                     style=style, layout=w.Layout(width="180px"))
        self.partition = w.ToggleButton(
            description="isolate the leader", icon="scissors", layout=w.Layout(width="auto"),
            tooltip=f"cut the leader off from everyone at {PARTITION_AT} s, heal at {HEAL_AT} s")
        self.crash = w.ToggleButton(
            description="crash", icon="bolt", layout=w.Layout(width="auto"),
            tooltip=f"crash the node at {CRASH_AT} s (disk kept), restart it at {RESTART_AT} s")
        self.crash_target = w.Dropdown(options=servers, value=servers[-1],
                                       layout=w.Layout(width="80px"))
        self.status = w.HTML()
        self.runs = 0
        self.result: RunResult = self._run()
        self.picture = TraceWidget(self.result)
        super().__init__([
            w.HBox([self.loss, self.delay]),
            w.HBox([self.duration, self.seed]),
            w.HBox([self.partition, self.crash, self.crash_target]),
            self.status,
            self.picture,
        ])
        for control in (self.loss, self.delay, self.duration, self.seed, self.partition,
                        self.crash, self.crash_target):
            control.observe(self._changed, names="value")

    def schedule(self) -> Schedule:
        """The schedule the controls describe now."""
        b = (builder("control-panel", "set with the control panel")
             .loss(self.loss.value)
             .delay(uniform=(0.001, max(0.001, self.delay.value / 1000)))
             .duplicate(0.0)
             .duration(self.duration.value))
        if self.partition.value:
            b.at(PARTITION_AT).partition(["leader"], "rest").at(HEAL_AT).heal()
        if self.crash.value:
            target = self.crash_target.value
            b.at(CRASH_AT).crash(target, disk="keep").at(RESTART_AT).restart(target)
        return b.build()

    def rerun(self) -> RunResult:
        """Run the simulation again with the current settings and redraw."""
        self.result = self._run()
        self.picture.show(self.result)
        return self.result

    def _run(self) -> RunResult:
        schedule = self.schedule()
        result = run(self.lab, "sim", schedule, seed=int(self.seed.value))
        self.runs += 1
        summary = result.summary()
        pct = summary.latency_percentiles()
        problems = result.violations()
        verdict = (f"<span style='color:#a31515'>{len(problems)} check(s) failed: "
                   f"{html.escape(problems[0].message)}</span>" if problems else
                   "<span style='color:#2e7d32'>all checks passed</span>")
        self.status.value = (
            f"run {self.runs}: <code>{html.escape(schedule.describe())}</code><br>"
            f"{summary.messages['sent']} messages sent, {summary.messages['dropped']} dropped; "
            f"{summary.operations['ok']} ops ok; p50 {pct['p50'] * 1000:.1f} ms, "
            f"p99 {pct['p99'] * 1000:.1f} ms; {verdict}")
        return result

    def _changed(self, change: dict[str, Any]) -> None:
        if change["owner"] is self.crash_target and not self.crash.value:
            return  # the target of a crash that is off changes nothing
        self.rerun()

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        # Without a kernel (a static page) only the latest picture can show: see TraceWidget.
        return with_static_html(super()._repr_mimebundle_(**kwargs), self.picture.picture)
