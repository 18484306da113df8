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


def _first_failure(lab: str, name: str, seeds: list[int], graded: bool) -> tuple[int, str] | None:
    """In a worker: the first of ``seeds`` on which the reference fails test ``name``."""
    from autograder.runner import run_test
    from autograder.suite import load_graded_suite, load_suite

    suite = load_graded_suite(lab) if graded else load_suite(lab)
    test = next(t for t in suite.tests if t.name == name)
    for seed in seeds:
        outcome = run_test(test, seed)
        if not outcome.passed:
            return seed, str(outcome.findings[0])
    return None


def reference_failure(lab: str, name: str, seeds: list[int], graded: bool = False) -> str | None:
    """``"seed N: what failed"`` for the lowest seed of ``seeds`` on which the lab's reference fails
    test ``name`` of its suite (its graded suite, hidden tests included, with ``graded``), or
    None when it passes them all."""
    pool = _workers()
    shares = [seeds[i::WORKERS] for i in range(WORKERS)]
    found = [f.result() for f in [pool.submit(_first_failure, lab, name, s, graded) for s in shares if s]]
    failures = sorted(f for f in found if f is not None)
    return f"seed {failures[0][0]}: {failures[0][1]}" if failures else None
