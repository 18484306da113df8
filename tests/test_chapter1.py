"""Chapter 1 ("MapReduce") runs top to bottom in a real kernel; each demo shows what its text says
(the tables, the pictures); the exercises are nbgrader cells that pass with the solutions in and
fail with "not implemented" without them, also in a release without the lab's solution; and the
chapter shows none of the MapReduce lab's solution code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
NOTEBOOK = ROOT / "course" / "01-mapreduce.ipynb"
PAIRED = NOTEBOOK.with_suffix(".py")
DEMOS = ROOT / "course" / "demos" / "mapreduce_demos.py"
EXERCISES = {"partition_of": 2, "group": 2, "overdue": 2, "combine": 2, "publish": 2}


@pytest.fixture(scope="module")
def chapter() -> dict[str, Any]:
    return executed(NOTEBOOK)


def test_committed_clean_and_in_sync_with_its_pair() -> None:
    import jupytext

    nb = assert_committed_clean(NOTEBOOK)
    paired = jupytext.read(PAIRED)
    assert [(c.cell_type, c.source) for c in paired.cells] == [(c.cell_type, c.source) for c in nb.cells], \
        "the .ipynb and its jupytext pair differ: run `jupytext --sync course/01-mapreduce.ipynb`"


def test_runs_without_errors_and_every_demo_shows_something(chapter: dict[str, Any]) -> None:
    errors = [o for c in chapter["nb"].cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors[:1]
    print(f"chapter 1 executed in {chapter['seconds']:.1f} s")
    assert chapter["seconds"] < 90, f"the chapter took {chapter['seconds']:.0f} s"
    assert len(chapter["cells"]) >= 12
    for tag, cell in chapter["cells"].items():
        assert cell.outputs, f"the cell tagged {tag} shows nothing"


def test_runs_are_pictured_with_a_static_fallback(chapter: dict[str, Any]) -> None:
    pictures = sorted(tag for tag in chapter["cells"] if tag.startswith("picture-"))
    assert pictures == ["picture-backups", "picture-crash", "picture-workers"]
    for tag in pictures:
        (page,) = outputs(chapter["cells"][tag], "text/html")
        assert "<iframe" in page and "srcdoc=" in page, tag


def test_map_reduce_by_hand_matches_the_sequential_reference(chapter: dict[str, Any]) -> None:
    printed = "".join(outputs(chapter["cells"]["demo-by-hand"], "stream"))
    assert "'the': '2'" in printed and "sequential(): ['a 1', 'cat 2', 'dog 1', 'ran 2', 'sat 1', 'the 2']" in printed


def test_partitions_are_even_in_keys_and_skewed_in_pairs(chapter: dict[str, Any]) -> None:
    table = rows(chapter["cells"]["demo-partitions"], "The small corpus's word-count pairs in 4 partitions")
    keys = [n(r["distinct keys"]) for r in table]
    pairs = [n(r["pairs"]) for r in table]
    assert max(keys) < 1.2 * min(keys) and max(pairs) > 1.5 * min(pairs)
    assert any(r["its most common key"] == "the" for r in table)


def test_three_workers_beat_one_but_not_threefold(chapter: dict[str, Any]) -> None:
    table = {r["workers"]: r for r in rows(chapter["cells"]["demo-workers"], "Word count over the small corpus, simulated")}
    assert 1.5 < n(table["3"]["speed-up"]) < 3.0
    assert table["1"]["output right"] == table["3"]["output right"] == "True"


def test_crashed_tasks_are_run_again_and_the_output_is_right(chapter: dict[str, Any]) -> None:
    cell = chapter["cells"]["demo-crash"]
    printed = "".join(outputs(cell, "stream"))
    lost = int(re.search(r"(\d+) attempts lost in crashes", printed).group(1))
    assert lost >= 2 and "output right: True" in printed
    table = rows(cell, "Attempts that crashed, and the attempts that redid them")
    crashed = {r["task"] for r in table if r["ended"] == "crashed"}
    redone = {r["task"] for r in table if r["ended"] == "done" and n(r["attempt"]) > 1}
    assert crashed and crashed <= redone


def test_timeouts_and_backup_tasks_save_time(chapter: dict[str, Any]) -> None:
    table = {r["coordinator"]: r for r in rows(chapter["cells"]["demo-stragglers"], "Word count with two stragglers (8 s each), seed 1")}
    waited, timed, backed = (n(table[k]["job time (s)"]) for k in ("no timeout", "timeout after 2 s", "timeout and backup tasks"))
    assert waited > 16 > 8 > timed > backed
    assert n(table["timeout and backup tasks"]["task attempts"]) > n(table["no timeout"]["task attempts"])
    assert all(r["output right"] == "True" for r in table.values())


def test_only_in_place_writes_leave_torn_files(chapter: dict[str, Any]) -> None:
    cell = chapter["cells"]["demo-atomic"]
    table = {r["worker writes"]: r for r in rows(cell, "Five crashing runs each")}
    assert n(table["in place"]["runs with a torn file"]) >= 3
    assert n(table["under its own names"]["runs with a torn file"]) == 0
    assert "while writing mr-" in "".join(outputs(cell, "stream"))


def test_a_combiner_shrinks_the_shuffle(chapter: dict[str, Any]) -> None:
    table = {r["application"]: r for r in rows(chapter["cells"]["demo-combiner"], "Word count with and without a combiner, small corpus")}
    assert n(table["wc"]["shuffle bytes"]) > 2 * n(table["wc_combined"]["shuffle bytes"])
    assert table["wc_combined"]["output right"] == "True"
    printed = "".join(outputs(chapter["cells"]["demo-one-machine"], "stream"))
    assert re.search(r"7\.0 MB, 21,763 distinct words, counted in \d+\.\d\d s by one process", printed)


def test_exercises_are_locked_nbgrader_tests_that_pass(chapter: dict[str, Any]) -> None:
    tests = check_exercises(chapter["nb"], EXERCISES)
    assert "with your overdue(): job time" in "".join(outputs(tests["test_overdue"], "stream"))


def test_the_student_release_runs_without_the_labs_solution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The released tree (lab solutions stripped, notebook cleared by nbgrader) runs the chapter:
    every demo works without the lab's reference, and each exercise fails as not implemented."""
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "release"))  # the kernel imports labs and course from the release
    run_release(NOTEBOOK, tmp_path / "release", "mapreduce", "mapreduce_demos", EXERCISES)


def test_the_chapter_shows_none_of_the_labs_solution() -> None:
    assert_shows_no_solution(NOTEBOOK, DEMOS, "mapreduce", at_least=30)
