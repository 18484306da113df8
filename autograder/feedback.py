"""The feedback page (``feedback.html``): one submission's grades as the student reads them.

A section per test, green when it passed and red when it failed, with its description, how its
runs went, the report of its first failure and links to that failure's pictures. For a lab graded
in parts, the page opens with a table of the parts' subtotals, and each part's tests come under
its own heading. One self-contained file: its style is inline, and every text is escaped.
"""

from __future__ import annotations

import html
from pathlib import Path

from .runner import TestGrade
from .suite import PartTotal


def feedback_html(lab: str, grades: list[TestGrade], texts: list[str], pictures: list[list[Path]],
                  totals: list[PartTotal], out: Path) -> str:
    """The page: ``texts`` says how each of ``grades`` went, ``pictures`` are each one's pictures
    (linked relative to ``out``, the folder the page is written to), ``totals`` the parts'
    subtotals (none for a lab not graded in parts)."""
    sections: dict[str | None, list[str]] = {}
    for g, text, shown in zip(grades, texts, pictures, strict=True):
        sections.setdefault(g.test.part, []).append(_section(g, text, shown, out))
    total, worth = sum(g.score for g in grades), sum(g.test.points for g in grades)
    if totals:
        body = _parts_table(totals, total, worth) + "\n".join(
            f"<h2 class='part' id='part-{html.escape(pt.part.name)}'>Part {html.escape(pt.part.name)}: "
            f"{html.escape(pt.part.title)} ({pt.score} / {pt.points})</h2>\n" + "\n".join(sections[pt.part.name])
            for pt in totals)
    else:
        body = "\n".join(sections.get(None, []))
    return _PAGE.format(title=html.escape(f"{lab}: {total} / {worth} points"), body=body)


def _parts_table(totals: list[PartTotal], total: int, worth: int) -> str:
    """The page's opening summary: a row per part (linking to its tests), then the total."""
    rows = "".join(f"<tr><td><a href='#part-{html.escape(pt.part.name)}'>{html.escape(pt.part.name)}</a></td>"
                   f"<td>{html.escape(pt.part.title)}</td><td>{pt.score} / {pt.points}</td></tr>"
                   for pt in totals)
    return (f"<table class='parts'><tr><th>part</th><th></th><th>points</th></tr>{rows}"
            f"<tr><td>total</td><td></td><td>{total} / {worth}</td></tr></table>\n")


def _section(g: TestGrade, text: str, pictures: list[Path], out: Path) -> str:
    t = g.test
    status = "passed" if g.passed else "failed"
    links = "".join(f"<li><a href='{html.escape(str(p.relative_to(out)))}'>{html.escape(p.name)}</a></li>"
                    for p in pictures)
    hidden = " <span class='hidden'>hidden test</span>" if t.hidden else ""
    heading = "h3" if t.part is not None else "h2"  # under its part's heading
    return (f"<section class='{status}'><{heading}>{html.escape(t.name)}: {g.score} / {t.points}{hidden}</{heading}>"
            f"<p>{html.escape(t.description)}</p><pre>{html.escape(text)}</pre>"
            + (f"<ul>{links}</ul>" if links else "") + "</section>")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 15px system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }}
section {{ border-left: 6px solid #1a7f37; padding: 0 1rem; margin: 1.5rem 0; }}
section.failed {{ border-color: #cf222e; }}
pre {{ background: #f6f8fa; padding: .8rem; overflow-x: auto; white-space: pre-wrap; }}
.hidden {{ font-size: 12px; background: #eee; padding: 2px 6px; border-radius: 4px; }}
table.parts {{ border-collapse: collapse; }}
table.parts td, table.parts th {{ padding: 2px 12px 2px 0; text-align: left; }}
table.parts tr:last-child td {{ border-top: 1px solid #ccc; font-weight: 600; }}
h2.part {{ margin-top: 2.5rem; border-bottom: 1px solid #ccc; }}
</style></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""


__all__ = ["feedback_html"]
