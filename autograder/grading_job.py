"""One submission's grading job in ``grade-all``: it runs as a Ray task of the instructor's
cluster, and grades in a child process with a Ray instance of its own (:mod:`.classroom` says why).

What travels between the driver and a job is plain data: the submission's files as bytes
(:func:`pack`), and back the scores, read from ``report.json`` and checked against the grader's
own suite (:func:`read_scores`), with the results folder's files as bytes (:func:`collect`).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import secrets
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .child import run_child
from .grade import BUDGET, grade
from .gradebook import now
from .sandbox import unavailable
from .suite import SuiteError, Test, load_graded_suite

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


# -- submissions and results as data ------------------------------------------------------------


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
    started_at, started = now(), time.monotonic()
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
    code = "from autograder.grading_job import child_main; child_main()"
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
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def child_main() -> None:
    """The child's side of :func:`grade_job`: a local Ray instance of its own, then ``grade``."""
    spec = json.loads(sys.stdin.read())
    # In the sandbox the student's Ray is the sandbox's own; otherwise this child starts one.
    own_ray = spec["ray"] and unavailable() is not None
    if own_ray:
        start_ray(address="local", num_cpus=1, object_store_memory=RAY_OBJECT_STORE)
    grade(Path(spec["submission"]), spec["lab"], Path(spec["out"]), sim_seeds=spec["sim_seeds"],
          ray=spec["ray"], pattern=spec["pattern"], private=[Path(p) for p in spec.get("private", [])],
          parts=spec.get("parts") or (), budget=spec.get("budget", BUDGET))
    if own_ray:
        import ray  # Ray only when this child started one: it takes seconds to import

        ray.shutdown()


def start_ray(attempts: int = RAY_START_ATTEMPTS, **options: Any) -> None:
    """``ray.init`` on loopback, tried again when it fails to start.

    Ray gives a new raylet 30 s to register and then gives up; on a busy machine (many Ray
    instances starting at once on two cores) that happens, and it is no fault of a submission.
    """
    import ray  # Ray only when a Ray instance is asked for: it takes seconds to import

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
        import ray  # Ray only to name the node: it takes seconds to import (in a Ray task it is loaded)

        return f"{socket.gethostname()}/{ray.get_runtime_context().get_node_id()[:12]}"
    return socket.gethostname()


__all__ = ["child_env", "child_main", "collect", "digest", "grade_job", "pack", "read_scores", "start_ray", "unpack"]
