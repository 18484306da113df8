"""The course website: built as CI builds it, then read in a real browser with no network.

The site is built once (``mkdocs build --strict``, chapters executed into an empty cache) and
served on 127.0.0.1 only. Debian's Chromium, driven by Playwright, may reach that server and
nothing else: every other request is refused and recorded, and the host resolver knows no other
name. Each test checks what a reader would: pages load without console errors, the nav and the
search lead where they say, a chapter's trace picture answers the mouse, dark mode and the copy
buttons work. A second, tiny site built with the same configuration shows the parts no chapter
uses yet: a Jupyter widget drawn by the site's own renderer, and math.

Screenshots go to $SITE_SCREENSHOTS, or a temporary folder; each test prints where.
``bash scripts/setup.sh`` installs Chromium; ``bash scripts/site_assets.sh`` the site's
browser code (the build refuses to run without it).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import nbformat
import pytest
from browser import chromium, screenshot_folder
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Frame,
    Page,
    Request,
    Route,
)

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in (ROOT / "course").glob("*.ipynb") if re.fullmatch(r"\d\d-[\w-]+\.ipynb", p.name))
HANDOUTS = sorted((ROOT / "site" / "labs").glob("*.md"))
BUILD_LIMIT = 240  # seconds; a build takes about 15 s on the 2-core CI machine


def run_build(config: Path, site: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of ``config`` into ``site``, executing chapters into ``cache``."""
    env = {k: v for k, v in os.environ.items() if k not in ("DS_PICTURES_DISPLAY", "JPY_SESSION_NAME")}
    env.update(SITE_CHAPTERS_CACHE=str(cache), NO_MKDOCS_2_WARNING="1")
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
                           "--site-dir", str(site)], cwd=config.parent, env=env, capture_output=True,
                          text=True, timeout=BUILD_LIMIT, check=False)


def build(config: Path, site: Path, cache: Path) -> float:
    """:func:`run_build`, which must succeed; the seconds it took."""
    start = time.monotonic()
    done = run_build(config, site, cache)
    assert done.returncode == 0, done.stderr[-4000:]
    return time.monotonic() - start


def small_site(folder: Path, index: str, *notebooks: nbformat.NotebookNode, assets: bool = True) -> Path:
    """A site in ``folder`` with the course's configuration (mkdocs.yml inherited, the same
    hooks and browser code unless ``assets`` is false), the page ``index`` and ``notebooks`` as
    its chapters; its config file."""
    docs = folder / "docs"
    docs.mkdir(parents=True)
    for shared in ("assets", "javascripts") if assets else ("javascripts",):
        (docs / shared).symlink_to(ROOT / "site" / shared)
    (docs / "index.md").write_text(index)
    (folder / "course").mkdir()
    for i, nb in enumerate(notebooks, start=1):
        nbformat.write(nb, folder / "course" / f"{i:02d}-chapter.ipynb")
    hooks = [str(ROOT / "site" / "hooks" / h) for h in ("chapters.py", "offline.py")]
    config = folder / "mkdocs.yml"
    # site_url as `mkdocs serve` sets it: pages then name themselves by a full address
    config.write_text(f"INHERIT: {ROOT / 'mkdocs.yml'}\ndocs_dir: docs\nwatch: []\n"
                      "site_url: http://127.0.0.1:8000/\n"
                      f"hooks: {json.dumps(hooks)}\nnav:\n  - Home: index.md\n  - Chapters: []\n  - Labs: []\n")
    return config


def notebook(*cells: nbformat.NotebookNode) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = list(cells)
    return nb


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The course site, built strictly from this checkout with a cold chapter cache."""
    tmp = tmp_path_factory.mktemp("site")
    seconds = build(ROOT / "mkdocs.yml", tmp / "site", tmp / "cache")
    print(f"mkdocs build --strict: {seconds:.1f} s")
    return tmp / "site"


class Server:
    """A static file server for ``folder`` on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, folder: Path) -> None:
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

        handler = functools.partial(Quiet, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def served(built: Path) -> Iterator[str]:
    server = Server(built)
    yield server.url
    server.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]) as b:
        yield b


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return screenshot_folder("SITE_SCREENSHOTS", tmp_path_factory, "site-screenshots")


class Reader:
    """A browser tab that may reach ``base`` only; it records console errors, page errors,
    failed loads and every request it refused."""

    def __init__(self, browser: Browser, base: str, width: int = 1280, height: int = 900,
                 dark: bool = False) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": width, "height": height},
                                           color_scheme="dark" if dark else "light")
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base.rstrip("/"))
        self.context.route("**/*", self._route)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.refused: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", lambda r: self.errors.append(f"HTTP {r.status}: {r.url}")
                     if r.status >= 400 else None)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if url.startswith((self.base, "data:", "blob:", "about:")):
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("internetdisconnected")

    def _console(self, m: ConsoleMessage) -> None:
        if m.type == "error":
            self.errors.append(f"console: {m.text} ({m.location.get('url', '')})")

    def _failed(self, r: Request) -> None:
        # ERR_ABORTED is a load the page itself cancelled (the next navigation, say); a missing
        # file is an HTTP error, recorded from its response
        if r.url.startswith(self.base) and r.failure != "net::ERR_ABORTED":
            self.errors.append(f"failed: {r.url} {r.failure}")

    def open(self, path: str) -> Page:
        self.page.goto(self.base + path, wait_until="load")
        return self.page

    def shot(self, path: Path, full_page: bool = False) -> None:
        self.page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        print(f"screenshot: {path}")

    def clean(self) -> None:
        """No console or page error, no failed load, nothing asked of the outside world."""
        assert self.errors == [], self.errors
        assert self.refused == [], self.refused

    def close(self) -> None:
        self.context.close()


def page_path(source: str) -> str:
    """The URL path of a page built from ``source`` (a path under site/), with directory URLs."""
    return "" if source == "index.md" else source.removesuffix(".md").removesuffix(".ipynb") + "/"


def solution_lines(notebook: Path) -> list[str]:
    """The lines of a chapter's exercise solutions worth searching for (not blank, not trivial)."""
    lines: list[str] = []
    for cell in nbformat.read(str(notebook), as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) >= 20:
                lines.append(line.strip())
    return lines


def test_the_site_holds_every_chapter_handout_and_reference_page(built: Path) -> None:
    assert CHAPTERS and HANDOUTS
    for chapter in CHAPTERS:
        html = (built / "chapters" / chapter.stem / "index.html").read_text(encoding="utf-8")
        assert "jp-Notebook" in html and "Traceback" not in html, chapter.name
        assert html.count("<iframe") >= 1, f"{chapter.name} shows no trace picture"
        # the site is public: exercises show the nbgrader stub, never the solution
        solutions = solution_lines(chapter)
        text = unescape(re.sub(r"<[^>]+>", "", html))
        leaked = [line for line in solutions if line in text]
        assert not leaked, f"{chapter.name} shows its solutions: {leaked[:3]}"
        assert ("YOUR CODE HERE" in html) == bool(solutions)
    for handout in HANDOUTS:
        assert (built / "labs" / handout.stem / "index.html").exists(), handout.name
    reference = (built / "reference" / "nodes" / "index.html").read_text(encoding="utf-8")
    assert 'id="labs.runtime.node.Node"' in reference and 'id="labs.runtime.node.Clerk"' in reference
    assert "set_timer" in reference and ":class:" not in reference and ":meth:" not in reference
    schedules = (built / "reference" / "schedules" / "index.html").read_text(encoding="utf-8")
    assert "leader-isolated-then-crash" in schedules and 'id="labs.runtime.schedule.Builder"' in schedules
    for needed in ("html-manager/embed-amd.js", "requirejs/require.js", "katex/katex.mjs"):
        assert (built / "assets" / "vendor" / needed).is_file(), needed


def nav_pages(built: Path) -> list[str]:
    """Every page the nav links to, from the home page's nav, as paths under the site."""
    home = (built / "index.html").read_text(encoding="utf-8")
    nav = home[home.index('<nav class="md-nav md-nav--primary"'):]
    links = re.findall(r'class="md-nav__link[^"]*"[^>]*href="([^"#]*)"|href="([^"#]*)"[^>]*class="md-nav__link', nav)
    pages = []
    for a, b in links:
        link = (a or b).removeprefix("./").removeprefix(".")
        if link not in pages:
            pages.append(link)
    return pages


def test_every_page_loads_with_no_errors_and_asks_nothing_of_the_network(
        built: Path, served: str, browser: Browser, shots: Path) -> None:
    pages = nav_pages(built)
    wanted = ["", *(page_path(f"chapters/{c.name}") for c in CHAPTERS),
              *(page_path(f"labs/{h.name}") for h in HANDOUTS)]
    assert set(wanted) <= set(pages), f"not in the nav: {set(wanted) - set(pages)}"
    reader = Reader(browser, served)
    for path in pages:
        page = reader.open(path)
        assert page.locator("article h1").count() >= 1, f"{path}: no title"
        assert page.title().endswith("Distributed Systems, by Breaking Them"), path
        if path.startswith("chapters/"):
            # the picture pages hold a lot: let them draw (they post their height when done)
            page.locator("iframe").first.wait_for(state="attached")
        reader.clean()
    reader.open("")
    reader.shot(shots / "home.png")
    reader.open(page_path(f"labs/{HANDOUTS[0].name}"))
    reader.shot(shots / f"handout-{HANDOUTS[0].stem}.png")
    reader.open("reference/nodes/")
    reader.shot(shots / "reference-nodes.png")
    reader.clean()
    reader.close()


def test_the_nav_and_the_search_lead_to_the_pages(served: str, browser: Browser, shots: Path) -> None:
    reader = Reader(browser, served)
    page = reader.open("")
    chapter = CHAPTERS[-1]
    title = nbformat.read(str(chapter), as_version=4).cells[0].source.splitlines()[0].lstrip("# ")
    page.locator("nav.md-nav--primary a.md-nav__link", has_text=title.split(", ")[0]).first.click()
    page.wait_for_url(f"**/chapters/{chapter.stem}/")
    assert page.locator("article h1").first.inner_text().startswith(title.split(", ")[0])
    # the footer leads on to the next page of the nav
    following = page.locator("a.md-footer__link--next")
    expected = urljoin(page.url, following.get_attribute("href") or "")
    assert expected != page.url
    following.click()
    page.wait_for_url(expected)
    assert page.locator("article h1").count() >= 1

    # search: the index is built from every page, chapters included
    page = reader.open("")
    page.locator("label.md-search__icon, .md-search__input").first.click()
    # Type once the search worker has loaded the index, and with real keys: Material searches on
    # key presses (an input event alone is ignored), and a query typed before it is ready is lost
    page.wait_for_function("document.querySelector('.md-search-result__meta')"
                           ".textContent.trim() === 'Type to start searching'", timeout=15_000)
    page.locator("input.md-search__input").press_sequentially("idempotent")
    results = page.locator(".md-search-result__item")
    results.first.wait_for(timeout=15_000)
    texts = results.all_inner_texts()
    assert any("Chapter 2" in t or "RPC" in t for t in texts), texts[:5]
    reader.shot(shots / "search.png")
    first = page.locator(".md-search-result__link").first
    expected = urljoin(page.url, first.get_attribute("href") or "")
    assert "/chapters/" in expected, expected
    first.click()
    page.wait_for_url(expected)
    assert "idempotent" in page.locator("article").inner_text().lower()
    reader.clean()
    reader.close()


def picture_frames(page: Page, want: int, limit: float = 30.0) -> list[Frame]:
    """The first ``want`` picture frames of the page, once drawn. Chromium may not draw a
    cross-origin frame that is off screen, so each is scrolled into view, as a reader would."""
    frames = page.locator("iframe[srcdoc]")
    deadline = time.monotonic() + limit
    drawn: list[Frame] = []
    while time.monotonic() < deadline:
        drawn = []
        for i in range(min(want, frames.count())):
            frames.nth(i).scroll_into_view_if_needed()
            frame = frames.nth(i).element_handle().content_frame()
            if frame and frame.evaluate("!!document.querySelector('.dsp[data-ready=\"1\"]')"):
                drawn.append(frame)
        if len(drawn) == want:
            return drawn
        page.wait_for_timeout(200)
    raise AssertionError(f"{len(drawn)} of {want} pictures drawn after {limit} s "
                         f"(load average {os.getloadavg()})")


def test_a_chapter_picture_shows_a_message_when_hovered(served: str, browser: Browser, shots: Path) -> None:
    reader = Reader(browser, served, height=1000)
    chapter = CHAPTERS[0]
    page = reader.open(page_path(f"chapters/{chapter.name}"))
    (frame,) = picture_frames(page, 1)
    canvas = frame.locator("canvas.dsp-main")
    canvas.scroll_into_view_if_needed()
    # the longest delivered message between two different lanes: zoom to it (redrawn at once,
    # not at the next animation frame), then hover its arrow
    target = frame.evaluate("""(() => {
        const a = DSPictures.instances[0], d = a.data;
        let best = -1;
        for (let i = 0; i < d.n; i++)
            if ((d.F[i] & 7) === 0 && d.A[i] !== d.B[i] && (best < 0 || d.E[i] - d.S[i] > d.E[best] - d.S[best])) best = i;
        const pad = (d.E[best] - d.S[best]) * 0.5;
        a.setWindow(d.S[best] - pad, d.E[best] + pad);
        a.redraw();
        return {id: d.ID[best], type: d.types[d.K[best]], src: d.lanes[d.A[best]], dst: d.lanes[d.B[best]]};
    })()""")
    x, y = frame.evaluate(f"DSPictures.instances[0].midpoint({target['id']})")
    tip = frame.locator(".dsp-tip")
    assert not tip.is_visible()
    # Playwright scrolls the point into view and checks that the canvas, not the site's fixed
    # header or anything else, is what the mouse is over there
    canvas.hover(position={"x": x, "y": y})
    tip.wait_for(state="visible", timeout=5_000)
    text = tip.inner_text()
    assert target["type"] in text and f"{target['src']} → {target['dst']}" in text, text
    assert f"(message {target['id']})" in text, text
    reader.shot(shots / f"chapter-{chapter.stem}-hover.png")
    canvas.click(position={"x": x, "y": y})
    assert frame.evaluate("document.querySelector('.dsp').dataset.selected") == str(target["id"])
    reader.clean()
    reader.close()


def test_every_chapter_draws_its_pictures(served: str, browser: Browser) -> None:
    reader = Reader(browser, served)
    for chapter in CHAPTERS:
        page = reader.open(page_path(f"chapters/{chapter.name}"))
        frames = picture_frames(page, page.locator("iframe[srcdoc]").count())
        assert frames, chapter.name
        assert all(int(f.evaluate("document.querySelector('.dsp').dataset.arrows")) > 0 for f in frames)
        reader.clean()
    reader.close()


def test_dark_mode_and_the_copy_buttons(served: str, browser: Browser, shots: Path) -> None:
    reader = Reader(browser, served)
    page = reader.open("runtime/")
    assert page.locator("body").get_attribute("data-md-color-scheme") == "default"
    page.locator("form[data-md-component='palette'] label:visible").first.click()
    page.wait_for_function("document.body.dataset.mdColorScheme === 'slate'")
    # the choice is remembered on the next page
    page = reader.open(page_path(f"chapters/{CHAPTERS[0].name}"))
    assert page.locator("body").get_attribute("data-md-color-scheme") == "slate"
    picture_frames(page, 1)
    reader.shot(shots / f"chapter-{CHAPTERS[0].stem}-dark.png")

    # a code block's copy button puts exactly its code on the clipboard
    page = reader.open("runtime/")
    block = page.locator("article pre:has(button.md-code__button[data-md-type='copy'])").first
    code = block.locator("code").inner_text()
    block.hover()
    block.locator("button[data-md-type='copy']").click()
    assert page.evaluate("navigator.clipboard.readText()").strip() == code.strip()
    # and a chapter's code cells have theirs (mkdocs-jupyter's)
    page = reader.open(page_path(f"chapters/{CHAPTERS[0].name}"))
    assert page.locator(".jp-CodeCell clipboard-copy").count() >= 1
    reader.clean()
    reader.close()


def test_widgets_and_math_render_from_the_site_itself(
        tmp_path: Path, browser: Browser, shots: Path) -> None:
    """No chapter shows a Jupyter widget (the pictures are pages) or math yet: a small site with
    the course's configuration and a chapter that does both shows that they work offline."""
    config = small_site(
        tmp_path, "# Home\n\nLittle's law: \\(L = \\lambda W\\).\n\n$$\n1 - (1 - p)^n\n$$\n",
        notebook(nbformat.v4.new_markdown_cell("# Chapter 9: widgets\n\nA share of $p = 0.01$ is "
                                               "slow:\n\n$$1 - (1 - p)^{100} \\approx 0.63$$"),
                 nbformat.v4.new_code_cell("import ipywidgets as w\n"
                                           "w.IntSlider(value=7, max=9, description='servers')")))
    build(config, tmp_path / "site", tmp_path / "cache")
    html = (tmp_path / "site" / "chapters" / "01-chapter" / "index.html").read_text(encoding="utf-8")
    assert "unpkg.com" not in html and "assets/vendor/requirejs/require.js" in html

    server = Server(tmp_path / "site")
    reader = Reader(browser, server.url)
    try:
        page = reader.open("chapters/01-chapter/")
        slider = page.locator(".widget-slider")
        slider.wait_for(timeout=30_000)
        assert "servers" in slider.inner_text() and "7" in page.locator(".widget-readout").inner_text()
        page.wait_for_function("document.body.dataset.math === '2'", timeout=10_000)  # $p = 0.01$ and $$…$$
        reader.shot(shots / "widgets-and-math.png")
        page = reader.open("")
        page.wait_for_function("document.body.dataset.math === '2'", timeout=10_000)
        reader.clean()
    finally:
        reader.close()
        server.close()


def test_the_build_refuses_missing_browser_code_outside_requests_and_failing_chapters(tmp_path: Path) -> None:
    bare = small_site(tmp_path / "bare", "# Home\n", assets=False)
    done = run_build(bare, tmp_path / "bare" / "site", tmp_path / "cache")
    assert done.returncode != 0 and "run `bash scripts/site_assets.sh`" in done.stderr, done.stderr[-2000:]

    outside = small_site(tmp_path / "outside", '# Home\n\n<script src="https://cdn.example.org/x.js"></script>\n')
    done = run_build(outside, tmp_path / "outside" / "site", tmp_path / "cache")
    assert done.returncode != 0 and "index.md would need the network" in done.stderr, done.stderr[-2000:]

    raises = small_site(tmp_path / "raises", "# Home\n", notebook(
        nbformat.v4.new_markdown_cell("# Chapter 1: errors"), nbformat.v4.new_code_cell("1 / 0")))
    done = run_build(raises, tmp_path / "raises" / "site", tmp_path / "cache")
    assert done.returncode != 0 and "01-chapter.ipynb failed to execute" in done.stderr, done.stderr[-2000:]
    assert "ZeroDivisionError" in done.stderr
    assert not list((tmp_path / "cache").glob("01-chapter-*.ipynb")), "a failed chapter was cached"
