"""Whether a notebook's output will be looked at live (widgets work) or as a static page.

A notebook executed to build the course site (mkdocs-jupyter, nbconvert, Jupyter Book...) is run
by a headless client that records every widget's state in the notebook. The HTML exporter then
prefers the widget view over any other output, and the page would need the widget manager and
anywidget from a CDN: offline, the picture would be a blank box. So, in such a build, the widgets
display as the standalone page (an ``<iframe srcdoc>``) only, and skip syncing their data.

How it is decided, first match wins:

1. ``DS_PICTURES_DISPLAY=static`` or ``=live`` in the environment;
2. a kernel started by a Jupyter server (JupyterLab, Notebook: ``JPY_SESSION_NAME`` is set) is live;
3. a kernel whose parent processes are a static-page builder (``mkdocs``, ``jupyter-nbconvert``,
   ``jupyter-book``, ``sphinx-build``, ``quarto``) is static;
4. anything else (VS Code, Colab, a plain Python session) is live.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

ENV = "DS_PICTURES_DISPLAY"
STATIC_BUILDERS = frozenset({"mkdocs", "jupyter-nbconvert", "nbconvert", "jupyter-book", "jb",
                             "sphinx-build", "quarto"})
ANCESTORS = 4


def live_widgets() -> bool:
    """True when widget output will be seen by a live front end (see the module docstring)."""
    mode = os.environ.get(ENV, "").strip().lower()
    if mode in ("static", "html"):
        return False
    if mode in ("live", "widget", "widgets"):
        return True
    if os.environ.get("JPY_SESSION_NAME"):
        return True
    return not _under_static_builder()


@functools.cache
def _under_static_builder() -> bool:
    pid = os.getpid()
    for _ in range(ANCESTORS):
        pid = _parent(pid)
        if pid <= 1:
            return False
        if any(Path(arg).name.removesuffix(".exe") in STATIC_BUILDERS for arg in _argv(pid)[:3]):
            return True
    return False


def _parent(pid: int) -> int:
    if pid == os.getpid():
        return os.getppid()
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0  # no /proc (macOS, Windows): look no further than the direct parent
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")"
    return int(stat.rsplit(")", 1)[1].split()[1])


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []
