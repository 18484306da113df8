"""The primary-backup lab's picture view: the views over time, as the view service announced them
and as each server learned them.

The first track is the view service's: a bar per view, from when it announced it. Each server's
track shows what it believed, from when a reply of the view service told it: primary, backup or
idle, in which view. Two servers believing at once that they are primary (an old primary cut off
from the view service, and the new one) is split brain in the making; the lab is right only if
the old one can serve nothing meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from labs.pictures import Picture, Segment, Timeline, Track, register_view
from labs.runtime.trace import Event

from .checks import views_in
from .node import VIEW_SERVICE

ROLE_COLORS = {"primary": 0, "backup": 1, "idle": 7}


class Views:
    """Views over time: announced (the view service's track) and learned (each server's)."""

    name = "pb-views"
    title = "Views: as the view service announced them, and as each server learned them"

    def build(self, events: Sequence[Event], picture: Picture) -> Timeline | None:
        announced = views_in(events)
        if not announced:
            return None
        end = float(events[-1]["t"]) if events else 0.0
        tracks = [Track("announced", segments=[
            Segment(a.t, b.t if b is not None else end, f"view {a.viewnum}: {a.primary or '-'} primary, "
                    f"{a.backup or '-'} backup", a.viewnum)
            for a, b in zip(announced, [*announced[1:], None], strict=True)])]
        for server, seen in learned(events).items():
            segments = []
            for (t, viewnum, role), after in zip(seen, [*seen[1:], None], strict=True):
                segments.append(Segment(t, after[0] if after is not None else end, f"{server}: {role} in view {viewnum}",
                                        ROLE_COLORS[role]))
            tracks.append(Track(server, segments=segments))
        return Timeline(self.title, tracks, self.name)


def learned(events: Sequence[Event]) -> dict[str, list[tuple[float, int, str]]]:
    """Per server: (when, view number, its role in it) each time a newer view reached it."""
    sent: dict[Any, dict[str, Any]] = {}
    out: dict[str, list[tuple[float, int, str]]] = {}
    for e in events:
        if e["type"] == "send" and e.get("msg") == "PingReply" and e.get("node") == VIEW_SERVICE:
            body = e.get("body")
            if isinstance(body, dict) and isinstance(body.get("view"), dict):
                sent[e["id"]] = body["view"]
        elif e["type"] == "deliver" and e.get("id") in sent:
            view, server = sent[e["id"]], str(e["node"])
            known = out.setdefault(server, [])
            viewnum = int(view.get("viewnum", 0))
            if known and known[-1][1] >= viewnum:
                continue
            role = "primary" if view.get("primary") == server else "backup" if view.get("backup") == server else "idle"
            known.append((float(e["t"]), viewnum, role))
        elif e["type"] == "restart" and str(e.get("node")) in out:
            out[str(e["node"])].append((float(e["t"]), 0, "idle"))  # a new life knows no view
    return out


register_view(Views(), labs="primary_backup")

__all__ = ["Views", "learned"]
