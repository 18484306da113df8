"""A grading child that floods its output costs the grader its last megabyte of each stream,
never the whole of it (issue 14)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from autograder.child import KEEP, run_child

FLOODS = """
import sys
chunk = b"x" * (64 << 20)
for _ in range(32):  # 2 GiB on each stream
    sys.stdout.buffer.write(chunk)
    sys.stderr.buffer.write(chunk)
sys.stdout.buffer.write(b"\\nthe end")
"""

GRADER = """
import json, sys
from pathlib import Path
from autograder.child import run_child

done = run_child([sys.executable, "-c", sys.argv[1]], "", 120, Path.cwd())
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"peak_kib": peak, "rc": done.returncode, "out": len(done.stdout), "err": len(done.stderr),
                  "tail": done.stdout[-7:], "head": done.stdout.splitlines()[0]}))
"""


def test_a_child_printing_2_gib_costs_the_grader_a_bounded_tail(tmp_path: Path) -> None:
    import json

    done = subprocess.run([sys.executable, "-c", GRADER, FLOODS], capture_output=True, text=True, cwd=tmp_path,
                          timeout=300, check=True)
    seen = json.loads(done.stdout)
    assert seen["peak_kib"] < 200 * 1024, f"the grader grew to {seen['peak_kib'] // 1024} MiB"
    assert seen["rc"] == 0 and seen["tail"] == "the end"
    assert seen["head"] == f"[{(2 << 30) + 8 - KEEP} bytes left out]"
    assert KEEP <= seen["out"] <= KEEP + 100 and KEEP <= seen["err"] <= KEEP + 100


def test_a_child_that_reads_no_input_and_hangs_is_killed_with_all_it_started(tmp_path: Path) -> None:
    started = time.monotonic()
    done = run_child([sys.executable, "-c", "import subprocess, time; subprocess.Popen(['sleep', '600']); "
                      "time.sleep(600)"], "x" * (1 << 20), 2.0, tmp_path)
    assert done is None and time.monotonic() - started < 20
    left = subprocess.run(["pgrep", "-f", "^sleep 600$"], capture_output=True, text=True)
    assert left.stdout == "", "the child's own child outlived it"
