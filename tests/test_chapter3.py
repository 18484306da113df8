"""Chapter 3 ("Primary-backup replication") runs top to bottom in a real kernel; each demo shows
what its text says (the failover, the view change with the transfer before the acknowledgement,
split brain made harmless by the lab's rules and harmful by a primary reading alone, the impatient
view service caught); the exercises are nbgrader cells that pass with the solutions in and fail
with "not implemented" without them, also in a release without the lab's solution, where the
demos run the student's unfinished servers without raising; and the chapter shows none of the
lab's solution code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from chapters import (
    assert_committed_clean,
    assert_shows_no_solution,
    check_exercises,
    executed,
    outputs,
    rows,
    run_release,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "course" / "03-primary-backup.ipynb"
PAIRED = NOTEBOOK.with_suffix(".py")
DEMOS = ROOT / "course" / "demos" / "pb_demos.py"
EXERCISES = {"next_view": 3, "life_of": 2, "take_forward": 2, "may_answer": 2, "split_brain": 3}


@pytest.fixture(scope="module")
def chapter() -> dict[str, Any]:
    return executed(NOTEBOOK)


def test_committed_clean_and_in_sync_with_its_pair() -> None:
    import jupytext

    nb = assert_committed_clean(NOTEBOOK)
    paired = jupytext.read(PAIRED)
    assert [(c.cell_type, c.source) for c in paired.cells] == [(c.cell_type, c.source) for c in nb.cells], \
        "the .ipynb and its jupytext pair differ: run `jupytext --sync course/03-primary-backup.ipynb`"


def test_runs_without_errors_and_every_demo_shows_something(chapter: dict[str, Any]) -> None:
    errors = [o for c in chapter["nb"].cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors[:1]
    assert chapter["seconds"] < 60, f"the chapter took {chapter['seconds']:.0f} s"
    for tag, cell in chapter["cells"].items():
        assert cell.outputs, f"the cell tagged {tag} shows nothing"
    assert not any("raised" in "".join(outputs(c, "stream")) for c in chapter["cells"].values())


def test_the_backup_takes_over_about_half_a_second_after_the_crash(chapter: dict[str, Any]) -> None:
    views = rows(chapter["cells"]["demo-failover"], "The views the view service announced")
    assert [v["view"] for v in views][:2] == ["1", "2"]
    third = views[2]
    assert views[1]["backup"] == third["primary"], "only the backup is promoted"
    assert 1.3 < float(third["announced at (s)"]) < 1.8, third


def test_the_new_primary_transfers_the_state_before_it_acknowledges(chapter: dict[str, Any]) -> None:
    messages = rows(chapter["cells"]["demo-view-change"], "The protocol's messages from 0.95 s to 1.8 s")
    kinds = [m["message"] for m in messages]
    transfer = kinds.index("Transfer")
    reply = kinds.index("TransferReply")
    new_primary = messages[transfer]["from"]
    acks = [i for i, m in enumerate(messages) if m["message"] == "Ping" and m["from"] == new_primary
            and m["says"] == "I hold view 3"]
    assert transfer < reply < acks[0], messages


def test_split_brain_is_harmless_only_with_the_labs_rules(chapter: dict[str, Any]) -> None:
    table = {r["design"]: r for r in rows(chapter["cells"]["demo-split-brain"],
                                          "Split brain: the old primary and c1 cannot reach the view service from 1 s to 3 s")}
    assert all(len(r["believe they are primary at 2 s"].split(", ")) == 2 for r in table.values())
    assert table["the lab's"]["linearizable"] == "ok"
    assert table["reads alone"]["linearizable"].startswith("not linearizable (key 'a')")


def test_the_impatient_view_service_is_caught(chapter: dict[str, Any]) -> None:
    table = {r["view service"]: r for r in rows(
        chapter["cells"]["demo-impatient"],
        "The failover again, with a view service that waits for the acknowledgement, and one that does not")}
    assert all(v == "ok" for k, v in table["the lab's"].items() if k != "view service")
    assert table["impatient"]["views-wait-for-the-ack"].startswith("view 2 was announced")
    assert table["impatient"]["linearizable"] == "ok"  # "here nothing was lost yet", as the text says


def test_the_pictures_have_the_views_time_line(chapter: dict[str, Any]) -> None:
    from test_chapter4 import picture_payload

    for tag in ("picture-failover", "picture-split-brain"):
        views = {v["name"]: v for v in picture_payload(chapter["cells"][tag])["views"]}
        assert views["pb-views"]["tracks"][0]["label"] == "announced", tag


def test_exercises_are_locked_nbgrader_tests_that_pass(chapter: dict[str, Any]) -> None:
    check_exercises(chapter["nb"], EXERCISES)


def test_the_student_release_runs_without_the_labs_solution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "release"))
    released = run_release(NOTEBOOK, tmp_path / "release", "primary_backup", "pb_demos", EXERCISES)
    demo = next(c for c in released.cells if "demo-failover" in c.metadata.get("tags", []))
    assert "not implemented yet" in "".join(o.get("text", "") for o in demo.outputs)


def test_the_chapter_shows_none_of_the_labs_solution() -> None:
    assert_shows_no_solution(NOTEBOOK, DEMOS, "primary_backup", at_least=60)
