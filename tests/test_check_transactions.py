"""``python -m autograder check --model rw-register|list-append``: Elle's histories of transactions
(and the course's JSON Lines) checked for strict serializability, through the real command.

The histories in ``tests/data/histories/elle/`` are hand-written in Elle's form, each for one
verdict. A generated list-append history from a real serial execution is always accepted, so
the orders read from lists are never wrong ones.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograder.cli import main
from labs.checkers.serializability import check_strict_serializability
from labs.checkers.txn_files import check_transactions, read_transactions

ROOT = Path(__file__).resolve().parents[1]
ELLE = ROOT / "tests" / "data" / "histories" / "elle"
LINE = re.compile(r"^(\S+): (ok|illegal)(?:: (.*?))? \((.*)\)$", re.M)


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, ["check", *args])


def verdicts(output: str) -> dict[str, tuple[str, str | None]]:
    """file name -> (verdict, the anomalies as printed), from the one line per file."""
    return {Path(f).name: (v, found) for f, v, found, _ in LINE.findall(output)}


EXPECTED = [
    ("rw-serializable.edn", "rw-register", "ok", None),
    ("rw-g1c.edn", "rw-register", "illegal", "G1c T1 T0"),
    ("rw-write-skew.edn", "rw-register", "illegal", "G2 T1 T0"),
    ("rw-read-skew.edn", "rw-register", "illegal", "G-single T3 T2"),
    ("append-ok.edn", "list-append", "ok", None),
    ("append-g1c.edn", "list-append", "illegal", "G1c T1 T0"),
    ("append-incompatible.edn", "list-append", "illegal", "incompatible-order T5 T4"),
    ("append-ok.jsonl", "list-append", "ok", None),
    ("transfer.jsonl", "rw-register", "illegal", "G-single t3 t2; real-time t2 t4"),
]


@pytest.mark.parametrize(("name", "model", "verdict", "found"), EXPECTED)
def test_each_history_gets_its_verdict_anomaly_and_exit_code(name: str, model: str, verdict: str,
                                                             found: str | None) -> None:
    done = cli(str(ELLE / name), "--model", model)
    assert done.exit_code == (0 if verdict == "ok" else 1), done.output
    assert verdicts(done.output) == {name: (verdict, found or "")}, done.output
    if found is not None:  # then the explanation, and where each transaction is
        assert f"\n  {found.split()[0]} (" in done.output and "\n  where: " in done.output


def test_the_explanation_names_the_edges_and_the_lines() -> None:
    done = cli(str(ELLE / "append-g1c.edn"), "--model", "list-append")
    assert "T1 -wr 2-> T0: T0 read 2=1, which T1 wrote" in done.output
    assert ("T0 -ww 1-> T1: T0 wrote 1=1 and T1 overwrote it with 1=2 (T4 read key 1 as [1 2], "
            "where 1 comes before 2)") in done.output
    assert "where: T1 on line 5, T0 on line 4" in done.output


def test_list_order_is_what_shows_the_g1c() -> None:
    """Without the order of key 1's list, nothing puts T0's append before T1's."""
    report, history = check_transactions(ELLE / "append-g1c.edn", "list-append")
    assert report.names() == {"G1c"}
    assert [(o.key, o.values) for o in history.known_orders] == [(2, (1,)), (1, (1, 2))]
    assert check_strict_serializability(history.txns).ok


def test_an_unknown_transaction_seen_in_a_list_committed() -> None:
    history = read_transactions(ELLE / "append-ok.edn", "list-append")
    assert {t.id: t.outcome for t in history.txns}["T6"] == "info"
    text = (ELLE / "append-ok.edn").read_text().replace("[:r 2 [1]]", "[:r 2 nil]")
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "h.edn").write_text(text)
        report, _ = check_transactions(Path(d) / "h.edn", "list-append")
    # T8 saw T2's append to key 1 (through T6's, which it also saw) but not T2's append to key 2.
    assert report.names() == {"G-single", "real-time"}  # and T2 had completed before T8 began


def test_json_output_one_object_per_file_and_the_worst_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.edn"
    bad.write_text("[{:type :invoke, :process 0, :f :txn, :value [[:w 1 1]]}\n"
                   " {:type :ok, :process 0, :f :txn, :value [[:w 1 1] [:r 2]]}]\n")
    done = cli(str(ELLE / "rw-serializable.edn"), str(ELLE / "rw-g1c.edn"), str(bad),
               "--model", "rw-register", "--json")
    assert done.exit_code == 3
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(Path(o["file"]).name, o["verdict"]) for o in objects] == [("rw-serializable.edn", "ok"),
                                                                       ("rw-g1c.edn", "illegal")]
    g1c = objects[1]["anomalies"][0]
    assert g1c["name"] == "G1c" and g1c["txns"] == ["T1", "T0"] and objects[1]["lines"] == {"T1": 2, "T0": 1}
    assert {e["type"] for e in g1c["cycle"]} == {"wr"}
    assert f"{bad}: unreadable: {bad}:2: T0: each micro-operation is [f key value]" in done.stderr


MALFORMED = [
    ("malformed.edn", "rw-register", 5, "T2: each micro-operation is [f key value], such as [:r 1 nil], not ['r' 1]"),
    ("append-ok.edn", "rw-register", 3, "T0: [:append 1 1] is not a micro-operation of "
     "rw-register, which knows :r and :w: is it a list-append history? Give --model list-append"),
    ("rw-g1c.edn", "list-append", 3, "T0: [:w 1 1] is not a micro-operation of list-append, which "
     "knows :r and :append: is it a rw-register history? Give --model rw-register"),
]


@pytest.mark.parametrize(("name", "model", "line", "problem"), MALFORMED)
def test_a_malformed_history_is_unreadable_with_its_line(name: str, model: str, line: int, problem: str) -> None:
    done = cli(str(ELLE / name), "--model", model)
    assert done.exit_code == 3 and done.stdout == ""
    assert f"{ELLE / name}: unreadable: {ELLE / name}:{line}: " in done.stderr
    assert problem in done.stderr, done.stderr


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("{:type :invoke, :process 0, :f :txn, :value [[:append 1 1]]}\n"
     "{:type :invoke, :process 1, :f :txn, :value [[:append 1 1]]}\n",
     2, "T1 appends 1 to key 1 as T0 (line 1) does: each append to a key needs an element of its own"),
    ("{:type :invoke, :process 0, :f :txn, :value [[:r 1 [1 {:x 2}]]]}\n", 1,
     "in [:r 1 [1 {'x' 2}]], an element must be an integer, a keyword or a string"),
    ("{:type :invoke, :process 0, :f :txn, :value [[:r 1 5]]}\n", 1, "reads a list, so its value is a vector"),
    ("{:type :invoke, :process 0, :f :txn, :value {:r 1}}\n", 1, "a transaction's value is a vector"),
    ("{:index 3, :type :invoke, :process 0, :f :txn, :value []}\n\n"
     "{:index 3, :type :invoke, :process 1, :f :txn, :value []}\n", 3, "two transactions are called T3"),
    ("[{:type :invoke, :process 0, :f :txn, :value []}\n {:type :ok, :process 0, :f :txn, :value []",
     2, "the map opened here with '{' is never closed"),
])
def test_malformed_list_append_histories_name_the_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    path = tmp_path / "h.edn"
    path.write_text(text)
    done = cli(str(path), "--model", "list-append", "--format", "edn")
    assert done.exit_code == 3 and f"{path}:{line}: " in done.stderr and problem in done.stderr, done.stderr


def test_the_course_json_is_read_with_its_line_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    lines = (ELLE / "append-ok.jsonl").read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[0].replace('"id": "a"', '"id": "z"')]) + "\n")
    done = cli(str(path), "--model", "list-append")
    assert done.exit_code == 3 and f"{path}:2: z appends 1 to key 'x' as a (line 1) does" in done.stderr
    assert cli(str(path), "--model", "list-append", "--format", "jepsen-log").exit_code == 2  # usage


def test_the_real_command_line() -> None:
    done = subprocess.run([sys.executable, "-m", "autograder", "check", str(ELLE / "rw-write-skew.edn"),
                           str(ELLE / "rw-serializable.edn"), "--model", "rw-register"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert verdicts(done.stdout) == {"rw-write-skew.edn": ("illegal", "G2 T1 T0"),
                                     "rw-serializable.edn": ("ok", "")}


# -- generated: a serial execution is never called an anomaly -----------------------------


def serial_list_append(seed: int, n: int) -> list[dict[str, object]]:
    """Transactions run one after another over three lists, each seeing the lists as they are;
    each is invoked at its turn and completes a little later, overlapping its successors."""
    rng = random.Random(seed)
    lists: dict[str, list[int]] = {"x": [], "y": [], "z": []}
    counter = 0
    txns = []
    for i in range(n):
        ops: list[list[object]] = []
        for _ in range(rng.randint(1, 4)):
            key = rng.choice("xyz")
            if rng.random() < 0.5:
                counter += 1
                lists[key].append(counter)
                ops.append(["append", key, counter])
            else:
                ops.append(["r", key, list(lists[key])])
        txns.append({"id": f"t{i}", "process": i % 4, "invoke": float(i),
                     "complete": i + rng.uniform(0.5, 3.0), "outcome": "ok", "ops": ops})
    return txns


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(2, 30))
def test_a_serial_list_append_history_is_strictly_serializable(seed: int, n: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "h.jsonl"
        path.write_text("\n".join(json.dumps(t) for t in serial_list_append(seed, n)) + "\n")
        report, history = check_transactions(path, "list-append")
    assert report.ok, report.render()
    assert all(list(o.values) == sorted(o.values) for o in history.known_orders)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(4, 40))
def test_two_reads_that_disagree_on_the_order_are_caught(seed: int, n: int) -> None:
    """Two reads of one list, each of two elements or more, share their first two elements;
    swapping them in one read makes the two incompatible, whatever else the history holds."""
    txns = serial_list_append(seed, n)
    reads: dict[str, list[list[object]]] = {}
    for t in txns:
        for op in t["ops"]:  # type: ignore[attr-defined]
            if op[0] == "r" and len(op[2]) >= 2:
                reads.setdefault(op[1], []).append(op)
    pairs = [ops for ops in reads.values() if len(ops) >= 2]
    assume(bool(pairs))
    victim = random.Random(seed).choice(random.Random(seed).choice(pairs))
    seen = victim[2]
    assert isinstance(seen, list)
    seen[0], seen[1] = seen[1], seen[0]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "h.jsonl"
        path.write_text("\n".join(json.dumps(t) for t in txns) + "\n")
        report, _ = check_transactions(path, "list-append")
    assert "incompatible-order" in report.names(), report.render()
