"""The tree reads one way: student code -> runtime -> trace -> checks -> grader, report and picture.

Read from the source (no module is imported): the import graph of ``labs/``, ``autograder/`` and
``course/`` has no cycle, nothing in ``labs/`` or ``course/`` imports the grader, an import inside
a function is there only to keep a heavy dependency out of start-up and says so in a comment, and
no module is over ~500 lines except the chapters (text); a lab's student file counts as released.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from autograder.release import strip_solutions

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("labs", "autograder", "course")
MAX_LINES = 520
"""About 500: a module over it is doing more than one thing."""


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    in_function: bool
    commented: bool


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """The imports of the project's own modules in one file (a ``from x import y`` of a module
    ``x.y`` counts as an import of ``x.y``)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[Import] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import | ast.ImportFrom):
                here = lines[child.lineno - 1]
                above = lines[child.lineno - 2].strip() if child.lineno > 1 else ""
                commented = "#" in here or above.startswith("#")
                for target in targets(child, package, known):
                    while target and target not in known and "." in target:
                        target = target.rpartition(".")[0]
                    edge = Import(name, target, child.lineno, in_function, commented)
                    if target in known and target != name and edge not in out:
                        out.append(edge)
            visit(child, inside)

    visit(tree, False)
    return out


def targets(node: ast.Import | ast.ImportFrom, package: str, known: dict[str, Path]) -> list[str]:
    """What an import statement imports: ``from x import y`` imports module ``x.y`` if there is
    one, else (a name defined in) ``x``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
        base = ".".join([*up, base] if base else up)
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]


def graph() -> list[Import]:
    known = modules()
    return [i for name, path in known.items() for i in imports(name, path, known)]


def cycles(edges: list[Import]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    after: dict[str, set[str]] = {}
    for e in edges:
        after.setdefault(e.source, set()).add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(after.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(after):
        if v not in index:
            connect(v)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    found = cycles(graph())
    assert not found, "modules that import each other (inside functions too):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_nothing_in_the_labs_or_the_chapters_imports_the_grader() -> None:
    wrong = [f"{e.source} (line {e.line}) imports {e.target}" for e in graph()
             if e.source.split(".")[0] in ("labs", "course") and e.target.split(".")[0] == "autograder"]
    assert not wrong, "the grader imports labs and checks, never the reverse:\n" + "\n".join(wrong)


def test_an_import_inside_a_function_says_why() -> None:
    where = modules()
    silent = [f"{where[e.source].relative_to(ROOT)}:{e.line} imports {e.target}" for e in graph()
              if e.in_function and not e.commented]
    assert not silent, ("imports inside functions without a comment saying why (only to keep a heavy "
                        "dependency such as Ray or Jupyter out of start-up):\n" + "\n".join(silent))


def test_no_module_is_over_about_500_lines() -> None:
    """A lab's student file counts as a student reads it, without the reference's solution (the
    Raft lab's ``node.py``: 614 lines with it, 259 as released): one file to hand in, whatever
    the length of the answer kept between its markers."""
    long = []
    for path in modules().values():
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        count = len(strip_solutions(text, rel).splitlines())
        chapter = rel.startswith("course/") and rel.count("/") == 1
        if count > MAX_LINES and not chapter:  # the chapters, course/NN-*.py, are text
            long.append(f"{rel}: {count} lines")
    assert not long, f"modules over {MAX_LINES} lines (split them by what they do):\n" + "\n".join(long)


def test_the_graph_reader_sees_imports_of_every_kind(tmp_path: Path) -> None:
    """The reader itself: relative, absolute, from-package and in-function imports are edges."""
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("from .a import x\n")
    (folder / "a.py").write_text("import pkg.b\nx = 1\n")
    (folder / "b.py").write_text("def f():\n    from . import a  # to show an in-function import\n")
    known = {"pkg": folder / "__init__.py", "pkg.a": folder / "a.py", "pkg.b": folder / "b.py"}
    edges = [i for name, path in known.items() for i in imports(name, path, known)]
    assert {(e.source, e.target, e.in_function, e.commented) for e in edges} == {
        ("pkg", "pkg.a", False, False), ("pkg.a", "pkg.b", False, False), ("pkg.b", "pkg.a", True, True)}
    assert cycles(edges) == [["pkg.a", "pkg.b"]]
