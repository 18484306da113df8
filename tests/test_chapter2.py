"""Chapter 2 ("RPC") runs top to bottom in a real kernel; each demo shows what its text says
(the verdicts, the pictures, the tables); the exercises are nbgrader cells that pass with the
solutions in and fail with "not implemented" without them; and the chapter shows none of the
RPC lab's solution code."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "course" / "02-rpc.ipynb"
DEMOS = ROOT / "course" / "demos" / "rpc_demos.py"
EXERCISES = {"is_duplicate": 2, "idempotent": 2, "forget_after": 2, "is_linearization": 3, "linearizable": 2}


def run_notebook(nb: Any, allow_errors: bool = False) -> float:
    began = time.perf_counter()
    client = NotebookClient(nb, timeout=240, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    return time.perf_counter() - began


@pytest.fixture(scope="module")
def chapter() -> dict[str, Any]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    seconds = run_notebook(nb)
    cells = {tag: c for c in nb.cells for tag in c.metadata.get("tags", [])}
    return {"nb": nb, "seconds": seconds, "cells": cells}


def outputs(cell: Any, kind: str) -> list[str]:
    """What a cell printed (``kind="stream"``) or displayed as ``kind`` (a MIME type)."""
    found = []
    for o in cell.outputs:
        if kind == "stream" and o.output_type == "stream":
            found.append(o.text)
        elif o.output_type in ("display_data", "execute_result") and kind in o.data:
            found.append(o.data[kind])
    return found


def rows(cell: Any, title: str) -> list[dict[str, str]]:
    """The rows of the HTML table captioned ``title`` that the cell displayed."""
    for page in outputs(cell, "text/html"):
        for table in re.findall(r"<table>(.*?)</table>", page, re.S):
            caption = re.search(r"<caption[^>]*>(.*?)</caption>", table, re.S)
            if caption is None or html.unescape(caption.group(1)) != title:
                continue
            lines = [[html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)]
                     for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
            return [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
    raise AssertionError(f"no table titled {title!r} in the cell's output")


def n(text: str) -> float:
    return float(text.replace(",", ""))


def test_committed_clean() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit the notebook without outputs"


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


def graded(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def test_exercises_are_locked_nbgrader_tests_that_pass(chapter: dict[str, Any]) -> None:
    nb = chapter["nb"]
    solutions = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}
    tests = {c.metadata["nbgrader"]["grade_id"]: c for c in graded(nb)}
    assert list(solutions) == list(EXERCISES)
    assert list(tests) == [f"test_{name}" for name in EXERCISES]
    for name, points in EXERCISES.items():
        meta = tests[f"test_{name}"].metadata["nbgrader"]
        assert meta["locked"] and not meta["solution"] and meta["points"] == points and meta["schema_version"] == 3
        assert tests[f"test_{name}"].execution_count is not None
        source = solutions[name].source
        assert "### BEGIN SOLUTION" in source and "### END SOLUTION" in source
    printed = "".join(outputs(tests["test_linearizable"], "stream"))
    assert re.search(r"agreed with the checker on \d+ linearizable and \d+ non-linearizable", printed)


def test_the_student_release_runs_without_the_labs_solution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The released tree (lab solutions stripped, notebook cleared by nbgrader) runs the chapter:
    every demo works without the RPC lab's reference, and each exercise fails as not implemented."""
    from autograder.release import release

    out = tmp_path / "release"
    release(ROOT, out)
    assert "raise NotImplementedError" in (out / "labs" / "rpc" / "node.py").read_text()
    path = out / "course" / NOTEBOOK.name
    released = nbformat.read(path, as_version=4)
    text = "".join(c.source for c in released.cells)
    assert "BEGIN SOLUTION" not in text and "seq <= table[client]" not in text
    monkeypatch.setenv("PYTHONPATH", str(out))  # the kernel imports labs and course from the release
    released.cells.append(nbformat.v4.new_code_cell("import labs.rpc.node, course.demos.rpc_demos as d\n"
                                                    "print(labs.rpc.node.__file__, d.__file__)"))
    client = NotebookClient(released, timeout=240, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    tests = graded(released)
    assert len(tests) == len(EXERCISES)
    for c in released.cells:
        names = [o.ename for o in c.get("outputs", []) if o.output_type == "error"]
        if c in tests:
            assert names == ["NotImplementedError"], (c.metadata["nbgrader"]["grade_id"], names)
        else:
            assert not names, (c.source[:80], names)
    assert released.cells[-1].outputs[0].text.split() == [str(out / "labs/rpc/node.py"), str(out / "course/demos/rpc_demos.py")]
    demo = next(c for c in released.cells if "demo-dedup" in c.metadata.get("tags", []))
    assert "illegal" in demo.outputs[0].data["text/plain"] and " ok" in demo.outputs[0].data["text/plain"]


def test_the_chapter_shows_none_of_the_labs_solution() -> None:
    lab = (ROOT / "labs" / "rpc" / "node.py").read_text()
    solution, inside = set(), False
    for line in lab.splitlines():
        inside = (inside or "### BEGIN SOLUTION" in line) and "### END SOLUTION" not in line
        if inside and len(line.strip()) > 20 and not line.strip().startswith(("#", "###")):
            solution.add(line.strip())
    assert len(solution) > 40
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for where, text in [("the notebook", "\n".join(c.source for c in nb.cells)), ("rpc_demos.py", DEMOS.read_text())]:
        shown = [line for line in text.splitlines() if line.strip() in solution]
        assert not shown, f"{where} repeats the lab's solution: {shown[:3]}"
    assert "labs.rpc.node import FORGET_AFTER" in "".join(c.source for c in nb.cells)
