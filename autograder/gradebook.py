"""The class's gradebook (``grade-all``): one SQLite row per student and lab, and the table and
CSV made from the rows.

Each row is committed the moment its result reaches the driver, so a grader killed mid-way keeps
every result it had recorded; a row also says what it was graded from (a digest of the files, the
settings), so that the next start grades only what changed. (nbgrader keeps a gradebook of its
own, ``gradebook.db``: :func:`autograder.nbgrader_course.gradebook_scores` reads that one.)
"""

from __future__ import annotations

import csv
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .suite import Test


@dataclass
class Row:
    """One line of the gradebook: the result of grading one submission for one lab."""

    student: str
    lab: str
    score: int
    max_score: int
    status: str  # "graded" or "error"
    tests: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    started_at: str = ""
    finished_at: str = ""
    seconds: float = 0.0
    results: str = ""
    node: str = ""
    digest: str = ""
    settings: str = ""
    gradings: int = 1


_SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    student     TEXT NOT NULL,
    lab         TEXT NOT NULL,
    score       INTEGER NOT NULL,
    max_score   INTEGER NOT NULL,
    status      TEXT NOT NULL,      -- graded | error
    tests       TEXT NOT NULL,      -- JSON object: test name -> points earned
    reason      TEXT NOT NULL,      -- why an error scored 0 ('' when graded)
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,      -- UTC, ISO 8601, when the driver received the result
    seconds     REAL NOT NULL,
    results     TEXT NOT NULL,      -- folder of results.json, report.json, feedback.html
    node        TEXT NOT NULL,      -- the Ray node (machine) that graded it
    digest      TEXT NOT NULL,      -- SHA-256 of the submission's files
    settings    TEXT NOT NULL,      -- simulator seeds, Ray runs, pattern, as JSON
    gradings    INTEGER NOT NULL,   -- how many times a result was recorded for it
    PRIMARY KEY (student, lab)
)
"""
_COLUMNS = ("student", "lab", "score", "max_score", "status", "tests", "reason", "started_at",
            "finished_at", "seconds", "results", "node", "digest", "settings", "gradings")


class Gradebook:
    """The SQLite gradebook: one row per student and lab, committed as each result lands.

    Every :meth:`record` is its own transaction, committed before it returns: a grader killed
    at any moment keeps every result it had recorded, and a result it had not recorded was
    never counted as done.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA synchronous = FULL")
        with self.db:
            self.db.execute(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def record(self, row: Row) -> None:
        """Insert or replace ``row``, counting how often this submission was recorded."""
        values = _row_values(row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in ("student", "lab", "gradings"))
        with self.db:
            self.db.execute(
                f"INSERT INTO grades ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
                f"ON CONFLICT (student, lab) DO UPDATE SET {updates}, gradings = grades.gradings + 1",
                values,
            )

    def rows(self, lab: str) -> dict[str, Row]:
        """Every row of ``lab``, by student."""
        cursor = self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM grades WHERE lab = ? ORDER BY student", (lab,))
        return {r[0]: _row_from(r) for r in cursor}


def _row_values(row: Row) -> tuple[Any, ...]:
    return (row.student, row.lab, row.score, row.max_score, row.status, json.dumps(row.tests), row.reason,
            row.started_at, row.finished_at, row.seconds, row.results, row.node, row.digest, row.settings,
            row.gradings)


def _row_from(values: tuple[Any, ...]) -> Row:
    data = dict(zip(_COLUMNS, values, strict=True))
    data["tests"] = json.loads(data["tests"])
    return Row(**data)


def now() -> str:
    """The time as the gradebook holds it: UTC, ISO 8601, to the microsecond."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


# -- the table and the CSV ------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    """The final table, one line per student, and a summary line."""
    width = max([len("student"), *(len(r.student) for r in rows)])
    lines = [f"{'student':<{width}}  {'score':>5}  {'of':>4}  status"]
    for r in rows:
        status = r.status if not r.reason else f"{r.status}: {r.reason.splitlines()[0][:70]}"
        lines.append(f"{r.student:<{width}}  {r.score:>5}  {r.max_score:>4}  {status}")
    graded = [r for r in rows if r.status == "graded"]
    mean = sum(r.score for r in graded) / len(graded) if graded else 0.0
    lines.append(f"{len(rows)} submission(s): {len(graded)} graded (mean {mean:.1f}), "
                 f"{len(rows) - len(graded)} error(s)")
    return "\n".join(lines)


def write_csv(rows: list[Row], tests: list[Test], path: Path) -> None:
    """``grades.csv``: one row per student, one column per test, for a lab graded in parts a
    column per part (``part A``: the sum of its tests' columns), then the bookkeeping."""
    names = [t.name for t in tests]
    parts: dict[str, list[str]] = {}
    for t in tests:
        if t.part is not None:
            parts.setdefault(t.part, []).append(t.name)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "lab", "score", "max_score", "status", *names, *(f"part {p}" for p in parts),
                    "reason", "finished_at", "node", "results"])
        for r in rows:
            w.writerow([r.student, r.lab, r.score, r.max_score, r.status, *(r.tests.get(n, 0) for n in names),
                        *(sum(r.tests.get(n, 0) for n in members) for members in parts.values()),
                        r.reason, r.finished_at, r.node, r.results])


__all__ = ["Gradebook", "Row", "now", "table", "write_csv"]
