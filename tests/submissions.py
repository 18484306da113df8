"""Submissions as a student hands them in: one self-contained file.

The variants in ``rpc_variants/`` (and the hostile submissions of the grading tests) are written
as small changes to the reference: ``from labs.rpc import node as reference`` and a subclass that
breaks one thing. A student's file cannot lean on the reference that way (in the grader's
sandbox ``labs.rpc.node`` is the skeleton the students got), so :func:`standalone` writes what a
student who wrote the reference and then made that change would hand in: the reference's source,
a ``reference`` namespace holding its names, then the change with its imports of the reference
taken out.
"""

from __future__ import annotations

import re
from pathlib import Path

LABS = Path(__file__).resolve().parents[1] / "labs"
REFERENCE = LABS / "rpc" / "node.py"


def _imports_of_the_reference(lab: str) -> re.Pattern[str]:
    return re.compile(rf"^from (labs\.{lab} import node as reference|labs\.{lab}\.node import .*|__future__ import .*)$",
                      re.MULTILINE)


def standalone_source(change: str, lab: str = "rpc") -> str:
    """The reference's source (of ``lab``) followed by ``change`` (the text of a variant)."""
    body = _imports_of_the_reference(lab).sub("", change)
    return ((LABS / lab / "node.py").read_text(encoding="utf-8")
            + "\n\n# --- the change ---\nimport types as _types\n\n"
            + "reference = _types.SimpleNamespace(**globals())\n" + body)


def standalone(variant: str | Path, target: Path, lab: str = "rpc") -> Path:
    """Write the self-contained form of ``variant`` (a file, or its text) to ``target``."""
    text = variant.read_text(encoding="utf-8") if isinstance(variant, Path) else variant
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(standalone_source(text, lab), encoding="utf-8")
    return target
