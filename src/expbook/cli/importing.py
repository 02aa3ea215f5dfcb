"""``expbook import``: runs from files already on disk."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .._output import emit, to_json, visible
from ._common import (
    CONTEXT,
    open_backend,
    store_options,
)


@click.command("import", context_settings=CONTEXT)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--project",
    "-p",
    help="Project of the imported runs (default: the format's "
    "own, e.g. an MLflow experiment, else $EXPBOOK_PROJECT or 'default').",
)
@click.option(
    "--from",
    "from_format",
    metavar="NAME",
    help="Read every file as this format instead of detecting it.",
)
@click.option(
    "--pattern",
    metavar="SPEC",
    help="Pattern for log lines inference cannot read, e.g. "
    "'step {step} loss {loss}' (see README).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be imported; write nothing.")
@click.option(
    "--explain",
    is_flag=True,
    help="Show how each file would be read (reader and why, step axis, keys with point "
    "counts, config keys, warnings, ignored log lines, a --pattern suggestion when nothing "
    "is found); write nothing.",
)
@store_options
def import_cmd(
    store: str | None,
    fmt: str,
    paths: tuple[str, ...],
    project: str | None,
    from_format: str | None,
    pattern: str | None,
    dry_run: bool,
    explain: bool,
) -> None:
    """Import runs from files: logs, CSV/JSON metrics, summaries, configs, prediction files,
    TensorBoard, MLflow, W&B offline runs, Lightning and Hugging Face outputs.

    Directories are walked recursively; a run folder becomes one run named after it.
    Importing the same files again changes nothing; a changed file replaces what came
    from it. Files a folder walk passed over are listed as skipped, with the reason. Exits 1
    if any file failed, or if nothing at all was imported (every run empty, no run found).

    \b
    Example:
      expbook import results/ logs/ --project gnn
      expbook import train.log --pattern 'step {step} loss {loss}'
      expbook import train.log --explain
    """
    from ..importers.driver import Skipped, import_paths, summarize

    if from_format is not None:
        from ..importers.registry import UnknownFormat, resolve

        try:
            resolve(from_format)
        except UnknownFormat as e:
            raise click.BadParameter(str(e), param_hint="--from") from None
    if explain:
        _explain(fmt, paths, project, from_format, pattern)
        return
    backend = open_backend(store, create=not dry_run) if not dry_run else _maybe_backend(store)
    default_project = os.environ.get("EXPBOOK_PROJECT") or "default"
    progress_cb, finish_progress = _progress(fmt)
    skipped: list[Skipped] = []
    try:
        outcomes = import_paths(
            backend,
            list(paths),
            project=project,
            default_project=default_project,
            from_format=from_format,
            pattern=pattern,
            dry_run=dry_run,
            progress=progress_cb,
            skipped=skipped,
        )
    finally:
        finish_progress()
    counts = summarize(outcomes)
    rows: list[list[Any]] = [
        [
            o.status,
            o.name,
            o.id or "",
            o.format,
            o.points,
            _rel(o.source),
            "; ".join(filter(None, [o.note, *o.warnings])),
        ]
        for o in outcomes
    ]
    shown = skipped if fmt != "table" else skipped[:MAX_SKIPPED_ROWS]
    rows.extend(["skipped", "", "", "", "", _rel(s.path), s.reason] for s in shown)
    notes = [", ".join(f"{n} {k}" for k, n in sorted(counts.items()))] if counts else []
    if skipped:
        more = len(skipped) - len(shown)
        notes.append(
            f"{len(skipped)} file(s) skipped"
            + (f" ({more} not shown; --format json lists every one)" if more else "")
        )
    emit(
        fmt,
        columns=["status", "run", "id", "format", "points", "source", "note"],
        rows=rows,
        json_obj={
            "runs": [o.as_json() for o in outcomes],
            "counts": counts,
            "skipped": [s.as_json() for s in skipped],
        },
        empty="nothing to import",
        notes=notes,
    )
    # failures in full on stderr too: a table cell may be cut, stdout may go to a file
    for o in outcomes:
        if o.status in ("failed", "empty"):
            click.echo(
                visible(f"expbook import: {o.status}: {o.source}: {o.note or 'no reason given'}"),
                err=True,
            )
    stored = sum(counts.get(k, 0) for k in OK_STATUSES)
    if counts.get("failed") or not stored:
        if not stored and not counts.get("failed"):
            click.echo("expbook import: nothing imported", err=True)
        raise SystemExit(1)


MAX_SKIPPED_ROWS = 20  # a table lists this many skipped files; JSON and CSV list every one
# outcomes that leave a run in the store (or would, in a dry run)
OK_STATUSES = ("imported", "updated", "unchanged", "would-import", "would-update")


def _explain(
    fmt: str,
    paths: tuple[str, ...],
    project: str | None,
    from_format: str | None,
    pattern: str | None,
) -> None:
    """``--explain``: how the files would be read; no store is opened."""
    from ..importers.explain import explain, importable, render
    from ..importers.registry import ParseOptions

    opts = ParseOptions(pattern=pattern, from_format=from_format, project=project)
    report = explain(list(paths), opts)
    if fmt == "json":
        sys.stdout.write(to_json(report) + "\n")
    elif fmt == "csv":
        emit(
            fmt,
            columns=["source", "reader", "run", "key", "points", "first_step", "last_step"],
            rows=[
                [u["path"], u["reader"], r["name"], k, v["points"], v["first_step"], v["last_step"]]
                for u in report["units"]
                for r in u["runs"]
                for k, v in r["keys"].items()
            ],
            json_obj=report,
        )
    else:
        for line in render(report):
            click.echo(visible(line))
    if not importable(report):
        raise SystemExit(1)


def _maybe_backend(store: str | None) -> Any:
    from ..store import connect, is_url, resolve_db_path, resolve_location

    location = resolve_location(store)
    if is_url(location):  # a database: a dry run reads it and writes nothing
        return connect(location, create=False)
    if os.path.exists(resolve_db_path(location)):  # a folder without a store gets none
        return connect(location)
    import tempfile

    return connect(tempfile.mkdtemp(prefix="expbook-dry-run-"))


def _rel(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if not rel.startswith("../../..") else path


def _progress(fmt: str) -> tuple[Any, Any]:
    """A progress bar on stderr for large imports (only in a terminal)."""
    if fmt != "table" or not sys.stderr.isatty():
        return None, lambda: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .._output import console

    bar = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}", markup=False),
        console=console(stderr=True, wide=False),
        transient=True,
    )
    state: dict[str, Any] = {}

    def update(i: int, n: int, path: str) -> None:
        if n < 20:
            return
        if "task" not in state:
            bar.start()
            state["task"] = bar.add_task("", total=n)
        bar.update(state["task"], completed=i, description=os.path.basename(path))

    def done() -> None:
        if "task" in state:
            bar.stop()

    return update, done
