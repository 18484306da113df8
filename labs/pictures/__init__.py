"""Pictures of runs: a space-time diagram and a dashboard, for notebooks, feedback and the site.

From a trace (a :class:`~labs.runtime.lab.RunResult`, a list of events or a ``.jsonl`` file)::

    from labs.pictures import picture_of, write_html, TraceWidget, ControlPanel

    write_html(picture_of("run.jsonl"), "run.html")   # one self-contained page, works offline
    TraceWidget(result)                               # the same picture, live in JupyterLab
    ControlPanel("demo")                              # sliders and fault buttons that re-run a sim

or from a terminal: ``python -m labs picture run.jsonl -o run.html``.

Everything here but the two widgets is plain Python: importing this package imports neither
Jupyter nor Ray. The widgets (which need ``anywidget`` and ``ipywidgets``) load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import builtin_views
from .build import build_picture
from .dashboard import Dashboard
from .html import iframe_html, js_source, render_html, write_html, write_js
from .load import TraceError, check_events, read_events
from .picture import Mark, Message, Operation, PartitionSpan, Picture, Span
from .source import Source, events_of, path_picture, picture_of
from .timeline import Level, Point, Segment, Timeline, Track
from .views import View, register_view, unregister_view, views_for

if TYPE_CHECKING:
    from .control import ControlPanel
    from .widget import TraceWidget

__all__ = [
    "ControlPanel",
    "Dashboard",
    "Level",
    "Mark",
    "Message",
    "Operation",
    "PartitionSpan",
    "Picture",
    "Point",
    "Segment",
    "Source",
    "Span",
    "Timeline",
    "TraceError",
    "TraceWidget",
    "Track",
    "View",
    "build_picture",
    "builtin_views",
    "check_events",
    "events_of",
    "iframe_html",
    "js_source",
    "path_picture",
    "picture_of",
    "read_events",
    "register_view",
    "render_html",
    "unregister_view",
    "views_for",
    "write_html",
    "write_js",
]


def __getattr__(name: str) -> Any:
    # The widgets import ipywidgets and anywidget: only when a notebook asks for them.
    if name == "TraceWidget":
        from .widget import TraceWidget  # imports anywidget: kept out of start-up

        return TraceWidget
    if name == "ControlPanel":
        from .control import ControlPanel  # imports ipywidgets: kept out of start-up

        return ControlPanel
    raise AttributeError(f"module 'labs.pictures' has no attribute {name!r}")
