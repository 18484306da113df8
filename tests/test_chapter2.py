"""Chapter 2 ("RPC") runs top to bottom in a real kernel; each demo shows what its text says
(the verdicts, the pictures, the tables); the exercises are nbgrader cells that pass with the
solutions in and fail with "not implemented" without them; and the chapter shows none of the
RPC lab's solution code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from chapters import (
    assert_committed_clean,
    assert_shows_no_solution,
    check_exercises,
    executed,
    n,
    outputs,
    rows,
    run_release,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "course" / "02-rpc.ipynb"
DEMOS = ROOT / "course" / "demos" / "rpc_demos.py"
EXERCISES = {"is_duplicate": 2, "idempotent": 2, "forget_after": 2, "is_linearization": 3, "linearizable": 2}


@pytest.fixture(scope="module")
def chapter() -> dict[str, Any]:
    return executed(NOTEBOOK)


def test_committed_clean() -> None:
    assert_committed_clean(NOTEBOOK)


def test_runs_without_errors_and_every_demo_shows_something(chapter: dict[str, Any]) -> None:
    errors = [o for c in chapter["nb"].cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors[:1]
    assert chapter["seconds"] < 60, f"the chapter took {chapter['seconds']:.0f} s"
    assert len(chapter["cells"]) >= 18
    for tag, cell in chapter["cells"].items():
        assert cell.outputs, f"the cell tagged {tag} shows nothing"


def test_runs_are_pictured_with_a_static_fallback(chapter: dict[str, Any]) -> None:
    pictures = [tag for tag in chapter["cells"] if tag.startswith("picture-")]
    assert sorted(pictures) == ["picture-at-least-once", "picture-dedup", "picture-one-shot"]
    for tag in pictures:
        (page,) = outputs(chapter["cells"][tag], "text/html")
        assert "<iframe" in page and "srcdoc=" in page, tag


def test_histories_by_hand_are_pictured_with_their_verdicts(chapter: dict[str, Any]) -> None:
    cells = chapter["cells"]
    (good,) = outputs(cells["demo-linearizable-by-hand"], "text/html")
    assert "verdict-ok" in good and "<svg" in good and "alice" in good
    (bad,) = outputs(cells["demo-stale-read-by-hand"], "text/html")
    assert "verdict-illegal" in bad and "<svg" in bad and "Counterexample" in bad
    assert "get('x') -> '' by client carol" in "".join(outputs(cells["demo-stale-read-by-hand"], "stream"))


def test_one_shot_clients_cannot_tell_lost_requests_from_lost_answers(chapter: dict[str, Any]) -> None:
    (row,) = rows(chapter["cells"]["demo-one-shot"], "Three clients sending each call once, 20% of messages lost")
    assert n(row["unknown, never executed"]) > 0 and n(row["unknown, executed"]) > 0


def test_at_least_once_answers_everything_and_executes_some_twice(chapter: dict[str, Any]) -> None:
    cell = chapter["cells"]["demo-at-least-once"]
    (row,) = rows(cell, "Resending clients, a server that executes every copy")
    assert n(row["info"]) == 0 and n(row["ok"]) > 100
    assert n(row["updates executed twice or more"]) > 0 and n(row["gets showing an append twice"]) > 0
    printed = "".join(outputs(cell, "stream"))
    tag = re.search(r"appended more than once: (<[^>]+>)", printed)
    assert tag and printed.count(tag.group(1)) >= 3  # twice in the value, once in the list

    (row,) = rows(chapter["cells"]["demo-idempotent"], "Only puts and gets, late duplicate messages, no duplicate detection")
    assert n(row["of which brought back a replaced value"]) > 0


def test_the_checker_says_no_to_at_least_once_with_a_small_counterexample(chapter: dict[str, Any]) -> None:
    cell = chapter["cells"]["demo-verdict-at-least-once"]
    printed = "".join(outputs(cell, "stream"))
    shown, total = map(int, re.search(r"shown by (\d+) of its (\d+) operations", printed).groups())
    assert shown <= 10 < total
    (page,) = outputs(cell, "text/html")
    assert "verdict-illegal" in page and "<svg" in page
    assert "not linearizable" in "".join(outputs(chapter["cells"]["demo-verdict-puts"], "stream"))


def test_duplicate_detection_makes_the_same_clients_linearizable(chapter: dict[str, Any]) -> None:
    cells = chapter["cells"]
    by_server = {r["server"]: r for r in rows(cells["demo-dedup"], "The same resending clients, 20% loss, 10% duplication, seed 2")}
    every, dedup = by_server["executes every copy"], by_server["detects duplicates"]
    assert every["checker"] == "illegal" and n(every["updates executed twice or more"]) > 0
    assert dedup["checker"] == "ok" and n(dedup["updates executed twice or more"]) == 0
    assert n(dedup["gets showing an append twice"]) == 0 and every["ok"] == dedup["ok"]

    seeds = {r["server"]: r for r in rows(cells["demo-dedup-seeds"], "Twenty seeds each, 20% loss, 10% duplication")}
    assert n(seeds["detects duplicates"]["runs linearizable (of 20)"]) == 20
    assert n(seeds["executes every copy"]["runs not linearizable"]) >= 15
    (page,) = outputs(cells["demo-verdict-dedup"], "text/html")
    assert "verdict-ok" in page and "<svg" in page


def test_four_combinations_of_client_and_server(chapter: dict[str, Any]) -> None:
    table = rows(chapter["cells"]["demo-semantics"], "Four combinations, 20% loss, 10% duplication, seed 3")
    got = {(r["client"], r["server"]): r for r in table}
    assert len(got) == 4
    once_dedup = got[("sends once", "detects duplicates")]
    assert n(once_dedup["unknown"]) > 0 and once_dedup["checker"] == "ok"
    assert n(got[("sends once", "executes every copy")]["updates executed twice or more"]) > 0
    assert got[("resends", "executes every copy")]["checker"] == "illegal"
    exactly = got[("resends", "detects duplicates")]
    assert n(exactly["unknown"]) == 0 and n(exactly["updates executed twice or more"]) == 0 and exactly["checker"] == "ok"


def test_reused_client_ids_break_duplicate_detection(chapter: dict[str, Any]) -> None:
    cell = chapter["cells"]["demo-client-ids"]
    got = {r["client id"]: r["checker"] for r in rows(cell, "Every client makes one call, then a fresh one takes over")}
    assert got == {"node name + random part": "ok", "node name only": "illegal"}
    assert "not linearizable" in "".join(outputs(cell, "stream"))


def test_resend_intervals_trade_copies_for_tail_latency(chapter: dict[str, Any]) -> None:
    table = rows(chapter["cells"]["demo-timeouts"], "Resend intervals, 6 clients, 20% loss, 1-50 ms delays, 6 s")
    assert [r["resend after (ms)"] for r in table] == ["20", "50", "100", "200", "500"]
    copies = [n(r["requests sent per call"]) for r in table]
    assert copies[0] > 2 > 1.5 > copies[-1]
    assert n(table[0]["p90 ms"]) < n(table[3]["p90 ms"]) < n(table[4]["p90 ms"])
    assert n(table[-1]["unknown"]) > 0 and n(table[0]["unknown"]) == 0
    assert all(r["checker"] == "ok" for r in table)


def test_forgetting_bounds_the_table_and_forgetting_early_executes_twice(chapter: dict[str, Any]) -> None:
    cell = chapter["cells"]["demo-forgetting"]
    (chart,) = outputs(cell, "image/svg+xml")
    assert chart.startswith("<svg") and chart.count("<polyline") == 3
    table = {r["server"]: r for r in rows(cell, "Clients come and go for 6 s (each leaves after two calls)")}
    never, safe, early = (table[k] for k in ("never forgets", "forgets after 2.0 s of silence", "forgets after 20 ms"))
    assert n(never["clients remembered at the end"]) > 2 * n(safe["clients remembered at the end"])
    assert never["checker"] == safe["checker"] == "ok" and n(safe["updates executed twice or more"]) == 0
    assert early["checker"] == "illegal" and n(early["updates executed twice or more"]) > 0
    printed = "".join(outputs(chapter["cells"]["demo-lab-memory"], "stream"))
    assert "FORGET_AFTER = 2.0 s" in printed and "memory-bounded" in printed


def test_exercises_are_locked_nbgrader_tests_that_pass(chapter: dict[str, Any]) -> None:
    tests = check_exercises(chapter["nb"], EXERCISES)
    printed = "".join(outputs(tests["test_linearizable"], "stream"))
    assert re.search(r"agreed with the checker on \d+ linearizable and \d+ non-linearizable", printed)


def test_the_student_release_runs_without_the_labs_solution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The released tree (lab solutions stripped, notebook cleared by nbgrader) runs the chapter:
    every demo works without the RPC lab's reference, and each exercise fails as not implemented."""
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "release"))  # the kernel imports labs and course from the release
    released = run_release(NOTEBOOK, tmp_path / "release", "rpc", "rpc_demos", EXERCISES)
    assert "seq <= table[client]" not in "".join(c.source for c in released.cells)
    demo = next(c for c in released.cells if "demo-dedup" in c.metadata.get("tags", []))
    assert "illegal" in demo.outputs[0].data["text/plain"] and " ok" in demo.outputs[0].data["text/plain"]


def test_the_chapter_shows_none_of_the_labs_solution() -> None:
    assert_shows_no_solution(NOTEBOOK, DEMOS, "rpc", at_least=40)
    assert "labs.rpc.node import FORGET_AFTER" in "".join(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells)
