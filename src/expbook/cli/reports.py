"""Reports and journals: ``report`` and ``check``."""

from __future__ import annotations

import os
from typing import Any

import click

from .._output import emit_table, visible
from ..errors import ExpbookError
from ._common import (
    CONTEXT,
    open_backend,
    store_options,
)


def _report_runs(backend: Any, project: str | None) -> Any:
    from .._views import load_runs

    return lambda: load_runs(backend, project)


@click.command("report", context_settings=CONTEXT)
@click.argument("doc", type=click.Path(dir_okay=False))
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Write nothing; exit 1 when the document is out of date with the store (for CI).",
)
@click.option("--force", is_flag=True, help="Replace generated regions even if edited by hand.")
@click.option(
    "--html",
    "html_out",
    metavar="OUT.html",
    help="Also write one self-contained HTML file (interactive plots, works offline).",
)
@click.option(
    "--new",
    "new",
    type=click.Choice(["sweep", "screening", "compare", "journal"]),
    help="Write a starter document of this kind (filled in from the store), then render it.",
)
@click.option("--project", "-p", help="Only runs of this project.")
@click.option(
    "--sweep",
    "sweep",
    metavar="NAME",
    help="With --new sweep: the report of sweep NAME (`expbook sweep`): its finished runs, "
    "parallel coordinates and param importances.",
)
@click.option(
    "--allow-dir",
    "allow_dirs",
    multiple=True,
    metavar="DIR",
    help="A folder besides the document's whose files blocks (eval, scatter) and --html "
    "images may read (repeatable).",
)
@store_options
def report_cmd(
    store: str | None,
    fmt: str,
    doc: str,
    check_only: bool,
    force: bool,
    html_out: str | None,
    new: str | None,
    project: str | None,
    allow_dirs: tuple[str, ...],
    sweep: str | None,
) -> None:
    """Render a Markdown document: ```expbook blocks into generated regions, inline values
    {{ EXPR | fmt }} and claim statuses. Text outside those is never changed.

    \b
    Example:
      expbook report notes.md --html notes.html
    """
    from ..report import record_rendering, render_file

    backend = open_backend(store)
    load = _report_runs(backend, project)
    if new is not None:
        from ..report import write_atomic
        from ..report.starters import starter

        if os.path.exists(doc) and not force:
            raise ExpbookError(f"{doc} exists: choose a new file name (or --force)")
        if sweep is not None:
            from ..sweeps.report import sweep_starter

            if new != "sweep":
                raise ExpbookError("--sweep goes with --new sweep")
            write_atomic(doc, sweep_starter(backend, sweep, load()))
        else:
            write_atomic(doc, starter(new, load(), project))
    elif sweep is not None:
        raise ExpbookError("--sweep goes with --new sweep")
    elif not os.path.isfile(doc):
        raise ExpbookError(f"no such document: {doc}")
    result = render_file(
        doc, load, force=force, check=check_only, html=html_out, allow_dirs=allow_dirs
    )
    if not check_only:
        # kept in the store for the dashboard's reports page; a store that cannot be written
        # (read-only file system) only costs the dashboard its copy
        try:
            record_rendering(backend, doc, result, project)
        except Exception as e:
            click.echo(visible(f"expbook: {doc}: not kept for the dashboard: {e}"), err=True)
    for issue in result.issues:
        click.echo(visible(f"expbook: {doc}:{issue}"), err=True)
    fails = len(result.failed_claims)
    if check_only:
        state = "out of date" if result.changed else "up to date"
    else:
        state = "written" if result.changed else "unchanged"
    if fmt == "json":
        from .._output import to_json

        click.echo(to_json({"path": doc, "state": state, **result.to_jsonable()}))
    else:
        click.echo(
            f"{doc}: {result.blocks} blocks, {result.values} values, {len(result.claims)} "
            f"claims ({fails} failing), {len(result.errors)} errors: {state}"
        )
    if result.errors or (check_only and result.changed):
        raise SystemExit(1)


@click.command("check", context_settings=CONTEXT)
@click.argument("doc", type=click.Path(exists=True, dir_okay=False))
@click.option("--project", "-p", help="Only runs of this project.")
@store_options
def check_cmd(store: str | None, fmt: str, doc: str, project: str | None) -> None:
    """Evaluate the claims of a journal (lines `- [claim ID] `EXPR``): which hold, fail or
    cannot be evaluated. Exit 1 if any fails or cannot be evaluated. Writes nothing.

    \b
    Example:
      expbook check journal.md --format json
    """
    from ..report import check_file, claims_table

    claims = check_file(doc, _report_runs(open_backend(store), project))
    table = claims_table(claims)
    counts = {s: sum(c.status == s for c in claims) for s in ("holds", "fails", "value", "error")}
    table.notes.append(
        f"{len(claims)} claims: {counts['holds']} hold, {counts['fails']} fail, "
        f"{counts['value']} values, {counts['error']} cannot be evaluated"
    )
    emit_table(fmt, table)
    if counts["fails"] or counts["error"]:
        raise SystemExit(1)
