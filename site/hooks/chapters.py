"""MkDocs hook: every chapter notebook ``course/NN-*.ipynb`` becomes a page of the site, and the
nav lists the chapters and the lab handouts by themselves.

Chapters are kept in git without outputs, so each build executes them (with nbclient, a real
kernel, ``allow_errors=False``: a chapter that raises fails the build, naming the cell). Executing
takes seconds (the demos run in the simulator), which is cheaper and safer than committing
outputs that drift from the code. The executed notebook is then made fit for students before
mkdocs-jupyter renders it (with ``execute: false``):

- exercise solutions and hidden tests are replaced as nbgrader's release replaces them, and the
  outputs of the cells that held them are cleared: the site is public;
- the widget state nbclient records is cut down to the widgets some output actually shows. The
  trace pictures display as a self-contained ``<iframe srcdoc>`` in a build (see
  ``labs.pictures.display``), so usually no state is left and the page loads no widget code at
  all; a widget the site's own renderer cannot draw offline fails the build.

The nav's ``Chapters`` section is filled here, in file-name order, and its ``Labs`` section with
every handout ``site/labs/*.md`` in lab-number order, so a new chapter or handout needs no edit
of ``mkdocs.yml``. An executed chapter is cached in ``.cache/site-chapters/`` (or ``$SITE_CHAPTERS_CACHE``) under a hash of the
notebook and of every source it can import (``labs/``, ``course/``, ``autograder/``), so that
``mkdocs serve`` does not re-run the chapters when only a page of text changed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.chapters")

CHAPTER = re.compile(r"\d\d-[\w-]+\.ipynb")
NAV_SECTION = "Chapters"
SITE_FOLDER = "chapters"
HANDOUT_SECTION = "Labs"
HANDOUT_FOLDER = "labs"
SOURCES = ("labs", "course", "autograder")
"""Folders (beside mkdocs.yml) whose files a chapter's output may depend on: the cache key."""
CACHE_ENV = "SITE_CHAPTERS_CACHE"
"""Where executed chapters are kept (default: .cache/site-chapters/); the tests use an empty one."""
STATE_MIME = "application/vnd.jupyter.widget-state+json"
VIEW_MIME = "application/vnd.jupyter.widget-view+json"
OFFLINE_WIDGET_MODULES = frozenset({"@jupyter-widgets/base", "@jupyter-widgets/controls",
                                    "@jupyter-widgets/output"})
"""The widget modules the site's renderer (@jupyter-widgets/html-manager) carries itself."""


def root_of(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def chapters(root: Path) -> list[Path]:
    """The chapter notebooks, in order: ``course/NN-name.ipynb``."""
    return sorted(p for p in (root / "course").glob("*.ipynb") if CHAPTER.fullmatch(p.name))


def nav_title(notebook: Path) -> str:
    """The notebook's first heading up to its first comma ("Chapter 2: RPC, or how to..." gives
    "Chapter 2: RPC"): the page keeps the whole heading, the nav a short one."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            m = re.search(r"^#\s+(.+)$", "".join(cell["source"]), re.MULTILINE)
            if m:
                return m.group(1).split(", ")[0].strip()
    raise PluginError(f"{notebook}: a chapter needs a '# Title' heading in a markdown cell")


def handouts(docs: Path) -> list[tuple[str, str]]:
    """(title, path under the docs) of every lab handout ``labs/*.md``, by lab number: the
    title is the page's heading, and "Lab 1: ..." comes before "Lab 2: ..."."""
    found = []
    for page in (docs / HANDOUT_FOLDER).glob("*.md"):
        m = re.search(r"^#\s+(.+)$", page.read_text(encoding="utf-8"), re.MULTILINE)
        if not m:
            raise PluginError(f"{page}: a handout needs a '# Lab N: title' heading")
        number = re.match(r"Lab (\d+)\b", m.group(1))
        found.append((int(number.group(1)) if number else 10**6, m.group(1).strip(), page.name))
    return [(title, f"{HANDOUT_FOLDER}/{name}") for _, title, name in sorted(found)]


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Fill the nav's ``Chapters`` and ``Labs`` sections: every chapter, every handout."""
    fill(config, NAV_SECTION, [{nav_title(p): f"{SITE_FOLDER}/{p.name}"} for p in chapters(root_of(config))])
    fill(config, HANDOUT_SECTION, [{title: path} for title, path in handouts(Path(config.docs_dir))])
    return config


def fill(config: MkDocsConfig, section: str, entries: list[dict[str, str]]) -> None:
    for item in config.nav or []:
        if isinstance(item, dict) and section in item:
            item[section] = entries
            return
    raise PluginError(f"mkdocs.yml: the nav needs a '{section}: []' section (filled by {__file__})")


@event_priority(50)  # before mkdocs-jupyter's on_files, which wraps every notebook it is given
def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add each chapter, executed and stripped, as ``chapters/NN-name.ipynb``."""
    root = root_of(config)
    cache = Path(os.environ.get(CACHE_ENV) or root / ".cache" / "site-chapters")
    # mkdocs-jupyter reads a page's notebook from File.abs_src_path, which its wrapper of a file
    # only finds for a file under a src_dir (not for File.generated): this folder is that src_dir.
    pages = cache / "pages"
    (pages / SITE_FOLDER).mkdir(parents=True, exist_ok=True)
    sources = sources_hash(root)
    for notebook in chapters(root):
        key = hashlib.sha256(notebook.read_bytes() + sources.encode()).hexdigest()[:16]
        built = cache / f"{notebook.stem}-{key}.ipynb"
        if built.exists():
            log.info("chapter %s: unchanged since it was last executed", notebook.name)
        else:
            for stale in cache.glob(f"{notebook.stem}-*.ipynb"):
                stale.unlink(missing_ok=True)  # a build running alongside may have removed it
            nb = execute(notebook)
            for_students(nb, notebook.name)
            write_atomically(built, nbformat.writes(nb))  # only a chapter that ran to the end
        write_atomically(pages / SITE_FOLDER / notebook.name, built.read_text(encoding="utf-8"))
        files.append(File(f"{SITE_FOLDER}/{notebook.name}", src_dir=str(pages),
                          dest_dir=config.site_dir, use_directory_urls=config.use_directory_urls))
    return files


def write_atomically(path: Path, text: str) -> None:
    """Write by renaming, so that a build running alongside never reads half a notebook."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def sources_hash(root: Path) -> str:
    """A hash of this hook, the Python running it, and every file under :data:`SOURCES`."""
    h = hashlib.sha256(Path(__file__).read_bytes() + sys.version.encode())
    for folder in SOURCES:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith("."):
                h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def execute(notebook: Path) -> Any:
    """Run ``notebook`` top to bottom in a fresh kernel, from its folder; stop at the first error."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    log.info("chapter %s: executing", notebook.name)
    nb = nbformat.read(str(notebook), as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(notebook.parent)}})
    # A build's pictures are static pages (labs.pictures.display), whatever launched mkdocs.
    env = dict(os.environ, DS_PICTURES_DISPLAY="static")
    try:
        client.execute(env=env)
    except CellExecutionError as e:
        raise PluginError(f"chapter {notebook.name} failed to execute:\n{e}") from None
    return nb


def for_students(nb: Any, name: str) -> None:
    """Strip solutions and hidden tests (clearing those cells' outputs), and unused widget state."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    before = [copy.deepcopy(c.source) for c in nb.cells]
    nb, _ = ClearSolutions(enforce_metadata=False).preprocess(nb, {})
    nb, _ = ClearHiddenTests(enforce_metadata=False).preprocess(nb, {})
    for cell, source in zip(nb.cells, before, strict=True):
        if cell.source != source and cell.cell_type == "code":
            cell.outputs = []
    keep_shown_widgets(nb, name)


def keep_shown_widgets(nb: Any, name: str) -> None:
    """Keep only the state of widgets an output shows (and of the widgets those refer to)."""
    state: dict[str, Any] = nb.metadata.get("widgets", {}).get(STATE_MIME, {}).get("state", {})
    todo = [o["data"][VIEW_MIME]["model_id"] for c in nb.cells for o in c.get("outputs", [])
            if VIEW_MIME in o.get("data", {})]
    shown: set[str] = set()
    while todo:
        model = todo.pop()
        if model in state and model not in shown:
            shown.add(model)
            todo += re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state[model]["state"]))
    foreign = sorted({state[m]["model_module"] for m in shown} - OFFLINE_WIDGET_MODULES)
    if foreign:
        raise PluginError(f"chapter {name} shows widgets of {', '.join(foreign)}, which the static "
                          "site cannot draw offline: give them a text/html fallback (as "
                          "labs.pictures.TraceWidget has) or display them outside a container")
    if shown:
        nb.metadata["widgets"][STATE_MIME]["state"] = {m: state[m] for m in sorted(shown)}
    else:
        nb.metadata.pop("widgets", None)
