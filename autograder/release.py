"""Releasing the course to students: the same tree, with every reference solution taken out.

In a ``.py`` file a solution is a region between two marker comments, as nbgrader marks them
in notebooks::

    def handle_put(self, msg: PutRequest, sender: str) -> None:
        ### BEGIN SOLUTION
        ...the reference code...
        ### END SOLUTION

A region inside a function becomes ``raise NotImplementedError(...)`` (so a test that reaches
it says what to write instead of crashing somewhere else); a region that holds whole methods or
functions (helpers of the reference) is removed. Notebooks go through nbgrader itself.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tokenize
from pathlib import Path

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = 'raise NotImplementedError("not implemented yet: {where} (see the lab\'s handout)")'
HIDDEN = ("hidden",)
"""Path parts of instructor-only files (hidden schedules and seeds) that a release leaves out."""
INSTRUCTOR_ONLY = ("tests", ".ci")
"""Top-level folders a release leaves out: the platform's own tests (they test the reference)
and its CI."""


class ReleaseError(ValueError):
    """Solution markers that do not pair up; the message names the file and line."""


def strip_solutions(text: str, source: str = "file") -> str:
    """``text`` with every solution region replaced (see the module docstring).

    Markers count only as comments of their own (so a docstring or a string that mentions
    them is left alone)."""
    marks = _marker_lines(text, source)
    out: list[str] = []
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        line = lines[i]
        kind = marks.get(i + 1)
        if kind != BEGIN:
            if kind == END:
                raise ReleaseError(f"{source}:{i + 1}: {END} without a {BEGIN} before it")
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        j = i + 1
        while j < len(lines) and marks.get(j + 1) != END:
            if marks.get(j + 1) == BEGIN:
                raise ReleaseError(f"{source}:{j + 1}: a {BEGIN} inside another (from line {i + 1})")
            j += 1
        if j == len(lines):
            raise ReleaseError(f"{source}:{i + 1}: {BEGIN} is never closed by {END}")
        body = [b for b in lines[i + 1:j] if b.strip() and not b.strip().startswith("#")]
        defines = bool(body) and re.match(rf"{re.escape(indent)}(async\s+def|def|class|@)\b|{re.escape(indent)}@", body[0])
        if not defines:
            out.append(f"{indent}{STUB.format(where=_enclosing(out, len(indent)))}\n")
        i = j + 1
    text = re.sub(r"\n{4,}", "\n\n\n", "".join(out))
    return re.sub(r"\n\n\n(?=[ \t]+\S)", "\n\n", text)  # no triple gaps inside a class


def _marker_lines(text: str, source: str) -> dict[int, str]:
    """Line number -> BEGIN or END, for the comments that are markers."""
    found: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                comment = tok.string.strip()
                for marker in (BEGIN, END):
                    if comment.startswith(marker):
                        found[tok.start[0]] = marker
    except (tokenize.TokenError, IndentationError, SyntaxError) as exc:
        raise ReleaseError(f"{source}: not valid Python, so its solutions cannot be found: {exc}") from None
    return found


def strip_notebook(path: Path, out: Path) -> bool:
    """Write ``path`` to ``out`` with nbgrader's own ClearSolutions applied (and outputs cleared,
    since they may show a solution's results); True when it held a solution."""
    # nbformat (Jupyter's) and nbgrader only for a notebook: each takes seconds to import.
    import nbformat
    from nbgrader.preprocessors import ClearOutput, ClearSolutions

    nb = nbformat.read(str(path), as_version=4)  # type: ignore[no-untyped-call]
    had = any(BEGIN in "".join(c.source) for c in nb.cells) or any(
        c.get("metadata", {}).get("nbgrader", {}).get("solution") for c in nb.cells)
    resources: dict[str, object] = {}
    nb, resources = ClearSolutions(enforce_metadata=False).preprocess(nb, resources)
    nb, resources = ClearOutput().preprocess(nb, resources)
    nbformat.write(nb, str(out))  # type: ignore[no-untyped-call]
    return had


def _enclosing(lines: list[str], indent: int) -> str:
    """``Class.method`` around a solution region whose markers are indented by ``indent``."""
    names: list[str] = []
    for line in reversed(lines):
        m = re.match(r"(\s*)(?:async\s+)?(def|class)\s+(\w+)", line)
        if m and len(m.group(1)) < indent:
            names.append(m.group(3))
            indent = len(m.group(1))
            if indent == 0:
                break
    return ".".join(reversed(names)) or "this part"


def release(root: Path, out: Path) -> list[Path]:
    """Copy the project at ``root`` (the files git tracks) to ``out``, solutions stripped.
    Returns the files whose solutions were stripped."""
    files = _tracked(root)
    if out.exists():
        shutil.rmtree(out)
    stripped: list[Path] = []
    for rel in files:
        if any(part in HIDDEN for part in rel.parts) or rel.parts[0] in INSTRUCTOR_ONLY:
            continue
        src, dst = root / rel, out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel.suffix == ".py":
            text = src.read_text(encoding="utf-8")
            if _marker_lines(text, str(rel)):
                dst.write_text(strip_solutions(text, str(rel)), encoding="utf-8")
                stripped.append(rel)
                continue
        if rel.suffix == ".ipynb":
            if strip_notebook(src, dst):
                stripped.append(rel)
            continue
        shutil.copy2(src, dst)
    return stripped


def _tracked(root: Path) -> list[Path]:
    done = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=False)
    if done.returncode != 0:
        raise ReleaseError(f"{root} is not a git checkout: a release copies the files git tracks")
    return [Path(p) for p in done.stdout.decode().split("\0") if p and (root / p).is_file()]
