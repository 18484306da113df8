"""What the chapter tests share: running a notebook in a real kernel, reading what its cells
showed, and the checks every chapter's exercises and release must pass."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def run_notebook(nb: Any, folder: Path, allow_errors: bool = False, timeout: int = 300) -> float:
    """Run ``nb`` in place with the venv's ``python3`` kernel from ``folder``; seconds taken."""
    began = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return time.perf_counter() - began


def assert_committed_clean(notebook: Path) -> Any:
    """The notebook is valid and committed without outputs, for the venv's ``python3`` kernel."""
    nb = nbformat.read(notebook, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "commit the notebook without outputs"
    return nb


def executed(notebook: Path) -> dict[str, Any]:
    """The chapter run top to bottom: ``nb``, ``seconds`` and its ``cells`` by tag."""
    nb = nbformat.read(notebook, as_version=4)
    seconds = run_notebook(nb, notebook.parent)
    return {"nb": nb, "seconds": seconds, "cells": {tag: c for c in nb.cells for tag in c.metadata.get("tags", [])}}


def outputs(cell: Any, kind: str) -> list[str]:
    """What a cell printed (``kind="stream"``) or displayed as ``kind`` (a MIME type)."""
    found = []
    for o in cell.outputs:
        if kind == "stream" and o.output_type == "stream":
            found.append(o.text)
        elif o.output_type in ("display_data", "execute_result") and kind in o.data:
            found.append(o.data[kind])
    return found


def rows(cell: Any, title: str) -> list[dict[str, str]]:
    """The rows of the HTML table captioned ``title`` that the cell displayed."""
    for page in outputs(cell, "text/html"):
        for table in re.findall(r"<table>(.*?)</table>", page, re.S):
            caption = re.search(r"<caption[^>]*>(.*?)</caption>", table, re.S)
            if caption is None or html.unescape(caption.group(1)) != title:
                continue
            lines = [[html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)]
                     for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
            return [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
    raise AssertionError(f"no table titled {title!r} in the cell's output")


def n(text: str) -> float:
    return float(text.replace(",", ""))


def graded(nb: Any) -> list[Any]:
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def check_exercises(nb: Any, exercises: dict[str, int]) -> dict[str, Any]:
    """Each exercise is a solution cell (with markers) and a locked, graded test cell that ran;
    returns the test cells by grade id."""
    solutions = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}
    tests = {c.metadata["nbgrader"]["grade_id"]: c for c in graded(nb)}
    assert list(solutions) == list(exercises)
    assert list(tests) == [f"test_{name}" for name in exercises]
    for name, points in exercises.items():
        meta = tests[f"test_{name}"].metadata["nbgrader"]
        assert meta["locked"] and not meta["solution"] and meta["points"] == points and meta["schema_version"] == 3
        assert tests[f"test_{name}"].execution_count is not None
        assert "### BEGIN SOLUTION" in solutions[name].source and "### END SOLUTION" in solutions[name].source
    return tests


def run_release(notebook: Path, out: Path, lab: str, demos: str, exercises: dict[str, int]) -> Any:
    """Release the course to ``out`` and run the chapter there (the kernel imports ``labs`` and
    ``course`` from the release): every demo runs without the lab's solution and each exercise
    fails as not implemented. Returns the executed notebook. Needs PYTHONPATH set to ``out``."""
    from autograder.release import release

    release(ROOT, out)
    assert "raise NotImplementedError" in (out / "labs" / lab / "node.py").read_text()
    path = out / "course" / notebook.name
    released = nbformat.read(path, as_version=4)
    assert "BEGIN SOLUTION" not in "".join(c.source for c in released.cells)
    released.cells.append(nbformat.v4.new_code_cell(f"import labs.{lab}.node as lab, course.demos.{demos} as d\n"
                                                    "print(lab.__file__, d.__file__)"))
    run_notebook(released, path.parent, allow_errors=True)
    tests = graded(released)
    assert len(tests) == len(exercises)
    for c in released.cells:
        names = [o.ename for o in c.get("outputs", []) if o.output_type == "error"]
        if c in tests:
            assert names == ["NotImplementedError"], (c.metadata["nbgrader"]["grade_id"], names)
        else:
            assert not names, (c.source[:80], names)
    assert released.cells[-1].outputs[0].text.split() == [str(out / f"labs/{lab}/node.py"),
                                                          str(out / f"course/demos/{demos}.py")]
    return released


def assert_shows_no_solution(notebook: Path, demos: Path, lab: str, at_least: int) -> None:
    """No line of the lab's solution (longer than 20 characters) appears in the chapter or its demos."""
    solution, inside = set(), False
    for line in (ROOT / "labs" / lab / "node.py").read_text().splitlines():
        inside = (inside or "### BEGIN SOLUTION" in line) and "### END SOLUTION" not in line
        if inside and len(line.strip()) > 20 and not line.strip().startswith(("#", "###")):
            solution.add(line.strip())
    assert len(solution) > at_least
    nb = nbformat.read(notebook, as_version=4)
    for where, text in [("the notebook", "\n".join(c.source for c in nb.cells)), (demos.name, demos.read_text())]:
        shown = [line for line in text.splitlines() if line.strip() in solution]
        assert not shown, f"{where} repeats the lab's solution: {shown[:3]}"
