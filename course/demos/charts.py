"""Two small displays for notebooks: a :class:`Table` and a :class:`LineChart`.

Both show as HTML/SVG in JupyterLab and on the static site, and as plain text anywhere else (a
terminal, a test). The chart is drawn here as a few kilobytes of SVG, so the chapters need no
plotting library and their pages stay light.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
Cell = Any


def fmt(value: Cell) -> str:
    """How a table shows a value: floats with three significant digits, the rest as ``str``."""
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        a = abs(value)
        if a == 0:
            return "0"
        if a >= 1e6 or a < 1e-3:
            return f"{value:.2e}"
        if a >= 100:
            return f"{value:,.0f}"
        if a >= 1:
            return f"{value:.1f}"
        return f"{value:.3g}"
    return str(value)


@dataclass
class Table:
    """Rows of values under column headings; ``title`` goes above."""

    columns: Sequence[str]
    rows: list[list[Cell]]
    title: str = ""
    note: str = ""

    def column(self, name: str) -> list[Cell]:
        """The values of one column, by heading."""
        i = list(self.columns).index(name)
        return [r[i] for r in self.rows]

    def __str__(self) -> str:
        cells = [list(self.columns)] + [[fmt(v) for v in r] for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        right = [all(_align(r[i]) == "right" for r in self.rows if r[i] is not None)
                 for i in range(len(self.columns))]
        lines = [self.title] if self.title else []
        for j, row in enumerate(cells):
            lines.append("  ".join(c.rjust(w) if r else c.ljust(w)
                                   for c, w, r in zip(row, widths, right, strict=True)).rstrip())
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:{_align(v)}'>{html.escape(fmt(v))}</td>" for v in r) + "</tr>"
            for r in self.rows
        )
        title = f"<caption style='caption-side:top;font-weight:bold'>{html.escape(self.title)}</caption>" if self.title else ""
        note = f"<div style='font-size:90%;color:#555'>{html.escape(self.note)}</div>" if self.note else ""
        return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def _align(value: Cell) -> str:
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return "right" if numeric or (isinstance(value, str) and value.rstrip("%").replace(".", "").isdigit()) else "left"


Point = tuple[float, float]


@dataclass
class LineChart:
    """Lines over a shared x axis, drawn as SVG.

    ``series`` maps a name to its points; ``bands`` shades spans of x with a label (a pause, a
    partition); ``step`` draws each line as steps (for counts that jump, like a queue's length).
    """

    title: str
    xlabel: str
    ylabel: str
    series: dict[str, Sequence[Point]]
    bands: list[tuple[float, float, str]] = field(default_factory=list)
    step: bool = False
    width: int = 640
    height: int = 300
    max_points: int = 400
    ymin: float | None = 0.0

    def __str__(self) -> str:
        lines = [f"{self.title} ({self.ylabel} against {self.xlabel})"]
        for name, pts in self.series.items():
            ys = [y for _, y in pts]
            if ys:
                lines.append(f"  {name}: {len(ys)} points, y from {fmt(float(min(ys)))} to "
                             f"{fmt(float(max(ys)))}, last {fmt(float(ys[-1]))}")
            else:
                lines.append(f"  {name}: no points")
        for a, b, label in self.bands:
            lines.append(f"  shaded {fmt(float(a))}..{fmt(float(b))}: {label}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_svg_(self) -> str:
        return self.svg()

    def svg(self) -> str:
        rows = _legend_rows(list(self.series), self.width - 70)
        left, right, top, bottom = 60, 20, 30, 45 + 18 * len(rows)
        w, h = self.width, self.height + 18 * len(rows)
        pw, ph = w - left - right, h - top - bottom
        pts = [p for s in self.series.values() for p in s]
        xs = [x for x, _ in pts] + [x for a, b, _ in self.bands for x in (a, b)]
        ys = [y for _, y in pts]
        x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
        y0 = self.ymin if self.ymin is not None else (min(ys) if ys else 0.0)
        y1 = max(ys) if ys else 1.0
        if x1 <= x0:
            x1 = x0 + 1.0
        if y1 <= y0:
            y1 = y0 + 1.0
        xt, yt = ticks(x0, x1), ticks(y0, y1)
        x0, x1 = min(x0, xt[0]), max(x1, xt[-1])
        y0, y1 = min(y0, yt[0]), max(y1, yt[-1])

        def sx(x: float) -> float:
            return left + (x - x0) / (x1 - x0) * pw

        def sy(y: float) -> float:
            return top + ph - (y - y0) / (y1 - y0) * ph

        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
               f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">',
               f'<text x="{left}" y="16" font-size="13" font-weight="bold">{html.escape(self.title)}</text>']
        for a, b, label in self.bands:
            out.append(f'<rect x="{sx(a):.1f}" y="{top}" width="{max(1.0, sx(b) - sx(a)):.1f}" '
                       f'height="{ph}" fill="#f5c542" opacity="0.25"/>'
                       f'<text x="{sx(a) + 3:.1f}" y="{top + 12}" fill="#8a6d00">{html.escape(label)}</text>')
        for x in xt:
            out.append(f'<line x1="{sx(x):.1f}" y1="{top + ph}" x2="{sx(x):.1f}" y2="{top + ph + 4}" stroke="#333"/>'
                       f'<text x="{sx(x):.1f}" y="{top + ph + 16}" text-anchor="middle">{_tick(x)}</text>')
        for y in yt:
            out.append(f'<line x1="{left}" y1="{sy(y):.1f}" x2="{left + pw}" y2="{sy(y):.1f}" stroke="#e5e5e5"/>'
                       f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{_tick(y)}</text>')
        out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
        out.append(f'<text x="{left + pw / 2:.1f}" y="{top + ph + 32}" text-anchor="middle">{html.escape(self.xlabel)}</text>')
        out.append(f'<text transform="translate(14 {top + ph / 2:.1f}) rotate(-90)" text-anchor="middle">'
                   f'{html.escape(self.ylabel)}</text>')
        for i, (name, series) in enumerate(self.series.items()):
            color = PALETTE[i % len(PALETTE)]
            coords = _thin(list(series), self.max_points)
            if self.step:
                coords = _steps(coords)
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in coords)
            if path:
                out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
                if not self.step and len(coords) <= 40:
                    out.extend(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>'
                               for x, y in coords)
            row, lx = next((r, x) for r, line in enumerate(rows) for n, x in line if n == name)
            ly = top + ph + 52 + 18 * row
            out.append(f'<line x1="{left + lx}" y1="{ly - 4}" x2="{left + lx + 18}" y2="{ly - 4}" '
                       f'stroke="{color}" stroke-width="3"/>'
                       f'<text x="{left + lx + 24}" y="{ly}">{html.escape(name)}</text>')
        out.append("</svg>")
        return "".join(out)


def ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering ``lo``..``hi``, about ``n`` of them."""
    span = hi - lo
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    out = []
    v = first
    while v < hi + step * 0.999:
        out.append(round(v, 10))
        v += step
    return out


def _tick(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e6 else f"{v:.1e}"


def _legend_rows(names: list[str], width: float) -> list[list[tuple[str, float]]]:
    """Legend entries laid out left to right, wrapping at ``width`` pixels: (name, x) per row."""
    rows: list[list[tuple[str, float]]] = [[]]
    x = 0.0
    for name in names:
        size = 24 + 6.5 * len(name) + 24
        if rows[-1] and x + size > width:
            rows.append([])
            x = 0.0
        rows[-1].append((name, x))
        x += size
    return rows


def _thin(points: list[Point], limit: int) -> list[Point]:
    """At most about ``limit`` points, keeping each window's highest (peaks matter here)."""
    if len(points) <= limit:
        return points
    size = math.ceil(len(points) / limit)
    return [max(points[i:i + size], key=lambda p: p[1]) for i in range(0, len(points), size)]


def _steps(points: list[Point]) -> list[Point]:
    out: list[Point] = []
    for x, y in points:
        if out:
            out.append((x, out[-1][1]))
        out.append((x, y))
    return out


def table_of(rows: Sequence[dict[str, Cell]], title: str = "", note: str = "",
             columns: Sequence[str] | None = None, key: Callable[[str], str] = str) -> Table:
    """A :class:`Table` from dictionaries (one per row), columns in first-seen order."""
    cols = list(columns) if columns is not None else list(dict.fromkeys(k for r in rows for k in r))
    return Table([key(c) for c in cols], [[r.get(c) for c in cols] for r in rows], title, note)
