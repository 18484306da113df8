"""A change of structure changes no behaviour: every test of every lab's suite, run on the simulator
with the reference and its first seed, gives a trace byte-identical to the one recorded before
(``tests/data/golden/<lab>/<test>-<seed>.jsonl.gz``).

A change that is *meant* to change traces (a new event, a fix in the simulator) records them again:
``GOLDEN_RECORD=1 python -m pytest tests/test_golden_traces.py``, and says so in its commit.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

import labs
from autograder.suite import load_suite
from labs.runtime.trace import dumps_event

GOLDEN = Path(__file__).parent / "data" / "golden"
LABS = ("demo", "rpc", "mapreduce", "raft")


def cases() -> list[tuple[str, str, int]]:
    out = []
    for lab in LABS:
        if lab == "demo":
            out += [("demo", f"default-{schedule}", 1) for schedule in ("none", "lossy", "random-halves", "crash-restart", "clock-skew", "disk-loss", "pause", "churn")]
            continue
        # A search test has no schedule to run: tests/test_search.py checks its path is the same twice.
        out += [(lab, test.name, test.seeds[0]) for test in load_suite(lab).tests if test.search is None]
    return out


def trace_text(lab: str, test: str, seed: int) -> str:
    if lab == "demo":
        run = labs.run("demo", "sim", test.removeprefix("default-"), seed=seed)
    else:
        case = next(t for t in load_suite(lab).tests if t.name == test)
        run = labs.run(case.lab, "sim", case.schedule, seed=seed)
    return "".join(dumps_event(e) + "\n" for e in run.trace)


@pytest.mark.parametrize(("lab", "test", "seed"), cases(), ids=lambda x: str(x))
def test_the_trace_is_what_it_was(lab: str, test: str, seed: int) -> None:
    path = GOLDEN / lab / f"{test}-{seed}.jsonl.gz"
    text = trace_text(lab, test, seed)
    if os.environ.get("GOLDEN_RECORD") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.GzipFile(path, "wb", mtime=0) as f:  # mtime 0: the same trace, the same bytes
            f.write(text.encode("utf-8"))
        return
    assert path.exists(), f"no recorded trace {path}: record with GOLDEN_RECORD=1 (see the module docstring)"
    want = gzip.decompress(path.read_bytes()).decode("utf-8")
    if text != want:
        got_lines, want_lines = text.splitlines(), want.splitlines()
        at = next((i for i, (a, b) in enumerate(zip(got_lines, want_lines, strict=False)) if a != b),
                  min(len(got_lines), len(want_lines)))
        pytest.fail(f"{lab} {test} seed {seed}: the trace differs from the recorded one at event {at + 1} "
                    f"({len(got_lines)} events now, {len(want_lines)} before)\n"
                    f"  before: {want_lines[at] if at < len(want_lines) else '(the end)'}\n"
                    f"  now:    {got_lines[at] if at < len(got_lines) else '(the end)'}")
