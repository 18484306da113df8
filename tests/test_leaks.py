"""The student release gives no solution away: no line of a solution region anywhere in it, and
no module outside a lab's package that handles that lab's messages (issue 14)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.leaks import protocol_handlers, scan, solution_lines
from autograder.release import _tracked, release

ROOT = Path(__file__).resolve().parents[1]
RPC = Path("labs/rpc/node.py")
LABS = sorted(p.name for p in (ROOT / "labs").iterdir() if (p / "__init__.py").exists() and p.name != "runtime")

KNOWN: dict[str, str] = {}
"""Leaks found by the scan and not fixed yet, each with why; the test fails once one is fixed, so
that it leaves this list."""


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release") / "course"
    release(ROOT, out)
    return out


def test_the_release_holds_no_solution_line_and_no_demo_speaks_a_labs_protocol(released: Path) -> None:
    leaks = scan(ROOT, released, _tracked(ROOT), LABS)
    unknown = [str(leak) for leak in leaks if str(leak.path) not in KNOWN]
    assert not unknown, "the release gives solutions away:\n" + "\n".join(unknown)
    still = {str(leak.path) for leak in leaks}
    assert still == set(KNOWN), f"fixed, so no longer known leaks: {sorted(set(KNOWN) - still)}"


def test_the_scan_finds_a_solution_line_copied_into_a_page_a_notebook_or_a_demo(released: Path,
                                                                                 tmp_path: Path) -> None:
    copy = tmp_path / "course"
    shutil.copytree(released, copy)
    lines = [line for line, source in solution_lines(ROOT, _tracked(ROOT)).items() if source == RPC]
    assert len(lines) > 20
    line = max(lines, key=len)
    (copy / "site" / "leak.md").write_text(f"Here is how:\n\n    {line}\n", encoding="utf-8")
    leaks = [leak for leak in scan(ROOT, copy, _tracked(ROOT), LABS) if str(leak.path) not in KNOWN]
    assert [(str(leak.path), leak.line) for leak in leaks] == [("site/leak.md", 3)]
    assert "a line of the solution in labs/rpc/node.py" in str(leaks[0])


def test_the_scan_finds_a_module_that_handles_a_labs_messages(tmp_path: Path) -> None:
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "helper.py").write_text(
        "from labs.runtime.node import Node, on\n"
        "from labs.rpc.node import GetRequest as Ask\n\n\n"
        "class Store(Node):\n"
        "    @on(Ask)\n"
        "    def handle_get(self, msg, sender):\n"
        "        pass\n", encoding="utf-8")
    (tmp_path / "labs" / "rpc").mkdir(parents=True)
    (tmp_path / "labs" / "rpc" / "node.py").write_text(  # the lab's own package may
        "from labs.rpc.messages import GetRequest\nfrom labs.runtime.node import on\n\n\n"
        "@on(GetRequest)\ndef handle(self, msg, sender):\n    pass\n", encoding="utf-8")
    (leak,) = protocol_handlers(tmp_path, ["rpc"])
    assert (str(leak.path), leak.line) == ("course/helper.py", 7)
    assert "handle_get handles Ask, a message of the rpc lab" in str(leak)
