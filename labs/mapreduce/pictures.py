"""The MapReduce lab's picture: which worker ran which task, and when.

One track per worker, a bar per task attempt (from the moment the task reached the worker until it
reported it done, crashed, or the run ended), maps and reduces in two colours and attempts that
crashed or were overtaken in a third; a point on the coordinator's track marks when the client
heard the job was done. A straggler shows as a long bar with a short bar for the same task on
another worker under it: the backup that finished first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from labs.pictures import Picture, Point, Segment, Timeline, Track, register_view
from labs.runtime.trace import Event

from .attempts import COORDINATOR, attempts, job_times

COLORS = {"map": "#4e79a7", "reduce": "#59a14f", "lost": "#e15759"}


class Tasks:
    name = "mapreduce-tasks"
    title = "Tasks: which worker ran which task, and when"

    def build(self, events: Sequence[Event], picture: Picture) -> Timeline | None:
        tried = attempts(events)
        if not tried:
            return None
        done_by: dict[tuple[str, int], float] = {}
        for a in tried:
            if a.outcome == "done":
                done_by[(a.kind, a.number)] = min(a.end, done_by.get((a.kind, a.number), a.end))
        bars: dict[str, list[Segment]] = defaultdict(list)
        for a in tried:
            first = done_by.get((a.kind, a.number))
            overtaken = a.outcome != "done" or (first is not None and first < a.end)
            label = a.label if a.outcome != "done" or not overtaken else f"{a.kind} {a.number} (done, after another attempt)"
            bars[a.worker].append(Segment(a.start, a.end, label, COLORS["lost"] if overtaken else COLORS[a.kind]))
        tracks = [Track(w, segments=bars[w]) for w in picture.lanes if w in bars]
        _, done = job_times(events)
        if done is not None:
            tracks.insert(0, Track(COORDINATOR, points=[Point(done, "the client hears the job is done", "#333333")]))
        return Timeline(self.title, tracks, self.name)


register_view(Tasks(), labs="mapreduce")
