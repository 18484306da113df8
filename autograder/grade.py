"""Grading one submission: every test (the hidden ones too), Gradescope's results.json, a
machine-readable report and a feedback page.

Where student code runs, and what the grader trusts:

* **Ray runs are authoritative.** The grader is the Ray driver: it records the client history
  with its own clock and runs the checks here on plain data. Each node's Ray process runs
  runtime code only: the node's code runs in a sealed child of it (as in the simulator runs
  below), handed one event at a time, while the Ray process keeps its timers and disk, decides
  its messages' fates and measures it (:mod:`labs.runtime.ray_sealed`). Not yet for a lab whose
  nodes start works (MapReduce): there node code runs in the Ray process itself.
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
import html
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs.runtime.lab import Finding
from labs.runtime.nursery import IsolationError, Nursery, isolation_available, one_core
from labs.runtime.sim import Simulation
from labs.runtime.worker import NodeHung, RunAborted

from .runner import Outcome, apply_checks, replay_command, report, run_test, write_pictures
from .sandbox import Sandbox, SandboxError, open_sandbox, unavailable
from .suite import PartTotal, Suite, Test, load_graded_suite

SIM_TIME_LIMIT = 120.0
"""Seconds of wall-clock time one simulator run may take before it counts as hung."""
BUDGET = 3600.0
"""Seconds of wall-clock time the grading of one submission may take in all (``--budget``): a
submission that sleeps or spins in every run stops holding a grading slot once it is spent. The
reference takes a few minutes per lab."""


@dataclass
class TestGrade:
    test: Test
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.passed for o in self.outcomes)

    @property
    def score(self) -> int:
        return self.test.points if self.passed else 0

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.passed]


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
    import labs

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
            apply_checks(outcome)
    _sandbox_findings(outcome, sandbox)
    outcome.seconds = time.monotonic() - started
    return outcome


# -- what the grader writes -------------------------------------------------------------------


def write_results(suite: Suite, grades: list[TestGrade], impl: Path, out: Path, seconds: float,
                  where: str = "") -> None:
    """``results.json`` (Gradescope's format), ``report.json`` and ``feedback.html`` in ``out``.

    For a lab graded in parts, each shows a subtotal per part. Gradescope's results format has
    no place for a group of tests, so there a test carries its part as a tag (``"part A"``), the
    subtotals are lines of the top-level ``output`` (what students read) and a list in
    ``extra_data`` (what an instructor's export reads); every field stays one its format
    documents.
    """
    pictures = out / "pictures"
    tests_json: list[dict[str, Any]] = []
    report_json: list[dict[str, Any]] = []
    sections: dict[str | None, list[str]] = {}
    for number, g in enumerate(grades, 1):
        t = g.test
        runs = f"{sum(o.runtime == 'sim' for o in g.outcomes)} simulator seeds and {sum(o.runtime == 'ray' for o in g.outcomes)} Ray run(s)"
        if g.passed:
            text = f"passed on {runs}"
            picture_paths: list[Path] = []
        else:
            first = g.failures[0]
            text = f"failed on {len(g.failures)} of {runs}\n\n" + report(suite, first, pictures, impl)
            picture_paths = [p for p in pictures.glob(f"{suite.lab.name}-{t.name}-{first.runtime}-{first.seed}*.html")]
        visibility = "after_published" if t.hidden else "visible"
        entry: dict[str, Any] = {"name": t.name, "number": str(number), "score": g.score, "max_score": t.points,
                                 "status": "passed" if g.passed else "failed",
                                 "output": f"{t.description}\n\n{text}", "visibility": visibility}
        if t.part is not None:
            entry["tags"] = [f"part {t.part}"]
        tests_json.append(entry)
        report_json.append({
            "name": t.name, "points": t.points, "score": g.score, "hidden": t.hidden, "description": t.description,
            **({"part": t.part} if t.part is not None else {}),
            "runs": [{"runtime": o.runtime, "seed": o.seed, "passed": o.passed, "seconds": round(o.seconds, 3),
                      "findings": [str(f) for f in o.findings]} for o in g.outcomes],
        })
        sections.setdefault(t.part, []).append(_section(suite, g, text, picture_paths, out))
    total, worth = sum(g.score for g in grades), sum(g.test.points for g in grades)
    totals = suite.part_totals((g.test, g.score, g.test.points) for g in grades)
    parts_json = [{"part": pt.part.name, "title": pt.part.title, "score": pt.score, "max_score": pt.points,
                   "tests": list(pt.tests)} for pt in totals]
    summary = "".join(f"\npart {pt.part.name} ({pt.part.title}): {pt.score} / {pt.points}" for pt in totals)
    results: dict[str, Any] = {"score": total, "execution_time": round(seconds, 1), "visibility": "visible",
                               "output": f"{suite.lab.name}: {total} / {worth} points{summary}", "tests": tests_json}
    machine: dict[str, Any] = {"lab": suite.lab.name, "score": total, "max_score": worth, "submission": str(impl),
                              "student_code": where}
    if totals:
        results["extra_data"] = {"parts": parts_json}
        machine["parts"] = parts_json
    machine["tests"] = report_json
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out / "report.json").write_text(json.dumps(machine, indent=2), encoding="utf-8")
    if totals:
        body = _parts_table(totals, total, worth) + "\n".join(
            f"<h2 class='part' id='part-{html.escape(pt.part.name)}'>Part {html.escape(pt.part.name)}: "
            f"{html.escape(pt.part.title)} ({pt.score} / {pt.points})</h2>\n" + "\n".join(sections[pt.part.name])
            for pt in totals)
    else:
        body = "\n".join(sections.get(None, []))
    page = _FEEDBACK.format(title=html.escape(f"{suite.lab.name}: {total} / {worth} points"), body=body)
    (out / "feedback.html").write_text(page, encoding="utf-8")


def _parts_table(totals: list[PartTotal], total: int, worth: int) -> str:
    """The feedback page's opening summary: a row per part (linking to its tests), then the total."""
    rows = "".join(f"<tr><td><a href='#part-{html.escape(pt.part.name)}'>{html.escape(pt.part.name)}</a></td>"
                   f"<td>{html.escape(pt.part.title)}</td><td>{pt.score} / {pt.points}</td></tr>"
                   for pt in totals)
    return (f"<table class='parts'><tr><th>part</th><th></th><th>points</th></tr>{rows}"
            f"<tr><td>total</td><td></td><td>{total} / {worth}</td></tr></table>\n")


def _section(suite: Suite, g: TestGrade, text: str, pictures: list[Path], out: Path) -> str:
    t = g.test
    status = "passed" if g.passed else "failed"
    links = "".join(f"<li><a href='{html.escape(str(p.relative_to(out)))}'>{html.escape(p.name)}</a></li>"
                    for p in pictures)
    hidden = " <span class='hidden'>hidden test</span>" if t.hidden else ""
    heading = "h3" if t.part is not None else "h2"  # under its part's heading
    return (f"<section class='{status}'><{heading}>{html.escape(t.name)}: {g.score} / {t.points}{hidden}</{heading}>"
            f"<p>{html.escape(t.description)}</p><pre>{html.escape(text)}</pre>"
            + (f"<ul>{links}</ul>" if links else "") + "</section>")


_FEEDBACK = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 15px system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }}
section {{ border-left: 6px solid #1a7f37; padding: 0 1rem; margin: 1.5rem 0; }}
section.failed {{ border-color: #cf222e; }}
pre {{ background: #f6f8fa; padding: .8rem; overflow-x: auto; white-space: pre-wrap; }}
.hidden {{ font-size: 12px; background: #eee; padding: 2px 6px; border-radius: 4px; }}
table.parts {{ border-collapse: collapse; }}
table.parts td, table.parts th {{ padding: 2px 12px 2px 0; text-align: left; }}
table.parts tr:last-child td {{ border-top: 1px solid #ccc; font-weight: 600; }}
h2.part {{ margin-top: 2.5rem; border-bottom: 1px solid #ccc; }}
</style></head>
<body><h1>{title}</h1>
{body}
</body></html>
"""


__all__ = ["TestGrade", "grade", "replay_command", "run_sim_isolated", "start_nursery", "write_pictures"]
