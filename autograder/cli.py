"""``python -m autograder``: the autograder's command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .checkers.history import HistoryError
from .checkers.importers import FORMATS, read_history
from .checkers.linearizability import check as check_linearizability
from .checkers.models import KV, VERSIONED_KV, register

EXIT_OK, EXIT_ILLEGAL, EXIT_UNKNOWN, EXIT_UNREADABLE = 0, 1, 2, 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The autograder of "Distributed Systems, by Breaking Them"."""


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
@click.option("--model", "model_name", type=click.Choice(["kv", "register", "versioned-kv"]),
              required=True, help="The object the history was recorded against.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="native: the runtime's JSON Lines; edn: Jepsen/Porcupine maps; jepsen-log.")
@click.option("--init", "init", default=None, help="The register's initial value (default nil).")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds of search per file before the verdict is unknown.")
@click.option("--html", "html_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("linearizability-reports"), show_default=True,
              help="Where the picture of each illegal history is written.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file instead of text.")
def check(files: tuple[Path, ...], model_name: str, fmt: str, init: str | None, timeout: float,
          html_dir: Path, as_json: bool) -> None:
    """Check histories for linearizability, one line per file.

    Exits 0 when every file is linearizable, 1 when any is not, 2 when the search ran out of
    time on some (and none is illegal), 3 when a file could not be read.
    """
    if init is not None and model_name != "register":
        raise click.UsageError("--init only applies to --model register")
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
