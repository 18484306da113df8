"""Shared fixtures. Ray starts once per test session (it takes seconds), on loopback only."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """A local Ray instance shared by every test of the session."""
    import ray

    from labs.runtime.ray_processes import keep_warm

    if not ray.is_initialized():
        ray.init(address="local", include_dashboard=False, configure_logging=False)  # never another's
    keep_warm(8)  # the next run's processes boot while the tests between runs go on
    yield
    ray.shutdown()


@pytest.fixture(params=["sim", "ray"])
def runtime(request: pytest.FixtureRequest) -> str:
    """Run a test in both runtimes (the Ray one only with the session's Ray)."""
    if request.param == "ray":
        request.getfixturevalue("ray_session")
    return str(request.param)
