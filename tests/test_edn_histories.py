"""The EDN reader, and histories in the forms Jepsen and Knossos write them: one vector of maps
over many lines, with comments, sets, tagged records, nemesis operations, ``:time`` and ``:index``.

The files in ``tests/data/histories/jepsen-edn/`` are hand-written in those forms (see the
README there); every malformed input must be refused with its line named.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from labs.checkers.edn import EdnError, Symbol, loads, read_all
from labs.checkers.history import UNKNOWN, HistoryError
from labs.checkers.importers import detect, read_history
from labs.checkers.linearizability import check
from labs.checkers.standard_models import register

DATA = Path(__file__).resolve().parent / "data" / "histories" / "jepsen-edn"
VERDICTS = {"cas-register-ok": "ok", "cas-register-bad": "illegal", "jepsen-store": "ok",
            "one-op-per-line": "ok"}


# -- the reader -------------------------------------------------------------------------------


def test_every_kind_of_value_becomes_plain_python() -> None:
    text = r'''; a comment, then one of each
    {:map {:k "v"}, :vector [1 2], :list (3 4), :set #{:a :b}, :keyword :ns/name,
     :string "tab\tquote\" newline\n \u00e9", :int -42, :big 7N, :float 2.5e3, :decimal 1.5M,
     :ratio 3/4, :nil nil, :yes true, :no false, :char \a, :newline \newline, :inf ##Inf,
     :symbol foo.bar/baz, :inst #inst "2024-05-01T10:00:00Z", :record #my.ns.Rec{:x 1},
     #_ :discarded #_ "too", :after-discard 1}'''
    value = loads(text)
    assert value == {
        "map": {"k": "v"}, "vector": (1, 2), "list": (3, 4), "set": frozenset({"a", "b"}),
        "keyword": "ns/name", "string": 'tab\tquote" newline\n é', "int": -42, "big": 7,
        "float": 2500.0, "decimal": 1.5, "ratio": Fraction(3, 4), "nil": None, "yes": True,
        "no": False, "char": "a", "newline": "\n", "inf": float("inf"), "symbol": "foo.bar/baz",
        "inst": "2024-05-01T10:00:00Z", "record": {"x": 1}, "after-discard": 1,
    }
    assert isinstance(value["symbol"], Symbol) and not isinstance(value["keyword"], Symbol)
    assert type(value["int"]) is int and type(value["float"]) is float


def test_every_value_knows_its_line_even_after_strings_that_span_lines() -> None:
    forms = read_all('[{:a 1}\n "two\nlines"\n #tag\n {:b 2}]\n; end\n{:c 3}\n')
    assert [f.line for f in forms] == [1, 7]
    assert forms[0].item_lines == (1, 2, 4)  # a tagged value starts at its tag
    assert forms[1].value == {"c": 3} and forms[1].item_lines == ()


MALFORMED = [
    ("[{:a 1}\n {:b 2}", 1, "vector opened here with '[' is never closed"),
    ("[{:a 1}\n {:b 2)]", 2, "')' closes the map opened with '{' on line 2, which needs a '}'"),
    ("{:a 1}\n}", 2, "'}' closes nothing"),
    ("[\n{:a 1 :b}]", 2, "the map opened here has a key with no value"),
    ('[\n"never closed]', 2, "a string opened here is never closed"),
    ('["a\nb" "\\q"]', 2, "a bad escape in the string"),
    ("[1\n #_]", 2, "']' comes right after '#_'"),
    ("[1\n #inst]", 2, "']' comes right after '#inst'"),
    ("[1\n\n 12x]", 3, "'12x' starts like a number but is not one"),
    ("[1 ##Infinity]", 1, "the symbolic values are ##Inf, ##-Inf and ##NaN"),
    ("[1\n # 2]", 2, "a '#' alone"),
    ("[1\n :]", 2, "a ':' alone"),
    ("[1\n 2/0]", 2, "divides by zero"),
    ("\n\n{{:a 1} 2}", 3, "holds a map as a map key"),
    ("[1\n @x]", 2, "unexpected '@x'"),
]


@pytest.mark.parametrize(("text", "line", "problem"), MALFORMED)
def test_malformed_edn_is_refused_with_its_line_and_column(text: str, line: int, problem: str) -> None:
    with pytest.raises(EdnError) as caught:
        read_all(text)
    assert caught.value.line == line and problem in caught.value.problem, str(caught.value)
    assert str(caught.value).startswith(f"line {line}, column ")


def test_loads_wants_exactly_one_value() -> None:
    assert loads("[1 2] ; and a comment") == (1, 2)
    with pytest.raises(EdnError, match="line 2, column 1: expected one EDN value, found 2"):
        loads("1\n2")
    with pytest.raises(EdnError, match="found none"):
        loads("; nothing")


# -- histories --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["auto", "edn"])
@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_jepsen_and_knossos_histories_get_their_verdicts(name: str, fmt: str) -> None:
    result = check(read_history(DATA / f"{name}.edn", fmt), register())  # type: ignore[arg-type]
    assert result.verdict == VERDICTS[name], result.explain()


def test_auto_recognises_a_vector_or_a_list_after_comments_and_blank_lines() -> None:
    assert detect(["", "; a history", "  ;; of Knossos", "[{:process 0, :type :invoke}"]) == "edn"
    assert detect(["({:process 0, :type :invoke}"]) == "edn"
    assert detect(["#jepsen.history.Op{:index 0}"]) == "edn"
    assert detect(['{"index": 0}']) == "native"


def test_a_vector_times_entries_by_position_and_lines_by_line() -> None:
    knossos = sorted(read_history(DATA / "cas-register-ok.edn"), key=lambda o: o.call)
    assert [(o.input.f, o.input.value, o.call) for o in knossos[:2]] == [("write", 1, 1.0), ("cas", (1, 2), 3.0)]
    assert knossos[1].output is True and knossos[1].ret == 6.0
    assert [o.output for o in knossos if o.input.f == "cas"] == [True, False, True]  # a :fail cas ran
    per_line = sorted(read_history(DATA / "one-op-per-line.edn"), key=lambda o: o.call)
    assert [(o.input.f, o.call, o.ret) for o in per_line] == [("write", 1.0, 3.0), ("read", 2.0, 5.0),
                                                              ("read", 6.0, 7.0)]


def test_a_failed_operation_did_not_happen_except_a_timed_out_read_and_a_cas() -> None:
    ops = read_history(DATA / "jepsen-store.edn")
    # The write of 4 failed with :timed-out: left out. The read that timed out: result unknown.
    assert [(o.input.f, o.input.value) for o in ops][:3] == [("write", 3), ("read", None), ("read", None)]
    assert ops[1].output is UNKNOWN and not ops[1].pending
    assert ops[3].input.value == (3, 5) and ops[3].pending  # the :info cas, written as a list
    assert check(ops, register()).verdict == "ok"


def test_the_timed_out_write_matters_had_it_happened(tmp_path: Path) -> None:
    """The verdict above rests on leaving the failed write out: had it succeeded, the later read
    of 3 would be stale."""
    text = (DATA / "jepsen-store.edn").read_text()
    happened = text.replace(":type :fail, :process 1, :f :write, :value :timed-out",
                            ":type :ok, :process 1, :f :write, :value 4")
    assert happened != text
    (tmp_path / "h.edn").write_text(happened)
    assert check(read_history(tmp_path / "h.edn"), register()).verdict == "illegal"


def test_the_nemesis_and_discarded_entries_are_not_operations() -> None:
    ops = read_history(DATA / "jepsen-store.edn")
    assert len(ops) == 6 and all(isinstance(o.client, int) for o in ops)
    assert 9 not in {o.client for o in ops}  # process 9's entry is behind a #_


BAD_HISTORIES = [
    ("malformed.edn", None, 5, "']' closes the map opened with '{' on line 4"),
    ("entry.edn", "[{:process 0, :type :invoke, :f :read}\n [:not :a :map]]", 2,
     "each entry of the history must be an EDN map"),
    ("twice.edn", "[{:process 0, :type :invoke, :f :read}\n\n {:process 0, :type :invoke, :f :read}]",
     3, "process 0 invokes while its operation of line 1 is still running"),
    ("orphan.edn", "[{:process 0, :type :invoke, :f :read}\n {:process 1, :type :ok, :f :read}]",
     2, "ok of process 1, which invoked nothing"),
    ("other-f.edn", "[{:process 0, :type :invoke, :f :read}\n {:process 0, :type :ok, :f :write}]",
     2, "completes 'write', but process 0 invoked 'read' on line 1"),
    ("no-f.edn", "[{:process 0, :type :invoke, :f :read}\n {:process 0, :type :ok, :f :read}\n"
     " {:process 0, :type :invoke, :value 3}]", 3, "an invocation without :f"),
    ("process.edn", "[{:process 0, :type :invoke, :f :read}\n {:process \"p\", :type :invoke}]",
     2, "the process must be a number or :nemesis"),
    ("lines.edn", '{:process 0, :type :invoke, :f :read}\n{:process 0, :type :ok, :f :read :value "1}\n',
     2, "cannot read EDN at column 41: a string opened here is never closed"),
    ("empty.edn", "; only a comment\n[", 2, "the vector opened here with '[' is never closed"),
]


@pytest.mark.parametrize(("name", "text", "line", "problem"), BAD_HISTORIES)
@pytest.mark.parametrize("fmt", ["auto", "edn"])
def test_a_malformed_history_is_refused_naming_its_file_and_line(
        tmp_path: Path, fmt: str, name: str, text: str | None, line: int, problem: str) -> None:
    path = DATA / name if text is None else tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(HistoryError) as caught:
        read_history(path, fmt)  # type: ignore[arg-type]
    assert str(caught.value).startswith(f"{path}:{line}: "), str(caught.value)
    assert problem in str(caught.value)
