"""The sandbox against submissions that attack it: each scores zero on what it attacks, with the
reason, and the grader goes on. Every hostile submission is the reference plus the attack
(:mod:`submissions`), so that the attack is the only reason it can lose points.

These need the sandbox: root, and ``bash scripts/setup.sh`` (it creates the users and the
sandbox's Python), which CI's machine has.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from submissions import standalone

import autograder.sandbox as sandbox
from autograder.grade import grade
from autograder.sandbox import USERS, open_sandbox, unavailable

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _sandbox_here() -> None:
    if unavailable() is not None:
        pytest.fail(f"no grading sandbox here: {unavailable()}")


def _findings(grades: list) -> str:  # type: ignore[type-arg]
    return "\n".join(str(f) for g in grades for o in g.outcomes for f in o.findings)


def _no_process_left() -> None:
    import pwd

    for user in USERS:
        uid = pwd.getpwnam(user).pw_uid
        assert not sandbox._processes_of(uid), f"{user} still has processes after grading"


FORK_BOMB = '''
import os
from labs.rpc.node import AppendRequest
from labs.runtime.node import on


class KVServer(reference.KVServer):
    @on(AppendRequest)
    def handle_append(self, msg: AppendRequest, sender: str) -> None:
        while True:
            try:
                os.fork()
            except OSError:
                pass


KVClerk = reference.KVClerk
'''


@pytest.mark.ray
def test_a_fork_bomb_loses_its_runs_and_the_grader_goes_on(tmp_path: Path) -> None:
    impl = standalone(FORK_BOMB, tmp_path / "node.py")
    (g,) = grade(impl, "rpc", tmp_path / "out", sim_seeds=1, ray=True, pattern="appends-under-loss")
    assert g.score == 0 and {o.runtime for o in g.outcomes} == {"sim", "ray"}
    for o in g.outcomes:
        assert any("processes at once (a fork bomb?)" in f.message for f in o.findings), (o.runtime, o.findings)
    _no_process_left()
    (ok,) = grade(ROOT / "labs" / "rpc", "rpc", tmp_path / "ref", sim_seeds=1, ray=True, pattern="appends-under-loss")
    assert ok.passed, _findings([ok])


EATS_MEMORY = '''
import time

from labs.rpc.node import AppendRequest
from labs.runtime.node import on


class KVServer(reference.KVServer):
    @on(AppendRequest)
    def handle_append(self, msg: AppendRequest, sender: str) -> None:
        # 1.5 GiB more, held: past the test's limit with the sandbox's Ray (about 1 GiB), yet
        # well below what any machine that runs the tests has, so that the watchdog, not the
        # operating system's out-of-memory killer, is what stops it.
        hog = [b"x" * (1 << 26) for _ in range(24)]  # written, so resident (a bare bytearray is lazily zero)
        while hog:
            time.sleep(1)


KVClerk = reference.KVClerk
'''


@pytest.mark.ray
def test_a_node_that_eats_memory_on_ray_is_stopped_with_the_reason(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "MAX_MEMORY", 2 << 30)
    impl = standalone(EATS_MEMORY, tmp_path / "node.py")
    (g,) = grade(impl, "rpc", tmp_path / "out", sim_seeds=0, ray=True, pattern="appends-under-loss")
    assert g.score == 0
    assert "GiB allowed: every one was killed" in _findings([g]), _findings([g])
    _no_process_left()


WRITES_OUTSIDE = '''
import json
import sys

FAKE = {"score": 100, "tests": [{"name": "basic", "score": 5, "max_score": 5, "status": "passed"}]}
print(json.dumps(FAKE))  # stdout is not how results travel
for target in ("/tmp/ds-course-fake-results.json", "results.json", OUT + "/results.json"):
    try:
        with open(target, "w") as f:
            json.dump(FAKE, f)
    except OSError as exc:
        print(f"could not write {target}: {exc}", file=sys.stderr)
'''


@pytest.mark.ray
def test_files_written_outside_the_work_folder_and_fake_results_earn_nothing(tmp_path: Path) -> None:
    """Node code runs sealed in both runtimes: what it writes into /tmp lands in its own private
    /tmp, which vanishes with it; the fake results change nothing (this is the reference's code,
    so it earns what the reference earns)."""
    out = tmp_path / "out"
    impl = standalone(f"OUT = {str(out)!r}\n" + WRITES_OUTSIDE, tmp_path / "node.py")
    (g,) = grade(impl, "rpc", out, sim_seeds=1, ray=True, pattern="basic")
    assert [o.runtime for o in g.outcomes] == ["sim", "ray"]
    assert g.passed, [o.findings for o in g.outcomes]
    assert not Path("/tmp/ds-course-fake-results.json").exists()
    results = json.loads((out / "results.json").read_text())
    assert results["score"] == 5 and results["tests"][0]["output"].startswith(g.test.description)  # the grader's
    assert not (tmp_path / "results.json").exists()


def test_a_file_the_sandbox_user_leaves_outside_its_folder_is_an_incident(tmp_path: Path) -> None:
    """Where the sandbox user's processes are not sealed (a Ray run of a lab whose nodes start
    works), a file left in a place anyone may write to is found, removed and reported."""
    stray = Path("/tmp") / f"ds-course-stray-{os.getpid()}"
    impl = tmp_path / "node.py"
    impl.write_text("pass\n")
    with open_sandbox(impl) as sb:
        done = sb.run([str(sb.python), "-c", f"open({str(stray)!r}, 'w').write('x')"], "", 60.0)
        assert done is not None and done.returncode == 0, done
        assert sb.take_incidents() == [f"the submission wrote {stray}, outside its work folder (it was removed)"]
    assert not stray.exists()


READS_SECRETS = '''
SECRETS = {secrets!r}
problems = []
for path in SECRETS:
    try:
        with open(path) as f:
            f.read()
    except OSError as exc:
        problems.append(f"{{type(exc).__name__}}: {{path}}")
if problems:
    raise RuntimeError("read none of the secrets: " + "; ".join(problems))
# Reaching here would mean the secrets were readable: the reference's code then passes.
'''


def test_the_instructors_files_and_other_submissions_are_out_of_reach(tmp_path: Path) -> None:
    classmate = tmp_path / "class" / "alice" / "node.py"
    classmate.parent.mkdir(parents=True)
    classmate.write_text("# alice's work\n")
    secrets = [ROOT / "labs/rpc/hidden/suite.yaml", ROOT / "labs/rpc/node.py", ROOT / ".git/HEAD", classmate]
    assert all(p.exists() for p in secrets)
    impl = standalone(READS_SECRETS.format(secrets=[str(p) for p in secrets]), tmp_path / "mine" / "node.py")
    (g,) = grade(impl, "rpc", tmp_path / "out", sim_seeds=1, ray=False, pattern="basic",
                 private=[tmp_path / "class"])
    assert g.score == 0
    text = "\n".join(f.details or "" for o in g.outcomes for f in o.findings) + _findings([g])
    for p in secrets:  # out of its user's reach, or (under /tmp) not even in its node's sight
        assert f"PermissionError: {p}" in text or f"FileNotFoundError: {p}" in text, text[-2000:]
    assert f"FileNotFoundError: {classmate}" in text  # a node's /tmp is its own


def test_secrets_readable_by_the_sandbox_user_stop_the_grading(tmp_path: Path) -> None:
    """A secret the grader cannot make private (not under the project) stops it, saying what to do."""
    # not in /tmp: the sandbox has a /tmp of its own, where the machine's cannot be seen at all
    shared = Path(tempfile.mkdtemp(prefix="ds-course-test-", dir="/opt"))
    try:
        shared.chmod(0o755)  # a folder anyone may read, as many are
        secret = shared / "gradebook.db"
        secret.write_text("grades")
        secret.chmod(0o644)
        with pytest.raises(sandbox.SandboxError, match=r"can read .*gradebook\.db: make them private"):
            grade(ROOT / "labs" / "rpc", "rpc", tmp_path / "out", sim_seeds=1, ray=False, pattern="basic",
                  private=[secret])
    finally:
        shutil.rmtree(shared)


EQUALS_ANYTHING = '''
from labs.rpc.node import GetReply
from labs.runtime.node import on


class Anything(list):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = None


class KVClerk(reference.KVClerk):
    @on(GetReply)
    def handle_get_reply(self, msg: GetReply, sender: str) -> None:
        if self.mine(msg):
            self.request = None
            self.complete(Anything(["made up", 999]))


KVServer = reference.KVServer
'''


@pytest.mark.ray
def test_a_result_that_claims_to_equal_anything_is_only_data(tmp_path: Path) -> None:
    impl = standalone(EQUALS_ANYTHING, tmp_path / "node.py")
    (g,) = grade(impl, "rpc", tmp_path / "out", sim_seeds=0, ray=True, pattern="basic")
    assert g.score == 0 and "not linearizable" in _findings([g]), _findings([g])


def test_the_sandbox_cleans_up_after_itself(tmp_path: Path) -> None:
    impl = standalone("", tmp_path / "node.py")
    with open_sandbox(impl) as sb:
        base, uid = sb.base, sb.uid
        assert (sb.code / "labs" / "rpc" / "node.py").exists()
        assert "### BEGIN SOLUTION" not in (sb.code / "labs" / "rpc" / "node.py").read_text()
        assert not (sb.code / "labs" / "rpc" / "hidden").exists()
        child = sb.popen(["/bin/sleep", "60"])
        assert child.pid in sb.processes()
    assert not base.exists() and not sandbox._processes_of(uid)
    child.wait()
