"""A small, fast reader of EDN, the data notation Jepsen, Knossos, Elle and Porcupine write.

Histories recorded by those tools are EDN: one vector of maps spread over many lines (Knossos,
older Jepsen), or one map per line (Porcupine, newer Jepsen). This reader takes a whole text,
not a line at a time, and knows the line of every value, so an error says where it is.

What each EDN value becomes:

=====================================  =====================================================
EDN                                    Python
=====================================  =====================================================
``{:a 1}`` map                         ``dict`` (its keys must be hashable: no maps as keys)
``[1 2]`` vector, ``(1 2)`` list       ``tuple``
``#{1 2}`` set                         ``frozenset``
``:invoke`` keyword                    ``str`` without the colon, ``"invoke"``
``"a\\n"`` string                      ``str``, escapes decoded
``foo`` symbol                         :class:`Symbol`, a ``str``
``12``, ``-3N``                        ``int``
``1.5``, ``2e3``, ``1.5M``             ``float``
``1/3`` ratio                          ``fractions.Fraction``
``##Inf``, ``##-Inf``, ``##NaN``       ``float``
``\\a``, ``\\newline`` character       ``str`` of one character
``nil``, ``true``, ``false``           ``None``, ``True``, ``False``
``#inst "..."``, ``#my.Rec{...}``      the tagged value: the tag is dropped
``#_ value``                           nothing: the value is discarded
``; ...`` comment, commas              nothing
=====================================  =====================================================

A general EDN library was tried before for these histories: it took about ten times as long as
checking them. Here one regular expression cuts the text into tokens in a single C-level pass
(``re.findall``), and one loop without recursion builds the values; values of atoms (keywords,
numbers) are parsed once and then looked up. On the course's 2-core machine a history.edn of
50,000 operations (4.5 MB) reads in about 0.7 s, and ``read_history`` makes operations of it in
about 1 s; the line-by-line reader this replaced took 1.7 s for the same operations.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from typing import Any, NamedTuple


class EdnError(ValueError):
    """Text that is not EDN: ``line`` and ``column`` (both from 1) are where, ``problem`` what."""

    def __init__(self, line: int, column: int, problem: str) -> None:
        super().__init__(f"line {line}, column {column}: {problem}")
        self.line, self.column, self.problem = line, column, problem


class _Bad(Exception):
    """A problem found at the ``token``-th token; :func:`read_all` turns it into an EdnError."""

    def __init__(self, token: int, problem: str) -> None:
        super().__init__(problem)
        self.token, self.problem = token, problem


class Symbol(str):
    """An EDN symbol (``foo``, ``jepsen/op``): a string that remembers it was not one."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Symbol({str.__repr__(self)})"


class Form(NamedTuple):
    """A top-level value of a text, the line it starts on, and, for a vector or a list, the line
    each of its items starts on (empty for anything else)."""

    line: int
    value: Any
    item_lines: tuple[int, ...]


_DELIMITERS = r"\s,;{}\[\]()\"\\"
_TOKEN = re.compile(rf"""
    (?:[^\S\n]|,|;[^\n]*)*+                   # blanks, commas and comments between tokens
    (
        \n
      | "(?:[^"\\]|\\.)*"                        # a string, which may span lines
      | \#[_{{]                                  # discard, or the opening of a set
      | \#\#[^{_DELIMITERS}]+                    # ##Inf, ##-Inf, ##NaN
      | \#[^{_DELIMITERS}\#][^{_DELIMITERS}]*    # a tag
      | [{{}}\[\]()]
      | \\(?:newline|space|tab|return|formfeed|backspace|u[0-9a-fA-F]{{4}}|.)  # a character
      | [^{_DELIMITERS}\#][^{_DELIMITERS}]*      # an atom: number, keyword, symbol, nil...
      | .                                        # anything else is an error
    )""", re.VERBOSE | re.DOTALL)
_INT = re.compile(r"[-+]?\d+N?")
_FLOAT = re.compile(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?M?")
_RATIO = re.compile(r"[-+]?\d+/\d+")
_CHARACTERS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r", "formfeed": "\f",
               "backspace": "\b"}
_SPECIAL = {"##Inf": float("inf"), "##-Inf": float("-inf"), "##NaN": float("nan")}
_OPENS = {"]": "[", ")": "(", "}": "{"}
_CLOSES = {"[": "]", "(": ")", "{": "}", "#{": "}"}
_NAMES = {"[": "vector", "(": "list", "{": "map", "#{": "set"}
_MISSING = object()
_TAG, _DISCARD = "tag", "#_"


def loads(text: str) -> Any:
    """The one value ``text`` holds; :class:`EdnError` if it holds none, several, or bad EDN."""
    forms = read_all(text)
    if len(forms) != 1:
        where = forms[1].line if len(forms) > 1 else 1
        raise EdnError(where, 1, f"expected one EDN value, found {len(forms) or 'none'}")
    return forms[0].value


def read_all(text: str, first_line: int = 1) -> list[Form]:
    """Every top-level value of ``text`` with its line (counted from ``first_line``).

    Raises :class:`EdnError` naming the line and column of the first problem and what it is.
    """
    if not text.endswith("\n"):
        text += "\n"  # so that every comment and blank before the end is followed by a token
    try:
        return _read(_TOKEN.findall(text), first_line)
    except _Bad as bad:
        for n, m in enumerate(_TOKEN.finditer(text)):
            if n == bad.token:
                at = m.start(1)
                line = first_line + text.count("\n", 0, at)
                raise EdnError(line, at - text.rfind("\n", 0, at), bad.problem) from None
        raise AssertionError("a problem names a token past the end") from None


def _read(tokens: list[str], line: int) -> list[Form]:
    """The loop of :func:`read_all`, over the tokens of the text. Problems raise :class:`_Bad`."""
    atoms: dict[str, Any] = {}  # the value of each atom seen so far
    get = atoms.get
    # Open collections, tags and discards: [kind, items (or the tag), line, token, the lines of
    # the items (only for a top-level vector or list, else None), whether it is top-level].
    stack: list[list[Any]] = []
    collections = 0  # how many frames of the stack are collections
    forms: list[Form] = []
    append: Any = None  # items.append of the innermost frame, if a nested collection
    for i, tok in enumerate(tokens):
        value = get(tok, _MISSING)
        start = line
        if value is _MISSING:
            c = tok[0]
            if c == "\n":
                line += 1
                continue
            if c in "[({" or tok == "#{":
                items: list[Any] = []
                lines: list[int] | None = None if collections or c not in "[(" else []
                stack.append([tok, items, line, i, lines, not collections])
                append = items.append if lines is None else None
                collections += 1
                continue
            if c in "])}":
                value = _close(stack, tok, i)
                collections -= 1
                top = stack[-1] if stack else None
                append = top[1].append if top and top[4] is None and top[0] in _NAMES else None
            elif c == '"' and len(tok) > 1:
                value = _string(tok, i)
                if "\n" in tok:
                    line += tok.count("\n")
                else:
                    atoms[tok] = value
            elif tok == "#_" or (c == "#" and len(tok) > 1 and tok[1] != "#"):
                stack.append([_DISCARD if tok == "#_" else _TAG, tok, line, i, None, False])
                append = None
                continue
            elif tok.isdigit() and tok.isascii():
                value = atoms[tok] = int(tok)  # times and indexes: many, each seen once
            else:
                value = atoms[tok] = _atom(tok, i)
        if append is not None:  # the common case: a value inside a nested map or vector
            append(value)
            continue
        append = _place(stack, forms, value, start)
    if stack:
        kind, tag, _, token, _, _ = stack[-1]
        if kind in _NAMES:
            raise _Bad(token, f"the {_NAMES[kind]} opened here with '{kind}' is never closed "
                              f"(the text ends first): add its '{_CLOSES[kind]}'")
        raise _Bad(token, f"'{tag}' here needs a value after it, and the text ends first")
    return forms


class _Closed(NamedTuple):
    """A top-level collection just closed, with the line it started on and its items' lines."""

    value: Any
    line: int
    item_lines: tuple[int, ...]


def _place(stack: list[list[Any]], forms: list[Form], value: Any, line: int) -> Any:
    """Place a value just read: it ends the tags and discards waiting for it, then joins its
    collection or the top-level forms. Returns the innermost ``items.append`` (or None)."""
    start = line
    item_lines: tuple[int, ...] = ()
    if isinstance(value, _Closed):
        value, start, item_lines = value
    while stack and stack[-1][0] in (_TAG, _DISCARD):
        frame = stack.pop()
        start = frame[2]
        if frame[0] == _DISCARD:
            break
    else:
        if not stack:
            forms.append(Form(start, value, item_lines))
        else:
            stack[-1][1].append(value)
            if stack[-1][4] is not None:
                stack[-1][4].append(start)
    top = stack[-1] if stack else None
    return top[1].append if top is not None and top[4] is None and top[0] in _NAMES else None


def _close(stack: list[list[Any]], tok: str, i: int) -> Any:
    """The collection the ``i``-th token ``tok`` closes; a top-level one as :class:`_Closed`."""
    if not stack:
        raise _Bad(i, f"'{tok}' closes nothing: remove it, or add the '{_OPENS[tok]}' it "
                      f"belongs to")
    kind, items, opened, token, item_lines, top_level = stack.pop()
    if kind in (_TAG, _DISCARD):
        raise _Bad(i, f"'{tok}' comes right after '{items}' (line {opened}), which needs a value "
                      f"first")
    if _CLOSES[kind] != tok:
        raise _Bad(i, f"'{tok}' closes the {_NAMES[kind]} opened with '{kind}' on line "
                      f"{opened}, which needs a '{_CLOSES[kind]}'")
    value: Any
    try:
        if kind == "{":
            if len(items) % 2:
                raise _Bad(token, f"the map opened here has a key with no value ({len(items)} "
                                  f"items, an odd number)")
            pairs = iter(items)
            value = dict(zip(pairs, pairs, strict=False))  # the count is even: checked above
        elif kind == "#{":
            value = frozenset(items)
        else:
            value = tuple(items)
    except TypeError:
        raise _Bad(token, f"the {_NAMES[kind]} opened here holds a map as a map key or a set "
                          f"element, which this reader cannot hash") from None
    return _Closed(value, opened, tuple(item_lines or ())) if top_level else value


def _string(tok: str, i: int) -> str:
    if "\\" not in tok:
        return tok[1:-1]
    try:
        text: str = json.loads(tok, strict=False)
    except json.JSONDecodeError:
        raise _Bad(i, f"a bad escape in the string {tok[:30]!r}: EDN knows \\t \\r \\n \\\\ "
                      f"\\\" \\b \\f and \\uXXXX") from None
    return text


def _atom(tok: str, i: int) -> Any:
    """The value of a token that is not a bracket, a string, a tag or a discard."""
    c = tok[0]
    if c == ":":
        if len(tok) == 1:
            raise _Bad(i, "a ':' alone: a keyword needs a name, as in :ok")
        return tok[1:]
    if c.isdigit() or (c in "+-" and len(tok) > 1 and tok[1].isdigit()):
        if _INT.fullmatch(tok):
            return int(tok.rstrip("N"))
        if _FLOAT.fullmatch(tok):
            return float(tok.rstrip("M"))
        if _RATIO.fullmatch(tok):
            numerator, denominator = tok.split("/")
            if int(denominator) == 0:
                raise _Bad(i, f"the ratio {tok} divides by zero")
            return Fraction(int(numerator), int(denominator))
        raise _Bad(i, f"{tok!r} starts like a number but is not one")
    if c == "\\":
        name = tok[1:]
        if len(name) == 1:
            return name
        if name in _CHARACTERS:
            return _CHARACTERS[name]
        return chr(int(name[1:], 16))  # \uXXXX: the pattern admits nothing else
    if tok.startswith("##"):
        if tok not in _SPECIAL:
            raise _Bad(i, f"{tok!r}: the symbolic values are ##Inf, ##-Inf and ##NaN")
        return _SPECIAL[tok]
    if tok == "nil":
        return None
    if tok in ("true", "false"):
        return tok == "true"
    if c == '"':
        raise _Bad(i, "a string opened here is never closed: add its closing '\"'")
    if c == "#":
        raise _Bad(i, "a '#' alone: it must be followed by a tag name, '{' (a set) or '_' "
                      "(a discard)")
    if not (c.isalpha() or c in "*+!-_?<>=/.&%$'|"):
        raise _Bad(i, f"unexpected {tok!r}: not the start of any EDN value")
    return Symbol(tok)
