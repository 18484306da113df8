"""The strict-serializability checker: hand-made anomalies, the history format, generated histories.

Generated histories come from a real serial execution of random transactions over a few keys; the
intervals around each transaction's serial point overlap at random but never contradict the serial
order. Such a history is always strictly serializable, and small edits to it are always caught.
"""

from __future__ import annotations

import json
import math
import random
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from labs.checkers.serializability import (
    ANOMALIES,
    SerializabilityReport,
    check_strict_serializability,
)
from labs.checkers.txn_graph import (
    DepEdge,
    DepGraph,
    realtime_order,
    shortest_path,
    strongly_connected,
)
from labs.checkers.txn_history import TxnHistoryError, load_txns, txns_from_dicts

Dict = dict[str, Any]


def txn(tid: str, *ops: tuple[str, str, Any], invoke: float = 0.0, complete: float | None = 1.0,
        outcome: str = "ok", ts: float | None = None) -> Dict:
    d: Dict = {"id": tid, "process": tid, "invoke": invoke, "complete": complete,
               "outcome": outcome, "ops": [list(op) for op in ops]}
    if ts is not None:
        d["commit_ts"] = ts
    return d


def r(key: str, value: Any) -> tuple[str, str, Any]:
    return ("r", key, value)


def w(key: str, value: Any) -> tuple[str, str, Any]:
    return ("w", key, value)


def only(report: SerializabilityReport, name: str) -> Any:
    """The one anomaly of the report, which must be called ``name``."""
    assert [a.name for a in report.anomalies] == [name], report.render()
    return report.anomalies[0]


def edges(anomaly: Any) -> set[tuple[str, str, str, Any]]:
    return {(e.src, e.dst, e.kind, e.key) for e in anomaly.cycle}


# -- hand-made anomalies ------------------------------------------------------------------


def test_g0_write_cycle() -> None:
    # t2 overwrote t1's x, t1 overwrote t2's y: each saw the other's version before writing.
    h = [txn("t1", r("y", 2), w("y", 1), w("x", 1)), txn("t2", r("x", 1), w("x", 2), w("y", 2))]
    a = only(check_strict_serializability(h), "G0")
    assert edges(a) == {("t1", "t2", "ww", "x"), ("t2", "t1", "ww", "y")}
    assert "t2 wrote y=2 and t1 overwrote it with y=1" in a.render()


def test_g1a_aborted_read() -> None:
    h = [txn("t1", w("x", 1), outcome="fail"), txn("t2", r("x", 1))]
    a = only(check_strict_serializability(h), "G1a")
    assert a.txns == ("t1", "t2") and "aborted" in a.summary


def test_g1b_intermediate_read() -> None:
    h = [txn("t1", w("x", 1), w("x", 2)), txn("t2", r("x", 1))]
    a = only(check_strict_serializability(h), "G1b")
    assert a.txns == ("t1", "t2") and "overwrote with x=2" in a.summary


def test_g1c_circular_information_flow() -> None:
    h = [txn("t1", w("x", 1), r("y", 2)), txn("t2", w("y", 2), r("x", 1))]
    a = only(check_strict_serializability(h), "G1c")
    assert edges(a) == {("t1", "t2", "wr", "x"), ("t2", "t1", "wr", "y")}


def test_g_single_read_skew() -> None:
    h = [
        txn("t0", w("x", 0), w("y", 0), invoke=0, complete=0.5),
        txn("t1", r("x", 0), w("x", 1), w("y", 1), invoke=1, complete=2),
        txn("t2", r("x", 0), r("y", 1), invoke=1, complete=2),  # old x, new y
    ]
    report = check_strict_serializability(h)
    a = only(report, "G-single")
    assert edges(a) == {("t2", "t1", "rw", "x"), ("t1", "t2", "wr", "y")}
    assert not report.serializable


def test_g2_write_skew() -> None:
    h = [txn("t1", r("x", None), r("y", None), w("x", 1)),
         txn("t2", r("x", None), r("y", None), w("y", 2))]
    a = only(check_strict_serializability(h), "G2")
    assert edges(a) == {("t1", "t2", "rw", "y"), ("t2", "t1", "rw", "x")}


def test_lost_update() -> None:
    # Both read x=0 and both wrote x: whichever went second missed the first's write.
    h = [txn("t0", w("x", 0), invoke=0, complete=1),
         txn("t1", r("x", 0), w("x", 1), invoke=2, complete=4),
         txn("t2", r("x", 0), w("x", 2), invoke=2, complete=4)]
    a = only(check_strict_serializability(h), "G2")  # the order of 1 and 2 is unknown
    assert edges(a) == {("t1", "t2", "rw", "x"), ("t2", "t1", "rw", "x")}
    h[1]["commit_ts"], h[2]["commit_ts"] = 5, 6  # now it is known: 1 then 2
    a = only(check_strict_serializability(h), "G-single")
    assert edges(a) == {("t1", "t2", "ww", "x"), ("t2", "t1", "rw", "x")}


def test_real_time_violation_read_of_the_past() -> None:
    # t2 began after t1 committed x=1, yet read nothing: serializable (t2, t1), not strictly.
    h = [txn("t1", w("x", 1), invoke=0, complete=1), txn("t2", r("x", None), invoke=2, complete=3)]
    report = check_strict_serializability(h)
    a = only(report, "real-time")
    assert edges(a) == {("t1", "t2", "rt", None), ("t2", "t1", "rw", "x")}
    assert report.serializable and not report.ok
    assert check_strict_serializability([{**h[0], "complete": 2.5}, h[1]]).ok  # overlapping: fine


def test_stale_read_is_caught_through_the_real_time_order_of_writes() -> None:
    h = [txn("t1", w("x", 1), invoke=0, complete=1), txn("t2", w("x", 2), invoke=2, complete=3),
         txn("t3", r("x", 1), invoke=4, complete=5)]
    report = check_strict_serializability(h)
    a = only(report, "real-time")
    assert {"t2", "t3"} <= set(a.txns)
    rw = next(e for e in a.cycle if e.kind == "rw")
    assert (rw.src, rw.dst, rw.before, rw.after, rw.realtime) == ("t3", "t2", 1, 2, True)
    assert "t1 completed at 1, before t2 was invoked at 2" in rw.describe()


def test_a_long_real_time_chain_is_told_in_one_step() -> None:
    # Ten writes one after another, then a read of the first: two transactions show it.
    h = [txn(f"t{i}", w("x", i), invoke=10 * i, complete=10 * i + 1) for i in range(1, 11)]
    h.append(txn("t11", r("x", 1), invoke=200, complete=201))
    a = only(check_strict_serializability(h), "real-time")
    assert [(e.src, e.dst, e.kind) for e in a.cycle] == [("t11", "t2", "rw"), ("t2", "t11", "rt")]
    assert a.cycle[1].describe() == "t2 completed at 21, before t11 was invoked at 200"


def test_commit_timestamps_order_versions() -> None:
    # All concurrent: only the timestamps say x=1 came before x=2.
    h = [txn("t1", w("x", 1), ts=1), txn("t2", w("x", 2), w("y", 2), ts=2),
         txn("t3", r("x", 1), r("y", 2))]
    a = only(check_strict_serializability(h), "G-single")
    assert edges(a) == {("t3", "t2", "rw", "x"), ("t2", "t3", "wr", "y")}
    assert "commit timestamps 1 < 2" in a.render()
    assert check_strict_serializability(h, use_commit_ts=False).ok


def test_garbage_and_internal_reads() -> None:
    h = [txn("t1", w("x", 1), r("x", 2)), txn("t2", r("y", 7)), txn("t3", r("z", 3), w("z", 3)),
         txn("t4", w("u", 4)), txn("t5", r("u", None), r("u", 4))]
    report = check_strict_serializability(h)
    assert [a.name for a in report.anomalies] == ["internal", "garbage-read", "internal", "internal"]
    assert report.anomalies[0].summary.startswith("t1 wrote x=1 and then read x=2")
    assert "a value no transaction wrote" in report.anomalies[1].summary
    assert report.anomalies[3].summary.startswith("t5 read u=(nothing) and then read u=4")


def test_unknown_outcomes_may_or_may_not_commit() -> None:
    # An info transaction nobody read from may never have happened ...
    lost = [txn("t1", w("x", 1), outcome="info", complete=None), txn("t2", r("x", None), invoke=5, complete=6)]
    assert check_strict_serializability(lost).ok
    # ... and one whose write was read committed, possibly long after its client gave up.
    late = [txn("t1", w("x", 1), outcome="info", complete=1), txn("t2", r("x", 1), invoke=5, complete=6),
            txn("t3", r("x", None), invoke=3, complete=4)]
    assert check_strict_serializability(late).ok
    # But once it committed, everything that read past it must agree.
    skew = [txn("t1", w("x", 1), w("y", 1), outcome="info", complete=None),
            txn("t2", r("x", 1), r("y", None), invoke=5, complete=6)]
    a = only(check_strict_serializability(skew), "G-single")
    assert set(a.txns) == {"t1", "t2"}


def test_the_smallest_cycle_is_reported() -> None:
    # A ring of four wr edges with a chord making a triangle: the triangle is reported.
    h = [txn("t1", w("a", 1), r("d", 4)), txn("t2", r("a", 1), w("b", 2)),
         txn("t3", r("b", 2), w("c", 3), w("e", 3)), txn("t4", r("c", 3), w("d", 4)),
         txn("t5", r("e", 3), w("f", 5)), txn("t6", r("f", 5), w("d2", 6))]
    h[0]["ops"].append(["r", "e2", 9])
    h[2]["ops"].append(["w", "e2", 9])  # the chord t3 -> t1
    a = only(check_strict_serializability(h), "G1c")
    assert sorted(a.txns) == ["t1", "t2", "t3"]


def test_report_as_text_and_json() -> None:
    h = [txn("t1", r("x", None), r("y", None), w("x", 1)),
         txn("t2", r("x", None), r("y", None), w("y", 2))]
    report = check_strict_serializability(h)
    data = json.loads(report.to_json())
    assert data["verdict"] == "illegal" and data["serializable"] is False
    (anomaly,) = data["anomalies"]
    assert anomaly["name"] == "G2" and anomaly["title"] == ANOMALIES["G2"][0]
    assert {(e["from"], e["to"], e["type"], e["key"]) for e in anomaly["cycle"]} == {
        ("t1", "t2", "rw", "y"), ("t2", "t1", "rw", "x")}
    text = report.render()
    assert text.startswith("illegal (not serializable)")
    assert "t1 -rw y-> t2: t1 read y before anyone wrote it, and t2 wrote y=2" in text
    ok = check_strict_serializability([txn("t1", w("x", 1))])
    assert ok.verdict == "ok" and ok.to_dict()["anomalies"] == []


# -- the format ---------------------------------------------------------------------------


def test_load_jsonl_and_errors_that_say_what_to_fix(tmp_path: Path) -> None:
    good = tmp_path / "h.jsonl"
    good.write_text(json.dumps(txn("t1", w("x", 1), ts=3)) + "\n\n" + json.dumps(txn("t2", r("x", 1))) + "\n")
    txns = load_txns(good)
    assert [t.id for t in txns] == ["t1", "t2"] and txns[0].commit_ts == 3.0
    assert check_strict_serializability(txns).ok
    assert txns_from_dicts([t.to_dict() for t in txns]) == txns

    dup = tmp_path / "dup.jsonl"
    dup.write_text("\n".join(json.dumps(t) for t in [txn("t1", w("x", 1)), txn("t2", w("x", 1))]))
    with pytest.raises(TxnHistoryError, match=r"t1 and t2 both write x=1: every write of a key needs a value of its own"):
        load_txns(dup)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(txn("t1", w("x", 1))) + "\n" + '{"id": "t2", "invoke": 0, "outcome": "ok", "ops": [["x", 1]]}\n')
    with pytest.raises(TxnHistoryError, match=r"bad.jsonl:2, transaction t2: each op must be"):
        load_txns(bad)
    for broken, message in [
        ([txn("t1", w("x", 1), w("x", 1))], "t1 writes x=1 twice"),
        ([txn("t1", w("x", None))], "writes nothing"),
        ([txn("t1", w("x", 1)), txn("t1", w("y", 1))], "two transactions are called 't1'"),
        ([txn("t1", w("x", 1), outcome="maybe")], "outcome must be ok, fail or info"),
        ([txn("t1", w("x", 1), complete=None)], "needs a complete time"),
        ([txn("t1", w("x", 1), invoke=2, complete=1)], "complete .* is before invoke"),
        ([txn("t1", w("x", 1.5))], "a value must be a string or an integer"),
    ]:
        with pytest.raises(TxnHistoryError, match=message):
            check_strict_serializability(broken)


# -- generated histories ------------------------------------------------------------------

KEYS = ("x", "y", "z")


@st.composite
def serial_histories(draw: st.DrawFn, sequential: bool = False, unknown: bool = True) -> list[Dict]:
    """Random transactions run one after another on a real key-value map, then given intervals.

    Transaction i takes effect at time 10*i, inside its interval; intervals overlap at random
    (``sequential``: never). Aborted transactions change nothing, transactions of unknown outcome
    may or may not take effect, and commit timestamps (when drawn) are the serial points.
    """
    n = draw(st.integers(1, 14))
    stamps = draw(st.booleans())
    spread = 4.5 if sequential else 25.0
    outcomes = ["ok", "ok", "ok", "fail", *(["info"] if unknown else [])]
    state: dict[str, int] = {}
    counter = 0
    history = []
    for i in range(n):
        outcome = draw(st.sampled_from(outcomes))
        takes_effect = outcome == "ok" or (outcome == "info" and draw(st.booleans()))
        view = dict(state)
        ops: list[list[Any]] = []
        for f, k in draw(st.lists(st.tuples(st.sampled_from("rw"), st.sampled_from(KEYS)), min_size=1, max_size=4)):
            if f == "r":
                ops.append(["r", k, view.get(k) if outcome == "ok" else None])
            else:
                counter += 1
                view[k] = counter
                ops.append(["w", k, counter])
        if takes_effect:
            state = view
        point = 10.0 * i
        invoke = point - draw(st.floats(0.5, spread))
        complete = point + draw(st.floats(0.5, spread))
        d = {"id": f"t{i}", "process": i % 4, "invoke": invoke,
             "complete": None if outcome == "info" and draw(st.booleans()) else complete,
             "outcome": outcome, "ops": ops}
        if stamps and takes_effect:
            d["commit_ts"] = point
        history.append(d)
    draw(st.randoms()).shuffle(history)  # the checker must not rely on the order of lines
    return history


@settings(max_examples=300, deadline=None)
@given(serial_histories())
def test_serial_executions_are_strictly_serializable(history: list[Dict]) -> None:
    report = check_strict_serializability(history)
    assert report.ok, report.render()


def _external_reads(history: list[Dict]) -> list[tuple[int, int]]:
    """(transaction, op) positions of committed first reads of keys the transaction had not written."""
    out = []
    for i, t in enumerate(history):
        if t["outcome"] != "ok":
            continue
        known = set()
        for j, (f, k, _v) in enumerate(t["ops"]):
            if f == "r" and k not in known:
                out.append((i, j))
            known.add(k)
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(serial_histories(), st.data())
def test_a_read_of_a_value_nobody_wrote_is_caught(history: list[Dict], data: st.DataObject) -> None:
    reads = _external_reads(history)
    assume(reads)
    i, j = data.draw(st.sampled_from(reads))
    history[i]["ops"][j][2] = 10**6
    report = check_strict_serializability(history)
    garbage = [a for a in report.anomalies if a.name == "garbage-read"]
    assert [a.txns for a in garbage] == [(history[i]["id"],)]
    assert report.names() <= {"garbage-read", "internal"}  # internal: t read that key again


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(serial_histories(sequential=True, unknown=False), st.data())
def test_in_a_sequential_history_any_other_read_value_is_caught(history: list[Dict], data: st.DataObject) -> None:
    # Without overlap, real time fixes the serial order, so any other value read is wrong.
    reads = _external_reads(history)
    written = {(op[1], op[2]) for t in history for op in t["ops"] if op[0] == "w"}
    choices = [(i, j, v) for i, j in reads for k, v in sorted(written) if k == history[i]["ops"][j][1]]
    choices += [(i, j, None) for i, j in reads]
    choices = [(i, j, v) for i, j, v in choices if history[i]["ops"][j][2] != v]
    assume(choices)
    i, j, v = data.draw(st.sampled_from(choices))
    history[i]["ops"][j][2] = v
    assert not check_strict_serializability(history).ok


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(serial_histories(), st.data())
def test_moving_a_reader_before_its_writer_breaks_real_time_only(history: list[Dict], data: st.DataObject) -> None:
    by_id = {t["id"]: t for t in history}
    writer = {(op[1], op[2]): t["id"] for t in history if t["outcome"] == "ok"
              for op in t["ops"] if op[0] == "w"}
    pairs = sorted({(writer[(history[i]["ops"][j][1], history[i]["ops"][j][2])], history[i]["id"])
                    for i, j in _external_reads(history)
                    if (history[i]["ops"][j][1], history[i]["ops"][j][2]) in writer})
    assume(pairs)
    a, b = data.draw(st.sampled_from(pairs))
    # The reader now completes before its writer is even invoked.
    by_id[b]["invoke"], by_id[b]["complete"] = by_id[a]["invoke"] - 2, by_id[a]["invoke"] - 1
    report = check_strict_serializability(history)
    assert not report.ok and report.serializable, report.render()


# -- size ---------------------------------------------------------------------------------


def random_history(n: int, seed: int) -> list[Dict]:
    """A long strictly serializable history, as :func:`serial_histories` builds them."""
    rng = random.Random(seed)
    state: dict[str, int] = {}
    out = []
    for i in range(n):
        ops: list[list[Any]] = []
        for _ in range(rng.randint(1, 4)):
            k = rng.choice(("a", "b", "c", "d", "e"))
            if rng.random() < 0.5:
                ops.append(["r", k, state.get(k)])
            else:
                state[k] = len(out) * 10 + len(ops)
                ops.append(["w", k, state[k]])
        out.append({"id": f"t{i}", "process": i % 8, "invoke": 10.0 * i - rng.uniform(0.5, 40),
                    "complete": 10.0 * i + rng.uniform(0.5, 40), "outcome": "ok", "ops": ops})
    return out


def test_the_graph_grows_linearly_with_the_history() -> None:
    small, large = (check_strict_serializability(random_history(n, 1)) for n in (500, 4000))
    assert small.ok and large.ok
    assert large.edges < 9 * small.edges  # 8x the transactions: about 8x the edges, not 64x


# -- the graph algorithms, against brute force ---------------------------------------------


def _closure(n: int, pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
    reach = set(pairs)
    for k in range(n):
        for i in range(n):
            if (i, k) in reach:
                reach |= {(i, j) for j in range(n) if (k, j) in reach}
    return reach


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20), st.booleans()), min_size=1, max_size=25))
def test_realtime_order_implies_exactly_the_real_time_pairs(spans: list[tuple[int, int, bool]]) -> None:
    intervals = [(float(min(a, b)), math.inf if unknown else float(max(a, b))) for a, b, unknown in spans]
    n = len(intervals)
    want = {(a, b) for a in range(n) for b in range(n) if intervals[a][1] < intervals[b][0]}
    got = realtime_order(intervals)
    assert set(got) <= want and _closure(n, set(got)) == want


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.just(n), st.sets(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40))))
def test_components_and_shortest_paths_match_brute_force(graph: tuple[int, set[tuple[int, int]]]) -> None:
    n, pairs = graph
    g = DepGraph(n)
    for u, v in pairs:
        g.add(u, v, DepEdge(f"t{u}", f"t{v}", "wr"))
    reach = _closure(n, {(u, v) for u, v in pairs if u != v})
    want = {frozenset([u] + [v for v in range(n) if (u, v) in reach and (v, u) in reach]) for u in range(n)}
    assert {frozenset(c) for c in strongly_connected(g, lambda e: True)} == {c for c in want if len(c) > 1}
    for u in range(n):
        for v in range(n):
            path = shortest_path(g, u, v, lambda e: True, set(range(n)))
            assert (path is not None) == ((u, v) in reach) or u == v
            if path:  # a real path, and no shorter one: BFS layers of brute force
                assert path[0].src == f"t{u}" and path[-1].dst == f"t{v}"
                assert all(a.dst == b.src for a, b in pairwise(path))
                layer, steps = {u}, 0
                while v not in layer:
                    layer, steps = {y for x in layer for y in range(n) if (x, y) in pairs} | layer, steps + 1
                assert len(path) == steps
