"""Chapter 0 ("why distributed systems are different") runs top to bottom in a real kernel, every
demo shows what its text says it shows, its exercises pass with the solutions in, and a release
without the solutions still runs and fails each exercise with "not implemented"."""

from __future__ import annotations

import copy
import re
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "course"
NOTEBOOK = COURSE / "00-why-distributed-systems-fail.ipynb"
PAIRED = NOTEBOOK.with_suffix(".py")
POINTS = 12


def execute(nb: Any, allow_errors: bool = False) -> float:
    """Run ``nb`` in place with the venv's ``python3`` kernel, from ``course/``; seconds taken."""
    start = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(COURSE)}}).execute()
    return time.perf_counter() - start


@pytest.fixture(scope="module")
def executed() -> tuple[Any, float]:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    seconds = execute(nb)
    return nb, seconds


def tagged(nb: Any, tag: str) -> Any:
    cells = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"one cell tagged {tag!r}, found {len(cells)}"
    return cells[0]


def texts(cell: Any) -> str:
    """Everything a cell printed or displayed, as plain text."""
    out = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            out.append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            out.append(o.data.get("text/plain", ""))
    return "\n".join(out)


def mime(cell: Any, kind: str) -> list[str]:
    return [o.data[kind] for o in cell.get("outputs", [])
            if o.output_type in ("execute_result", "display_data") and kind in o.data]


def table(cell: Any, title: str) -> list[dict[str, str]]:
    """The rows of the text table titled ``title`` in a cell's output (see charts.Table)."""
    lines = texts(cell).splitlines()
    i = next(k for k, line in enumerate(lines) if line.strip() == title)
    header, rule = lines[i + 1], lines[i + 2]
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]
    names = [header[a:b].strip() for a, b in spans]
    rows = []
    gaps = [(b, a2) for (_, b), (a2, _) in pairwise(spans)]
    for line in lines[i + 3:]:
        if not line.strip() or any(line[a:b].strip() for a, b in gaps):
            break  # the table ended: a blank line, or text that is not laid out in its columns
        rows.append({n: line[a:b].strip() for n, (a, b) in zip(names, spans, strict=True)})
    return rows


def num(text: str) -> float:
    return float(text.replace(",", "").rstrip("%"))


def test_the_notebook_is_committed_without_outputs_and_in_sync_with_its_pair() -> None:
    import jupytext

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "commit the notebook without outputs"
    assert nb.metadata["kernelspec"]["name"] == "python3"
    paired = jupytext.read(PAIRED)
    assert [(c.cell_type, c.source) for c in paired.cells] == [(c.cell_type, c.source) for c in nb.cells], \
        "the .ipynb and its jupytext pair differ: run `jupytext --sync course/00-why-distributed-systems-fail.ipynb`"


def test_it_runs_top_to_bottom_without_errors(executed: tuple[Any, float]) -> None:
    nb, seconds = executed
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors[0]
    print(f"chapter 0 executed in {seconds:.1f} s")  # a figure to watch, not a timed test
    for c in nb.cells:
        if c.cell_type == "code" and c.metadata.get("tags"):
            assert c.outputs, f"cell tagged {c.metadata['tags']} shows nothing"


def test_every_picture_is_drawn_with_a_static_fallback(executed: tuple[Any, float]) -> None:
    nb, _ = executed
    tags = [t for c in nb.cells for t in c.metadata.get("tags", []) if t.startswith("picture-")]
    assert len(tags) == 5
    for tag in tags:
        pages = mime(tagged(nb, tag), "text/html")
        assert pages and "<iframe" in pages[0] and "srcdoc=" in pages[0], tag


def test_partial_failure_and_retries(executed: tuple[Any, float]) -> None:
    nb, _ = executed
    cell = tagged(nb, "demo-partial-failure")
    (row,) = table(cell, "One client writing x to two machines over a lossy network")
    assert num(row["reached only one"]) >= 1
    assert "keys on which they disagree: ['x']" in texts(cell)
    rows = table(tagged(nb, "demo-just-retry"), "Writing to both machines, 10% loss, 20 seeds each")
    once, resend, racing = (num(r["runs ending apart (of 20)"]) for r in rows)
    assert once > 0 and resend == 0 and racing > 10


def test_two_generals_never_reach_certainty(executed: tuple[Any, float]) -> None:
    nb, _ = executed
    rows = table(tagged(nb, "demo-two-generals"), "200 runs per row, each messenger caught with probability 0.2")
    assert len(rows) == 6
    assert all(num(r["one attacks alone"]) > 0 for r in rows)
    assert "only n1 attacks" in texts(tagged(nb, "picture-two-generals"))


def test_percentiles_fan_out_and_deadlines(executed: tuple[Any, float]) -> None:
    nb, _ = executed
    healthy, slow = table(tagged(nb, "demo-percentiles"), "Client latency in milliseconds (4 clients, 8 s)")
    assert abs(num(slow["p50"]) - num(healthy["p50"])) < 1
    assert num(slow["p99"]) > 10 * num(healthy["p99"])
    assert num(slow["mean"]) < 2 * num(healthy["mean"])

    fanout = table(tagged(nb, "demo-fanout"), "Each backend slow on 1% of lookups")
    assert [r["backends asked"] for r in fanout] == ["1", "4", "16"]
    assert num(fanout[-1]["p90 ms"]) > 50 > num(fanout[0]["p90 ms"])
    for r in fanout:
        assert abs(num(r["slow requests (> 50 ms)"]) - num(r["predicted 1 - 0.99^n"])) < 3

    rows = table(tagged(nb, "demo-deadline"), "The same front end, waiting for all backends or answering by a deadline")
    hiccup_none, hiccup_deadline, crash_none, crash_deadline = rows
    assert num(hiccup_deadline["p99 ms"]) < 30 < num(hiccup_none["p99 ms"])
    assert num(crash_none["no answer (unknown)"]) > 0 and num(crash_none["partial answers"]) == 0
    assert num(crash_deadline["no answer (unknown)"]) == 0 and num(crash_deadline["partial answers"]) > 0


def test_logs_accuse_one_backend_and_metrics_another(executed: tuple[Any, float]) -> None:
    nb, _ = executed
    cell = tagged(nb, "demo-metrics")
    rows = {r["backend"]: r for r in table(cell, "Per backend: what its log says, what its metrics say")}
    assert num(rows["n2"]["log lines"]) > 0 and num(rows["n5"]["log lines"]) == 0
    assert num(rows["n5"]["p99 ms"]) > 10 * num(rows["n2"]["p99 ms"])
    assert "WARN" in texts(cell)


def test_queue_collapse_and_backpressure(executed: tuple[Any, float]) -> None:
    nb, _ = executed
    cell = tagged(nb, "demo-queue-collapse")
    (svg,) = mime(cell, "image/svg+xml")
    assert svg.startswith("<svg") and svg.count("<polyline") == 3
    lasts = dict(re.findall(r"^\s+(.+?): \d+ points, .*last ([\d.,]+)$", texts(cell), re.M))
    assert num(lasts["unbounded queue"]) < 20
    assert num(lasts["bounded queue (5)"]) > 80
    assert num(lasts["drops jobs older than 250 ms"]) > 80

    cell = tagged(nb, "demo-queue-backlog")
    assert len(mime(cell, "image/svg+xml")) == 1
    rows = {r["server"]: r for r in table(cell, "48 clients for 5 s: ok, fail (refused or expired), unknown (timed out)")}
    assert num(rows["unbounded queue"]["served for nobody"]) > 10 * num(rows["unbounded queue"]["ok"])
    assert num(rows["bounded queue (5)"]["ok"]) > 400 and num(rows["bounded queue (5)"]["info"]) == 0


def test_retry_storm_counts(executed: tuple[Any, float]) -> None:
    nb, _ = executed
    cell = tagged(nb, "demo-retry-storm")
    assert len(mime(cell, "image/svg+xml")) == 1
    rows = {r["policy"]: r for r in table(cell, "Ten clients; the server pauses from 1.0 s to 1.5 s; 6 s in all")}
    fixed, backoff = rows["resend every 30 ms"], rows["exponential back-off"]
    assert fixed["drained after pause (s)"] == "-"
    assert num(backoff["drained after pause (s)"]) < 2
    assert num(fixed["requests sent"]) > 3 * num(backoff["requests sent"])
    assert num(rows["never resend"]["unknown"]) > 0


def test_littles_law_holds(executed: tuple[Any, float]) -> None:
    nb, _ = executed
    rows = table(tagged(nb, "demo-littles-law"), "Little's law on the queue server (from 0.5 s to 5 s of each run)")
    assert len(rows) == 3
    for r in rows:
        assert num(r["λ × W"]) == pytest.approx(num(r["L: jobs inside (measured)"]), rel=0.05)


def test_cap_critique(executed: tuple[Any, float]) -> None:
    nb, _ = executed
    rows = {r["design"]: r for r in table(tagged(nb, "demo-cap"), "A register on two machines, split from 1 s to 3 s")}
    assert rows["AP"]["checker"] == "illegal" and num(rows["AP"]["fail"]) == 0 and num(rows["AP"]["during"]) > 0
    assert rows["CP"]["checker"] == "ok" and num(rows["CP"]["fail"]) > 0
    cell = tagged(nb, "demo-cap-checker")
    assert "<svg" in "".join(mime(cell, "text/html"))


def grade_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def test_exercises_are_nbgrader_cells_that_pass_with_the_solutions(executed: tuple[Any, float]) -> None:
    nb, _ = executed
    tests = grade_cells(nb)
    solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert len(tests) == len(solutions) == 5
    ids = [c.metadata["nbgrader"]["grade_id"] for c in tests + solutions]
    assert len(set(ids)) == len(ids)
    assert sum(c.metadata["nbgrader"]["points"] for c in tests) == POINTS
    for c in tests:
        meta = c.metadata["nbgrader"]
        assert meta["locked"] and not meta["solution"] and meta["schema_version"] == 3
        assert c.execution_count is not None and not any(o.output_type == "error" for o in c.outputs)
    for c in solutions:
        assert "### BEGIN SOLUTION" in c.source and "### END SOLUTION" in c.source


def test_a_release_without_solutions_runs_and_fails_each_exercise_cleanly() -> None:
    from nbgrader.preprocessors import ClearSolutions

    nb = nbformat.read(NOTEBOOK, as_version=4)
    released, _ = ClearSolutions().preprocess(copy.deepcopy(nb), {})
    for c in released.cells:
        assert "BEGIN SOLUTION" not in c.source
        if c.metadata.get("nbgrader", {}).get("solution"):
            assert "raise NotImplementedError" in c.source
    assert "1 - (1 - p) ** backends" not in "".join(c.source for c in released.cells)
    execute(released, allow_errors=True)
    for c in released.cells:
        errors = [o for o in c.get("outputs", []) if o.output_type == "error"]
        if c in grade_cells(released):
            assert [e.ename for e in errors] == ["NotImplementedError"], c.metadata["nbgrader"]["grade_id"]
        else:
            assert not errors, (c.source[:80], errors[:1])
