"""Reading a trace for a picture, and saying exactly what is wrong when the input is not one.

The runtime's own :func:`labs.runtime.trace.read_trace` trusts its input: it reads traces the
runtime wrote. Pictures are drawn from files a student or an instructor points at by hand (a
history file, a half-written trace of a killed run, a JSON summary), so here every line is checked
and a bad one is reported with its line number and what was wrong with it, instead of a
``KeyError`` deep inside the drawing code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from labs.runtime.trace import Event

# The fields each event type must have for a picture to draw it. Unknown event types are allowed
# (a newer runtime may add some) and ignored by the drawing.
REQUIRED: Mapping[str, tuple[str, ...]] = {
    "send": ("node", "dst", "id", "msg"),
    "deliver": ("node", "src", "id"),
    "drop": ("node", "src", "dst", "id"),
    "duplicate": ("node", "dst", "id"),
    "crash": ("node",),
    "restart": ("node",),
    "start": ("node",),
    "pause": ("node",),
    "resume": ("node",),
    "skew": ("node",),
    "invoke": ("node", "index"),
    "complete": ("node", "index", "outcome"),
    "log": ("node",),
    "timer_set": ("node",),
    "timer_fire": ("node",),
    "timer_cancel": ("node",),
}

MAX_REPORTED = 5


class TraceError(ValueError):
    """The input is not a trace of the lab runtime; the message names the lines at fault."""


def read_events(path: str | Path) -> list[Event]:
    """The events of the trace file at ``path``, checked line by line (see :func:`check_events`)."""
    p = Path(path)
    if not p.exists():
        raise TraceError(f"{p}: no such file")
    if p.is_dir():
        raise TraceError(f"{p} is a folder; give the trace file (the .jsonl a run wrote)")
    events: list[Event] = []
    lines: list[int] = []
    problems: list[tuple[int, str]] = []
    with open(p, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                events.append(json.loads(line))
                lines.append(number)
            except json.JSONDecodeError as exc:
                problems.append((number, f"line {number}: not JSON ({exc.msg} at column "
                                         f"{exc.colno}): {_clip(line)}"))
            if len(problems) >= MAX_REPORTED:
                break
    if problems:
        # Report the events that parsed but make no sense too, in the order of the file.
        problems += [(lines[i], text) for i, text in _problems(events, lines)]
        problems.sort()
        raise TraceError(_explain(str(p), [text for _, text in problems[:MAX_REPORTED]]))
    return check_events(events, source=str(p), lines=lines)


def check_events(events: Iterable[Any], source: str = "trace",
                 lines: list[int] | None = None) -> list[Event]:
    """``events`` as a list, after checking that each one is an event a picture can draw.

    ``lines`` gives each event's line number in its file, for the messages; without it events
    are numbered from 1 as they come.
    """
    out = list(events)
    problems = [text for _, text in _problems(out, lines)]
    if problems:
        raise TraceError(_explain(source, problems))
    if not out:
        raise TraceError(f"{source} is empty: a trace has a header line and one line per event")
    if not any(e["type"] != "run" for e in out):
        raise TraceError(f"{source} has a header but no events: did the run write its trace?")
    return out


def _problems(events: list[Any], lines: list[int] | None) -> list[tuple[int, str]]:
    """(index, explanation) of the first few events that a picture cannot draw."""
    out: list[tuple[int, str]] = []
    for i, e in enumerate(events):
        problem = _problem(e, first=i == 0)
        if problem:
            where = f"line {lines[i]}" if lines is not None else f"event {i + 1}"
            out.append((i, f"{where}: {problem}: {_clip(json.dumps(e, default=str))}"))
            if len(out) >= MAX_REPORTED:
                break
    return out


def _problem(e: Any, first: bool) -> str | None:
    if not isinstance(e, dict):
        return f"expected a JSON object (an event), got {type(e).__name__}"
    kind = e.get("type")
    if not isinstance(kind, str):
        if first:
            return ("no 'type' field: this does not look like a trace of the lab runtime "
                    "(its first line is a 'run' header, then one event per line)")
        return "no 'type' field (every event says what happened in 'type')"
    if kind == "run":
        return None if first else "a 'run' header in the middle: two traces glued together?"
    t = e.get("t")
    if first and t is None and "time" in e and kind in ("invoke", "ok", "fail", "info"):
        return ("this is a client history (RunResult.history), not a trace: draw the trace "
                "(python -m labs run ... --trace run.jsonl)")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        return f"{kind} event without a time: 't' must be a number of seconds, got {t!r}"
    missing = [k for k in REQUIRED.get(kind, ()) if k not in e]
    if missing:
        return f"{kind} event without {', '.join(repr(m) for m in missing)}"
    return None


def _clip(text: str, limit: int = 120) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _explain(source: str, problems: list[str]) -> str:
    more = " (stopped after the first few)" if len(problems) >= MAX_REPORTED else ""
    return f"{source} is not a trace of the lab runtime{more}:\n" + "\n".join(
        f"  - {p}" for p in problems)
