"""What a student release must not contain: the reference solutions, in any form.

Two scans of a released tree (see :func:`.release.release`):

* **copied lines**: every line of a solution region (between the markers, in the instructor's
  tree) long enough to be distinctive must appear in no released file, notebooks and pages
  included;
* **the labs' protocols**: no released module outside a lab's own package may handle that lab's
  messages (an ``@on(X)`` where ``X`` comes from ``labs.<lab>``): a chapter demo that does speaks
  the lab's protocol, and is a working answer to copy. Demos use messages of their own.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .release import BEGIN, END, _marker_lines

DISTINCTIVE = 40
"""Characters (spaces collapsed) a solution line needs to count as distinctive."""
TEXT = (".py", ".ipynb", ".md", ".html", ".txt", ".json", ".yml", ".yaml", ".toml", ".cfg")


@dataclass(frozen=True)
class Leak:
    path: Path
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _norm(line: str) -> str:
    return re.sub(r"\s+", " ", line).strip()


def solution_lines(root: Path, files: list[Path]) -> dict[str, Path]:
    """The distinctive lines of every solution region under ``root`` (of ``files``), each with its
    file; a line the labs' given code holds too (outside any solution, under ``labs/``) is given
    away by design, and left out."""
    found: dict[str, Path] = {}
    given: set[str] = set()
    for rel in files:
        if rel.suffix != ".py":
            continue
        text = (root / rel).read_text(encoding="utf-8")
        marks = _marker_lines(text, str(rel))
        inside = False
        for number, line in enumerate(text.splitlines(), 1):
            kind = marks.get(number)
            if kind in (BEGIN, END):
                inside = kind == BEGIN
                continue
            norm = _norm(line)
            if inside and len(norm) >= DISTINCTIVE and not norm.startswith("#"):
                found.setdefault(norm, rel)
            elif not inside and rel.parts[0] == "labs":
                given.add(norm)
    return {line: rel for line, rel in found.items() if line not in given}


def copied_lines(release: Path, solutions: dict[str, Path]) -> list[Leak]:
    """Released files holding a line of a solution."""
    leaks: list[Leak] = []
    for path in sorted(p for p in release.rglob("*") if p.is_file() and p.suffix in TEXT):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        lines = _notebook_lines(text) if path.suffix == ".ipynb" else text.splitlines()
        for number, line in enumerate(lines, 1):
            source = solutions.get(_norm(line))
            if source is not None:
                leaks.append(Leak(path.relative_to(release), number, f"a line of the solution in {source}"))
    return leaks


def _notebook_lines(text: str) -> list[str]:
    try:
        cells = json.loads(text).get("cells", [])
    except (json.JSONDecodeError, AttributeError):
        return text.splitlines()
    lines: list[str] = []
    for cell in cells:
        source = cell.get("source", "")
        lines += ("".join(source) if isinstance(source, list) else str(source)).splitlines()
    return lines


def protocol_handlers(release: Path, labs: list[str]) -> list[Leak]:
    """Released modules outside ``labs/<lab>/`` that handle a lab's messages."""
    leaks: list[Leak] = []
    for path in sorted(release.rglob("*.py")):
        rel = path.relative_to(release)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        imported: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                lab = next((lab for lab in labs if node.module == f"labs.{lab}" or
                            node.module.startswith(f"labs.{lab}.")), None)
                if lab is not None and rel.parts[:2] != ("labs", lab):
                    imported.update({alias.asname or alias.name: lab for alias in node.names})
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                if (isinstance(deco, ast.Call) and isinstance(deco.func, ast.Name) and deco.func.id == "on"
                        and deco.args and isinstance(deco.args[0], ast.Name) and deco.args[0].id in imported):
                    message = deco.args[0].id
                    leaks.append(Leak(rel, node.lineno, f"{node.name} handles {message}, a message of the "
                                      f"{imported[message]} lab: a demo that speaks a lab's protocol is an answer "
                                      "to copy (give the demo messages of its own)"))
    return leaks


def scan(root: Path, release: Path, files: list[Path], labs: list[str]) -> list[Leak]:
    """Every leak of ``root``'s solutions (its tracked ``files``) into the released tree ``release``."""
    return copied_lines(release, solution_lines(root, files)) + protocol_handlers(release, labs)
