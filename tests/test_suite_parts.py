"""Labs graded in parts: the suite's ``parts``, ``--part`` on the command line, and a subtotal per
part in every table and report.

Runs are kept few (one simulator seed, a handful of tests): what is tested is the selection and
the arithmetic, not the lab. A submission that did part A of Raft and not part B (its ``start``
raises) makes the subtotals differ from part to part, independently of any buggy variant.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from test_grade import _gradescope_ok

from autograder import suite as suite_module
from autograder.classroom import grade_all_command
from autograder.grade import grade
from autograder.gradebook import Row, write_csv
from autograder.grading_job import grade_job, pack
from autograder.suite import (
    Part,
    SuiteError,
    load_graded_suite,
    load_suite,
    parse_parts_option,
    parse_suite,
)
from labs.runtime.lab import get_lab

ROOT = Path(__file__).resolve().parents[1]
RAFT = load_graded_suite("raft")  # with the hidden tests, as grade runs them
RAFT_VISIBLE = load_suite("raft")  # what `autograder test` runs

ONLY_PART_A = (ROOT / "labs" / "raft" / "node.py").read_text() + '''

# A student who has done part A (elections) but not yet part B: starting a command raises. The
# reference's source comes first, as a student would hand it in: in the grader's sandbox
# labs.raft.node is the released skeleton, not something to subclass.
_Elections = RaftNode


class RaftNode(_Elections):  # type: ignore[no-redef]
    def start(self, command: str) -> tuple[int, int, bool]:
        raise RuntimeError("log replication is part B: not done yet")
'''


def rpc_test(name: str) -> dict[str, Any]:
    """A valid test of the RPC lab (its workloads and checks), named ``name``."""
    return {"name": name, "points": 5, "description": "d", "schedule": "none", "checks": ["linearizable"]}


def problems(doc: dict[str, Any], inherited: tuple[Part, ...] = ()) -> str:
    with pytest.raises(SuiteError) as info:
        parse_suite(doc, get_lab("rpc"), Path("suite.yaml"), inherited)
    return str(info.value)


def only_part_a(tmp_path: Path) -> Path:
    path = tmp_path / "only_part_a" / "node.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(ONLY_PART_A)
    return path


# -- the suite format -------------------------------------------------------------------------


def test_parts_are_read_in_order_and_each_test_belongs_to_its_prefix() -> None:
    assert [p.name for p in RAFT.parts][:3] == ["A", "B", "C"]
    assert RAFT.parts[0].title == "leader election"
    for t in RAFT.tests:
        assert t.part is not None and t.name.startswith(f"{t.part}-")
    doc = {"lab": "rpc", "parts": {"X": "one", "XY": "two"}, "tests": [rpc_test("XY-a"), rpc_test("X-b")]}
    suite = parse_suite(doc, get_lab("rpc"), Path("suite.yaml"))
    assert [(t.name, t.part) for t in suite.tests] == [("XY-a", "XY"), ("X-b", "X")]  # the dash ends the part


def test_suites_without_parts_are_unchanged() -> None:
    rpc = load_graded_suite("rpc")
    assert rpc.parts == () and all(t.part is None for t in rpc.tests)
    assert rpc.part_totals((t, t.points, t.points) for t in rpc.tests) == []
    with pytest.raises(SuiteError, match=r"the rpc lab is not graded in parts; select tests by name with -k"):
        rpc.select(None, ["A"])


@pytest.mark.parametrize(("parts", "tests", "says"), [
    ({"A": "one"}, ["A-x", "D-y"], "tests[1].name: 'D-y' belongs to no part (parts: A); add 'D: <title>' to parts"),
    ({"A": "one"}, ["A-x", "nopart"], "'nopart' belongs to no part (parts: A); start its name with its part and a "
                                      "dash, e.g. 'A-nopart'"),
    ({"A": "one", "B": "two"}, ["A-x"], "parts.B: no test belongs to part B (two); name its tests 'B-...', or remove"),
    (["A", "B"], ["A-x"], "parts: a mapping from each part's name to its title, e.g. {A: leader election"),
    ({}, ["A-x"], "parts: empty; leave the key out for a lab graded as one block"),
    ({"A-1": "one"}, ["A-x"], "parts.A-1: a part's name is letters, digits or underscores, with no dash"),
    ({"A": "one", True: "two"}, ["A-x"], "parts: True is not a part's name; YAML read it as bool, so write it in "
                                         "quotes"),
    ({"A": ""}, ["A-x"], "parts.A: a title in a few words"),
    ({"A": "one", "1": "x", 1: "y"}, ["A-x", "1-y"], "parts.1: named twice"),
])
def test_a_suite_with_wrong_parts_says_what_is_wrong_and_how_to_fix_it(parts: Any, tests: list[str],
                                                                       says: str) -> None:
    assert says in problems({"lab": "rpc", "parts": parts, "tests": [rpc_test(n) for n in tests]})


def test_the_raft_suite_as_written_with_a_test_out_of_its_parts_is_refused() -> None:
    doc = yaml.safe_load((ROOT / "labs" / "raft" / "suite.yaml").read_text())
    doc["tests"][0]["name"] = "Z-initial-election"
    with pytest.raises(SuiteError, match=r"tests\[0\]\.name: 'Z-initial-election' belongs to no part"):
        parse_suite(doc, get_lab("raft"), Path("suite.yaml"))


@pytest.fixture
def two_suites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A visible and a hidden RPC suite in ``tmp_path``, read by ``load_graded_suite``."""
    visible, hidden = tmp_path / "suite.yaml", tmp_path / "hidden.yaml"
    monkeypatch.setattr(suite_module, "suite_path", lambda lab: visible)
    monkeypatch.setattr(suite_module, "hidden_suite_path", lambda lab: hidden)
    return visible, hidden


def write(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(doc))


def test_hidden_tests_belong_to_the_visible_parts(two_suites: tuple[Path, Path]) -> None:
    visible, hidden = two_suites
    write(visible, {"lab": "rpc", "parts": {"A": "one", "B": "two"}, "tests": [rpc_test("A-x"), rpc_test("B-y")]})
    write(hidden, {"lab": "rpc", "tests": [rpc_test("B-secret")]})  # covers only part B: fine
    graded = load_graded_suite("rpc")
    assert [p.name for p in graded.parts] == ["A", "B"]
    assert [(t.name, t.part, t.hidden) for t in graded.tests] == [("A-x", "A", False), ("B-y", "B", False),
                                                                  ("B-secret", "B", True)]
    totals = graded.part_totals((t, 0 if t.hidden else t.points, t.points) for t in graded.tests)
    assert [(pt.part.name, pt.score, pt.points, pt.tests) for pt in totals] == [
        ("A", 5, 5, ("A-x",)), ("B", 5, 10, ("B-y", "B-secret"))]

    write(hidden, {"lab": "rpc", "tests": [rpc_test("secret")]})
    with pytest.raises(SuiteError, match=r"'secret' belongs to no part \(parts: A, B\)"):
        load_graded_suite("rpc")
    write(hidden, {"lab": "rpc", "parts": {"B": "other"}, "tests": [rpc_test("B-secret")]})
    with pytest.raises(SuiteError, match=r"parts\.B: titled 'other' here but 'two' in the visible suite"):
        load_graded_suite("rpc")
    write(hidden, {"lab": "rpc", "parts": {"C": "three"}, "tests": [rpc_test("C-secret")]})
    with pytest.raises(SuiteError, match=r"parts\.C: the visible suite has no part C"):
        load_graded_suite("rpc")

    write(visible, {"lab": "rpc", "tests": [rpc_test("x")]})
    with pytest.raises(SuiteError, match=r"names parts, but the visible suite \S+ has none; declare the parts there"):
        load_graded_suite("rpc")


def test_every_test_checks_run_on_every_test_hidden_ones_too(two_suites: tuple[Path, Path]) -> None:
    visible, hidden = two_suites
    with_own = {**rpc_test("y"), "checks": ["no-node-errors", "linearizable"]}
    write(visible, {"lab": "rpc", "every_test": ["no-node-errors"], "tests": [rpc_test("x"), with_own]})
    write(hidden, {"lab": "rpc", "tests": [rpc_test("secret")]})
    graded = load_graded_suite("rpc")
    assert [[name for name, _ in t.checks] for t in graded.tests] == [
        ["linearizable", "no-node-errors"], ["no-node-errors", "linearizable"], ["linearizable", "no-node-errors"]]
    assert "every_test[0]: no check 'no-node-eror' (did you mean 'no-node-errors'?)" in problems(
        {"lab": "rpc", "every_test": ["no-node-eror"], "tests": [rpc_test("x")]})
    assert "every_test: a list of check names" in problems({"lab": "rpc", "every_test": "x", "tests": [rpc_test("x")]})
    assert all({"terms-never-go-back", "higher-term-makes-a-follower"} <= {n for n, _ in t.checks}
               for t in RAFT_VISIBLE.tests)


def test_select_by_part() -> None:
    a = RAFT.select(None, ["A"])
    assert a and all(t.part == "A" for t in a) and len(a) == sum(t.part == "A" for t in RAFT.tests)
    assert RAFT.select(None, ["a"]) == a  # typed in lower case
    assert [t.name for t in RAFT.select("elect", ["A", "C"])] == [t.name for t in a if "elect" in t.name]
    with pytest.raises(SuiteError) as info:
        RAFT.select(None, ["Q"])
    assert "the raft lab has no part 'Q'; its parts: A (leader election), B (log replication)" in str(info.value)
    with pytest.raises(SuiteError, match=r"no test of the raft lab in part B matches 'elect'"):
        RAFT.select("elect", ["B"])
    assert parse_parts_option(["A,B", "B", " C ", ""]) == ["A", "B", "C"]


# -- the command line -------------------------------------------------------------------------


def autograder(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


def table_scores(stdout: str) -> dict[str, tuple[int, int]]:
    """The final table's lines, label -> (earned, worth)."""
    return {m.group(1).strip(): (int(m.group(2)), int(m.group(3)))
            for m in re.finditer(r"^(\S.*?)\s+(\d+) / (\d+)\s", stdout + "\n", re.MULTILINE)}


def test_test_part_runs_those_parts_and_the_table_has_their_subtotals(tmp_path: Path) -> None:
    done = autograder("test", "raft", "--part", "A", "--part", "b", "--seeds", "1", "--no-shrink",
                      "--impl", str(only_part_a(tmp_path)), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    a, b = RAFT_VISIBLE.select(None, ["A"]), RAFT_VISIBLE.select(None, ["B"])
    assert done.stdout.startswith(f"raft part A (leader election), B (log replication): {len(a) + len(b)} test(s)")
    scores = table_scores(done.stdout.rsplit("\n\ntest", 1)[1])
    rows = {label.rsplit(" [", 1)[0]: s for label, s in scores.items() if label.endswith(("[sim]", "[search]"))}
    assert set(rows) == {t.name for t in a + b}  # no part C test ran
    assert all(rows[t.name] == (t.points, t.points) for t in a)
    assert all(rows[t.name] == (0, t.points) for t in b)
    part_a, part_b = sum(t.points for t in a), sum(t.points for t in b)
    assert scores["part A: leader election"] == (part_a, part_a)
    assert scores["part B: log replication"] == (0, part_b)
    assert scores["total"] == (part_a, part_a + part_b)
    lines = done.stdout.rstrip().splitlines()
    assert lines[-3].startswith("part A") and lines[-2].startswith("part B") and lines[-1].startswith("total")


def test_an_unknown_part_is_refused_with_the_list_of_parts(tmp_path: Path) -> None:
    done = autograder("test", "raft", "--part", "A,Q", cwd=tmp_path)
    assert done.returncode == 1 and "FAIL" not in done.stdout
    assert "the raft lab has no part 'Q'; its parts: A (leader election), B (log replication)" in done.stderr
    done = autograder("grade", str(tmp_path), "--lab", "rpc", "--out", str(tmp_path / "out"), "--part", "A",
                      cwd=tmp_path)
    assert done.returncode == 1 and "the rpc lab is not graded in parts" in done.stderr
    helped = autograder("test", "--help", cwd=tmp_path).stdout
    assert "--part PART" in helped and "--part A,B" in " ".join(helped.split())


# -- grading: results.json, report.json, the feedback page, grades.csv ---------------------------


def test_grading_by_part_writes_subtotals_everywhere(tmp_path: Path) -> None:
    grades = grade(only_part_a(tmp_path), "raft", tmp_path / "out", sim_seeds=1, ray=False, sandbox=False,
                   parts=["B", "A"])
    a, b = RAFT.select(None, ["A"]), RAFT.select(None, ["B"])
    assert [g.test.name for g in grades] == [t.name for t in RAFT.tests if t.part in ("A", "B")]
    part_a, part_b = sum(t.points for t in a), sum(t.points for t in b)

    results = json.loads((tmp_path / "out" / "results.json").read_text())
    _gradescope_ok(results)
    assert all(t["tags"] == [f"part {t['name'][0]}"] for t in results["tests"])
    assert results["score"] == part_a
    assert results["output"].splitlines() == [f"raft: {part_a} / {part_a + part_b} points",
                                              f"part A (leader election): {part_a} / {part_a}",
                                              f"part B (log replication): 0 / {part_b}"]
    assert results["extra_data"]["parts"] == [
        {"part": "A", "title": "leader election", "score": part_a, "max_score": part_a, "tests": [t.name for t in a]},
        {"part": "B", "title": "log replication", "score": 0, "max_score": part_b, "tests": [t.name for t in b]}]

    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["parts"] == results["extra_data"]["parts"]
    assert {t["name"]: t["part"] for t in report["tests"]} == {t.name: t.part for t in a + b}

    page = (tmp_path / "out" / "feedback.html").read_text()
    assert f"<h2 class='part' id='part-A'>Part A: leader election ({part_a} / {part_a})</h2>" in page
    assert f"<h2 class='part' id='part-B'>Part B: log replication (0 / {part_b})</h2>" in page
    assert f"<td>leader election</td><td>{part_a} / {part_a}</td>" in page
    assert page.index("id='part-A'") < page.index(f"<h3>{a[0].name}: ") < page.index("id='part-B'") \
        < page.index(f"<h3>{b[0].name}: 0 / {b[0].points}</h3>")


def test_a_lab_without_parts_gets_no_part_fields(tmp_path: Path) -> None:
    grade(ROOT / "labs" / "rpc", "rpc", tmp_path / "out", sim_seeds=1, ray=False, pattern="basic", sandbox=False)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    _gradescope_ok(results)
    assert "extra_data" not in results and all("tags" not in t for t in results["tests"])
    assert results["output"] == "rpc: 5 / 5 points"
    assert "parts" not in json.loads((tmp_path / "out" / "report.json").read_text())
    assert "class='part'" not in (tmp_path / "out" / "feedback.html").read_text()


def test_a_class_job_grades_only_its_parts(tmp_path: Path) -> None:
    """What ``grade-all --part A`` sends each job (run here without Ray: the job is a function)."""
    folder = only_part_a(tmp_path).parent
    settings = {"sim_seeds": 1, "ray": False, "pattern": "elect", "parts": ["A"]}
    answer = grade_job("alice", "raft", pack(folder), settings, timeout=300)
    assert "error" not in answer, answer.get("error")
    chosen = RAFT.select("elect", ["A"])
    assert answer["tests"] == {t.name: t.points for t in chosen}
    report = json.loads(answer["files"]["report.json"])
    assert [p["part"] for p in report["parts"]] == ["A"]
    helped = CliRunner().invoke(grade_all_command, ["--help"]).output
    assert "--part PART" in helped and "--part A,B" in " ".join(helped.split())


def test_grades_csv_has_a_column_per_part(tmp_path: Path) -> None:
    tests = RAFT.select(None, ["A", "B"])
    scores = {t.name: (t.points if t.part == "A" else 0) for t in tests}
    row = Row("alice", "raft", sum(scores.values()), sum(t.points for t in tests), "graded", scores)
    write_csv([row], tests, tmp_path / "grades.csv")
    header, values = (tmp_path / "grades.csv").read_text().splitlines()
    columns = dict(zip(header.split(","), values.split(","), strict=True))
    assert columns["part A"] == str(sum(t.points for t in tests if t.part == "A"))
    assert columns["part B"] == "0"
    assert header.index("part A") > header.index(tests[-1].name) and "part C" not in header


def test_the_docs_show_how_to_run_one_part() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "python -m autograder test raft --part A" in readme and "suites.py" in readme
    instructors = (ROOT / "site" / "instructors.md").read_text()
    assert "`--part A`" in instructors and "extra_data.parts" in instructors
    writing = (ROOT / "site" / "instructors" / "writing-tests.md").read_text()
    assert "## A lab in parts" in writing and "parts:" in writing
    assert "**Parts.**" in (suite_module.__doc__ or "")


def test_a_test_may_run_a_variant_of_its_lab_with_parameters() -> None:
    """Part E's tests run the Raft lab's key-value variant (other node and clerk classes, from
    the same student file), and part D's give the nodes a parameter."""
    raft = load_suite("raft")
    (e,) = raft.select("E-basic")
    (d,) = raft.select("D-snapshot-basic")
    assert (e.lab.node.__name__, e.lab.clerk and e.lab.clerk.__name__) == ("KVServer", "KVClerk")
    assert d.lab.node.__name__ == "RaftNode" and d.lab.params == {"snapshot_every": 20}
    doc = {"lab": "raft", "tests": [{"name": "x", "points": 1, "description": "x", "checks": ["no-node-errors"],
                                     "schedule": "none", "lab": {"variant": "kvv"}}]}
    with pytest.raises(SuiteError, match=r"tests\[0\]\.lab\.variant: the raft lab has no variant 'kvv' \(it has: kv\)"):
        parse_suite(doc, get_lab("raft"), Path("suite.yaml"))
    doc["tests"][0]["lab"] = {"params": ["snapshot_every"]}
    with pytest.raises(SuiteError, match=r"lab\.params: a mapping of names to values"):
        parse_suite(doc, get_lab("raft"), Path("suite.yaml"))
