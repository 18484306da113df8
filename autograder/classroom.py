"""Grading a class at once: every submission a Ray task, each result persisted as it lands.

    python -m autograder grade-all submissions/ --lab rpc --out grades/ [--address HOST:PORT]

Each subfolder of ``submissions/`` is one student's submission (named after the student). The
grader is the Ray driver of the *instructor's* cluster (a local one on this machine, or the one
at ``--address``) and fans out one grading job per submission as a Ray task. The gradebook
(``grades/gradebook.sqlite``) gets a row the moment a job's result reaches the driver, so a
grader killed mid-way and started again grades only the submissions that have no row yet.

How a job runs, and why:

* **The instructor's cluster only carries jobs.** DESIGN ("The trust boundary is the operating
  system, not Ray") says student code never runs inside the instructor's Ray cluster: every
  process of that cluster holds its token and could schedule work on any machine of it, the
  head with the gradebook included. So a job does not call :func:`autograder.grade.grade` in
  the task's own process (a Ray worker of that cluster). It starts a child process that starts
  a Ray instance of its own (``address="local"``: loopback, never a cluster found lying around
  on the machine), with a fresh token and an environment scrubbed of the cluster's variables,
  and calls ``grade`` there. Calling ``grade`` directly inside the task does work (a task may
  create the actors of the submission's Ray runs in the instructor's cluster; checked while
  building this), and saves a Ray start per submission (about 14 s on a busy 2-core machine,
  by ``benchmarks/classroom.py``, against minutes for a whole grading); it was not chosen
  because it puts student actors in the instructor's cluster. The child is also where the separate,
  unprivileged OS user of DESIGN belongs once it exists: it is one process to start as another
  user.
* **Jobs exchange plain data with the driver.** The driver sends a submission's files as bytes
  (so a worker machine needs the course's code installed, not the submissions), and gets back
  scores and the files of the results folder (``results.json``, ``report.json``,
  ``feedback.html``, ``pictures/``) as bytes; it writes them under ``grades/results/<student>/``
  itself, so a class graded on many machines still has every result on the grader's disk.
* **Scores are checked against the grader's own suite.** ``report.json`` is written on the
  submission's side (without the sandbox the child runs as the same OS user as the student's
  processes, which could reach its files), so its scores are read as plain JSON, checked field by field, and
  must name exactly the suite's tests with scores of 0 or the test's points.
* **Nothing stops the class.** A job whose grading crashes, times out (``--timeout``) or whose
  task dies (its worker or machine lost) is recorded with score 0 and the reason; the other
  jobs go on. ``--regrade-errors`` grades those again on the next start.

A row is finished for a submission when it was graded with the same files (a SHA-256 digest)
and the same settings (simulator seeds, Ray runs, test pattern, parts); otherwise it is graded again.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from .child import run_child
from .grade import BUDGET
from .nbgrader_course import GradingSettings, grading_budget
from .suite import SuiteError, Test, load_graded_suite, parse_parts_option

SUBMISSION_LIMIT = 20 << 20
"""Bytes of files one submission may hold (it travels to its job as data)."""
RESULTS_LIMIT = 64 << 20
"""Bytes of results (pictures mostly) a job sends back; pictures past it are left out, and said so."""
RAY_START_ATTEMPTS = 3
"""Tries at starting a Ray instance (see :func:`start_ray`)."""
RAY_OBJECT_STORE = 100 << 20
"""Object store of a submission's own Ray instance: runs exchange JSON over sockets, not objects."""
KEEP_ENV = ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_IGNORE_UNHANDLED_ERRORS", "RAY_TMPDIR")
"""The only Ray variables a job's child keeps: everything else of the cluster's (its address,
token, job and node ids) stays out of the submission's processes."""
SKIP_NAMES = ("__pycache__", ".ipynb_checkpoints", ".git")
"""Folders of a submission that are not part of it."""


class ClassroomError(click.ClickException):
    """The class cannot be graded at all (no such folder, no such lab, no Ray)."""


@dataclass(frozen=True)
class Submission:
    """One student's submission: a folder named after the student."""

    student: str
    path: Path


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


# -- the gradebook ----------------------------------------------------------------------------

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


# -- submissions as data ----------------------------------------------------------------------


def find_submissions(submissions_dir: Path, exclude: Path | None = None) -> list[Submission]:
    """Each subfolder of ``submissions_dir`` (hidden ones and ``exclude``, the grader's own
    output folder if it lives there, aside), sorted by name."""
    if not submissions_dir.is_dir():
        raise ClassroomError(f"{submissions_dir} is not a folder of submissions")
    skip = exclude.resolve() if exclude is not None else None
    return [Submission(p.name, p) for p in sorted(submissions_dir.iterdir())
            if p.is_dir() and not p.name.startswith(".") and p.name not in SKIP_NAMES and p.resolve() != skip]


def pack(folder: Path, limit: int = SUBMISSION_LIMIT) -> dict[str, bytes]:
    """The files of ``folder`` as ``{relative posix path: bytes}``, to travel to a job.

    Raises ``ValueError`` past ``limit`` bytes: a submission that large is not code.
    """
    files: dict[str, bytes] = {}
    total = 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in SKIP_NAMES for part in rel.parts) or not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        total += len(data)
        if total > limit:
            raise ValueError(f"the submission holds more than {limit >> 20} MB of files")
        files[rel.as_posix()] = data
    return files


def digest(files: Mapping[str, bytes]) -> str:
    """SHA-256 of a packed folder: names and contents, in a fixed order."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + len(files[name]).to_bytes(8, "big") + files[name])
    return h.hexdigest()


def unpack(files: Mapping[str, bytes], folder: Path) -> None:
    """Write packed files under ``folder``, refusing any path that would leave it."""
    root = folder.resolve()
    for name, data in files.items():
        target = (folder / name).resolve()
        if not isinstance(data, bytes) or root not in target.parents:
            raise ValueError(f"refusing to write {name!r} outside {folder}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


# -- one job: runs as a Ray task ----------------------------------------------------------------


def grade_job(student: str, lab: str, files: dict[str, bytes], settings: dict[str, Any],
              timeout: float, private: Sequence[str] = ()) -> dict[str, Any]:
    """Grade one submission in a child process with a Ray instance of its own; plain data back.

    Returns ``{"tests": {name: score}, "files": {path: bytes}, "node", "started_at",
    "seconds"}``, or ``{"error": reason, ...}`` when grading failed (the driver records a 0).
    """
    started_at, started = _now(), time.monotonic()
    answer: dict[str, Any] = {"node": _node_name(), "started_at": started_at}
    with tempfile.TemporaryDirectory(prefix=f"grade-all-{lab}-") as tmp:
        submission, out = Path(tmp) / "submission", Path(tmp) / "out"
        submission.mkdir()
        try:
            unpack(files, submission)
            tests = load_graded_suite(lab).select(settings.get("pattern"), settings.get("parts") or ())
        except (ValueError, OSError, SuiteError) as exc:
            return {**answer, "error": f"could not set up the grading: {exc}", "seconds": 0.0}
        error = _run_child(submission, lab, out, {**settings, "private": list(private)}, timeout, Path(tmp))
        if error is None:
            try:
                answer["tests"] = read_scores(out / "report.json", tests)
            except ValueError as exc:
                error = f"the grading wrote no readable report: {exc}"
        if error is not None:
            answer["error"] = error
        answer["files"] = collect(out) if out.is_dir() else {}
    answer["seconds"] = round(time.monotonic() - started, 3)
    return answer


def _run_child(submission: Path, lab: str, out: Path, settings: dict[str, Any], timeout: float,
               cwd: Path) -> str | None:
    """Run ``grade`` in a child process; the reason it failed, or None."""
    spec = {"lab": lab, "submission": str(submission), "out": str(out), **settings}
    code = "from autograder.classroom import child_main; child_main()"
    done = run_child([sys.executable, "-c", code], json.dumps(spec), timeout, cwd, env=child_env(),
                     preexec_fn=_die_with_parent)
    if done is None:
        return (f"the grading did not finish within {timeout:g} s (the grader's limit per submission; "
                "regrade with --regrade-errors and a longer --timeout if the machine was busy)")
    if done.returncode != 0:
        tail = "\n".join((done.stderr or "").strip().splitlines()[-6:])
        return f"the grading crashed (exit code {done.returncode}): {tail}"
    return None


def child_env() -> dict[str, str]:
    """The environment of a job's child: the machine's, without the instructor cluster's Ray
    variables, and with a token of its own for the submission's Ray instance."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("RAY_") or "TOKEN" in k.upper()) or k in KEEP_ENV}
    env["RAY_AUTH_MODE"] = "token"
    env["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    env.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    env.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    return env


def _die_with_parent() -> None:
    """In the child, before it runs: die when the job's worker dies (a killed grader takes its
    workers with it, and their children must not go on grading for nobody)."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def child_main() -> None:
    """The child's side of :func:`grade_job`: a local Ray instance of its own, then ``grade``."""
    spec = json.loads(sys.stdin.read())
    from .grade import grade
    from .sandbox import unavailable

    # In the sandbox the student's Ray is the sandbox's own; otherwise this child starts one.
    own_ray = spec["ray"] and unavailable() is not None
    if own_ray:
        start_ray(address="local", num_cpus=1, object_store_memory=RAY_OBJECT_STORE)
    grade(Path(spec["submission"]), spec["lab"], Path(spec["out"]), sim_seeds=spec["sim_seeds"],
          ray=spec["ray"], pattern=spec["pattern"], private=[Path(p) for p in spec.get("private", [])],
          parts=spec.get("parts") or (), budget=spec.get("budget", BUDGET))
    if own_ray:
        import ray

        ray.shutdown()


def start_ray(attempts: int = RAY_START_ATTEMPTS, **options: Any) -> None:
    """``ray.init`` on loopback, tried again when it fails to start.

    Ray gives a new raylet 30 s to register and then gives up; on a busy machine (many Ray
    instances starting at once on two cores) that happens, and it is no fault of a submission.
    """
    import ray

    for attempt in range(1, attempts + 1):
        try:
            ray.init(include_dashboard=False, configure_logging=False, log_to_driver=False, **options)
            return
        except Exception:
            with contextlib.suppress(Exception):
                ray.shutdown()
            if attempt == attempts:
                raise
            time.sleep(2.0 * attempt)


def read_scores(report: Path, tests: list[Test]) -> dict[str, int]:
    """Per-test scores from ``report.json``, as plain data checked against the grader's suite."""
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(str(exc)) from None
    entries = data.get("tests") if type(data) is dict else None
    if type(entries) is not list:
        raise ValueError("it has no list of tests")
    points = {t.name: t.points for t in tests}
    scores: dict[str, int] = {}
    for e in entries:
        name = e.get("name") if type(e) is dict else None
        score = e.get("score") if type(e) is dict else None
        if type(name) is not str or name not in points or name in scores:
            raise ValueError(f"unexpected test entry {str(e)[:80]}")
        if type(score) is not int or score not in (0, points[name]):
            raise ValueError(f"test {name!r} has score {score!r}, not 0 or {points[name]}")
        scores[name] = score
    if set(scores) != set(points):
        raise ValueError(f"tests missing: {', '.join(sorted(set(points) - set(scores)))}")
    return scores


def collect(folder: Path, limit: int = RESULTS_LIMIT) -> dict[str, bytes]:
    """The results folder as data, the small files first; pictures past ``limit`` are left out."""
    paths = sorted((p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()),
                   key=lambda p: (p.parent != folder, p.stat().st_size, p.name))
    files: dict[str, bytes] = {}
    total, left_out = 0, 0
    for p in paths:
        size = p.stat().st_size
        if total + size > limit:
            left_out += 1
            continue
        total += size
        files[p.relative_to(folder).as_posix()] = p.read_bytes()
    if left_out:
        files["LEFT_OUT.txt"] = f"{left_out} file(s) left out: more than {limit >> 20} MB of results\n".encode()
    return files


def _node_name() -> str:
    """The Ray node this job runs on (and its host name, for people)."""
    with contextlib.suppress(Exception):
        import ray

        return f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:12]}"
    return socket.gethostname()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# -- the class: runs in the driver ---------------------------------------------------------------


def grade_all(submissions_dir: Path, lab: str, out_dir: Path, address: str | None = None,
              sim_seeds: int | None = None, ray_runs: bool = True, pattern: str | None = None,
              timeout: float | None = None, cpus: float = 1.0, regrade_errors: bool = False,
              show_progress: bool = True, echo: Callable[[str], None] = click.echo,
              parts: Sequence[str] = (), budget: float = BUDGET) -> list[Row]:
    """Grade every submission in ``submissions_dir`` that has no finished row yet, in parallel
    as Ray tasks, and return the rows of all of them (sorted by student).

    ``budget`` is the seconds of real time one submission's grading may take: once they are
    spent, its runs left fail without running, each saying so (``grade.grade``). ``timeout`` is
    a backstop for one submission's whole grading; by default it is the sum of the grader's own
    per-run limits, capped by the budget (``nbgrader_course.grading_budget``), so that a
    submission that hangs is stopped run by run, with a reason per test, and never cut off whole.
    ``address`` is the instructor's Ray cluster; without it (and with no Ray connected in this
    process) a fresh local Ray starts on this machine. Each job reserves ``cpus`` CPUs, so a
    machine grades as many submissions at once as it has CPUs to give. Writes
    ``out_dir/gradebook.sqlite``, ``out_dir/results/<student>/`` and ``out_dir/grades.csv``.
    ``parts``: only the tests of these parts, for a lab graded in parts (``["A", "B"]``).
    """
    submissions = find_submissions(submissions_dir, exclude=out_dir)
    try:
        suite = load_graded_suite(lab)
        tests = suite.select(pattern, parts)
        # In the suite's order and spelling, so that "b,A" and "A,B" are the same settings.
        wanted = {suite.part(name).name for name in parts}
        chosen_parts = [p.name for p in suite.parts if p.name in wanted]
    except (SuiteError, LookupError, OSError) as exc:
        raise ClassroomError(str(exc)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {"sim_seeds": sim_seeds, "ray": ray_runs, "pattern": pattern}
    if chosen_parts:  # only then: rows graded before parts existed keep their settings key
        settings["parts"] = chosen_parts
    settings_key = json.dumps(settings, sort_keys=True)
    settings["budget"] = budget  # not in the key: a grade does not depend on it, unless it ran out
    max_score = sum(t.points for t in tests)
    if timeout is None:
        timeout = float(grading_budget(lab, GradingSettings(sim_seeds=sim_seeds, ray=ray_runs), budget))
    book = Gradebook(out_dir / "gradebook.sqlite")
    try:
        done = book.rows(lab)
        todo: list[tuple[Submission, dict[str, bytes], str]] = []
        for sub in submissions:
            try:
                files = pack(sub.path)
            except (ValueError, OSError) as exc:
                if sub.student not in done or done[sub.student].reason != str(exc):
                    book.record(_error_row(sub.student, lab, max_score, str(exc), "", settings_key))
                continue
            key = digest(files)
            row = done.get(sub.student)
            if (row is not None and row.digest == key and row.settings == settings_key
                    and not (regrade_errors and row.status == "error")):
                continue
            todo.append((sub, files, key))
        skipped = len(submissions) - len(todo)
        if skipped:
            echo(f"{skipped} of {len(submissions)} submissions already graded (in {book.path}); "
                 f"grading the other {len(todo)}")
        if todo:
            private = [str(submissions_dir.resolve()), str(out_dir.resolve())]
            _fan_out(todo, lab, out_dir, book, settings, settings_key, max_score, address, timeout, cpus,
                     show_progress, private)
        rows = book.rows(lab)
    finally:
        book.close()
    current = [rows[s.student] for s in submissions if s.student in rows]
    write_csv(current, tests, out_dir / "grades.csv")
    echo(table(current))
    echo(f"gradebook: {out_dir / 'gradebook.sqlite'}; table: {out_dir / 'grades.csv'}")
    return current


def _fan_out(todo: list[tuple[Submission, dict[str, bytes], str]], lab: str, out_dir: Path, book: Gradebook,
             settings: dict[str, Any], settings_key: str, max_score: int, address: str | None,
             timeout: float, cpus: float, show_progress: bool, private: list[str]) -> None:
    """One Ray task per submission; each result recorded the moment it reaches the driver.
    ``private``: the class's folders, which student code must not be able to read."""
    import ray

    with _connected(address):
        job = ray.remote(grade_job).options(num_cpus=cpus, max_retries=0, name=f"grade-{lab}")
        pending: dict[Any, tuple[Submission, str]] = {}
        for sub, files, key in todo:
            pending[job.remote(sub.student, lab, files, settings, timeout, private)] = (sub, key)
        with _progress(len(pending), lab, show_progress) as bar:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                ref = ready[0]
                sub, key = pending.pop(ref)
                try:
                    answer = ray.get(ref)
                except Exception as exc:  # the task died: its worker or its machine was lost
                    answer = {"error": f"the grading job died: {type(exc).__name__}: {_first_line(exc)}"}
                row = _row(sub.student, lab, max_score, answer, out_dir, key, settings_key)
                book.record(row)
                bar.update(1, f"{sub.student}: {row.score}/{row.max_score}")


def _row(student: str, lab: str, max_score: int, answer: dict[str, Any], out_dir: Path, key: str,
         settings_key: str) -> Row:
    """The gradebook row of a job's answer, its results folder written first."""
    files = answer.get("files")
    results = ""
    if isinstance(files, dict) and files:
        try:
            results = str(write_results_folder(out_dir / "results" / student, files))
        except (ValueError, OSError) as exc:
            answer = {**answer, "error": f"its results could not be written: {exc}"}
    started_at = answer.get("started_at")
    row = Row(student, lab, 0, max_score, "error", started_at=started_at if isinstance(started_at, str) else "",
              finished_at=_now(), seconds=float(answer.get("seconds") or 0.0), results=results,
              node=str(answer.get("node") or ""), digest=key, settings=settings_key)
    tests = answer.get("tests")
    if "error" in answer or not isinstance(tests, dict):
        row.reason = str(answer.get("error", "the grading job sent no scores"))
    else:
        row.status, row.tests, row.score = "graded", dict(tests), sum(tests.values())
    return row


def _error_row(student: str, lab: str, max_score: int, reason: str, key: str, settings_key: str) -> Row:
    now = _now()
    return Row(student, lab, 0, max_score, "error", reason=reason, started_at=now, finished_at=now,
               digest=key, settings=settings_key)


def write_results_folder(target: Path, files: Mapping[str, bytes]) -> Path:
    """Write a job's results into ``target`` in one step: into a partial folder, then renamed,
    so that a folder under ``results/`` is always one whole grading."""
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    unpack(files, partial)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


@contextlib.contextmanager
def _connected(address: str | None) -> Iterator[None]:
    """The instructor's Ray: the one this process is connected to, the cluster at ``address``,
    or a fresh local one (``address="local"``: never a cluster some other process left running,
    which a bare ``ray.init()`` would join)."""
    import ray

    if ray.is_initialized():
        yield
        return
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    try:
        start_ray(address=address or "local")
    except Exception as exc:
        raise ClassroomError(f"cannot start or reach Ray at {address or 'this machine'}: {exc}") from None
    try:
        yield
    finally:
        ray.shutdown()


class _Bar:
    """A progress bar (click's), or nothing."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def update(self, steps: int, label: str) -> None:
        if self.bar is not None:
            self.bar.update(steps, label)


@contextlib.contextmanager
def _progress(total: int, lab: str, show: bool) -> Iterator[_Bar]:
    if not show:
        yield _Bar(None)
        return
    with click.progressbar(length=total, label=f"grading {total} submission(s) of {lab}", file=sys.stderr,
                           show_pos=True, show_eta=True, item_show_func=lambda s: s) as bar:
        yield _Bar(bar)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else ""


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


# -- the command ------------------------------------------------------------------------------------


@click.command("grade-all")
@click.argument("submissions_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--lab", required=True, help="The lab to grade (its suite, hidden tests included).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the gradebook, grades.csv and results/ go (default: grades-<lab>).")
@click.option("--address", default=None,
              help="The Ray cluster to fan out over (host:port). Default: a fresh Ray on this machine.")
@click.option("--sim-seeds", type=click.IntRange(min=0), default=None,
              help="Only the first N simulator seeds of each test (default: the suite's).")
@click.option("--no-ray", is_flag=True, help="Skip the Ray runs (fast, but the grade then rests on the simulator).")
@click.option("-k", "--pattern", default=None, help="Only the tests whose name contains this.")
@click.option("--part", "part_names", multiple=True, metavar="PART",
              help="Only the tests of this part (a lab graded in parts, such as raft). Repeat it or "
                   "separate parts by commas for several: --part A --part B, or --part A,B.")
@click.option("--timeout", type=click.FloatRange(min=1), default=None,
              help="Seconds one submission's grading may take before it scores 0 "
                   "(default: the sum of the grader's own per-run limits).")
@click.option("--budget", type=click.FloatRange(min=1), default=BUDGET, show_default=True,
              help="Seconds of real time one submission's grading may take; the runs left then fail, saying so.")
@click.option("--cpus", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="CPUs each grading job reserves on its Ray node.")
@click.option("--regrade-errors", is_flag=True, help="Grade again the submissions recorded as errors.")
def grade_all_command(submissions_dir: Path, lab: str, out_dir: Path | None, address: str | None,
                      sim_seeds: int | None, no_ray: bool, pattern: str | None, part_names: tuple[str, ...],
                      timeout: float | None, budget: float, cpus: float, regrade_errors: bool) -> None:
    """Grade every submission (each subfolder of SUBMISSIONS_DIR) in parallel on Ray.

    Each result is saved in the gradebook as soon as it is known; run the same command again
    after a crash and only the submissions without a result are graded.
    """
    grade_all(submissions_dir, lab, out_dir or Path(f"grades-{lab}"), address=address, sim_seeds=sim_seeds,
              ray_runs=not no_ray, pattern=pattern, timeout=timeout, cpus=cpus, regrade_errors=regrade_errors,
              parts=parse_parts_option(part_names), budget=budget)


__all__ = ["Gradebook", "Row", "Submission", "grade_all", "grade_all_command", "grade_job"]
