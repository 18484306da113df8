"""The heartbeat lab's picture: what the clerks were told about each member, and when.

One track per member: a red bar over the answers that named it (suspected), a green bar over
those that did not (trusted), so that a suspicion can be set against the member's own lane in the
diagram above, where its crash, pause or partition shows. A bar lasts from the first of a run of answers that agree until the next answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from labs.pictures import Picture, Segment, Timeline, Track, register_view
from labs.runtime.trace import Event

from .checks import answers
from .node import MONITOR

COLORS = {True: "#e15759", False: "#59a14f"}


class Suspicions:
    name = "heartbeat-suspicions"
    title = "Suspected: what the monitor answered about each member"

    def build(self, events: Sequence[Event], picture: Picture) -> Timeline | None:
        told = answers(events)
        if not told:
            return None
        members = [n for n in picture.lanes if n.startswith("n") and n != MONITOR]
        tracks = []
        for member in members:
            bars: list[Segment] = []
            for a in told:
                suspected = member in a.members
                if bars:  # the last bar lasts until this answer
                    last = bars[-1]
                    bars[-1] = Segment(last.start, a.answered, last.label, last.color)
                if not bars or bars[-1].color != COLORS[suspected]:
                    label = "suspected" if suspected else "trusted"
                    bars.append(Segment(a.answered, a.answered, label, COLORS[suspected]))
            tracks.append(Track(member, segments=bars))
        return Timeline(self.title, tracks, self.name)


register_view(Suspicions(), labs="heartbeat")
