"""Debian's Chromium, driven by Playwright (no browser download), as the browser tests use it.
``bash scripts/setup.sh`` installs Chromium (as root, with apt-get)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
"""Headless as root, and quiet: without the background-networking flags Chromium keeps trying
to reach Google's hosts, which this machine's closed network refuses."""


@contextmanager
def chromium(extra_args: Sequence[str] = ()) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/setup.sh` as root (it installs "
                    "Debian's chromium), or `apt-get install chromium`")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra_args])
        try:
            yield b
        finally:
            b.close()


def screenshot_folder(variable: str, factory: pytest.TempPathFactory, name: str) -> Path:
    """Where screenshots go: ``$variable`` if set, else a temporary folder."""
    folder = Path(os.environ.get(variable) or factory.mktemp(name))
    folder.mkdir(parents=True, exist_ok=True)
    return folder
