"""A lab test's simulator seeds, run on every core: the reference must pass each of them.

Each lab's tests check that its reference passes every test of its suite on many seeds. Those
runs are independent and CPU-bound, so they are shared out among worker processes (one per core,
started once per session, by ``spawn``: never a fork of a process that may hold Ray's threads).
CI tries the first :data:`CI_SEEDS` seeds of each test; the slow run (``-m slow``) every seed the
suite asks for.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

CI_SEEDS = 20
"""Seeds per test in every CI run; the suite's own count in the slow run."""

WORKERS = max(1, os.cpu_count() or 1)
_pool: ProcessPoolExecutor | None = None


def _workers() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"))
    return _pool


def shutdown() -> None:
    """End the worker processes (at the end of the session)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(cancel_futures=True)
        _pool = None


def _failures(lab: str, name: str, seeds: list[int], graded: bool, impl: str | None,
              first_only: bool) -> list[tuple[int, list[str]]]:
    """In a worker: each of ``seeds`` on which ``impl`` (the reference if None) fails test
    ``name``, with what its checks found; with ``first_only``, the first such seed only."""
    from autograder.runner import run_test
    from autograder.suite import load_graded_suite, load_suite

    suite = load_graded_suite(lab) if graded else load_suite(lab)
    test = next(t for t in suite.tests if t.name == name)
    found = []
    for seed in seeds:
        outcome = run_test(test, seed, impl=impl)
        if not outcome.passed:
            found.append((seed, [f.message for f in outcome.findings]))
            if first_only:
                break
    return found


def failures(lab: str, name: str, seeds: list[int], *, graded: bool = False, impl: str | os.PathLike[str] | None = None,
             first_only: bool = False) -> list[tuple[int, list[str]]]:
    """The seeds of ``seeds`` on which ``impl`` (the lab's reference if None) fails test ``name``
    of the lab's suite (its graded suite, hidden tests included, with ``graded``), lowest first,
    each with what the checks found; with ``first_only``, only the lowest (as a student's
    ``autograder test`` stops at the first failure)."""
    pool = _workers()
    shares = [seeds[i::WORKERS] for i in range(WORKERS)]
    where = None if impl is None else os.fspath(impl)
    futures = [pool.submit(_failures, lab, name, share, graded, where, first_only) for share in shares if share]
    found = sorted(f for future in futures for f in future.result())
    return found[:1] if first_only else found


def reference_failure(lab: str, name: str, seeds: list[int], graded: bool = False) -> str | None:
    """``"seed N: what failed"`` for the lowest seed of ``seeds`` on which the lab's reference fails
    test ``name`` of its suite (its graded suite, hidden tests included, with ``graded``), or
    None when it passes them all."""
    found = failures(lab, name, seeds, graded=graded, first_only=True)
    return f"seed {found[0][0]}: {found[0][1][0]}" if found else None
