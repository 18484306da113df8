"""What nbgrader calls back into, as the course's ``nbgrader_config.py`` sets it up: the release
hook of ``generate_assignment`` and the first steps of ``autograde``.

They are plain callables, so that nbgrader need not be imported to define them; each one's
docstring says which of nbgrader's pitfalls it avoids (:mod:`.nbgrader_course` lists them all).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from traitlets.log import get_logger

from .release import ReleaseError, strip_solutions

TIMESTAMP = "timestamp.txt"
"""The file nbgrader writes into each submission (when it was submitted): kept, like the student's."""
GUARDED = "DS_COURSE_NBGRADER_GUARDED"
"""Set by :class:`KeepReleaseFiles` in nbgrader's process, so the grading kernel inherits it:
nbgrader only logs a config file that fails to load and goes on with its defaults (none of the
protections here), so the grading cell refuses to grade without it."""


# -- generate_assignment's hook ---------------------------------------------------------------


def strip_release(release: Path) -> list[Path]:
    """Strip the solutions of every ``.py`` file under ``release`` in place; the files changed."""
    changed: list[Path] = []
    for path in sorted(release.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        stripped = strip_solutions(text, str(path))
        if stripped != text:
            path.write_text(stripped, encoding="utf-8")
            changed.append(path)
    return changed


def release_hook(course: str | Path) -> Callable[..., None]:
    """``GenerateAssignment.post_convert_hook``: strip the release's ``.py`` files.

    nbgrader logs a failing hook and carries on, so a release whose solutions cannot be
    stripped (markers that do not pair up) is deleted instead: no release beats a leak."""
    root = Path(course)

    def hook(assignment: str, **_: Any) -> None:
        for release in sorted((root / "release").glob(assignment)):
            try:
                for path in strip_release(release):
                    get_logger().info("stripped the solutions of %s", path)
            except ReleaseError as exc:
                shutil.rmtree(release)
                get_logger().error("deleted the release %s: %s", release, exc)
                raise

    return hook


# -- nbgrader preprocessors (plain callables: nbgrader need not be imported to define them) ---


class UseReleasedNotebook:
    """Sanitizing step of ``autograde``: grade the released notebook, not the submitted one.

    The assignment's notebook is only the harness; a cell a student adds (or a locked cell's
    metadata they edit) would run in the grading kernel, with the grader's permissions, before
    the grading cells, and could replace the function that reports the scores."""

    def __init__(self, course: str | Path) -> None:
        self.release = Path(course) / "release"

    def __call__(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        import nbformat  # Jupyter's: only in nbgrader's process, out of the grader's start-up
        ids = resources["nbgrader"]
        released = self.release / ids["assignment"] / f"{ids['notebook']}.ipynb"
        if not released.exists():
            raise FileNotFoundError(f"{released}: run nbgrader generate_assignment first")
        original = nbformat.read(str(released), as_version=4)  # type: ignore[no-untyped-call]
        theirs = [c.get("source", "") for c in nb.cells]
        if theirs != [c.source for c in original.cells]:
            get_logger().warning("%s/%s: the submitted notebook differs from the release; grading the release's",
                                 ids["student"], ids["notebook"])
        return original, resources


class KeepReleaseFiles:
    """First step of ``autograde``'s grading pass: the folder the kernel starts in becomes the
    release plus the student's files.

    The kernel's current folder is first on its import path: a submitted
    ``ipykernel_launcher.py`` would be started as the kernel, and a submitted ``autograder/``
    would replace the grader. Files the release also has are put back to the release's version
    (the source's copy may hold solutions), the student's files stay as submitted, and anything
    else is deleted (it stays in ``submitted/``)."""

    def __init__(self, course: str | Path, students: dict[str, list[str]]) -> None:
        self.release = Path(course) / "release"
        self.students = students

    def __call__(self, nb: Any, resources: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        ids = resources["nbgrader"]
        here = Path(resources["metadata"]["path"]).resolve()
        release = self.release / ids["assignment"]
        released = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()}
        theirs = set(self.students.get(ids["assignment"], []))
        for folder, dirs, files in os.walk(here, topdown=False):
            for name in files + [d for d in dirs if Path(folder, d).is_symlink()]:
                path = Path(folder, name)
                rel = path.relative_to(here).as_posix()
                if path.is_symlink() or not (rel in theirs or rel in released or rel == TIMESTAMP):
                    get_logger().warning("%s: not part of the assignment, left out of grading", path)
                    path.unlink()
                elif rel in released and rel not in theirs and not rel.endswith(".ipynb"):
                    shutil.copyfile(release / rel, path)  # the source's copy may hold solutions
            if Path(folder) != here and not any(Path(folder).iterdir()):
                Path(folder).rmdir()
        os.environ[GUARDED] = "1"  # the kernel nbgrader starts next inherits it
        return nb, resources


def sanitize_preprocessors(course: str | Path) -> list[Any]:
    """nbgrader's sanitizing steps for ``autograde``, with :class:`UseReleasedNotebook` first."""
    # nbgrader's own classes only when its config is read: nbgrader takes seconds to import.
    from nbgrader.converters import Autograde

    return [UseReleasedNotebook(course), *Autograde.class_traits()["sanitize_preprocessors"].default()]


def autograde_preprocessors(course: str | Path, students: dict[str, list[str]]) -> list[Any]:
    """nbgrader's grading steps for ``autograde``, with :class:`KeepReleaseFiles` first."""
    # nbgrader's own classes only when its config is read: nbgrader takes seconds to import.
    from nbgrader.converters import Autograde

    return [KeepReleaseFiles(course, students), *Autograde.class_traits()["autograde_preprocessors"].default()]


__all__ = ["GUARDED", "KeepReleaseFiles", "UseReleasedNotebook", "autograde_preprocessors", "release_hook",
           "sanitize_preprocessors", "strip_release"]
