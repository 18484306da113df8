"""MkDocs hook: the built site loads nothing from the network.

mkdocs-material is told not to fetch fonts (``theme.font: false``). nbconvert's template, which
mkdocs-jupyter uses for the chapters, points a page holding widget state at unpkg for the widget
renderer; this hook points it at the copy the site serves itself (``scripts/site_assets.sh``
puts it in ``site/assets/vendor/``) and loads the site's own require.js first, on that page only
(require.js on every page would turn other scripts' UMD wrappers into anonymous AMD modules).

Every page is then checked: a ``<script>``, stylesheet, image or frame with an ``http(s)://``
address, a renderer address left unreplaced, or a diagram that only a CDN could draw (Mermaid)
fails the build, naming the page.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

VENDOR = "assets/vendor"
NEEDED = ("html-manager/embed-amd.js", "requirejs/require.js", "katex/katex.mjs",
          "katex/contrib/auto-render.mjs", "katex/katex.min.css")
"""Files scripts/site_assets.sh copies into site/assets/vendor/, which pages load."""
WIDGET_LOADER = "function addWidgetsRenderer()"
RENDERER = re.compile(r"'https://unpkg\.com/@jupyter[^']*'")
MERMAID_LOADER = re.compile(r'<script type="module">(?:(?!</script>).)*?jp-Mermaid.*?</script>\s*', re.S)
"""nbconvert's loader of Mermaid (from a CDN), on every chapter page; it does nothing without a
diagram, and a diagram fails the build (below), so it goes."""
OUTSIDE = re.compile(r"<(?:script|img|iframe|source|audio|video|embed)\b[^>]*?\bsrc=[\"']?(?:https?:)?//"
                     r"|<link\b[^>]*?\bhref=[\"']?(?:https?:)?//[^>]*>", re.IGNORECASE)
NAMING_ONLY = re.compile(r"\brel=[\"']?(?:canonical|alternate|prev|next|author|license|me)\b", re.IGNORECASE)
"""Links that name a page (mkdocs-material's canonical link, for one) rather than load it."""
CDNS = ("unpkg.com", "cdnjs.cloudflare.com", "cdn.jsdelivr.net", "fonts.googleapis.com")


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Refuse to build without the vendored browser code (a site that would be blank offline)."""
    vendor = Path(config.docs_dir) / VENDOR
    missing = [f for f in NEEDED if not (vendor / f).is_file()]
    if missing:
        raise PluginError(f"{vendor} lacks {', '.join(missing)}: run `bash scripts/site_assets.sh` "
                          "(it installs them with npm) and build again")
    return config


def on_post_page(output: str, page: Page, config: MkDocsConfig) -> str:
    """Serve the widget renderer from the site, then check the page asks for nothing outside."""
    root = get_relative_url(".", page.url)
    if WIDGET_LOADER in output:
        local = f"{root}/{VENDOR}"
        output = RENDERER.sub(f"'{local}/html-manager/embed-amd.js'", output)
        loader = output.index(WIDGET_LOADER)
        start = output.rindex("<script", 0, loader)
        output = (f'{output[:start]}<script src="{local}/requirejs/require.js"></script>\n'
                  f"{output[start:]}")
    output = MERMAID_LOADER.sub("", output)
    problems = [m.group(0)[:120] for m in OUTSIDE.finditer(output) if not NAMING_ONLY.search(m.group(0))]
    problems += [f"a script naming {cdn}" for cdn in CDNS
                 if any(cdn in s for s in re.findall(r"<script\b[^>]*>(.*?)</script>", output, re.S))]
    if re.search(r'class="[^"]*\bjp-Mermaid\b', output):
        problems.append("a Mermaid diagram (nbconvert draws it with a script from a CDN)")
    if problems:
        raise PluginError(f"{page.file.src_uri} would need the network: " + "; ".join(problems))
    return output
