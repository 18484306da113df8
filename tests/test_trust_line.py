"""The grader owns the run: submissions that tried to steer it, graded as a dishonest student would
hand them in. Each once scored full marks (issue 13); each now scores nothing on what it attacks,
with the reason in its feedback (the reference's full marks on the same path: test_grade.py).

They are graded on the simulator (the world in the grader's process, each node in a sealed
process of its own), in the sandbox when this machine has one, as CI's does."""

from __future__ import annotations

from pathlib import Path

import pytest
from submissions import standalone

from autograder.grade import TestGrade as Graded
from autograder.grade import grade
from labs.runtime.nursery import isolation_available

pytestmark = pytest.mark.skipif(isolation_available() is not None, reason="no user namespaces here")

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = Path(__file__).resolve().parent / "rpc_variants"

NO_MESSAGES = '''
"""Sends no message at all: the server does nothing, and each clerk applies its operation to a
store shared by every clerk outside the network (a module-level dict), then completes after 1 ms."""
from dataclasses import dataclass

from labs.runtime.node import Clerk, Node, on_timer

_STORE = {}


@dataclass(frozen=True)
class Done:
    pass


class KVServer(Node):
    pass


class KVClerk(Clerk):
    def on_invoke(self, op):
        key = str(op.key)
        value, version = _STORE.get(key, ("", 0))
        if op.f == "get":
            self.result = [value, version]
        elif op.f == "put":
            new, expected = op.value
            self.result = int(expected) == version
            if self.result:
                _STORE[key] = (str(new), version + 1)
        else:
            _STORE[key] = (value + str(op.value), version + 1)
            self.result = None
        self.set_timer(0.001, Done())

    @on_timer(Done)
    def done(self, timer):
        self.complete(self.result)
'''

FAULTS_OFF = '''
"""No retries and no duplicate detection, and one line that switches the network's faults off in
every runtime module it can reach."""
import labs.runtime.ray_actor
import labs.runtime.simnodes
from labs.rpc import node as reference
from labs.rpc.node import AppendRequest, PutRequest, Retry

labs.runtime.simnodes.fate = labs.runtime.ray_actor.fate = lambda rng, net: [0.0]


class KVServer(reference.KVServer):
    def answer_again(self, msg: PutRequest | AppendRequest, sender: str) -> bool:
        return False


class KVClerk(reference.KVClerk):
    @reference.on_timer(Retry)
    def handle_retry(self, timer: Retry) -> None:
        pass
'''

READS_THE_TEST = '''
"""No duplicate detection, unless it can find the test it is run under (a schedule, a seed, the
test's name) anywhere in its process: then it behaves, so that only the graded runs pass."""
import gc
import inspect

from labs.rpc import node as reference
from labs.rpc.node import AppendRequest, PutRequest


def _graded() -> bool:
    for frame in inspect.stack():
        if any(name in frame.frame.f_locals for name in ("spec", "schedule", "test")):
            return True
    return any(type(o).__name__ in ("Schedule", "Test", "Simulation") for o in gc.get_objects())


class KVServer(reference.KVServer):
    def on_start(self) -> None:
        super().on_start()
        self.behave = _graded()

    def answer_again(self, msg: PutRequest | AppendRequest, sender: str) -> bool:
        return self.behave and super().answer_again(msg, sender)


KVClerk = reference.KVClerk
'''

HIDES_ITS_TABLE = '''
"""Never forgets a client in memory, and keeps that table where the old measure did not look (a
field whose name starts with "_", behind a property); forgets clients on disk, where the grader
looks."""
from labs.rpc import node as reference
from labs.rpc.node import FORGET_AFTER, SWEEP, Sweep


class KVServer(reference.KVServer):
    @property
    def clients(self):
        return self.__dict__["_clients"]

    @clients.setter
    def clients(self, table):
        self.__dict__["_clients"] = table

    @reference.on_timer(Sweep)
    def handle_sweep(self, timer: Sweep) -> None:
        now = self.now()
        for client, (_seq, _kind, _ok, last_seen) in list(self.clients.items()):
            if now - last_seen > FORGET_AFTER and f"client/{client}" in self.storage:
                del self.storage[f"client/{client}"]
        self.set_timer(SWEEP, Sweep())


KVClerk = reference.KVClerk
'''

MEASURES_ITSELF = HIDES_ITS_TABLE.replace('''

KVClerk = reference.KVClerk''', '''

import labs.runtime.hosting
import labs.runtime.nodeside

# Whatever measures the fields in this process says they are empty.
labs.runtime.hosting.state_size = labs.runtime.nodeside.state_size = lambda node: 0
KVClerk = reference.KVClerk''')


def _grade(tmp_path: Path, name: str, source: str, pattern: str | None = None, seeds: int = 2) -> dict[str, Graded]:
    impl = standalone(source, tmp_path / name / "node.py")
    grades = grade(impl, "rpc", tmp_path / f"{name}-out", sim_seeds=seeds, ray=False, pattern=pattern)
    return {g.test.name: g for g in grades}


def _why(g: Graded) -> str:
    return "\n".join(str(f) for o in g.failures for f in o.findings)


def test_a_submission_that_sends_no_messages_earns_nothing(tmp_path: Path) -> None:
    grades = _grade(tmp_path, "no-messages", NO_MESSAGES, seeds=1)
    assert {name: g.score for name, g in grades.items()} == {name: 0 for name in grades}
    # Each clerk has a store of its own now: what one wrote, the others never read...
    assert "not linearizable" in _why(grades["racing-puts"])
    # ...and with one client, where that cannot show, the trace shows that no server answered.
    assert "no message from a server reached c1" in _why(grades["basic"])


def test_switching_the_faults_off_from_student_code_changes_nothing(tmp_path: Path) -> None:
    grades = _grade(tmp_path, "faults-off", FAULTS_OFF, pattern="unreliable")
    (g,) = grades.values()
    assert g.score == 0
    assert "did not complete" in _why(g) or "linearizable" in _why(g), _why(g)


def test_a_submission_that_looks_for_its_test_never_finds_it(tmp_path: Path) -> None:
    grades = _grade(tmp_path, "reads-the-test", READS_THE_TEST, pattern="appends-under-loss")
    (g,) = grades.values()
    assert g.score == 0
    assert "took effect 2 times" in _why(g), _why(g)


@pytest.mark.parametrize(("name", "source"), [("hides-its-table", HIDES_ITS_TABLE),
                                            ("measures-itself", MEASURES_ITSELF)])
def test_memory_is_measured_from_outside_the_node(tmp_path: Path, name: str, source: str) -> None:
    assert MEASURES_ITSELF != HIDES_ITS_TABLE
    grades = _grade(tmp_path, name, source, pattern="memory-bounded")
    (g,) = grades.values()
    assert g.score == 0
    assert "the server's process grew by" in _why(g) and "measured from outside it" in _why(g), _why(g)


def test_a_process_the_grader_cannot_read_fails_the_memory_test() -> None:
    from labs.rpc.checks import memory_stays_bounded
    from labs.runtime.lab import RunResult, get_lab
    from labs.runtime.schedule import Schedule

    samples = [{"t": 0.5 * k, "type": "memory", "node": "n1", "bytes": 1 << 24, "disk": 100, "of": "process"}
               for k in range(1, 10)]
    samples[6]["bytes"] = None
    run = RunResult(get_lab("rpc"), "sim", 1, Schedule("s", "", duration=5.0), samples, [])
    (finding,) = memory_stays_bounded(run)
    assert "could not read the memory of n1's process at t=3.50" in finding.message


def test_every_graded_test_runs_on_the_sealed_simulator() -> None:
    """A test earns its points only when every run of it passes, and Ray runs are sealed only
    where the machine allows user namespaces: so no test may be graded on Ray alone, or a
    submission that switches the faults off in an unsealed Ray run (or talks past the network)
    could earn it."""
    from autograder.suite import load_graded_suite
    from labs.runtime.lab import lab_names

    graded = [lab for lab in lab_names() if (ROOT / "labs" / lab / "suite.yaml").exists()]
    assert {"rpc", "raft", "mapreduce"} <= set(graded)
    for lab in graded:
        suite = load_graded_suite(lab)
        assert all(t.seeds for t in suite.tests), (lab, [t.name for t in suite.tests if not t.seeds])
