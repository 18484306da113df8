"""``python -m autograder``: the autograder's command line."""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
import threading
import time
from pathlib import Path

import click
import yaml

from labs.checkers.history import HistoryError
from labs.checkers.importers import FORMATS, read_history
from labs.checkers.linearizability import check as check_linearizability
from labs.checkers.standard_models import KV, VERSIONED_KV, register
from labs.checkers.txn_files import TXN_MODELS, check_transactions
from labs.checkers.txn_history import TxnHistoryError
from labs.runtime.schedule import load as load_schedule

from .classroom import grade_all_command
from .explore import explore
from .failure_report import report
from .grade import grade
from .leaks import scan
from .nbgrader_course import COMMANDS
from .release import ReleaseError, _tracked, release
from .runner import Outcome, outcomes
from .sandbox import SandboxError, unavailable
from .search_command import search_command
from .suite import Suite, SuiteError, Test, load_graded_suite, load_suite, parse_parts_option

EXIT_OK, EXIT_ILLEGAL, EXIT_UNKNOWN, EXIT_UNREADABLE = 0, 1, 2, 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The autograder of "Distributed Systems, by Breaking Them"."""
    # A grader stopped by SIGTERM (a job scheduler's timeout, Ctrl-C's quieter cousin) unwinds as
    # it would on an error: its sandbox kills its processes and removes its folder on the way out.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _initial(text: str | None) -> object:
    """--init as JSON where it parses (3, "x", null), nil as None, anything else as a string."""
    if text is None or text == "nil":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@main.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--model", "model_name", required=True,
              type=click.Choice(["kv", "register", "versioned-kv", *TXN_MODELS]),
              help="The object the history was recorded against; rw-register and list-append "
                   "are histories of transactions (Elle's), checked for strict serializability.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="native: the runtime's (or, for transactions, the course's) JSON Lines; "
                   "edn: Jepsen/Knossos/Porcupine/Elle maps; jepsen-log.")
@click.option("--init", "init", default=None, help="The register's initial value (default nil).")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds of search per file before the verdict is unknown.")
@click.option("--html", "html_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("linearizability-reports"), show_default=True,
              help="Where the picture of each illegal history is written.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file instead of text.")
def check(files: tuple[Path, ...], model_name: str, fmt: str, init: str | None, timeout: float,
          html_dir: Path, as_json: bool) -> None:
    """Check histories for linearizability (or, for transactions, strict serializability), one
    line per file.

    Exits 0 when every file is linearizable, 1 when any is not, 2 when the search ran out of
    time on some (and none is illegal), 3 when a file could not be read. Transactions are
    checked without a time limit and without pictures: --timeout and --html do not apply.
    """
    if init is not None and model_name != "register":
        raise click.UsageError("--init only applies to --model register")
    if model_name in TXN_MODELS:
        if fmt == "jepsen-log":
            raise click.UsageError("transactions are read from EDN or JSON Lines: --format "
                                   "auto, edn or native")
        _check_transactions(files, model_name, fmt, as_json)
    model = {"kv": KV, "versioned-kv": VERSIONED_KV}.get(model_name) or register(_initial(init))
    codes: set[int] = set()
    for path in files:
        try:
            ops = read_history(path, fmt)  # type: ignore[arg-type]
            result = check_linearizability(ops, model, timeout=timeout)
        except HistoryError as exc:
            click.echo(f"{path}: unreadable: {exc}", err=True)
            codes.add(EXIT_UNREADABLE)
            continue
        except ValueError as exc:  # an operation the model does not know
            click.echo(f"{path}: unreadable: {exc} (is --model right?)", err=True)
            codes.add(EXIT_UNREADABLE)
            continue
        codes.add({"ok": EXIT_OK, "illegal": EXIT_ILLEGAL, "unknown": EXIT_UNKNOWN}[result.verdict])
        picture = None
        if result.verdict == "illegal":
            html_dir.mkdir(parents=True, exist_ok=True)
            picture = result.write_html(html_dir / f"{path.stem}.html", f"{path.name}: not linearizable")
        if as_json:
            click.echo(json.dumps({"file": str(path), **result.to_dict(),
                                   "picture": None if picture is None else str(picture)}))
            continue
        click.echo(f"{path}: {result.verdict} ({result.seconds:.3f} s)")
        if result.verdict != "ok":
            click.echo("  " + result.explain().replace("\n", "\n  "))
        if picture is not None:
            click.echo(f"  picture: {picture}")
    for code in (EXIT_UNREADABLE, EXIT_ILLEGAL, EXIT_UNKNOWN):
        if code in codes:
            sys.exit(code)


def _check_transactions(files: tuple[Path, ...], model: str, fmt: str, as_json: bool) -> None:
    """``check`` for histories of transactions: one line per file, the verdict and each anomaly
    with the transactions that show it, then (in text) the explanation. Exits as ``check``."""
    codes: set[int] = set()
    for path in files:
        started = time.perf_counter()
        try:
            result, history = check_transactions(path, model, fmt)
        except (HistoryError, TxnHistoryError) as exc:
            click.echo(f"{path}: unreadable: {exc}", err=True)
            codes.add(EXIT_UNREADABLE)
            continue
        took = time.perf_counter() - started
        codes.add(EXIT_OK if result.ok else EXIT_ILLEGAL)
        involved = dict.fromkeys(t for a in result.anomalies for t in a.txns)
        if as_json:
            click.echo(json.dumps({"file": str(path), "model": model, **result.to_dict(),
                                   "lines": {t: history.lines[t] for t in involved},
                                   "seconds": round(took, 6)}))
            continue
        if result.ok:
            click.echo(f"{path}: ok ({result.transactions} transactions, {took:.3f} s)")
            continue
        found = "; ".join(f"{a.name} {' '.join(a.txns)}" for a in result.anomalies)
        click.echo(f"{path}: illegal: {found} ({took:.3f} s)")
        click.echo("  " + result.render().replace("\n", "\n  "))
        click.echo("  where: " + ", ".join(f"{t} on line {history.lines[t]}" for t in involved))
    for code in (EXIT_UNREADABLE, EXIT_ILLEGAL):
        if code in codes:
            sys.exit(code)
    sys.exit(EXIT_OK)


PART_HELP = ("Only the tests of this part of the lab (a lab graded in parts, such as raft: A, B, C...). "
             "Repeat it or separate parts by commas for several: --part A --part B, or --part A,B.")


@main.command("test")
@click.argument("lab")
@click.option("--impl", type=click.Path(exists=True, path_type=Path), default=None,
              help="Your implementation (the lab's node.py or its folder). Default: the reference.")
@click.option("-k", "pattern", default=None, help="Only the tests whose name contains this.")
@click.option("--part", "part_names", multiple=True, metavar="PART", help=PART_HELP)
@click.option("--seed", "seed_list", type=int, multiple=True, help="Run this seed only (repeatable).")
@click.option("--seeds", "seed_count", type=int, default=None,
              help="Seeds 1..N for each test, instead of the suite's number.")
@click.option("--runtime", type=click.Choice(["sim", "ray", "both"]), default="sim", show_default=True,
              help="sim: fast and exactly replayable. ray: one OS process per node, real time.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where pictures of failures go (default: <lab>-reports).")
@click.option("--all-failures", is_flag=True, help="Report every failing seed, not only the first per test.")
@click.option("--schedule", "schedule_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Run the chosen tests under this schedule file instead of their own "
                                 "(a failure report's shrunk schedule, say).")
@click.option("--no-shrink", is_flag=True, help="Report failures under the test's own schedule, unshrunk.")
def test(lab: str, impl: Path | None, pattern: str | None, part_names: tuple[str, ...],
         seed_list: tuple[int, ...], seed_count: int | None, runtime: str, out_dir: Path | None,
         all_failures: bool, schedule_file: Path | None, no_shrink: bool) -> None:
    """Run a lab's test suite: a table of results with points (a subtotal per part, for a lab
    graded in parts), and for each failure the seed, the schedule, the evidence, a picture and
    the command that replays it.

    Exits 0 when every test passed, 1 otherwise.
    """
    try:
        suite = load_suite(lab)
        tests = suite.select(pattern, parse_parts_option(part_names))
        if schedule_file is not None:
            own = load_schedule(schedule_file)
            tests = [dataclasses.replace(t, schedule=own, schedule_name=own.name) for t in tests]
    except (SuiteError, LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    runtimes = ["sim", "ray"] if runtime == "both" else [runtime]
    seeds: dict[str, list[int]] = {}
    if seed_list:
        seeds = {r: list(seed_list) for r in runtimes}
    elif seed_count is not None:
        seeds = {r: list(range(1, seed_count + 1)) for r in runtimes}
    out = out_dir or Path(f"{lab}-reports")
    who = f"your {impl}" if impl else "the reference solution"
    chosen_parts = [str(p) for p in suite.parts if any(t.part == p.name for t in tests)]
    which = f" part {', '.join(chosen_parts)}" if part_names else ""
    click.echo(f"{suite.lab.name}{which}: {len(tests)} test(s), {sum(t.points for t in tests)} points, "
               f"{' and '.join(runtimes)}, {who}")
    rows: list[tuple[Test, str, int, str]] = []
    for t in tests:
        for rt in ["search"] if t.search is not None else runtimes:  # a search runs once, in the simulator
            chosen = [1] if t.search is not None else seeds.get(rt) or list(t.seeds if rt == "sim" else t.ray_seeds)
            failed: list[Outcome] = []
            started = time.monotonic()
            label = f"{t.name} [{rt}]"
            searched = ""
            with click.progressbar(outcomes([t], {rt: chosen}, [rt], impl), length=len(chosen),
                                   label=f"{label:<34}", file=sys.stderr,
                                   show_pos=True) as bar:
                for outcome in bar:
                    if not outcome.passed:
                        failed.append(outcome)
                    if outcome.search is not None:
                        found = outcome.search
                        walk = f", random walk {found.walk}" if found.walk is not None else ""
                        depth = t.search.depth if t.search is not None else found.depth
                        searched = f"{found.states:,} states to depth {depth}{walk}, "
            took = time.monotonic() - started
            if failed:
                click.echo(f"FAIL {label}: {searched}{took:.1f} s" if searched else
                           f"FAIL {label}: {len(failed)} of {len(chosen)} seed(s) failed ({took:.1f} s)")
                for outcome in failed if all_failures else failed[:1]:
                    click.echo(report(suite, outcome, out, impl, shrink_budget=0.0 if no_shrink else 20.0,
                                      schedule_file=schedule_file))
                rows.append((t, label, 0, "search failed" if searched else f"{len(failed)}/{len(chosen)} seeds failed"))
            else:
                click.echo(f"PASS {label}: {searched}{took:.1f} s" if searched else
                           f"PASS {label}: {len(chosen)} seed(s) ({took:.1f} s)")
                rows.append((t, label, t.points, "searched" if searched else f"{len(chosen)} seeds"))
    click.echo("")
    click.echo(results_table(suite, rows))
    sys.exit(0 if all(got == t.points for t, _, got, _ in rows) else 1)


def results_table(suite: Suite, rows: list[tuple[Test, str, int, str]]) -> str:
    """The table ``test`` ends with: a line per (test, runtime) row ``(test, label, points
    earned, note)``, then for a lab graded in parts a subtotal line per part, then the total.

    The subtotals come after all the rows rather than under each part's tests, so that a
    suite listing its tests out of part order still gets one line per part."""
    totals = suite.part_totals((t, got, t.points) for t, _, got, _ in rows)
    subtotal_labels = [f"part {pt.part.name}: {pt.part.title}" for pt in totals]
    # 36 columns as before, wider only for a label that would run into its points.
    width = max([34, *(len(label) for _, label, _, _ in rows), *map(len, subtotal_labels)]) + 2
    lines = [f"{'test':<{width}}{'points':>10}  seeds"]
    lines += [f"{label:<{width}}{got:>4} / {t.points:<3}  {note}" for t, label, got, note in rows]
    if totals:
        lines.append("-" * (width + 10))
        lines += [f"{label:<{width}}{pt.score:>4} / {pt.points:<3}  {len(pt.tests)} test(s)"
                  for label, pt in zip(subtotal_labels, totals, strict=True)]
    total, worth = sum(got for _, _, got, _ in rows), sum(t.points for t, _, _, _ in rows)
    lines.append(f"{'total':<{width}}{total:>4} / {worth:<3}")
    return "\n".join(lines)


@main.command("release")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
def release_command(out: Path) -> None:
    """Write the student release of this checkout to OUT: every file git tracks, with each
    reference solution replaced by a stub and instructor-only files left out."""
    root = Path(__file__).resolve().parent.parent
    try:
        stripped = release(root, out)
    except ReleaseError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"released {root} to {out}; solutions stripped from {len(stripped)} file(s):")
    for rel in stripped:
        click.echo(f"  {rel}")
    labs = sorted(p.parent.name for p in (root / "labs").glob("*/__init__.py") if p.parent.name != "runtime")
    leaks = scan(root, out, _tracked(root), labs)
    if leaks:
        click.echo(f"warning: the release may give {len(leaks)} solution part(s) away (autograder.leaks):", err=True)
        for leak in leaks:
            click.echo(f"  {leak}", err=True)


@main.command("grade")
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option("--lab", required=True, help="The lab the submission is for, e.g. rpc.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Where results.json, report.json, feedback.html and pictures/ go.")
@click.option("--sim-seeds", type=int, default=None, help="Simulator seeds per test (default: the suite's).")
@click.option("--no-ray", is_flag=True, help="Skip the Ray runs (they are the authoritative ones).")
@click.option("--part", "part_names", multiple=True, metavar="PART", help=PART_HELP)
@click.option("-k", "pattern", default=None, help="Only the tests whose name contains this.")
@click.option("--sandbox", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="Run student code as an unprivileged sandbox user (needs root and scripts/setup.sh); "
                   "auto: when this machine has the sandbox.")
@click.option("--budget", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              help="Seconds of real time the whole grading may take; the runs left then fail, saying so.")
def grade_command(submission: Path, lab: str, out: Path, sim_seeds: int | None, no_ray: bool,
                  part_names: tuple[str, ...], pattern: str | None, sandbox: str, budget: float) -> None:
    """Grade one submission under every test, hidden ones included (or the tests of the
    parts given by --part): Gradescope's results.json, a machine-readable report.json and a
    feedback page for the student, each with a subtotal per part for a lab graded in parts."""
    if sandbox == "auto" and unavailable():
        click.echo(f"note: student code runs as you, not sandboxed ({unavailable()})", err=True)

    parts = parse_parts_option(part_names)
    try:
        suite = load_graded_suite(lab)
        suite_tests = suite.select(pattern, parts)
    except (SuiteError, LookupError) as exc:
        raise click.ClickException(str(exc)) from None
    steps = sum(len(t.seeds if sim_seeds is None else t.seeds[:sim_seeds]) + (0 if no_ray else len(t.ray_seeds))
                for t in suite_tests)
    with click.progressbar(length=steps, label=f"grading {submission}", file=sys.stderr) as bar:
        try:
            grades = grade(submission, lab, out, sim_seeds, not no_ray, progress=lambda _: bar.update(1),
                           pattern=pattern, sandbox={"auto": None, "on": True, "off": False}[sandbox], parts=parts,
                           budget=budget)
        except SandboxError as exc:
            raise click.ClickException(str(exc)) from None
    width = max([24, *(len(g.test.name) for g in grades)])
    for g in grades:
        runs = len(g.outcomes)
        seeds = f"{len(g.failures)} of {runs} runs failed" if g.failures else f"{runs} runs"
        click.echo(f"{'PASS' if g.passed else 'FAIL'} {g.test.name:<{width}} {g.score:>3} / {g.test.points:<3}  {seeds}")
    for pt in suite.part_totals((g.test, g.score, g.test.points) for g in grades):
        click.echo(f"part {pt.part.name:<{width}} {pt.score:>3} / {pt.points}  ({pt.part.title})")
    total, worth = sum(g.score for g in grades), sum(g.test.points for g in grades)
    click.echo(f"total {total} / {worth}; wrote {out / 'results.json'}, {out / 'report.json'}, {out / 'feedback.html'}")


@main.command("explore")
@click.argument("lab")
@click.option("--like", "like", required=True, help="The test whose workload and checks to use, e.g. unreliable.")
@click.option("--impl", type=click.Path(exists=True, path_type=Path), default=None,
              help="Your implementation (the lab's node.py or its folder). Default: the reference.")
@click.option("--seeds", "count", type=int, default=200, show_default=True, help="Random schedules to try: seeds 1..N.")
@click.option("--disk-loss", is_flag=True, help="Let crashes lose the disk too.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where schedules and pictures of the failure go (default: <lab>-reports).")
def explore_command(lab: str, like: str, impl: Path | None, count: int, disk_loss: bool, out_dir: Path | None) -> None:
    """Hunt for bugs: one random fault schedule per seed, with a test's workload and checks,
    until one fails; the failure is shrunk and reported with the command that replays it.

    Exits 0 when every schedule passed, 1 at the first failure.
    """
    try:
        suite = load_suite(lab)
        (test,) = suite.select(like)[:1]
    except (SuiteError, LookupError) as exc:
        raise click.ClickException(str(exc)) from None
    out = out_dir or Path(f"{lab}-reports")
    with click.progressbar(explore(test, range(1, count + 1), impl, disk_loss), length=count,
                           label=f"exploring {lab} like {test.name}", file=sys.stderr) as bar:
        for outcome in bar:
            if not outcome.passed:
                break
        else:
            click.echo(f"no failure under {count} random schedules")
            return
    out.mkdir(parents=True, exist_ok=True)
    drawn = out / f"{lab}-explore-{outcome.seed}-schedule.yaml"
    drawn.write_text(yaml.safe_dump(outcome.test.schedule.to_data(), sort_keys=False), encoding="utf-8")
    click.echo(report(suite, outcome, out, impl, shrink_budget=20.0, schedule_file=drawn))
    sys.exit(1)


def _register_more() -> None:
    """Commands that live beside what they drive: nbgrader glue, grading a class, searching."""
    for command in (*COMMANDS, grade_all_command, search_command):
        main.add_command(command)


_register_more()
