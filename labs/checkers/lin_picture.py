"""A picture of a linearizability verdict: each client's operations on a time line.

Plain SVG inside one HTML file: no script, no network, so it opens offline, inside a notebook
(as a fragment) and on the site. Hovering an operation shows what it asked and returned.

For an illegal history the picture shows the shrunk counterexample on top: the longest order the
model accepts is drawn as numbered points joined by a line, and the operation that could not take
effect is red, with a cross where it returned (it had to take effect before that). The whole
partition follows below, the counterexample's operations outlined in it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Protocol

from .history import Operation
from .model import Model


class _Counterexample(Protocol):
    @property
    def partition(self) -> str: ...

    @property
    def operations(self) -> list[Operation]: ...

    @property
    def linearized(self) -> list[Operation]: ...

    @property
    def stuck(self) -> Operation | None: ...


class _Partition(Protocol):
    @property
    def label(self) -> str: ...

    @property
    def counterexample(self) -> _Counterexample | None: ...


class LinearizabilityResult(Protocol):
    """What the picture draws (a :class:`~.linearizability.LinearizabilityResult`), described
    here so that drawing needs nothing of the checker."""

    @property
    def verdict(self) -> str: ...

    @property
    def seconds(self) -> float: ...

    @property
    def operations(self) -> list[Operation]: ...

    @property
    def model(self) -> Model: ...

    @property
    def partitions(self) -> Sequence[_Partition]: ...

    @property
    def counterexample(self) -> _Counterexample | None: ...

    def explain(self) -> str: ...

_LANE = 28
_LEFT = 90
_WIDTH = 960
_MAX_DRAWN = 3000

_CSS = """
.lin { font: 13px system-ui, sans-serif; color: #222; }
.lin h2 { font-size: 15px; margin: 14px 0 4px; }
.lin .verdict-ok { color: #1a7f37; } .lin .verdict-illegal { color: #cf222e; }
.lin .verdict-unknown { color: #9a6700; }
.lin pre { background: #f6f8fa; padding: 8px; overflow-x: auto; white-space: pre-wrap; }
.lin svg text { font: 11px system-ui, sans-serif; fill: #222; }
.lin .op rect { fill: #ddf4ff; stroke: #54aeff; }
.lin .op.pending rect { fill: #fff8c5; stroke: #d4a72c; stroke-dasharray: 4 2; }
.lin .op.witness rect { stroke: #0550ae; stroke-width: 2; }
.lin .op.stuck rect { fill: #ffebe9; stroke: #cf222e; stroke-width: 2; }
.lin .op:hover rect { fill: #fff; }
.lin .path { fill: none; stroke: #8250df; stroke-width: 1.5; }
.lin .point { fill: #8250df; } .lin .point-label { fill: #fff; font-size: 9px; }
.lin .cross { stroke: #cf222e; stroke-width: 2.5; }
.lin .axis { stroke: #8c959f; }
"""


def render(result: LinearizabilityResult, title: str = "Linearizability") -> str:
    """A whole HTML page."""
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
            f"<body class='lin'><h1>{html.escape(title)}</h1>{_body(result)}</body></html>\n")


def render_fragment(result: LinearizabilityResult) -> str:
    """The same picture as a fragment to embed in a notebook cell or another page."""
    return f"<div class='lin'><style>{_CSS}</style>{_body(result)}</div>"


def _body(result: LinearizabilityResult) -> str:
    out = [f"<p class='verdict-{result.verdict}'><b>{html.escape(result.verdict)}</b>: "
           f"{len(result.operations)} operations, {result.model.name} model, "
           f"checked in {result.seconds:.3f} s</p>",
           f"<pre>{html.escape(result.explain())}</pre>"]
    cx = result.counterexample
    if cx is not None:
        order = [o.id for o in cx.linearized]
        stuck = None if cx.stuck is None else cx.stuck.id
        out.append(f"<h2>Counterexample: {html.escape(cx.partition)}</h2>")
        out.append(_timeline(result, cx.operations, set(), order, stuck))
        part = next(p for p in result.partitions if p.counterexample is cx)
        whole = [o for o in result.operations if _in(o, part.label)]
        out.append(f"<h2>All {len(whole)} operations of {html.escape(cx.partition)}</h2>")
        out.append(_timeline(result, whole, {o.id for o in cx.operations}, [], stuck))
    else:
        out.append("<h2>Operations</h2>")
        out.append(_timeline(result, result.operations, set(), [], None))
    return "\n".join(out)


def _in(op: Operation, label: str) -> bool:
    return label == "the whole history" or label == f"key {op.input.key!r}"


def _timeline(result: LinearizabilityResult, ops: Sequence[Operation], witness: set[int],
              order: list[int], stuck: int | None) -> str:
    shown = sorted(ops, key=lambda o: o.call)[:_MAX_DRAWN]
    if not shown:
        return "<p>(no operations)</p>"
    clients = sorted({str(o.client) for o in shown}, key=lambda c: (len(c), c))
    lane = {c: i for i, c in enumerate(clients)}
    t0 = min(o.call for o in shown)
    finite = [o.ret for o in shown if not o.pending] + [o.call for o in shown]
    t1 = max(finite)
    span = (t1 - t0) or 1.0
    right = _WIDTH - 20

    def x(t: float) -> float:
        if math.isinf(t):
            return right + 10
        return _LEFT + (t - t0) / span * (right - _LEFT)

    few = len(shown) <= 40
    height = len(clients) * _LANE + 30
    parts = [f"<svg width='{_WIDTH + 20}' height='{height}' role='img'>"]
    for c, i in lane.items():
        y = 10 + i * _LANE
        parts.append(f"<text x='4' y='{y + 16}'>client {html.escape(c)}</text>")
        parts.append(f"<line class='axis' x1='{_LEFT}' x2='{right + 10}' y1='{y + 23}' y2='{y + 23}'/>")
    axis_y = 10 + len(clients) * _LANE + 12
    for k in range(6):
        t = t0 + span * k / 5
        parts.append(f"<text x='{x(t):.1f}' y='{axis_y}' text-anchor='middle' class='tick'>{t:.4g}</text>")
    describe = result.model.describe_operation
    for o in shown:
        y = 10 + lane[str(o.client)] * _LANE
        x0, x1 = x(o.call), x(o.ret)
        cls = "op" + (" pending" if o.pending else "") + (" witness" if o.id in witness else "")
        cls += " stuck" if o.id == stuck else ""
        label = describe(o.input, o.output)
        when = f"{o.call:.6g} .. {'unknown' if o.pending else f'{o.ret:.6g}'}"
        parts.append(f"<g class='{cls}' data-op='{o.id}'><title>#{o.id} client {html.escape(str(o.client))}: "
                     f"{html.escape(label)} ({when})</title>"
                     f"<rect x='{x0:.1f}' y='{y + 4}' width='{max(x1 - x0, 6 if few else 3):.1f}' height='18' rx='3'/>")
        if x1 - x0 > 40:
            parts.append(f"<text x='{x0 + 4:.1f}' y='{y + 17}'>{html.escape(_clip(label, (x1 - x0) / 6.5))}</text>")
        elif few:  # a short operation in a small picture: its label beside it
            side = f"x='{x0 - 4:.1f}' text-anchor='end'" if x1 > _WIDTH * 0.6 else f"x='{x1 + 4:.1f}'"
            parts.append(f"<text {side} y='{y + 17}'>{html.escape(_clip(label, 48))}</text>")
        parts.append("</g>")
        if o.id == stuck and not o.pending:
            parts.append(f"<path class='cross' d='M{x1 - 6:.1f} {y - 1}l12 12m0 -12l-12 12'/>")
    if order:
        by_id = {o.id: o for o in shown}
        points, last = [], -math.inf
        for k, oid in enumerate(order, 1):
            point = by_id.get(oid)
            if point is None:
                continue
            at = max(point.call, last)
            last = at
            points.append((k, x(at) + 2, 10 + lane[str(point.client)] * _LANE + 13))
        parts.append("<polyline class='path' points='" + " ".join(f"{px:.1f},{py}" for _, px, py in points) + "'/>")
        for k, px, py in points:
            parts.append(f"<circle class='point' cx='{px:.1f}' cy='{py}' r='7'/>"
                         f"<text class='point-label' x='{px:.1f}' y='{py + 3}' text-anchor='middle'>{k}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _clip(text: str, chars: float) -> str:
    n = max(int(chars), 4)
    return text if len(text) <= n else text[: n - 1] + "…"
