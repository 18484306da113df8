"""Pictures of runs, on the Python side: what the diagram and the dashboard are built from, the
standalone page and the ``python -m labs picture`` command, on real simulator traces."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, cast

import pytest
from click.testing import CliRunner

from labs.cli import main
from labs.pictures import (
    Picture,
    Point,
    Segment,
    Timeline,
    TraceError,
    Track,
    picture_of,
    register_view,
    render_html,
    unregister_view,
    write_html,
)
from labs.pictures.picture import DUPLICATE, OUTCOMES, REORDERED
from labs.runtime.lab import RunResult
from labs.runtime.run import run
from labs.runtime.schedule import load
from labs.runtime.trace import Event, percentile, summarize, write_trace


@cache
def sim(schedule: str, seed: int = 1, duration: float | None = None) -> RunResult:
    """A run of the demo lab in the simulator (the browser tests use these too)."""
    s = load(schedule)
    if duration is not None:
        s = dataclasses.replace(s, duration=duration)
    return run("demo", "sim", s, seed=seed)


def count(trace: Sequence[Event], *kinds: str) -> int:
    return sum(1 for e in trace if e["type"] in kinds)


# -- what the diagram holds -----------------------------------------------------------------


@pytest.mark.parametrize("schedule", ["lossy", "churn", "leader-isolated-then-crash"])
def test_one_arrow_per_copy_of_a_message_and_one_mark_per_drop(schedule: str) -> None:
    r = sim(schedule)
    p = picture_of(r)
    assert p.arrows == count(r.trace, "send") + count(r.trace, "duplicate")
    assert p.drops == count(r.trace, "drop") > 0
    drops = {(e["id"], e["reason"]) for e in r.trace if e["type"] == "drop"}
    assert {(m.id, m.outcome) for m in p.messages if m.dropped} == drops
    delivered = {e["id"]: e["t"] for e in r.trace if e["type"] == "deliver"}
    for m in p.messages:
        if m.outcome == "delivered" and not m.duplicate:
            assert m.end >= m.send
            assert m.id in delivered
    sends = {e["id"]: e for e in r.trace if e["type"] == "send"}
    assert all(m.body == sends[m.id]["body"] and m.type == sends[m.id]["msg"] for m in p.messages)
    assert sum(m.duplicate for m in p.messages) == count(r.trace, "duplicate")


def test_losses_at_the_sender_are_stubs_and_crashed_receivers_are_marked_on_arrival() -> None:
    p = picture_of(sim("churn"))
    at_sender = [m for m in p.messages if m.at_sender]
    assert at_sender and all(m.outcome in ("loss", "partition") for m in at_sender)
    assert all(m.end > m.send for m in at_sender)  # a stub pointing at where it was going
    crashed = [m for m in p.messages if m.outcome == "crashed"]
    assert crashed and not any(m.at_sender for m in crashed)


def test_out_of_order_arrivals_match_a_direct_pairwise_check() -> None:
    p = picture_of(sim("lossy"))
    links: dict[tuple[str, str], list[tuple[float, float, int, bool]]] = defaultdict(list)
    for m in p.messages:
        if m.outcome == "delivered":
            links[(m.src, m.dst)].append((m.send, m.end, m.id, m.duplicate))
    expected = set()
    for ms in links.values():
        for send, end, mid, dup in ms:
            if any(s2 > send and e2 < end for s2, e2, _, _ in ms):
                expected.add((mid, dup))
    assert expected, "a lossy network with random delays reorders some messages"
    assert {(m.id, m.duplicate) for m in p.messages if m.reordered} == expected


def test_crashes_pauses_partitions_and_operations() -> None:
    r = sim("churn")
    p = picture_of(r)
    crashes = [e for e in r.trace if e["type"] == "crash"]
    assert [(s.node, s.start) for s in p.spans if s.kind == "crash"] == [(e["node"], e["t"]) for e in crashes]
    assert count(r.trace, "pause") == sum(s.kind == "pause" for s in p.spans) > 0
    for s in p.spans:
        assert s.end >= s.start
    heals = [e["t"] for e in r.trace if e["type"] == "heal"]
    assert len(p.partitions) == count(r.trace, "partition") > 0
    assert all(part.end in heals and part.groups for part in p.partitions)
    assert len(p.operations) == count(r.trace, "invoke")
    ok = [o for o in p.operations if o.outcome == "ok"]
    assert all("→" in o.label for o in ok)
    assert {o.client for o in p.operations} <= set(p.clients)
    assert p.lanes == ["n1", "n2", "n3", "n4", "n5", "c1", "c2", "c3"]


def test_dashboard_figures_are_those_of_the_run_summary() -> None:
    r = sim("churn")
    d = picture_of(r).dashboard
    s = summarize(r.trace)
    xs = sorted(s.latencies)
    for q in (50, 90, 99, 99.9):
        assert d.percentiles[f"p{q:g}"] == percentile(xs, q)
    assert sum(d.histogram) == len(xs) == d.latencies
    assert d.histogram_edges[0] <= xs[0] and d.histogram_edges[-1] >= xs[-1] * 0.9999
    assert d.cdf[-1] == (xs[-1], 1.0)
    completes = Counter(e["outcome"] for e in r.trace if e["type"] == "complete")
    assert {k: sum(v) for k, v in d.throughput.items()} == {k: completes[k] for k in ("ok", "fail", "info")}
    assert {t: sum(by.values()) for t, by in d.sent.items()} == dict(Counter(e["msg"] for e in r.trace if e["type"] == "send"))
    assert sum(n.get("dropped", 0) for n in d.per_node.values()) == count(r.trace, "drop")


def test_the_payload_decodes_to_the_same_messages() -> None:
    """Decode the packed columns as pictures.js does and compare with the picture."""
    p = picture_of(sim("lossy"))
    data = p.to_payload()
    m, unit = data["m"], data["unit"]
    t, sends = 0, []
    for delta in m["s"]:
        t += delta
        sends.append(t * unit)
    order = sorted(p.messages, key=lambda x: (x.send, x.id, x.duplicate))
    assert len(sends) == len(order) == data["counts"]["arrows"]
    for i, msg in enumerate(order):
        assert abs(sends[i] - msg.send) < 2e-6
        assert abs(sends[i] + m["d"][i] * unit - msg.end) < 2e-6 or msg.end < msg.send
        assert data["lanes"][m["a"][i]] == msg.src and data["lanes"][m["b"][i]] == msg.dst
        assert data["types"][m["k"][i]] == msg.type
        assert OUTCOMES[m["f"][i] & 7] == msg.outcome
        assert bool(m["f"][i] & DUPLICATE) == msg.duplicate
        assert bool(m["f"][i] & REORDERED) == msg.reordered
        assert json.loads(data["bodies"][m["y"][i]]) == msg.body
    assert len(data["bodies"]) < len(order)  # identical bodies are stored once


def test_a_trace_without_header_still_draws() -> None:
    r = sim("lossy")
    p = picture_of(r.trace[1:])
    assert p.arrows == picture_of(r).arrows
    assert set(p.lanes) == {"n1", "n2", "n3", "n4", "n5", "c1", "c2", "c3"}
    assert p.lanes.index("n5") < p.lanes.index("c1")


# -- per-lab views --------------------------------------------------------------------------


def test_the_demo_lab_gets_its_leader_view_and_every_lab_the_log_view() -> None:
    r = sim("leader-isolated-then-crash")
    p = picture_of(r)
    views = {v.name: v for v in p.views}
    leaders = views["demo-leaders"]
    beats = Counter(e["node"] for e in r.trace if e["type"] == "send" and e["msg"] == "Heartbeat")
    assert {tr.label for tr in leaders.tracks} == set(beats)
    for tr in leaders.tracks:
        assert all(s.label.startswith("leads epoch ") and s.end > s.start for s in tr.segments)
    logs = Counter(e["node"] for e in r.trace if e["type"] == "log")
    assert {tr.label: len(tr.points) for tr in views["log-lines"].tracks} == dict(logs)
    payload = p.to_payload()["views"]
    assert [v["name"] for v in payload] == ["log-lines", "demo-leaders"]


def test_a_registered_view_is_drawn_for_its_lab_only() -> None:
    class Clerks:
        name = "test-clerks"
        title = "operations per clerk"

        def build(self, events: Sequence[Event], picture: Picture) -> Timeline:
            tracks = [Track(c, segments=[Segment(o.start, o.end, o.label, 2) for o in picture.operations if o.client == c],
                            points=[Point(0.0, "start")]) for c in picture.clients]
            return Timeline(self.title, tracks, self.name)

    register_view(Clerks(), labs="demo")
    try:
        p = picture_of(sim("lossy"))
        clerks = next(v for v in p.views if v.name == "test-clerks")
        assert sum(len(t.segments) for t in clerks.tracks) == len(p.operations)
        other = [{**e, "lab": "raft"} if e["type"] == "run" else e for e in sim("lossy").trace]
        assert "test-clerks" not in [v.name for v in picture_of(other).views]
    finally:
        unregister_view("test-clerks")
    assert "test-clerks" not in [v.name for v in picture_of(sim("lossy")).views]


# -- the Raft time line ---------------------------------------------------------------------


@cache
def raft_sim(schedule: str, seed: int = 1) -> RunResult:
    """A run of the Raft lab's reference in the simulator (the browser tests use these too)."""
    return run("raft", "sim", load(schedule), seed=seed)


@cache
def long_raft_sim() -> RunResult:
    """The Raft lab's figure 8 schedule (leaders crash every 0.8 s), run for 20 s: over 20,000
    events, hundreds of terms' worth of role changes and applies."""
    from autograder.suite import load_suite

    test = next(t for t in load_suite("raft").tests if t.name == "C-figure8")
    return run(test.lab, "sim", dataclasses.replace(test.schedule, duration=20.0), seed=2)


def harness_lines(trace: Sequence[Event], word: str) -> list[tuple[float, str, dict[str, str]]]:
    """``(t, node, fields)`` of each ``raft <word> k=v ...`` line, read here without the view's
    code, so that the tests below compare it with an independent reading of the trace."""
    return [(e["t"], e["node"], dict(kv.split("=", 1) for kv in e["text"].split()[2:]))
            for e in trace if e["type"] == "log" and e["text"].startswith(f"raft {word} ")]


def state_at(trace: Sequence[Event], node: str, t: float) -> tuple[int, str] | str | None:
    """``(term, role)`` from the node's last state line before ``t``, "down" if it crashed since,
    ``None`` if it (re)started since and has not said."""
    state: tuple[int, str] | str | None = None
    for e in trace[1:]:
        if e["t"] > t:
            break
        if e.get("node") != node:
            continue
        if e["type"] == "crash":
            state = "down"
        elif e["type"] in ("start", "restart"):
            state = None
        elif e["type"] == "log" and e["text"].startswith("raft state "):
            fields = dict(kv.split("=", 1) for kv in e["text"].split()[2:])
            state = (int(fields["term"]), fields["role"])
    return state


def applied_index_at(trace: Sequence[Event], node: str, t: float) -> int | None:
    """The highest index ``node`` applied since it last (re)started, up to ``t``; ``None`` while down."""
    index: int | None = 0
    for e in trace[1:]:
        if e["t"] > t:
            break
        if e.get("node") != node:
            continue
        if e["type"] == "crash":
            index = None
        elif e["type"] in ("start", "restart"):
            index = 0
        elif e["type"] == "log" and e["text"].startswith("raft apply "):
            index = int(e["text"].split()[2].removeprefix("index="))
    return index


def first_elected(trace: Sequence[Event]) -> dict[int, tuple[str, float]]:
    """Term -> (its leader, when it was elected), from the harness's leader lines."""
    out: dict[int, tuple[str, float]] = {}
    for t, node, fields in harness_lines(trace, "leader"):
        out.setdefault(int(fields["term"]), (node, t))
    return out


def test_the_raft_time_line_names_each_terms_leader_and_shows_the_stale_one() -> None:
    """leader-isolated cuts the first leader off for two seconds: the others elect a new leader
    in a higher term, and until the heal the old one still believes it leads."""
    from labs.raft.timeline import read_timeline, term_color

    r = raft_sim("leader-isolated")
    elected = first_elected(r.trace)
    timeline = read_timeline(r.trace)
    assert timeline.leaders == {term: node for term, (node, _) in elected.items()}
    cut = next(e for e in r.trace if e["type"] == "partition")
    heal = next(e["t"] for e in r.trace if e["type"] == "heal")
    old = cut["groups"][0][0]
    (old_term,) = [term for term, (node, t) in elected.items() if node == old and t < cut["t"]]
    (new_term, (new, _)) = next((term, who) for term, who in sorted(elected.items()) if term > old_term)
    assert new != old
    assert sorted(timeline.leader_at(heal - 0.01)) == sorted([old, new])
    assert timeline.role_at(old, heal - 0.01) == (old_term, "leader")
    assert timeline.role_at(new, heal - 0.01) == (new_term, "leader")
    assert timeline.leader_at(heal + 1.0) == [new]

    view = next(v for v in picture_of(r).views if v.name == "raft-terms")
    tracks = {tr.label: tr for tr in view.tracks}
    assert list(tracks) == ["n1", "n2", "n3", "n4", "n5"]
    for node, track in tracks.items():
        assert [(p.t, p.label.split()[0]) for p in track.points] == [
            (t, node) for _, (who, t) in sorted(elected.items()) if who == node]
        for k in range(int(r.trace[-1]["t"] / 0.1)):
            t = 0.05 + 0.1 * k
            state = state_at(r.trace, node, t)
            bars = [s for s in track.segments if s.start <= t < s.end]
            assert len(bars) <= 1, (node, t, bars)
            bar = bars[0] if bars else None
            if state is None:
                assert bar is None, (node, t, bar)
                continue
            assert bar is not None, (node, t, state)
            if state == "down":
                assert bar.label == "down (crashed)"
                continue
            assert isinstance(state, tuple)
            term, role = state
            assert bar.label.startswith(f"term {term} {role}"), (node, t, bar.label)
            assert bar.color == term_color(term, role)
            leader = elected.get(term)
            if role == "follower" and leader is not None and leader[1] <= t:
                assert bar.label.endswith(f"{leader[0]} leads"), (node, t, bar.label)


def test_the_raft_commit_index_is_each_servers_highest_applied_index() -> None:
    """Sampled every 50 ms: the step line of each server is the highest index it applied since it
    last started (none while it is down), and the isolated leader's stays flat."""
    r = raft_sim("leader-isolated-then-crash")
    view = next(v for v in picture_of(r).views if v.name == "raft-commit")
    applies = harness_lines(r.trace, "apply")
    assert len({fields["index"] for _, _, fields in applies}) > 20
    levels = {tr.label: tr.levels for tr in view.tracks}
    assert list(levels) == ["n1", "n2", "n3", "n4", "n5"]
    for node, steps in levels.items():
        assert [lv.t for lv in steps] == sorted(lv.t for lv in steps)
        for k in range(int(r.trace[-1]["t"] / 0.05)):
            t = 0.025 + 0.05 * k
            shown = [lv for lv in steps if lv.t <= t][-1]
            assert shown.value == applied_index_at(r.trace, node, t), (node, t, shown)
    crash = next(e for e in r.trace if e["type"] == "crash" and e["node"].startswith("n"))
    assert any(lv.value is None and lv.t == crash["t"] for lv in levels[crash["node"]])
    cut = next(e for e in r.trace if e["type"] == "partition")
    heal = next(e["t"] for e in r.trace if e["type"] == "heal")
    isolated = cut["groups"][0][0]
    others = [n for n in levels if n != isolated]
    flat = applied_index_at(r.trace, isolated, cut["t"] + 0.2)
    assert flat == applied_index_at(r.trace, isolated, heal - 0.01)
    assert all((applied_index_at(r.trace, n, heal - 0.01) or 0) > (flat or 0) for n in others)
    final = max(int(fields["index"]) for _, _, fields in applies)
    assert all(steps[-1].value == final for steps in levels.values())  # all caught up by the end
    payload = next(v for v in picture_of(r).to_payload()["views"] if v["name"] == "raft-commit")
    lv = payload["tracks"][0]["lv"]
    assert lv[0] == [0, 0, "nothing applied yet"] and all(isinstance(x[0], int) for x in lv)


def test_a_raft_trace_file_gets_its_time_line_in_a_fresh_process(tmp_path: Path) -> None:
    """``python -m labs picture`` in a new process: the raft lab's views are found from the
    trace's header alone (the lab's package registers them when it is imported)."""
    trace = tmp_path / "raft.jsonl"
    write_trace(raft_sim("leader-isolated").trace, trace)
    done = subprocess.run([sys.executable, "-m", "labs", "picture", str(trace), "-o", str(tmp_path / "raft.html")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    views = cast(list[dict[str, Any]], unpack((tmp_path / "raft.html").read_text())["views"])
    assert [v["name"] for v in views] == ["log-lines", "raft-terms", "raft-commit"]


def test_the_graders_picture_of_a_failed_raft_test_has_the_time_line(tmp_path: Path) -> None:
    """The feedback a student gets for the figure 8 bug: the picture shows the terms, and the
    leader the finding names is drawn leading the term it names."""
    from autograder.failure_report import write_pictures
    from autograder.runner import run_test
    from autograder.suite import load_suite

    suite = load_suite("raft")
    test = next(t for t in suite.tests if t.name == "C-figure8")
    outcome = run_test(test, 3, impl=Path(__file__).parent / "raft_variants" / "figure8_commit.py")
    assert not outcome.passed
    finding = re.search(r"^(n\d), leader of term (\d+), committed index", outcome.findings[0].message)
    assert finding, outcome.findings[0]
    (page,) = write_pictures(suite, outcome, tmp_path)
    views = {v["name"]: v for v in cast(list[dict[str, Any]], unpack(page.read_text())["views"])}
    assert {"raft-terms", "raft-commit"} <= set(views)
    track = next(tr for tr in views["raft-terms"]["tracks"] if tr["label"] == finding[1])
    assert any(seg[2] == f"term {finding[2]} leader" for seg in track["segs"])


def test_a_long_raft_run_stays_small_and_its_time_line_compact() -> None:
    r = long_raft_sim()
    assert len(r.trace) >= 20_000
    p = picture_of(r)
    views = {v.name: v for v in p.views}
    terms, commit = views["raft-terms"], views["raft-commit"]
    states = harness_lines(r.trace, "state")
    assert len({term for term in first_elected(r.trace)}) >= 15
    changes = len(states) + sum(e["type"] == "crash" for e in r.trace)
    # a bar per change of state, and a follower's bar split where its term's leader is elected
    assert sum(len(tr.segments) for tr in terms.tracks) <= 2 * changes < len(r.trace) / 40
    assert sum(len(tr.levels) for tr in commit.tracks) < len(harness_lines(r.trace, "apply")) / 5
    assert len(render_html(p)) < 400_000


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(("lines", "expected"), [
    (['{"type": "run"}', '{"t": 0.1, "type": "send", "node": "n1"}', "garbage"],
     [r"line 2: send event without 'dst', 'id', 'msg'", r"line 3: not JSON"]),
    (['{"type": "run"}', '{"t": "soon", "type": "crash", "node": "n1"}'],
     [r"line 2: crash event without a time"]),
    (['{"index": 1, "type": "invoke", "f": "put", "time": 0.1}'], [r"line 1: this is a client history"]),
    (['{"summary": {}}'], [r"line 1: no 'type' field: this does not look like a trace"]),
    (['[1, 2]'], [r"line 1: expected a JSON object"]),
    (['{"type": "run"}', '', '{"type": "run"}'], [r"line 3: a 'run' header in the middle"]),
    (['{"type": "run"}'], [r"has a header but no events"]),
    ([], [r"is empty"]),
])
def test_a_file_that_is_not_a_trace_is_refused_with_its_line_and_reason(
        tmp_path: Path, lines: list[str], expected: list[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(TraceError) as info:
        picture_of(bad)
    for pattern in expected:
        assert re.search(pattern, str(info.value)), str(info.value)
    assert str(bad) in str(info.value)


def test_a_list_of_events_is_checked_too() -> None:
    with pytest.raises(TraceError, match=r"event 2: deliver event without 'src'"):
        picture_of([{"type": "run"}, {"t": 0.0, "type": "deliver", "node": "n1", "id": 1}])
    with pytest.raises(TraceError, match="cannot draw a int"):
        picture_of(42)  # type: ignore[arg-type]


# -- pages and the command ------------------------------------------------------------------


def unpack(page: str) -> dict[str, object]:
    data = re.search(r'data-encoding="gzip\+base64">\s*(.*?)\s*</script>', page, re.S)
    assert data
    return json.loads(gzip.decompress(base64.b64decode(data.group(1).replace("\n", ""))))  # type: ignore[no-any-return]


def test_a_page_is_self_contained_and_light(tmp_path: Path) -> None:
    typical = write_html(picture_of(sim("churn")), tmp_path / "churn.html")
    page = typical.read_text()
    assert "<script src=" not in page and "DSPictures" in page
    assert not re.search(r"(src|href)=\"?(https?:)?//", page), "a page must load nothing from outside"
    assert typical.stat().st_size < 300_000
    assert unpack(page)["counts"] == picture_of(sim("churn")).counts()
    long = sim("churn", seed=2, duration=16.0)
    assert len(long.trace) >= 20_000
    assert write_html(picture_of(long), tmp_path / "long.html").stat().st_size < 400_000
    # the same trace gives the same page, byte for byte
    assert render_html(picture_of(sim("churn"))) == page


def test_pages_can_share_one_copy_of_the_script(tmp_path: Path) -> None:
    a = write_html(picture_of(sim("lossy")), tmp_path / "a.html", shared_js=True)
    b = write_html(picture_of(sim("churn")), tmp_path / "b.html", shared_js=True)
    js = tmp_path / "pictures.js"
    assert js.exists() and '<script src="pictures.js"></script>' in a.read_text()
    assert "function decode" not in b.read_text()
    assert a.stat().st_size + b.stat().st_size + js.stat().st_size < 2 * write_html(
        picture_of(sim("lossy")), tmp_path / "inline.html").stat().st_size + 60_000


def test_the_picture_command(tmp_path: Path) -> None:
    trace = tmp_path / "run.jsonl"
    r = sim("leader-isolated-then-crash")
    write_trace(r.trace, trace)
    done = CliRunner().invoke(main, ["picture", str(trace), "-o", str(tmp_path / "out" / "run.html")])
    assert done.exit_code == 0, done.output
    assert f"{picture_of(r).arrows} message arrows" in done.output
    assert (tmp_path / "out" / "run.html").exists()
    done = CliRunner().invoke(main, ["picture", str(trace), "--shared-js"])
    assert done.exit_code == 0 and (tmp_path / "run.html").exists() and (tmp_path / "pictures.js").exists()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "run"}\n{"t": 1, "type": "send"}\n')
    done = CliRunner().invoke(main, ["picture", str(bad)])
    assert done.exit_code == 2
    assert "line 2: send event without 'node', 'dst', 'id', 'msg'" in done.output


def test_drawing_imports_neither_jupyter_nor_ray() -> None:
    code = ("import sys, labs\nfrom labs.pictures import picture_of, render_html\n"
            "render_html(picture_of(labs.run('demo', 'sim', 'lossy', seed=1)))\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('ray', 'ipywidgets', 'anywidget', 'IPython', 'jupyter_client')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_trace_cut_short_draws_messages_in_flight_as_stubs_that_never_arrived() -> None:
    """A killed run leaves a trace that stops mid-flight (on Ray, so do messages sent to a dead
    process): such messages end in a short stub, not in a line to the end of the run."""
    r = sim("lossy")
    cut = next(i for i, e in enumerate(r.trace) if e.get("t", 0) > 2.0)
    p = picture_of(r.trace[:cut])
    delivered = {e["id"] for e in r.trace[:cut] if e["type"] in ("deliver", "drop")}
    lost = [m for m in p.messages if m.outcome == "lost"]
    assert lost and {m.id for m in lost} == {e["id"] for e in r.trace[:cut] if e["type"] == "send"} - delivered
    assert all(m.send < m.end < m.send + 0.05 for m in lost)
    assert p.counts()["lost"] == len(lost)
    flags = p.to_payload()["m"]["f"]
    assert sum(1 for f in flags if f & 7 == OUTCOMES.index("lost") and f & 32) == len(lost)
