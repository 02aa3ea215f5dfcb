"""The ``expbook`` command line.

Every command that prints results takes ``--store`` and ``--format table|json|csv``.
This module is the only place that turns errors into exit codes: an error a user can cause
ends in one line on stderr (``expbook: error: ...``) and exit code 1 (2 for a bad flag).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from ._output import FORMATS, emit, fmt_number
from .errors import ExpbookError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def store_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--store`` and ``--format`` on a command."""

    @click.option(
        "--store",
        "store",
        metavar="PATH",
        envvar="EXPBOOK_STORE",
        help="Store folder or database file (default: nearest .expbook/ upwards, "
        "or $EXPBOOK_STORE).",
    )
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format.",
    )
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return f(*args, **kwargs)

    return wrapper


def open_backend(store: str | None, *, create: bool = False) -> Any:
    from .store import connect, resolve_location

    location = resolve_location(store)
    if not create and not os.path.exists(location):
        if store is None and not os.environ.get("EXPBOOK_STORE"):
            raise ExpbookError(
                "no expbook store here (no .expbook/ folder in this directory or above): "
                "run `expbook demo`, log a run, or pass --store PATH"
            )
        raise ExpbookError(f"no expbook store at {location}")
    return connect(location, create=create)


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="expbook")
def cli() -> None:
    """expbook: turn ML experiments into findings.

    Log runs from scripts (expbook.init/log/finish) or import what you have on disk, then
    ask for leaderboards, sweeps, comparisons and reports.
    """


# -- runs -----------------------------------------------------------------------------------
@cli.command("runs", context_settings=CONTEXT)
@click.option("--project", "-p", help="Only runs of this project.")
@store_options
def runs_cmd(store: str | None, fmt: str, project: str | None) -> None:
    """List runs: id, name, project, status, creation time and summary values."""
    from ._read import Store

    book = Store(open_backend(store))
    records = book.run_records(project)
    rows = []
    for r in records:
        summ = r["summary"]
        shown = ", ".join(f"{k}={fmt_number(v)}" for k, v in list(summ.items())[:4]) + (
            " …" if len(summ) > 4 else ""
        )
        rows.append(
            [
                r["id"],
                r["name"],
                r["project"],
                r["status"],
                r["created_at"][:19].replace("T", " "),
                ", ".join(r["tags"]),
                shown,
            ]
        )
    if fmt == "csv":
        _runs_csv(records)
        return
    emit(
        fmt,
        columns=["id", "name", "project", "status", "created", "tags", "summary"],
        rows=rows,
        json_obj=records,
        empty="no runs yet: try `expbook demo`",
    )


def _runs_csv(records: list[dict[str, Any]]) -> None:
    import csv

    from ._read import flatten

    cols: dict[str, None] = dict.fromkeys(["id", "name", "project", "status", "created_at"])
    flat_rows = []
    for r in records:
        row = {k: r[k] for k in ("id", "name", "project", "status", "created_at")}
        row["tags"] = ";".join(r["tags"])
        row.update({f"config.{k}": v for k, v in flatten(r["config"]).items()})
        row.update({f"summary.{k}": v for k, v in r["summary"].items()})
        flat_rows.append(row)
        cols.update(dict.fromkeys(row))
    w = csv.DictWriter(sys.stdout, fieldnames=list(cols), lineterminator="\n")
    w.writeheader()
    for row in flat_rows:
        w.writerow(row)


@cli.command("show", context_settings=CONTEXT)
@click.argument("run")
@store_options
def show_cmd(store: str | None, fmt: str, run: str) -> None:
    """Show one run: its fields, config, and a summary of every metric.

    RUN is an id, a unique id prefix, or a unique name.
    """
    from ._read import Store, flatten, run_record_json

    book = Store(open_backend(store))
    rec = book.run(run)
    metrics = book.backend.metric_summaries([rec.id]).get(rec.id, {})
    obj = run_record_json(rec, metrics)
    obj["metrics"] = {k: m._asdict() for k, m in sorted(metrics.items())}
    if fmt == "json":
        emit(fmt, columns=[], rows=[], json_obj=obj)
        return
    rows = [
        [
            k,
            m.count,
            m.last_step,
            m.last_value,
            m.min_value,
            m.min_step,
            m.max_value,
            m.max_step,
            m.nan_count,
        ]
        for k, m in sorted(metrics.items())
    ]
    cols = ["metric", "points", "last step", "last", "min", "min step", "max", "max step", "NaN"]
    if fmt == "csv":
        emit(fmt, columns=cols, rows=rows, json_obj=None)
        return
    from rich.console import Console

    console = Console()
    console.print(
        f"[bold]{rec.name}[/bold]  id {rec.id}  project {rec.project}  "
        f"status [bold]{rec.state}[/bold]"
    )
    console.print(f"created {obj['created_at']}  finished {obj['finished_at'] or '-'}")
    if rec.tags:
        console.print("tags: " + ", ".join(rec.tags))
    src = rec.source
    if src.get("kind") != "logged":
        console.print(f"source: {src.get('format', '?')} {src.get('path', '')}")
    flat = flatten(rec.config)
    if flat:
        emit(
            "table",
            columns=["param", "value"],
            rows=sorted(flat.items()),
            json_obj=None,
            title="config",
        )
    if rec.summary:
        emit(
            "table",
            columns=["summary", "value"],
            rows=sorted(rec.summary.items()),
            json_obj=None,
            title="summary (set explicitly)",
        )
    emit(
        "table", columns=cols, rows=rows, json_obj=None, title="metrics", empty="no metrics logged"
    )


@cli.command("history", context_settings=CONTEXT)
@click.argument("run")
@click.argument("keys", nargs=-1)
@store_options
def history_cmd(store: str | None, fmt: str, run: str, keys: tuple[str, ...]) -> None:
    """Print the logged points of RUN (all keys, or the KEYs named), in step order."""
    from ._read import Store

    book = Store(open_backend(store))
    rec = book.run(run)
    series = book.backend.read_series(rec.id, list(keys) or None)
    missing = [k for k in keys if k not in series]
    if missing:
        raise ExpbookError(
            f"run {rec.name!r} has no metric {missing[0]!r}"
            + (
                f" (it has: {', '.join(book.backend.keys(rec.id)[:10])})"
                if book.backend.keys(rec.id)
                else " (it has no metrics)"
            )
        )
    obj = {
        k: [[int(s), float(v)] for s, v in zip(sr.steps.tolist(), sr.values.tolist())]
        for k, sr in series.items()
    }
    cols = ["step", *series]
    table: dict[int, list[Any]] = {}
    for i, sr in enumerate(series.values()):
        for s, v in zip(sr.steps.tolist(), sr.values.tolist()):
            table.setdefault(s, [None] * len(series))[i] = v
    rows = [[s, *table[s]] for s in sorted(table)]
    emit(fmt, columns=cols, rows=rows, json_obj=obj, empty=f"run {rec.name!r} has no points")


@cli.command("rm", context_settings=CONTEXT)
@click.argument("runs", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
@store_options
def rm_cmd(store: str | None, fmt: str, runs: tuple[str, ...], yes: bool) -> None:
    """Delete runs (with all their points). RUN is an id, id prefix or unique name."""
    backend = open_backend(store)
    recs = [backend.get_run(r) for r in runs]  # resolve all first: all or nothing
    unique = list({r.id: r for r in recs}.values())
    if not yes:
        if not sys.stdin.isatty():
            raise ExpbookError(
                f"refusing to delete {len(unique)} run(s) without --yes (not a terminal)"
            )
        names = ", ".join(f"{r.name} ({r.id})" for r in unique)
        click.confirm(f"Delete {names}?", abort=True)
    n = backend.delete_runs([r.id for r in unique])
    emit(
        fmt,
        columns=["deleted", "name"],
        rows=[[r.id, r.name] for r in unique],
        json_obj={"deleted": [r.id for r in unique], "count": n},
    )


@cli.command("demo", context_settings=CONTEXT)
@click.option("--runs", "n_runs", default=8, show_default=True, help="How many runs to train.")
@click.option("--steps", default=300, show_default=True, help="Training steps per run.")
@click.option("--project", default="demo", show_default=True)
@store_options
def demo_cmd(store: str | None, fmt: str, n_runs: int, steps: int, project: str) -> None:
    """Train a small sweep of tiny numpy models into the store and show a leaderboard."""
    from .demo import run_demo

    if n_runs < 1 or steps < 10:
        raise click.BadParameter("need at least 1 run and 10 steps")
    run_demo(store=store, fmt=fmt, n_runs=n_runs, steps=steps, project=project)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning errors into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="expbook", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("expbook: aborted", err=True)
        return 1
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except click.ClickException as e:
        click.echo(f"expbook: error: {e.format_message()}", err=True)
        return e.exit_code
    except ExpbookError as e:
        click.echo(f"expbook: error: {e}", err=True)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        click.echo("expbook: interrupted", err=True)
        return 130
    except OSError as e:
        click.echo(f"expbook: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), err=True)
        return 1
    return 0


def entry() -> None:
    sys.exit(main())
