"""The Raft lab (parts A-E): the reference passes its whole suite in the simulator on every seed
and on Ray, each buggy variant is caught by the test aimed at it with a report that points at
the bug, and the release's skeleton fails cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from seeds import CI_SEEDS, failures, reference_failure
from test_pictures import unpack

from autograder.release import release
from autograder.runner import run_test
from autograder.suite import load_graded_suite, load_suite
from labs.raft.parse import leader_in
from labs.runtime.nursery import isolation_available

GRADED = isolation_available() is None
"""Ray runs as the grader makes them: each node's code in a sealed process, where this machine can."""

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = Path(__file__).resolve().parent / "raft_variants"
SUITE = load_suite("raft")


SEEDED = [t.name for t in SUITE.tests if t.search is None]
SEARCHES = [t.name for t in SUITE.tests if t.search is not None]


def _test(name: str):  # type: ignore[no-untyped-def]
    return next(t for t in SUITE.tests if t.name == name)


def test_parts_are_named_and_graded_separately() -> None:
    parts = {t.name.split("-", 1)[0] for t in SUITE.tests}
    assert parts == {"A", "B", "C", "D", "E"} == {p.name for p in SUITE.parts}
    assert all(len(SUITE.select(f"{p}-")) >= 3 for p in parts)
    assert all(t.points > 0 and (t.ray_seeds or t.search is not None) for t in SUITE.tests)
    assert {t.split("-", 1)[0] for t in SEARCHES} >= {"A", "B", "C"}
    assert max(len(t.seeds) for t in SUITE.tests) >= 100


@pytest.mark.parametrize("name", SEEDED)
def test_reference_passes_every_seed_in_the_simulator(name: str) -> None:
    test = _test(name)
    assert len(test.seeds) >= 20
    failure = reference_failure("raft", name, test.seeds[:CI_SEEDS])
    assert failure is None, failure


@pytest.mark.parametrize("name", SEARCHES)
def test_reference_passes_its_searches(name: str) -> None:
    """Every order to the test's depth, then every one of its random walks: nothing breaks."""
    test = _test(name)
    outcome = run_test(test, 1)
    assert outcome.passed and outcome.search is not None, [f.message for f in outcome.findings]
    assert outcome.search.verdict == "ok" and outcome.search.depth == test.search.depth
    assert outcome.search.walks == test.search.walks


REFUSED = "step 6, 'deliver RequestVoteReply n1->n3"
CAUGHT_BY_SEARCH = [
    ("votes_twice", "A-search-one-leader-per-term", 6, "election safety: 2 different nodes for term 1", REFUSED),
    ("no_up_to_date_check", "B-search-log-safety", 15, "leader completeness: n2 was elected for term 4",
     "step 15, 'deliver RequestVoteReply n1->n2"),
    ("figure8_commit", "C-search-figure8", 17, "committed index 1 of term 1", "PASS: the path breaks nothing now"),
    ("forgets_vote", "C-search-vote-persistence", 7, "election safety: 2 different nodes for term 1",
     "cannot happen after the steps before it"),
]
"""Each variant, the search test that finds it, the length of the path it reports, what the
report says, and what the reference says when made to follow that path (a vote it would not
grant cannot be delivered)."""


@pytest.mark.parametrize(("variant", "name", "steps", "says", "reference"), CAUGHT_BY_SEARCH)
def test_searches_find_the_bugs_no_schedule_was_written_for(variant: str, name: str, steps: int, says: str,
                                                            reference: str, tmp_path: Path) -> None:
    """The search, not a hand-made schedule, finds each of these: the report prints the path
    step by step, and `autograder search --replay` follows it to the same violation."""
    impl = VARIANTS / f"{variant}.py"
    done = subprocess.run([sys.executable, "-m", "autograder", "search", "raft", name, "--impl", str(impl),
                           "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    assert says in done.stdout and f"  {steps}. " in done.stdout and f"  {steps + 1}. " not in done.stdout
    picture = tmp_path / f"raft-{name}-sim-1.html"
    marks = unpack(picture.read_text())["marks"]
    broke = [m for m in marks if m[1] == "violation"]  # type: ignore[attr-defined]
    assert len(broke) == 1 and broke[0][2].startswith(f"step {steps} breaks it: ") and says in broke[0][2], marks
    path = tmp_path / f"raft-{name}-path.yaml"
    replay = f"python -m autograder search raft {name} --replay {path} --impl {impl}"
    assert f"replay: {replay}" in done.stdout
    again = subprocess.run([sys.executable, "-m", *replay.split()[2:], "--out", str(tmp_path / "again")], cwd=ROOT,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 1 and says in again.stdout and f"replayed: a path of {steps} steps" in again.stdout
    fixed = subprocess.run([sys.executable, "-m", "autograder", "search", "raft", name, "--replay", str(path)],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert fixed.returncode == (0 if reference.startswith("PASS") else 1), fixed.stdout
    assert reference in fixed.stdout, fixed.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", SEEDED)
def test_reference_passes_the_other_seeds_in_the_simulator(name: str) -> None:
    test = _test(name)
    failure = reference_failure("raft", name, test.seeds[CI_SEEDS:])
    assert failure is None, failure


HIDDEN = [t for t in load_graded_suite("raft").tests if t.hidden]
NEW_HIDDEN = ["A-hidden-dueling-candidates", "D-hidden-snapshot-crash-storm", "D-hidden-snapshots-partitions",
              "A-hidden-paused-voters", "D-hidden-old-leader-restarts", "C-hidden-muted-leaders",
              "B-hidden-late-conflict", "B-hidden-single-server", "B-hidden-unknown-term"]
"""Hidden tests the reference is checked on here, on their first few seeds (every seed of every
hidden test: the slow run below)."""
HIDDEN_CI_SEEDS = 5


@pytest.mark.parametrize("name", NEW_HIDDEN)
def test_reference_passes_the_new_hidden_tests_in_the_simulator(name: str) -> None:
    test = next(t for t in HIDDEN if t.name == name)
    failure = reference_failure("raft", name, test.seeds[:HIDDEN_CI_SEEDS], graded=True)
    assert failure is None, failure


@pytest.mark.slow
@pytest.mark.parametrize("name", [t.name for t in HIDDEN])
def test_reference_passes_every_hidden_test_on_every_seed_in_the_simulator(name: str) -> None:
    test = next(t for t in HIDDEN if t.name == name)
    failure = reference_failure("raft", name, list(test.seeds), graded=True)
    assert failure is None, failure


def test_part_d_has_hidden_tests() -> None:
    assert {t.part for t in HIDDEN} >= {"A", "B", "C", "D", "E"}
    assert len([t for t in HIDDEN if t.part == "D"]) >= 2


@pytest.mark.ray
# A crash and restart, then snapshots under loss; every test, hidden ones too, again and again:
# python benchmarks/ray_stability.py --lab raft
@pytest.mark.parametrize("name", ["C-restart-leader", "D-snapshots-unreliable"])
def test_reference_passes_on_ray(name: str, ray_session: None) -> None:
    test = _test(name)
    for seed in test.ray_seeds:
        outcome = run_test(test, seed, "ray", sealed=GRADED)
        assert outcome.passed, f"seed {seed}: {outcome.findings[0]}"


CLAIMS_NO_ROLE = """
\"\"\"keeps_leading (a leader that hears of a higher term goes on leading), whose nodes say of
themselves that none of them leads.\"\"\"
from labs.raft import node as reference


class RaftNode(reference.RaftNode):
    def role(self):
        return None

    def become_follower(self, term):
        if term > self.current_term:
            self.persist_vote(term, None)
        if self.role_name == "candidate":
            self.role_name = "follower"
            self.reset_election_deadline()


RaftClerk = reference.RaftClerk
"""


def test_a_node_that_claims_no_role_still_meets_the_faults_aimed_at_the_leader(tmp_path: Path) -> None:
    """Schedules aim at the leader read from the messages the runtime saw sent (the newest
    term's AppendEntries), never at whoever says so: a buggy leader that says it is none, so that
    `partition: [[leader], rest]` would cut nobody off, is cut off all the same, and caught."""
    impl = tmp_path / "claims-no-role" / "node.py"
    impl.parent.mkdir()
    impl.write_text(CLAIMS_NO_ROLE)
    outcome = run_test(_test("A-reelection"), 1, "sim", impl)
    assert outcome.result is not None
    trace = outcome.result.trace
    assert not [e for e in trace if e["type"] == "skip"]
    cut = next(e for e in trace if e["type"] == "partition")
    assert cut["groups"][0] == [leader_in(trace[:trace.index(cut)])["leader"]], cut
    assert not outcome.passed and "election safety" in str(outcome.findings[0])


CAUGHT = [
    ("votes_twice", "A-many-elections", "election safety: 2 different nodes for term"),
    ("fixed_timeout", "A-initial-election", "are election timeouts random?"),
    ("half_is_majority", "A-no-leader-without-majority", "could reach no majority"),
    ("half_is_majority", "B-no-agreement-without-majority", "committed index"),
    ("no_up_to_date_check", "B-follower-disconnected", "state machine safety: different entries"),
    ("no_fast_backup", "B-fast-backup", "does the leader skip a whole conflicting term at once?"),
    ("chatty", "B-message-counts", "heartbeats at most every 0.1 s"),
    ("truncates_on_stale", "B-unreliable-agreement", "applied only up to index"),
    ("log_not_persisted", "C-restart-all", "state machine safety: different entries"),
    ("figure8_commit", "C-figure8", "the Figure 8 scenario"),
    ("forgets_vote", "C-vote-persistence", "election safety: 2 different nodes for term"),
    ("forgets_term", "C-churn", "term went back from 2 (t=1.305) to 0 at t=2.707, after a restart"),
    ("keeps_leading", "A-reelection", "a higher term makes a server a follower of that term"),
    ("never_compacts", "D-snapshot-basic", "does snapshot() cut the log up to its index"),
    ("snapshot_drops_tail", "D-snapshot-basic", "a message storm?"),
    ("installs_stale_snapshot", "D-snapshots-unreliable", "a snapshot no newer than the state machine"),
    ("snapshot_not_persisted", "D-restart-all-snapshots", "a node raised: KeyError: 'log/1'"),
    ("keeps_divergent_log", "D-old-leader-snapshot", "was sent the leader's snapshot up to index"),
    ("kv_no_dedupe", "E-unreliable", "not linearizable (key 'log')"),
    ("kv_local_reads", "E-leader-failures", "not linearizable"),
    ("kv_snapshot_forgets_clients", "E-snapshots", "not linearizable (key 'log')"),
    ("clerk_gives_up", "E-unreliable", "though no answer came: does the clerk ask again"),
]


@pytest.mark.parametrize(("variant", "name", "says"), CAUGHT)
def test_buggy_variants_fail_their_test_with_a_report_that_points_at_the_bug(variant: str, name: str,
                                                                             says: str) -> None:
    """Seeds in order until the first failure (as a student's `autograder test` stops at it)."""
    found = failures("raft", name, _test(name).seeds[:CI_SEEDS], impl=VARIANTS / f"{variant}.py", first_only=True)
    assert found, f"{variant} passed {name} on seeds 1-{CI_SEEDS}"
    seed, messages = found[0]
    assert any(says in m for m in messages), (seed, messages[:3])


CAUGHT_HIDDEN = [
    ("steps_down_on_stale_reply", "A-hidden-paused-voters",
     "without learning of a higher term: a leader steps down only for a higher term"),
    ("backup_without_own_term", "D-hidden-old-leader-restarts", "a node raised: IndexError"),
    ("backup_to_older_terms", "C-hidden-muted-leaders", "applied only up to index"),
    ("backup_to_match", "B-hidden-late-conflict", "which a conflict never reaches back to"),
    ("single_server_never_commits", "B-hidden-single-server", "only 0 of 4 client operations were committed"),
    ("counts_stale_votes", "A-hidden-paused-voters", "a vote counts only in the term it was granted in"),
    ("follower_answers_the_index_asked", "B-hidden-unknown-term",
     "does a follower answer with the first index it holds of the conflicting term"),
    ("skips_prev_term_check", "B-hidden-late-conflict",
     "a follower takes entries only when its entry at prev_log_index has prev_log_term"),
]
"""Buggy variants the hidden tests catch (a student sees only the finding, after grading)."""


@pytest.mark.parametrize(("variant", "name", "says"), CAUGHT_HIDDEN)
def test_buggy_variants_fail_their_hidden_test_with_a_report_that_points_at_the_bug(variant: str, name: str,
                                                                                    says: str) -> None:
    test = next(t for t in HIDDEN if t.name == name)
    found = failures("raft", name, test.seeds[:CI_SEEDS], graded=True, impl=VARIANTS / f"{variant}.py",
                     first_only=True)
    assert found, f"{variant} passed {name} on seeds 1-{CI_SEEDS}"
    seed, messages = found[0]
    assert any(says in m for m in messages), (seed, messages[:3])


def test_same_seed_same_trace() -> None:
    test = _test("C-figure8-unreliable")
    a, b = run_test(test, 7), run_test(test, 7)
    assert a.result is not None and b.result is not None
    assert a.result.trace == b.result.trace


def test_release_skeleton_fails_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "release"
    stripped = release(ROOT, out)
    assert Path("labs/raft/node.py") in stripped
    released = (out / "labs/raft/node.py").read_text()
    assert "def advance_commit" not in released and "### BEGIN SOLUTION" not in released
    assert "def snapshot" not in released and "self.last[request.client]" not in released
    assert "class KVServer(RaftNode)" in released and "class KVClerk(Clerk)" in released
    for given in ("harness.py", "kv.py"):
        assert (out / "labs/raft" / given).read_text() == (ROOT / "labs/raft" / given).read_text()
    env = dict(os.environ, PYTHONPATH=str(out))
    done = subprocess.run([sys.executable, "-m", "autograder", "test", "raft", "--part", "A,E", "--seeds", "1",
                           "--no-shrink"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    assert "property: not implemented yet: RaftNode.on_start (see the lab's handout)" in done.stdout
    assert "property: not implemented yet: KVServer.on_start (see the lab's handout)" in done.stdout
    assert done.stdout.count("FAILED raft A-") == len(SUITE.select("A-"))
    assert done.stdout.count("FAILED raft E-") == len(SUITE.select("E-"))
    assert "Traceback" not in done.stderr


def test_the_handout_lists_every_test_with_its_points() -> None:
    handout = (ROOT / "site" / "labs" / "raft.md").read_text()
    for test in SUITE.tests:
        assert f"| `{test.name}` | {test.points} |" in handout, test.name
