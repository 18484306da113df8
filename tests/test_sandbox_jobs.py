"""Gradings side by side and gradings that end badly: one grading's files are out of another's
reach, and nothing of a grading outlives it, however its grader ends (issue 14).

These need the sandbox: root, and ``bash scripts/setup.sh``, which CI's machine has.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from submissions import standalone

import autograder.sandbox as sandbox
from autograder import sandbox_fs
from autograder.sandbox import open_sandbox, unavailable

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _sandbox_here() -> None:
    if unavailable() is not None:
        pytest.fail(f"no grading sandbox here: {unavailable()}")


def _ours() -> set[Path]:
    return set(sandbox_fs.WORK.glob(sandbox_fs.PREFIX + "*"))


def test_a_grading_cannot_open_the_files_of_one_graded_at_the_same_time(tmp_path: Path) -> None:
    alice = standalone("# alice's work\n", tmp_path / "alice" / "node.py")
    mallory = standalone("", tmp_path / "mallory" / "node.py")
    with open_sandbox(alice) as first, open_sandbox(mallory) as second:
        assert first.user != second.user
        theirs = [first.impl, first.submission, first.home, first.base]
        assert all(p.exists() for p in theirs)
        assert second.readable(theirs) == []
        assert first.readable([first.impl]) == [first.impl]  # its own user still reads its copy


WAITS_IN_A_SANDBOX = """
import sys
from pathlib import Path
from autograder.sandbox import open_sandbox

with open_sandbox(Path(sys.argv[1])) as sb:
    print(sb.base, flush=True)
    sys.stdin.read()  # until killed
"""


def _start_waiting(impl: Path) -> tuple[subprocess.Popen[str], Path]:
    grader = subprocess.Popen([sys.executable, "-c", WAITS_IN_A_SANDBOX, str(impl)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert grader.stdout is not None
    base = Path(grader.stdout.readline().strip())
    assert (base / "submission" / "node.py").exists()
    return grader, base


def test_the_folder_of_a_killed_grader_is_gone_after_the_next_start(tmp_path: Path) -> None:
    impl = standalone("# the work of a student\n", tmp_path / "node.py")
    grader, left = _start_waiting(impl)
    grader.kill()  # SIGKILL: no clean-up of its own
    grader.wait()
    assert left.exists()
    with open_sandbox(standalone("", tmp_path / "next" / "node.py")) as sb:
        assert not left.exists(), "the next grading left a dead grader's folder behind"
        assert sb.base.exists()


def test_a_grading_under_way_keeps_its_folder_when_another_starts(tmp_path: Path) -> None:
    grader, busy = _start_waiting(standalone("", tmp_path / "node.py"))
    try:
        with open_sandbox(standalone("", tmp_path / "next" / "node.py")):
            assert busy.exists() and (busy / "submission" / "node.py").exists()
    finally:
        grader.kill()
        grader.wait()
    sandbox.remove_leftovers("")


STALLS = """
import time


class KVServer(reference.KVServer):
    def on_start(self) -> None:
        time.sleep(600)


KVClerk = reference.KVClerk
"""


def test_a_grader_stopped_by_sigterm_cleans_up_on_its_way_out(tmp_path: Path) -> None:
    impl = standalone(textwrap.dedent(STALLS), tmp_path / "node.py")
    before = _ours()
    grader = subprocess.Popen([sys.executable, "-m", "autograder", "grade", str(impl), "--lab", "rpc",
                               "--out", str(tmp_path / "out"), "--no-ray", "--sim-seeds", "1", "--sandbox", "on"],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (_ours() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    (base,) = _ours() - before
    while not (base / "submission" / "node.py").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    uid = os.lstat(base / "disk" / "home").st_uid  # the sandbox user this grading holds
    time.sleep(2.0)  # well into its first run, which stalls
    assert sandbox._processes_of(uid)
    grader.send_signal(signal.SIGTERM)
    _, err = grader.communicate(timeout=60)
    assert grader.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert not base.exists()
    assert not sandbox._processes_of(uid), f"{pwd.getpwuid(uid).pw_name} still runs something"
    assert os.path.exists(tmp_path)  # nothing of the test's own was touched


def test_a_grading_that_spends_its_budget_stops_and_says_why_for_every_run_left(tmp_path: Path) -> None:
    from autograder.grade import grade

    impl = standalone(textwrap.dedent(STALLS), tmp_path / "node.py")
    started = time.monotonic()
    grades = grade(impl, "rpc", tmp_path / "out", sim_seeds=1, ray=False, sandbox=True, budget=4.0)
    took = time.monotonic() - started
    assert took < 60, f"a 4 s budget took {took:.0f} s"
    outcomes = [o for g in grades for o in g.outcomes]
    assert len(outcomes) == len(grades) > 3
    first, *rest = outcomes
    assert not first.passed and "what was left of this grading's budget" in first.findings[0].message
    assert all(not o.passed and o.findings[0].message.startswith("not run: grading this submission took its "
                                                                  "whole budget of 4 s") for o in rest)
    assert (tmp_path / "out" / "report.json").exists()


FLOODS = """
import sys


class KVServer(reference.KVServer):
    def on_start(self) -> None:
        chunk = "x" * (64 << 20)
        for _ in range(32):  # 2 GiB on each stream
            sys.stdout.write(chunk)
            sys.stderr.write(chunk)
        super().on_start()


KVClerk = reference.KVClerk
"""

GRADES = """
import json, sys
from pathlib import Path
from autograder.grade import grade

grades = grade(Path(sys.argv[1]), "rpc", Path(sys.argv[2]), sim_seeds=1, pattern="basic", sandbox=True)
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"peak_kib": peak, "runs": [o.runtime for g in grades for o in g.outcomes]}))
"""


def test_a_submission_printing_2_gib_leaves_the_grader_small(tmp_path: Path) -> None:
    """A node's output goes nowhere, in simulator and Ray runs alike: never into the grader."""
    import json

    impl = standalone(textwrap.dedent(FLOODS), tmp_path / "node.py")
    done = subprocess.run([sys.executable, "-c", GRADES, str(impl), str(tmp_path / "out")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stdout) + len(done.stderr) < 100_000
    seen = json.loads(done.stdout)
    assert seen["runs"] == ["sim", "ray"]
    assert seen["peak_kib"] < 200 * 1024, f"the grader grew to {seen['peak_kib'] // 1024} MiB"


WRITES_EVERYWHERE = """
import json, os, sys
wrote = []
for folder in json.load(sys.stdin):
    try:
        with open(os.path.join(folder, "left-by-" + sys.argv[1]), "w") as f:
            f.write("x")
        wrote.append(folder)
    except OSError:
        pass
print(json.dumps(wrote))
"""

SEES = """
import json, os, sys
print(json.dumps([os.path.join(d, n) for d in json.load(sys.stdin) if os.path.isdir(d) for n in os.listdir(d)]))
"""


def _world_writable() -> list[str]:
    """Every folder of this machine anyone may write to (the kernel's own file systems left out)."""
    found = subprocess.run(["find", "/", "-xdev", "(", "-path", "/proc", "-o", "-path", str(sandbox_fs.WORK), ")",
                            "-prune", "-o", "-type", "d", "-perm", "-0002", "-print"],
                           capture_output=True, text=True).stdout.split()
    return sorted({*found, "/tmp", "/var/tmp", "/dev/shm", "/run/lock"})


def test_a_file_written_anywhere_writable_is_reported_gone_and_never_seen_by_another_grading(tmp_path: Path) -> None:
    import json

    open_folder = Path(tempfile.mkdtemp(prefix="ds-course-open-", dir="/opt"))
    open_folder.chmod(0o777)  # as root leaves /tmp/ray when it runs Ray: anyone may write there
    places = [*_world_writable(), str(open_folder)]
    try:
        with open_sandbox(standalone("", tmp_path / "a" / "node.py")) as first, \
                open_sandbox(standalone("", tmp_path / "b" / "node.py")) as second:
            done = first.run([str(first.python), "-c", WRITES_EVERYWHERE, "first"], json.dumps(places), 60.0)
            assert done is not None and done.returncode == 0, done
            wrote = json.loads(done.stdout)
            assert set(wrote) == set(sandbox_fs.PLACES), "it could write outside its grading's own places"
            seen = second.run([str(second.python), "-c", SEES], json.dumps(places), 60.0)
            assert seen is not None and not [p for p in json.loads(seen.stdout) if "left-by-" in p]
            assert not [p for p in places if (Path(p) / "left-by-first").exists()], "it reached the machine's"
            incidents = first.take_incidents()
            assert sorted(incidents) == sorted(f"the submission wrote {p}/left-by-first, outside its work folder "
                                               "(it was removed)" for p in sandbox_fs.PLACES)
    finally:
        shutil.rmtree(open_folder)


def test_a_3_gib_write_fills_the_gradings_disk_and_fails_with_the_reason(tmp_path: Path) -> None:
    # three files of 960 MiB, each under the limit of one file (RLIMIT_FSIZE)
    writes = ("import os\nchunk = b'x' * (64 << 20)\nfor i in range(3):\n"
              "    with open(os.path.expanduser(f'~/big-{i}'), 'wb') as f:\n"
              "        for _ in range(15):\n            f.write(chunk)\n")
    with open_sandbox(standalone("", tmp_path / "node.py")) as sb:
        done = sb.run([str(sb.python), "-c", writes], "", 120.0)
        assert done is not None and done.returncode != 0
        assert "No space left on device" in done.stderr or done.returncode < 0, done.stderr[-500:]
        (incident,) = sb.take_incidents()
        assert incident.startswith(f"the submission filled its {sandbox_fs.MAX_DISK >> 30} GiB of disk (the biggest "
                                   f"file: {sb.home}/big-"), incident
        assert sb.disk.used() < 64 << 20, "the files that filled it are still there"
        again = sb.run([str(sb.python), "-c", "open('small', 'w').write('x')"], "", 60.0)
        assert again is not None and again.returncode == 0, "the grading cannot go on after its disk filled"
