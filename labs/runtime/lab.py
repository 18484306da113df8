"""What a lab is to the runtime, and what a run gives back.

A :class:`Lab` names the server node class, the clerk class, the cluster's size, the standard
workload and the lab's own checks. Each lab folder (``labs/demo``, ``labs/rpc``...) exposes one as
``LAB`` in its ``__init__``. A student's implementation is the same module file, given by path:
its classes replace the reference classes by name.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import random
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .node import Clerk, Node, Op
from .schedule import Schedule
from .trace import Event, Summary, history_from_trace, summarize, write_trace


@dataclass(frozen=True)
class Workload:
    """The clients' standard behaviour: each of ``clients`` clerks runs one operation at a time,
    as given by ``generate(rng, client_index)``. An operation that takes longer than ``timeout``
    ends as unknown (``info``) and its clerk is replaced; the next operation starts ``think``
    seconds after the previous one ends."""

    generate: Callable[[random.Random, int], Op]
    clients: int = 3
    timeout: float = 1.0
    think: float = 0.0
    session: int = 0
    """After this many operations a clerk leaves and a fresh one (a new client, a new process)
    takes its place, as users come and go; 0: each clerk stays for the whole run."""


@dataclass(frozen=True)
class Finding:
    """One violation a check found: a one-line ``message`` and the evidence behind it,
    ``details`` (a counterexample, as text) and ``html`` (a self-contained picture of it)."""

    message: str
    details: str = ""
    html: str | None = None

    def __str__(self) -> str:
        return self.message


Check = Callable[["RunResult"], list[Finding]]
"""A lab check reads a finished run and returns the violations it found (empty: all good)."""


def no_node_errors(run: RunResult) -> list[Finding]:
    """The check every lab starts with: no handler raised, and the run was not stopped early (a
    storm of events in the simulator). A method still to be written raises
    ``NotImplementedError``, and says so as "not implemented yet: ..." rather than as a crash."""
    found: list[Finding] = []
    end = run.trace[-1] if run.trace else {}
    if end.get("type") == "end" and end.get("stopped"):
        found.append(Finding(str(end["stopped"])))
    for error in run.errors:
        lines = error.strip().splitlines()
        todo = next((line.split("NotImplementedError:", 1)[1].strip() for line in lines
                     if "NotImplementedError:" in line), None)
        if todo is not None or any(line.strip() == "NotImplementedError" for line in lines):
            found.append(Finding(todo or "not implemented yet: a method raised NotImplementedError", error))
        else:
            found.append(Finding(f"a node raised: {lines[-1] if lines else error}", error))
    first: dict[str, Finding] = {}  # the first of each message
    for f in found:
        first.setdefault(f.message, f)
    return list(first.values())[:3]


def unreadable_memory(samples: list[dict[str, Any]]) -> list[Finding]:
    """A finding for the first ``memory`` event whose process the grader could not read (its
    ``bytes`` is null): a node's process must not hide its memory from the one measuring it."""
    for e in samples:
        if e.get("bytes") is None:
            return [Finding(f"the grader could not read the memory of {e.get('node')}'s process at t={e['t']:.2f} "
                            "(does it make itself unreadable, for example with prctl(PR_SET_DUMPABLE, 0)?)")]
    return []


@dataclass(frozen=True)
class Lab:
    name: str
    description: str
    node: type[Node]
    clerk: type[Clerk] | None = None
    workload: Workload | None = None
    nodes: int = 3
    min_duration: float = 3.0
    """The shortest fault phase a run gets, whatever the schedule says."""
    settle: float = 2.0
    """Seconds after the final heal for the cluster to recover and pending operations to end."""
    checks: Sequence[Check] = ()
    roles: Sequence[str] = ("leader",)
    """The roles its nodes may hold (what ``Node.role()`` returns). A schedule can name one
    where it names a node: ``crash: leader`` crashes whichever node holds the role then."""
    role_holders: Callable[[Sequence[Event]], Mapping[str, str]] | None = None
    """Who holds each role, read by the runtime from the trace so far (the messages it saw
    sent), in place of asking the nodes' ``role()``: a node's word about itself would let a
    submission that claims no role dodge every fault aimed at one. The primary-backup lab's
    primary is the one the view service last announced."""
    memory_every: float = 0.0
    """Every this many seconds the runtime records each server's memory and disk use in the
    trace (``memory`` events); 0: never."""
    default_schedule: str = "none"
    impl_file: str = "node.py"
    """The file a student's implementation replaces (classes are matched by name)."""
    impl_source: str | None = None
    """A student's implementation as source text, not yet imported (see :meth:`with_impl_source`)."""
    params: Mapping[str, Any] = field(default_factory=dict)
    variants: Mapping[str, Lab] = field(default_factory=dict)
    """Other shapes of this lab that some of its tests use, by name: another node and clerk
    class (taken from the same student file), workload and checks, such as the Raft lab's
    key-value service (part E). A suite picks one with ``lab: {variant: kv}``."""
    """Settings a test gives the nodes (``Node.params``): plain JSON values, such as whether the
    Raft lab's state machine takes snapshots. A suite sets them with ``lab: {params: {...}}``."""

    def node_names(self) -> list[str]:
        return [f"n{i}" for i in range(1, self.nodes + 1)]

    def client_names(self) -> list[str]:
        n = self.workload.clients if self.workload and self.clerk else 0
        return [f"c{i}" for i in range(1, n + 1)]

    def with_impl(self, path: str | Path) -> Lab:
        """This lab with the node and clerk classes taken from a student's file or folder."""
        p = Path(path)
        if p.is_dir():
            p = p / self.impl_file
        if not p.exists():
            raise FileNotFoundError(f"no implementation at {p}: give the path of your {self.impl_file}")
        module = load_module(p)
        node = _pick(module, self.node.__name__, Node, p)
        clerk = _pick(module, self.clerk.__name__, Clerk, p) if self.clerk else None
        return replace(self, node=node, clerk=clerk)

    def with_impl_source(self, path: str | Path) -> Lab:
        """This lab with a student's files attached as text, never imported here: on Ray each
        node's process imports them itself, so no student code runs in the driver (the grader).
        The simulator imports them where it runs."""
        return replace(self, impl_source=submission_source(self, path))


def submission_source(lab: Lab, path: str | Path) -> str:
    """A student's files as JSON text: ``{"main": ..., "files": {name: text}, "server": ...,
    "clerk": ...}``, every ``.py`` file of the submission's folder (it may import its siblings)."""
    p = Path(path)
    main = p / lab.impl_file if p.is_dir() else p
    if not main.exists():
        raise FileNotFoundError(f"no implementation at {main}: give the path of your {lab.impl_file}")
    files = {f.name: f.read_text(encoding="utf-8") for f in sorted(main.parent.glob("*.py"))}
    return json.dumps({"main": main.name, "files": files, "server": lab.node.__name__,
                       "clerk": lab.clerk.__name__ if lab.clerk else None})


def load_submission(source: str, directory: Path) -> tuple[type[Node], type[Clerk] | None]:
    """Write a submission's files into ``directory``, import its main file there and pick the
    node and clerk classes by name. Runs where student code may run (a node's process)."""
    spec = json.loads(source)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in spec["files"].items():
        if "/" in name or name.startswith("."):
            raise ValueError(f"a submission file may not be called {name!r}")
        (directory / name).write_text(text, encoding="utf-8")
    main = directory / spec["main"]
    module = load_module(main)
    server = _pick(module, spec["server"], Node, main)
    clerk = _pick(module, spec["clerk"], Clerk, main) if spec["clerk"] else None
    return server, clerk


def _pick(module: Any, name: str, base: type, path: Path) -> type:
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise AttributeError(f"{path} must define class {name}({base.__name__}), as the handout says")
    return cls


def load_module(path: Path) -> Any:
    """Import a student's file under a private module name (it may import its own siblings)."""
    name = f"_student_{abs(hash(str(path.resolve()))):x}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def get_lab(name: str) -> Lab:
    """The lab called ``name`` (``labs/<name>/__init__.py`` defines ``LAB``); a dash stands for
    an underscore (``primary-backup``)."""
    name = name.replace("-", "_")
    try:
        module = importlib.import_module(f"labs.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"labs.{name}":
            raise
        raise LookupError(f"no lab named {name!r}; labs: {', '.join(lab_names())}") from None
    lab = getattr(module, "LAB", None)
    if not isinstance(lab, Lab):
        raise LookupError(f"labs.{name} defines no LAB")
    return lab


def lab_names() -> list[str]:
    """The labs: the packages under ``labs/`` whose ``__init__.py`` declares ``LAB = Lab(...)`` (read
    without importing them; ``labs/runtime``, ``labs/checkers`` and ``labs/pictures`` declare none)."""
    root = Path(__file__).resolve().parent.parent
    return sorted(p.parent.name for p in root.glob("*/__init__.py") if _declares_lab(p))


def _declares_lab(init: Path) -> bool:
    tree = ast.parse(init.read_text(encoding="utf-8"))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == "LAB" for t in targets):
            return True
    return False


@dataclass
class RunResult:
    """Everything a run produced; all plain data."""

    lab: Lab
    runtime: str
    seed: int
    schedule: Schedule
    trace: list[Event]
    errors: list[str] = field(default_factory=list)

    @property
    def history(self) -> list[Event]:
        return history_from_trace(self.trace)

    def summary(self) -> Summary:
        return summarize(self.trace)

    def violations(self) -> list[Finding]:
        """What the lab's checks found wrong with this run (empty: every check passed)."""
        out: list[Finding] = []
        for check in self.lab.checks:
            out.extend(check(self))
        return out

    def write_trace(self, path: str | Path) -> None:
        write_trace(self.trace, path)

    def events(self, *types: str) -> list[Event]:
        return [e for e in self.trace if e["type"] in types]
