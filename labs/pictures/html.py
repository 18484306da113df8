"""Standalone pages: one self-contained HTML file per trace, that works offline with no server.

A page holds the picture's data gzipped and base64-encoded (browsers unpack it natively with
``DecompressionStream``), so a typical run of thousands of messages costs a couple of hundred
kilobytes. The drawing code, ``pictures.js``, is either inlined (the default: one file to mail or
attach to feedback) or referenced by a relative path, so that the pages of a site or of a feedback
bundle share one copy of it (:func:`write_html` with ``shared_js=True``).
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import uuid
from pathlib import Path
from typing import Any

from .picture import Picture

JS_FILE = Path(__file__).with_name("pictures.js")
SCRIPT_TYPE = "application/vnd.ds-picture"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{margin:12px;background:#fff}}</style>
</head>
<body>
<div id="{id}"></div>
<script type="{script_type}" data-target="{id}" data-encoding="gzip+base64">
{data}
</script>
{js}
<script>DSPictures.renderAll();</script>
</body>
</html>
"""


def js_source() -> str:
    """The drawing code, as inlined into pages and widgets."""
    return JS_FILE.read_text(encoding="utf-8")


def pack(payload: dict[str, Any]) -> str:
    """The payload as gzip (fixed timestamp: the same trace gives the same page) in base64."""
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return base64.b64encode(gzip.compress(raw.encode("utf-8"), compresslevel=9, mtime=0)).decode()


def render_html(picture: Picture, js_src: str | None = None, element_id: str = "picture") -> str:
    """A complete HTML page for ``picture``.

    With ``js_src`` (a relative path or URL such as ``"pictures.js"``) the page loads the drawing
    code from there instead of carrying it inline.
    """
    if js_src is None:
        script = "<script>\n" + _inline_safe(js_source()) + "\n</script>"
    else:
        script = f'<script src="{html.escape(js_src, quote=True)}"></script>'
    data = pack(picture.to_payload())
    wrapped = "\n".join(data[i : i + 120] for i in range(0, len(data), 120))
    return PAGE.format(title=html.escape(picture.title), id=html.escape(element_id),
                       script_type=SCRIPT_TYPE, data=wrapped, js=script)


def _inline_safe(js: str) -> str:
    # A "</script" inside the code would end the inline script early.
    return js.replace("</script", "<\\/script")


def write_html(picture: Picture, path: str | Path, shared_js: bool = False) -> Path:
    """Write the page for ``picture`` to ``path``. With ``shared_js``, write ``pictures.js``
    beside it (once, for every page of the folder) and load it from there."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if shared_js:
        write_js(out.parent)
        out.write_text(render_html(picture, js_src=JS_FILE.name), encoding="utf-8")
    else:
        out.write_text(render_html(picture), encoding="utf-8")
    return out


def write_js(folder: str | Path) -> Path:
    """Put ``pictures.js`` in ``folder`` (for pages written with ``shared_js``)."""
    target = Path(folder) / JS_FILE.name
    code = js_source()
    if not target.exists() or target.read_text(encoding="utf-8") != code:
        target.write_text(code, encoding="utf-8")
    return target


def iframe_html(picture: Picture, height: int | None = None) -> str:
    """The standalone page inside an ``<iframe srcdoc>``: how a picture shows in a notebook
    rendered without a kernel (the static site, nbviewer, GitHub), where widgets cannot run.

    The page tells its parent its height once drawn, and a small script here resizes the frame.
    """
    frame_id = f"dsp-frame-{uuid.uuid4().hex[:12]}"  # unique even when one picture shows twice
    page = render_html(picture)
    start = height or estimate_height(picture)
    return (
        f'<iframe id="{frame_id}" name="{frame_id}" srcdoc="{html.escape(page, quote=True)}" '
        f'style="width:100%;height:{start}px;border:0" sandbox="allow-scripts" '
        f'title="{html.escape(picture.title, quote=True)}"></iframe>\n'
        "<script>(function(){var f=document.getElementById('" + frame_id + "');"
        "window.addEventListener('message',function(e){var d=e.data;"
        "if(f&&d&&d.name==='" + frame_id + "'&&d.dsPictureHeight){f.style.height=(d.dsPictureHeight+4)+'px';}});"
        "})();</script>"
    )


def estimate_height(picture: Picture) -> int:
    """Roughly the page's height in pixels: header, lanes, the views' tracks, the dashboard."""
    tracks = sum(27 + sum(30 if tr.levels else 18 for tr in v.tracks) for v in picture.views)
    types_rows = len({m.type for m in picture.messages})
    return int(200 + 33 * len(picture.lanes) + tracks + 60 + 560 + 18 * types_rows)
