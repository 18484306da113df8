"""The pictures in a real browser: Debian's Chromium, driven by Playwright, with no network.

Pages are opened from file:// in an offline browser context: a page that tried to fetch anything
would show it here. Screenshots go to $PICTURES_SCREENSHOTS, or a temporary folder; each test
prints where. ``bash scripts/setup.sh`` installs Chromium (as root, with apt-get).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from browser import chromium, screenshot_folder
from playwright.sync_api import Browser, ConsoleMessage, Page
from test_pictures import count, sim

from labs.pictures import picture_of, write_html


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return screenshot_folder("PICTURES_SCREENSHOTS", tmp_path_factory, "pictures-screenshots")


class Opened:
    """An offline page, with every console error, page error and outside request it made."""

    def __init__(self, browser: Browser, url: str, width: int = 1400, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height}, offline=True)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.outside: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:", "about:"))
                     else self.outside.append(r.url))
        self.page.goto(url)

    def _console(self, m: ConsoleMessage) -> None:
        if m.type == "error":
            self.errors.append(f"{m.location.get('url', '')[:40]}: {m.text}")

    def picture(self, timeout: float = 10_000) -> dict[str, str]:
        self.page.wait_for_selector(".dsp[data-ready='1']", timeout=timeout)
        return self.data()

    def data(self) -> dict[str, str]:
        return self.page.evaluate("({...document.querySelector('.dsp').dataset})")  # type: ignore[no-any-return]

    def api(self, js: str) -> Any:
        return self.page.evaluate(f"(() => {{ const a = DSPictures.instances[0]; {js} }})()")

    def shot(self, path: Path, full_page: bool = True) -> None:
        self.page.screenshot(path=str(path), full_page=full_page)
        print(f"screenshot: {path}")

    def close(self) -> None:
        self.context.close()


def write_notebook(path: Path, *cells: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)


def test_a_page_shows_every_arrow_and_drop_with_no_errors(browser: Browser, tmp_path: Path, shots: Path) -> None:
    r = sim("churn")
    page = write_html(picture_of(r), tmp_path / "churn.html")
    o = Opened(browser, page.as_uri())
    data = o.picture()
    o.shot(shots / "churn.png")
    assert int(data["arrows"]) == count(r.trace, "send", "duplicate")
    assert int(data["drops"]) == count(r.trace, "drop")
    assert int(data["visible"]) == int(data["arrows"])  # the whole run is in view
    types = sorted({e["msg"] for e in r.trace if e["type"] == "send"})
    buttons = o.page.locator(".dsp-bar button").all_inner_texts()
    assert all(any(b.startswith(t + " ") for b in buttons) for t in types)
    assert o.page.locator(".dsp-dash canvas").count() == 2
    assert "p99.9" in o.page.inner_text(".dsp-dash")
    assert o.errors == [] and o.outside == []
    o.close()


def test_a_run_of_twenty_thousand_events_stays_usable(browser: Browser, tmp_path: Path, shots: Path) -> None:
    r = sim("churn", seed=2, duration=16.0)
    assert len(r.trace) >= 20_000
    p = picture_of(r)
    page = write_html(p, tmp_path / "long.html")
    start = time.monotonic()
    o = Opened(browser, page.as_uri())
    data = o.picture()
    assert time.monotonic() - start < 8
    assert int(data["arrows"]) == p.arrows
    redraw_ms = o.api("const t = performance.now(); for (let i = 0; i < 5; i++) a.redraw(); return (performance.now() - t) / 5;")
    assert redraw_ms < 250, f"a full redraw of {p.arrows} arrows took {redraw_ms:.0f} ms"

    # zoom in with the button, then to a quarter of a second with the API
    o.page.get_by_role("button", name="+").click()
    assert o.api("return a.state.t1 - a.state.t0;") < p.duration
    o.api("a.setWindow(5.0, 5.25);")
    o.page.wait_for_timeout(100)
    visible = int(o.data()["visible"])
    assert 0 < visible < p.arrows

    # hover over an arrow: its message's contents show; click: they stay
    target = next(m for m in sorted(p.messages, key=lambda m: m.send)
                  if m.send > 5.05 and m.outcome == "delivered" and m.src != m.dst and m.end - m.send > 0.005)
    x, y = o.api(f"return a.midpoint({target.id});")
    box = o.page.locator("canvas.dsp-main").bounding_box()
    assert box
    o.page.mouse.move(box["x"] + x, box["y"] + y)
    tip = o.page.locator(".dsp-tip")
    tip.wait_for(state="visible")
    text = tip.inner_text()
    assert target.type in text and f"{target.src} → {target.dst}" in text
    assert '"@type"' in text
    o.page.mouse.click(box["x"] + x, box["y"] + y)
    assert o.data()["selected"] == str(target.id)
    assert target.type in o.page.inner_text(".dsp-pin")
    o.shot(shots / "long-zoomed.png")

    # filters: a message type, then a lane
    o.api("a.setWindow(0, 1e9);")
    o.page.locator(".dsp-bar button", has_text="Heartbeat ").first.click()
    o.page.wait_for_timeout(100)
    assert int(o.data()["arrows"]) == sum(1 for m in p.messages if m.type != "Heartbeat")
    o.page.locator(".dsp-bar button", has_text="Heartbeat ").first.click()
    o.page.get_by_role("button", name="c1", exact=True).click()
    o.page.wait_for_timeout(100)
    assert int(o.data()["arrows"]) == sum(1 for m in p.messages if "c1" not in (m.src, m.dst))
    o.page.get_by_role("button", name="only anomalies").click()
    o.page.wait_for_timeout(100)
    anomalies = [m for m in p.messages if "c1" not in (m.src, m.dst)
                 and (m.outcome != "delivered" or m.duplicate or m.reordered)]
    assert int(o.data()["arrows"]) == len(anomalies)

    # brush a window on the overview strip; Ctrl+wheel zooms
    strip = o.page.locator("canvas.dsp-over").bounding_box()
    assert strip
    o.page.mouse.move(strip["x"] + 300, strip["y"] + 20)
    o.page.mouse.down()
    o.page.mouse.move(strip["x"] + 500, strip["y"] + 20, steps=5)
    o.page.mouse.up()
    t0, t1 = o.api("return [a.state.t0, a.state.t1];")
    assert 0 < t0 < t1 < p.duration
    box = o.page.locator("canvas.dsp-main").bounding_box()
    assert box
    o.page.mouse.move(box["x"] + 600, box["y"] + 100)
    o.page.keyboard.down("Control")
    o.page.mouse.wheel(0, -300)
    o.page.keyboard.up("Control")
    o.page.wait_for_timeout(100)
    assert o.api("return a.state.t1 - a.state.t0;") < t1 - t0
    assert o.errors == [] and o.outside == []
    o.close()


def test_the_raft_time_line_draws_and_says_what_it_shows_on_hover(browser: Browser, tmp_path: Path, shots: Path) -> None:
    """The Raft views under the diagram: hovering a server's bar names its term and role, and
    its commit-index line the index it had applied, as the trace says; a run of over 20,000
    events redraws as fast as the messages alone allow."""
    from test_pictures import long_raft_sim, raft_sim

    from labs.raft.timeline import read_timeline

    r = raft_sim("leader-isolated")
    timeline = read_timeline(r.trace)
    o = Opened(browser, write_html(picture_of(r), tmp_path / "raft.html").as_uri())
    o.picture()
    assert o.api("return a.data.views.map(v => v.name);") == ["log-lines", "raft-terms", "raft-commit"]

    def hover(o: Opened, view: str, node: str, t: float) -> str:
        """What the tip says over the track ``node`` of ``view``, at time ``t``."""
        box = o.page.locator("canvas.dsp-main").bounding_box()
        assert box
        top, bottom = o.api(f"return a.trackBox({view!r}, {node!r});")
        x = o.api(f"return a.xOf({t});")
        o.page.mouse.move(box["x"] + x, box["y"] + (top + bottom) / 2)
        tip = o.page.locator(".dsp-tip")
        tip.wait_for(state="visible")
        return tip.inner_text()

    heal = next(e["t"] for e in r.trace if e["type"] == "heal")
    t = heal - 0.3
    stale = timeline.leader_at(t)
    assert len(stale) == 2  # the isolated leader and the new one
    for node in stale:
        term, _ = timeline.role_at(node, t) or (0, "")
        assert f"{node} term {term} leader" in hover(o, "raft-terms", node, t)
    for node in timeline.servers:
        assert f"{node} applied up to index {timeline.applied_at(node, t)} " in hover(o, "raft-commit", node, t)
    o.shot(shots / "raft-time-line.png")
    assert o.errors == [] and o.outside == []
    o.close()

    long = long_raft_sim()
    p = picture_of(long)
    o = Opened(browser, write_html(p, tmp_path / "raft-long.html").as_uri())
    o.picture()
    redraw_ms = o.api("const t = performance.now(); for (let i = 0; i < 5; i++) a.redraw(); return (performance.now() - t) / 5;")
    assert redraw_ms < 250, f"a full redraw of {len(long.trace)} events with the Raft views took {redraw_ms:.0f} ms"
    o.api("a.setWindow(8.0, 8.5);")
    o.page.wait_for_timeout(100)
    timeline = read_timeline(long.trace)
    node = next(n for n in timeline.servers if (timeline.applied_at(n, 8.25) or 0) > 0)
    assert f"{node} applied up to index {timeline.applied_at(node, 8.25)} " in hover(o, "raft-commit", node, 8.25)
    o.shot(shots / "raft-long-zoomed.png")
    assert o.errors == [] and o.outside == []
    o.close()


def test_pages_that_share_one_script(browser: Browser, tmp_path: Path) -> None:
    for name in ("lossy", "leader-isolated-then-crash"):
        write_html(picture_of(sim(name)), tmp_path / f"{name}.html", shared_js=True)
    for name in ("lossy", "leader-isolated-then-crash"):
        o = Opened(browser, (tmp_path / f"{name}.html").as_uri())
        assert int(o.picture()["arrows"]) == count(sim(name).trace, "send", "duplicate")
        assert o.errors == []
        o.close()


def test_a_notebook_built_into_the_site_shows_its_picture_offline(
        browser: Browser, tmp_path: Path, shots: Path) -> None:
    """mkdocs-jupyter executes the notebook; the page shows the picture with no kernel or network."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Pictures\n")
    write_notebook(docs / "run.ipynb",
                   "import labs\nfrom labs.pictures import TraceWidget\n"
                   "TraceWidget(labs.run('demo', 'sim', 'lossy', seed=1))",
                   "from labs.pictures import ControlPanel\nControlPanel('demo', loss=0.1)")
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: pictures\ntheme: {name: material, font: false}\n"
        "plugins:\n  - mkdocs-jupyter:\n      execute: true\n      cache: false\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DS_PICTURES_DISPLAY", "JPY_SESSION_NAME")}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--site-dir", str(tmp_path / "site")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    html = (tmp_path / "site" / "run" / "index.html").read_text()
    assert html.count("<iframe") == 2 and "Traceback" not in html
    assert '"model_name": "AnyModel"' in html and "DSPictures.render(el" not in html.split("widget-state+json")[-1]
    o = Opened(browser, (tmp_path / "site" / "run" / "index.html").as_uri(), width=1200, height=1700)
    frames: list[dict[str, str]] = []
    deadline = time.monotonic() + 30  # generous: a loaded 2-core CI machine once needed more than 10 s
    # Chromium may throttle animation frames in a cross-origin iframe off screen, and a picture
    # draws in one: scroll each frame into view, as a reader would.
    while len(frames) < 2 and time.monotonic() < deadline:
        for i in range(o.page.locator("iframe").count()):
            o.page.locator("iframe").nth(i).scroll_into_view_if_needed()
            o.page.wait_for_timeout(100)
        frames = [d for f in o.page.frames if f.url.startswith("about:srcdoc")
                  for d in [f.evaluate("(() => { const e = document.querySelector('.dsp[data-ready]');"
                                       " return e ? {...e.dataset} : null; })()")] if d]
    assert len(frames) == 2, (f"{len(frames)} of 2 pictures drawn after 30 s (load average "
                              f"{os.getloadavg()}); errors: {o.errors}")
    assert [int(f["arrows"]) for f in frames] == [count(sim("lossy").trace, "send", "duplicate"),
                                                  int(frames[1]["arrows"])] and int(frames[1]["drops"]) > 0
    heights = o.page.evaluate("Array.from(document.querySelectorAll('iframe')).map(f => f.clientHeight)")
    assert all(h > 900 for h in heights), heights  # the frames took the height of their pages
    # (Chromium paints iframes below the viewport blank in full-page shots: shoot the viewport)
    o.page.locator("iframe").first.scroll_into_view_if_needed()
    o.shot(shots / "site-notebook.png", full_page=False)
    # The page itself asks a CDN for the widget manager (mkdocs-jupyter's template, for any
    # widget state); the pictures ask for nothing and log no error.
    assert not [e for e in o.errors if e.startswith("about:srcdoc")]
    assert all("jupyter" in url for url in o.outside), o.outside
    o.close()


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[str]:
    """A JupyterLab server on loopback (a free port, a token), serving ``tmp_path``."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "DS_PICTURES_DISPLAY"}
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"))
    log = open(tmp_path / "jupyterlab.log", "w")  # noqa: SIM115  (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.token=pictures", f"--ServerApp.root_dir={tmp_path}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token=pictures", timeout=1)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "jupyterlab.log").read_text()[-3000:]
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_the_widgets_live_in_jupyterlab(browser: Browser, jupyterlab: str, tmp_path: Path, shots: Path) -> None:
    """The trace widget draws in JupyterLab, a click reaches the kernel, and the control panel's
    crash button re-runs the simulation and redraws."""
    write_notebook(tmp_path / "live.ipynb",
                   "import labs\nfrom labs.pictures import ControlPanel, TraceWidget\n"
                   "w = TraceWidget(labs.run('demo', 'sim', 'lossy', seed=1))\nw",
                   "panel = ControlPanel('demo', seed=4)\npanel",
                   "print('selected', w.selected.get('id'), 'runs', panel.runs)",
                   "TraceWidget(labs.run('raft', 'sim', 'leader-isolated', seed=1))")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{jupyterlab}/lab/tree/live.ipynb?token=pictures")
    page.wait_for_function("window.jupyterapp?.shell.currentWidget?.sessionContext", timeout=60_000)
    page.evaluate("""async () => {
        const panel = window.jupyterapp.shell.currentWidget;
        await panel.context.ready;
        await panel.sessionContext.ready;
        window.jupyterapp.commands.execute('notebook:run-all-cells');  // not awaited: it ends with the run
    }""")
    page.wait_for_function("document.querySelectorAll('.dsp[data-ready=\"1\"]').length == 3", timeout=60_000)
    drawn = page.evaluate("Array.from(document.querySelectorAll('.dsp')).map(e => ({...e.dataset}))")
    # a Raft run's widget carries the Raft time line, as its page does
    raft = "DSPictures.instances.find(a => a.root === document.querySelectorAll('.dsp')[2])"
    assert page.evaluate(f"{raft}.data.views.map(v => v.name)") == ["log-lines", "raft-terms", "raft-commit"]
    assert page.evaluate(f"{raft}.trackBox('raft-commit', 'n5')") is not None
    # (textContent, not innerText, below: JupyterLab may leave the output of a cell scrolled out
    # of view unrendered, and innerText of an unrendered element is empty)
    lossy = sim("lossy")
    assert int(drawn[0]["arrows"]) == count(lossy.trace, "send", "duplicate")
    assert int(drawn[0]["drops"]) == count(lossy.trace, "drop")
    assert int(drawn[1]["drops"]) == 0  # the panel starts on a clean network
    page.wait_for_function("document.querySelectorAll('.jp-OutputArea-output')[2]?.textContent.includes('selected')")

    # click an arrow of the first widget: the kernel learns which message it was
    target = next(m for m in sorted(picture_of(lossy).messages, key=lambda m: m.send)
                  if m.send > 2.05 and m.outcome == "delivered" and m.src != m.dst and m.end - m.send > 0.01)
    first = "DSPictures.instances.find(a => a.root === document.querySelectorAll('.dsp')[0])"
    page.evaluate(f"{first}.setWindow(2.0, 2.2)")
    page.locator("canvas.dsp-main").first.scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    x, y = page.evaluate(f"{first}.midpoint({target.id})")
    box = page.locator("canvas.dsp-main").first.bounding_box()
    assert box
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_function(f"document.querySelectorAll('.dsp')[0].dataset.selected === '{target.id}'")

    # press the panel's crash button: the simulation runs again and the picture is redrawn
    page.locator(".widget-toggle-button", has_text="crash").click()
    page.wait_for_function(f"document.querySelectorAll('.dsp')[1]?.dataset.arrows !== '{drawn[1]['arrows']}'"
                           " && document.querySelectorAll('.dsp')[1]?.dataset.ready === '1'", timeout=30_000)
    assert page.locator(".dsp").nth(1).inner_text().count("crashes (clerks: replaced)") == 1
    page.evaluate("() => { const nb = window.jupyterapp.shell.currentWidget.content; nb.activeCellIndex = 2;"
                  " window.jupyterapp.commands.execute('notebook:run-cell'); }")
    page.wait_for_function(f"document.querySelectorAll('.jp-OutputArea-output')[2]?.textContent.includes('selected {target.id} runs 2')",
                           timeout=30_000)
    page.evaluate("document.querySelector('.widget-toggle-button').scrollIntoView({block: 'start'})")
    page.screenshot(path=str(shots / "jupyterlab.png"))
    print(f"screenshot: {shots / 'jupyterlab.png'}")
    assert errors == []
    page.close()
