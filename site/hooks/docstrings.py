"""A griffe extension for the API reference: the project's reST-flavoured docstrings, as Markdown.

The code's docstrings are written for people reading the source and for ``help()``: cross
references as Sphinx roles (``:class:`Node```, ``:meth:`~Schedule.expand```) and literal blocks
introduced by ``::``. mkdocstrings renders docstrings as Markdown, where a role would show its
``:class:`` prefix and a ``::`` its second colon. This rewrites both before rendering, so the
source keeps the style it has and the site reads cleanly.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const):`~?\.?([^`]+)`")
LITERAL = re.compile(r"(\S)::$", re.MULTILINE)


def markdown_of(text: str) -> str:
    """``:meth:`~labs.Node.on_start``` -> ```on_start```; a paragraph ending ``::`` ends ``:``."""
    def name(m: re.Match[str]) -> str:
        target = m.group(1)
        shown = target.rsplit(".", 1)[-1] if m.group(0).split("`")[1].startswith("~") else target
        return f"`{shown}`"

    return LITERAL.sub(r"\1:", ROLE.sub(name, text))


class SphinxRoles(griffe.Extension):
    """Rewrites every docstring griffe loads (see :func:`markdown_of`)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_of(obj.docstring.value)
