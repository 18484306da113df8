"""Grading one submission: every test (the hidden ones too), Gradescope's results.json, a
machine-readable report and a feedback page.

Where student code runs, and what the grader trusts:

* **Ray runs are authoritative.** The grader is the Ray driver: it records the client history
  with its own clock and runs the checks here on plain data. Each node's Ray process runs
  runtime code only: the node's code runs in a sealed child of it (as in the simulator runs
  below), handed one event at a time, while the Ray process keeps its timers and disk, decides
  its messages' fates and measures it (:mod:`labs.runtime.ray_hosted`); a crash kills the node's
  process, not the Ray process, so a restart is on time.
* **Simulator runs** (many seeds, fast) are split at the trust line: the simulated world (virtual
  time, the network and its faults, the schedule, the workload and its history) runs here, in
  the grader's process, and each node incarnation runs in a sealed process of its own
  (:mod:`labs.runtime.nursery`: no network, no other process, a private ``/tmp``, one socket to
  the world). A node is handed one event at a time and hands back its effects as data, which the
  grader checks before it applies them; it never sees the schedule, the seed or the test's name.
  A handler that never returns stops the run at a wall-clock limit; a process that dies or
  babbles crashes its node.
* **In the sandbox** (:mod:`.sandbox`, used whenever this machine has it): both kinds of runs
  execute as an unprivileged user that cannot read the instructor's files, against the
  *released* packages, under limits on processes, memory and file sizes; whatever it did
  wrong (a limit crossed, files left outside its folder) fails the run it happened in.

A test earns its points when every run of it passes, in both runtimes.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import labs
from labs.runtime.lab import Finding
from labs.runtime.nursery import IsolationError, Nursery, isolation_available, one_core
from labs.runtime.sim import Simulation
from labs.runtime.worker import NodeHung, RunAborted

from .failure_report import report
from .feedback import feedback_html
from .gradescope import results_json
from .runner import Outcome, TestGrade, apply_checks, run_search, run_test
from .sandbox import Sandbox, SandboxError, open_sandbox, unavailable
from .suite import PartTotal, Suite, Test, load_graded_suite

SIM_TIME_LIMIT = 120.0
"""Seconds of wall-clock time one simulator run may take before it counts as hung."""
BUDGET = 3600.0
"""Seconds of wall-clock time the grading of one submission may take in all (``--budget``): a
submission that sleeps or spins in every run stops holding a grading slot once it is spent. The
reference takes a few minutes per lab."""


def grade(submission: Path, lab: str, out: Path, sim_seeds: int | None = None, ray: bool = True,
          progress: Callable[[str], None] | None = None, pattern: str | None = None,
          sandbox: bool | None = None, private: Sequence[Path] = (), parts: Sequence[str] = (),
          budget: float = BUDGET) -> list[TestGrade]:
    """Grade ``submission`` (a folder holding the lab's file, or the file) into ``out``; with
    ``pattern``, only the tests whose name contains it; with ``parts`` (``["A"]``), only the
    tests of those parts of a lab graded in parts. Once ``budget`` seconds have gone, the runs
    left fail without running, saying so.

    ``sandbox``: True to require the sandbox, False to run student code as this user (a
    student's own machine), None to use it when this machine has it. ``private``: more paths
    the student code must not be able to read (the class's submissions, the gradebook).
    """
    suite = load_graded_suite(lab)
    suite.select(pattern, parts)  # an unknown part or test stops here, before any sandbox starts
    impl = submission.resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    grades: list[TestGrade] = []
    seal_ray = ray and isolation_available() is None
    with _sandbox_for(impl, sandbox) as sb, contextlib.ExitStack() as nurseries:
        nursery = nurseries.enter_context(start_nursery(sb))
        if sb is not None:
            out.chmod(0o700)  # the results are the instructor's until handed back
            sb.make_private([suite.source.resolve().parent, out.resolve(), *[Path(p).resolve() for p in private]],
                            project=_project_root())
        for test in suite.select(pattern, parts):
            g = TestGrade(test)
            seeds = list(test.seeds if sim_seeds is None else test.seeds[:sim_seeds])
            for seed in seeds:
                left = started + budget - time.monotonic()
                if left <= 0:
                    g.outcomes.append(_over_budget(test, seed, "sim", budget))
                    continue
                if not nursery.alive():  # the sandbox's watchdog killed it with the submission's processes
                    nursery = nurseries.enter_context(start_nursery(sb))
                g.outcomes.append(run_sim_isolated(test, seed, impl, sb, nursery, min(SIM_TIME_LIMIT, left)))
                if progress:
                    progress(f"{test.name} sim seed {seed}")
            if ray:
                for seed in test.ray_seeds:
                    if time.monotonic() > started + budget:
                        g.outcomes.append(_over_budget(test, seed, "ray", budget))
                        continue
                    outcome = run_test(test, seed, "ray", impl, hosts=sb.hosts if sb else None, sealed=seal_ray)
                    _sandbox_findings(outcome, sb)
                    g.outcomes.append(outcome)
                    if progress:
                        progress(f"{test.name} ray seed {seed}")
            grades.append(g)
        where = f"sandboxed as {sb.user}" if sb else f"not sandboxed ({unavailable() or 'asked not to'})"
    write_results(suite, grades, impl, out, time.monotonic() - started, where)
    return grades


def _over_budget(test: Test, seed: int, runtime: str, budget: float) -> Outcome:
    """A run left out: the submission's grading had used up its time."""
    outcome = Outcome(test, seed, runtime)
    outcome.findings.append(Finding(
        f"not run: grading this submission took its whole budget of {budget:.0f} s of real time before "
        "this run's turn (do handlers sleep, or spin? the reference's runs take a second or two each)"))
    return outcome


@contextlib.contextmanager
def _sandbox_for(impl: Path, wanted: bool | None) -> Iterator[Sandbox | None]:
    reason = unavailable()
    if wanted is False or (wanted is None and reason is not None):
        yield None
        return
    if reason is not None:
        raise SandboxError(f"the sandbox was asked for, but {reason}")
    with open_sandbox(impl) as sb:
        yield sb


def _project_root() -> Path:
    """The folder the instructor's packages are installed from (a checkout, for an editable install)."""
    return Path(labs.__file__).resolve().parents[1]


def _sandbox_findings(outcome: Outcome, sb: Sandbox | None) -> None:
    if sb is not None:
        outcome.findings.extend(Finding(text) for text in sb.take_incidents())


# -- a simulator run in a child process -------------------------------------------------------


def start_nursery(sandbox: Sandbox | None) -> Nursery:
    """The process that forks the nodes of simulator runs: as the sandbox's user given a sandbox,
    else as this user (sealed in namespaces when this machine allows it)."""
    if sandbox is None:
        return Nursery(isolate=isolation_available() is None)

    def launch(fd: int) -> Any:
        return sandbox.popen([str(sandbox.python), "-m", "labs.runtime.nursery", str(fd)], pass_fds=(fd,))

    return Nursery(launch)


def run_sim_isolated(test: Test, seed: int, impl: Path, sandbox: Sandbox | None = None,
                     nursery: Nursery | None = None, limit: float | None = None) -> Outcome:
    """Run ``test`` on ``seed``: the world here, each node in a sealed process forked by
    ``nursery`` (one of its own when not given), for at most ``limit`` seconds of real time;
    then check the run here."""
    started = time.monotonic()
    limit = SIM_TIME_LIMIT if limit is None else limit
    outcome = Outcome(test, seed, "sim")
    with contextlib.ExitStack() as stack:
        if nursery is None:
            nursery = stack.enter_context(start_nursery(sandbox))
        try:
            lab = test.lab.with_impl_source(impl)
            with one_core() as core:
                if test.search is not None:
                    outcome = run_search(test, None, nursery.search_nodes(lab, test.search, limit, core), limit)
                else:
                    nodes = nursery.nodes(lab, limit, core)
                    outcome.result = Simulation(lab, test.schedule, seed, nodes=nodes).run()
        except NodeHung as exc:
            why = "" if limit >= SIM_TIME_LIMIT else ", what was left of this grading's budget"
            outcome.findings.append(Finding(f"the run did not finish within {limit:.1f} s of real time{why}: {exc}"))
        except RunAborted as exc:
            outcome.findings.append(Finding(f"the run was stopped: {exc}"))
        except IsolationError as exc:
            incidents = sandbox.take_incidents() if sandbox is not None else []
            if not incidents:  # the machine's fault, not the student's: grading stops
                raise SandboxError(f"could not start a node's sealed process: {exc}") from exc
            # The watchdog killed the submission's processes (a fork bomb, too much memory).
            outcome.findings.extend(Finding(text) for text in incidents)
        except Exception as exc:  # the student's files cannot be read...
            outcome.findings.append(Finding(f"the run could not start: {type(exc).__name__}: {exc}"))
        else:
            if test.search is None:  # a search checked every state as it went
                apply_checks(outcome)
    _sandbox_findings(outcome, sandbox)
    outcome.seconds = time.monotonic() - started
    return outcome


# -- what the grader writes -------------------------------------------------------------------


def write_results(suite: Suite, grades: list[TestGrade], impl: Path, out: Path, seconds: float,
                  where: str = "") -> None:
    """``results.json`` (Gradescope's format, :mod:`.gradescope`), ``report.json`` (the grader's
    own, below) and ``feedback.html`` (:mod:`.feedback`) in ``out``, the pictures of each test's
    first failure in ``out/pictures``. For a lab graded in parts, each shows a subtotal per part.

    ``report.json`` holds every run of every test (runtime, seed, findings) and the submission's
    scores, which :mod:`.grading_job` and :mod:`.nbgrader_cell` read back as plain data.
    """
    pictures = out / "pictures"
    texts: list[str] = []
    shown: list[list[Path]] = []
    for g in grades:
        t = g.test
        runs = f"{sum(o.runtime == 'sim' for o in g.outcomes)} simulator seeds and {sum(o.runtime == 'ray' for o in g.outcomes)} Ray run(s)"
        if g.passed:
            texts.append(f"passed on {runs}")
            shown.append([])
        else:
            first = g.failures[0]
            texts.append(f"failed on {len(g.failures)} of {runs}\n\n" + report(suite, first, pictures, impl))
            shown.append([p for p in pictures.glob(f"{suite.lab.name}-{t.name}-{first.runtime}-{first.seed}*.html")])
    totals = suite.part_totals((g.test, g.score, g.test.points) for g in grades)
    results = results_json(suite.lab.name, grades, texts, totals, seconds)
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out / "report.json").write_text(json.dumps(_report(suite, grades, impl, where, totals), indent=2),
                                     encoding="utf-8")
    page = feedback_html(suite.lab.name, grades, texts, shown, totals, out)
    (out / "feedback.html").write_text(page, encoding="utf-8")


def _report(suite: Suite, grades: list[TestGrade], impl: Path, where: str,
            totals: list[PartTotal]) -> dict[str, Any]:
    """``report.json``'s content: the scores, each part's subtotal, and every run of every test."""
    machine: dict[str, Any] = {"lab": suite.lab.name, "score": sum(g.score for g in grades),
                               "max_score": sum(g.test.points for g in grades), "submission": str(impl),
                               "student_code": where}
    if totals:
        machine["parts"] = [pt.to_data() for pt in totals]
    machine["tests"] = [{
        "name": g.test.name, "points": g.test.points, "score": g.score, "hidden": g.test.hidden,
        "description": g.test.description, **({"part": g.test.part} if g.test.part is not None else {}),
        "runs": [{"runtime": o.runtime, "seed": o.seed, "passed": o.passed, "seconds": round(o.seconds, 3),
                  "findings": [str(f) for f in o.findings]} for o in g.outcomes],
    } for g in grades]
    return machine


__all__ = ["TestGrade", "grade", "run_sim_isolated", "start_nursery"]
