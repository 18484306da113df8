"""Gradescope's ``results.json``: one submission's grades in the format Gradescope's autograder reads.

One entry per test, numbered in the suite's order, with its score, its status and what the
student reads (the test's description, then how its runs went and the report of the first
failure). A hidden test's entry is shown only ``after_published``.

For a lab graded in parts, Gradescope's format has no place for a group of tests, so a test
carries its part as a tag (``"part A"``), the subtotals are lines of the top-level ``output``
(what students read) and a list in ``extra_data`` (what an instructor's export reads); every
field stays one its format documents.
"""

from __future__ import annotations

from typing import Any

from .runner import TestGrade
from .suite import PartTotal


def results_json(lab: str, grades: list[TestGrade], texts: list[str], totals: list[PartTotal],
                 seconds: float) -> dict[str, Any]:
    """``results.json``'s content: ``texts`` says how each of ``grades`` went, ``totals`` are the
    parts' subtotals (none for a lab not graded in parts), ``seconds`` the grading's time."""
    tests: list[dict[str, Any]] = []
    for number, (g, text) in enumerate(zip(grades, texts, strict=True), 1):
        t = g.test
        entry: dict[str, Any] = {"name": t.name, "number": str(number), "score": g.score, "max_score": t.points,
                                 "status": "passed" if g.passed else "failed",
                                 "output": f"{t.description}\n\n{text}",
                                 "visibility": "after_published" if t.hidden else "visible"}
        if t.part is not None:
            entry["tags"] = [f"part {t.part}"]
        tests.append(entry)
    total, worth = sum(g.score for g in grades), sum(g.test.points for g in grades)
    summary = "".join(f"\npart {pt.part.name} ({pt.part.title}): {pt.score} / {pt.points}" for pt in totals)
    results: dict[str, Any] = {"score": total, "execution_time": round(seconds, 1), "visibility": "visible",
                               "output": f"{lab}: {total} / {worth} points{summary}", "tests": tests}
    if totals:
        results["extra_data"] = {"parts": [pt.to_data() for pt in totals]}
    return results


__all__ = ["results_json"]
