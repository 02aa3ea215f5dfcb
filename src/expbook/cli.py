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
    series = book.backend.read_series_lists(rec.id, list(keys) or None)  # no numpy
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
        k: [[s, v] for s, v in zip(sr.steps, sr.values)] for k, sr in series.items()
    }
    cols = ["step", *series]
    table: dict[int, list[Any]] = {}
    for i, sr in enumerate(series.values()):
        for s, v in zip(sr.steps, sr.values):
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


@cli.command("import", context_settings=CONTEXT)
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
@store_options
def import_cmd(
    store: str | None,
    fmt: str,
    paths: tuple[str, ...],
    project: str | None,
    from_format: str | None,
    pattern: str | None,
    dry_run: bool,
) -> None:
    """Import runs from files: logs, CSV/JSON metrics, summaries, configs, prediction files,
    TensorBoard, MLflow, W&B offline runs, Lightning and Hugging Face outputs.

    Directories are walked recursively; a run folder becomes one run named after it.
    Importing the same files again changes nothing; a changed file replaces what came
    from it. Exits 1 if any file failed.
    """
    from .importers.driver import import_paths, summarize

    if from_format is not None:
        from .importers.registry import UnknownFormat, resolve

        try:
            resolve(from_format)
        except UnknownFormat as e:
            raise click.BadParameter(str(e), param_hint="--from") from None
    backend = open_backend(store, create=not dry_run) if not dry_run else _maybe_backend(store)
    default_project = os.environ.get("EXPBOOK_PROJECT") or "default"
    progress_cb, finish_progress = _progress(fmt)
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
        )
    finally:
        finish_progress()
    counts = summarize(outcomes)
    rows = [
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
    emit(
        fmt,
        columns=["status", "run", "id", "format", "points", "source", "note"],
        rows=rows,
        json_obj={"runs": [o.as_json() for o in outcomes], "counts": counts},
        empty="nothing to import",
        notes=[", ".join(f"{n} {k}" for k, n in sorted(counts.items()))] if counts else [],
    )
    if counts.get("failed"):
        raise SystemExit(1)


def _maybe_backend(store: str | None) -> Any:
    from .store import connect, resolve_location

    location = resolve_location(store)
    if os.path.exists(location):
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
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
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


# -- analysis -------------------------------------------------------------------------------
def selection_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--project`` and ``--filter`` (run names and globs are positional arguments)."""

    @click.option("--project", "-p", help="Only runs of this project.")
    @click.option(
        "--filter",
        "-f",
        "filter_",
        metavar="EXPR",
        help='Keep runs where EXPR holds, e.g. \'config.framework == "jax" and '
        "test_mse < 2' (grammar in the README).",
    )
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return f(*args, **kwargs)

    return wrapper


def _select(
    backend: Any, project: str | None, filter_: str | None, names: tuple[str, ...]
) -> list[Any]:
    from ._views import load_runs
    from .analysis import select_runs

    runs = load_runs(backend, project)
    chosen = select_runs(runs, filter=filter_, names=list(names) or None, strict=True)
    if names and not chosen:
        raise ExpbookError(f"no run matches {' '.join(names)}")
    return chosen


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _emit_table(fmt: str, table: Any) -> None:
    if fmt == "json":
        from ._output import to_json

        # straight to stdout: click.echo would scan megabytes of JSON for ANSI codes to strip
        # (JSON escapes control characters, so it has none)
        sys.stdout.write(to_json(table.to_jsonable()) + "\n")
        sys.stdout.flush()
    elif fmt == "csv":
        click.echo(table.to_csv(), nl=False)
    elif sum(len(t.rows) for t in table.tables()) > 500:
        # rich measures every cell: seconds for thousands of rows; plain text is instant
        for t in table.tables():
            click.echo(t.to_text())
    else:
        from rich.console import Console

        console = Console()
        if not console.is_terminal:
            console.width = max(console.width, 160)
        for t in table.tables():
            console.print(t.to_rich())
            for note in t.notes:
                console.print(note, highlight=False)


DERIVE = click.option(
    "--derive",
    "-d",
    "derive",
    multiple=True,
    metavar="NAME=EXPR",
    help="Add a column computed per run, e.g. 'ppl=exp(val_loss)' (repeatable).",
)


@cli.command("leaderboard", context_settings=CONTEXT)
@click.argument("runs", nargs=-1)
@click.option("--metric", "-m", required=True, help="Metric (or summary or derived) key.")
@click.option("--mode", type=click.Choice(["min", "max"]), default="min", show_default=True)
@click.option(
    "--at-step", type=int, help="Also show (and with --sort at, rank by) the value at this step."
)
@click.option(
    "--sort",
    type=click.Choice(["best", "last", "at"]),
    default="best",
    show_default=True,
    help="Rank by the best value, the last one, or the one at --at-step.",
)
@click.option("--top", type=click.IntRange(min=1), help="Only the first K runs.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY",
    help="Param columns to show (comma-separated or repeated).",
)
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="KEY",
    help="Other metric/summary columns to show.",
)
@DERIVE
@selection_options
@store_options
def leaderboard_cmd(
    store: str | None,
    fmt: str,
    runs: tuple[str, ...],
    metric: str,
    mode: str,
    at_step: int | None,
    sort: str,
    top: int | None,
    params: tuple[str, ...],
    columns: tuple[str, ...],
    derive: tuple[str, ...],
    project: str | None,
    filter_: str | None,
) -> None:
    """Rank runs by a metric: best value and its step, last value and its step, the value at
    --at-step, number of points, status and chosen params. Runs without the metric come last.

    RUNS are run names, ids or globs (default: every run).
    """
    from ._views import prefetch_values_at
    from .analysis import leaderboard

    chosen = _select(open_backend(store), project, filter_, runs)
    if at_step is not None:
        prefetch_values_at(chosen, metric, at_step)
    table = leaderboard(
        chosen,
        metric,
        mode=mode,
        at_step=at_step,
        top=top,
        params=_split(params),
        columns=_split(columns),
        sort=sort,
        derive=list(derive),
    )
    _emit_table(fmt, table)


@cli.command("pivot", context_settings=CONTEXT)
@click.option(
    "--rows",
    "rows",
    required=True,
    multiple=True,
    metavar="KEYS",
    help="Param keys for the rows, comma-separated (e.g. framework,pool).",
)
@click.option("--cols", "cols", multiple=True, metavar="KEYS", help="Param keys for columns.")
@click.option("--value", required=True, metavar="KEY", help="Metric in the cells.")
@click.option(
    "--agg",
    default="min",
    show_default=True,
    type=click.Choice(["min", "max", "mean", "median", "std", "count", "first", "last"]),
)
@click.argument("runs", nargs=-1)
@DERIVE
@selection_options
@store_options
def pivot_cmd(
    store: str | None,
    fmt: str,
    rows: tuple[str, ...],
    cols: tuple[str, ...],
    value: str,
    agg: str,
    runs: tuple[str, ...],
    derive: tuple[str, ...],
    project: str | None,
    filter_: str | None,
) -> None:
    """A sweep table: params on rows and columns, a metric aggregated in the cells."""
    from .analysis import pivot

    chosen = _select(open_backend(store), project, filter_, runs)
    _emit_table(
        fmt, pivot(chosen, _split(rows), _split(cols), value=value, agg=agg, derive=list(derive))
    )


@cli.command("winners", context_settings=CONTEXT)
@click.option("--metric", "-m", required=True)
@click.option("--mode", type=click.Choice(["min", "max"]), default="min", show_default=True)
@click.option(
    "--by",
    "by",
    multiple=True,
    metavar="KEYS",
    help="Also the best per group of these params (e.g. framework).",
)
@click.option(
    "--groups",
    is_flag=True,
    help="Show every config with its repeated seeds aggregated (mean ± std, n).",
)
@click.argument("runs", nargs=-1)
@DERIVE
@selection_options
@store_options
def winners_cmd(
    store: str | None,
    fmt: str,
    metric: str,
    mode: str,
    by: tuple[str, ...],
    groups: bool,
    runs: tuple[str, ...],
    derive: tuple[str, ...],
    project: str | None,
    filter_: str | None,
) -> None:
    """The best run (config) overall and per group, with its params. Runs whose configs
    differ only in their seed are one config: mean ± std over the seeds, with the count."""
    from .analysis import seed_groups, winners

    chosen = _select(open_backend(store), project, filter_, runs)
    if groups:
        table = seed_groups(chosen, metric, mode=mode, derive=list(derive))
    else:
        table = winners(chosen, metric, mode=mode, by=_split(by) or None, derive=list(derive))
    _emit_table(fmt, table)


@cli.command("compare", context_settings=CONTEXT)
@click.argument("runs", nargs=-1, required=True)
@click.option(
    "--cost-per-hour",
    type=float,
    metavar="USD",
    help="Price of an hour of the run's hardware (default: gpu_hourly_usd or "
    "similar from each run's config or summary).",
)
@click.option("--keys", multiple=True, metavar="GLOB", help="Only metrics matching these.")
@click.option(
    "--time-key",
    metavar="KEY",
    help="Config/summary value holding the run's "
    "duration (unit from its suffix: _s, _minutes, _hours).",
)
@store_options
def compare_cmd(
    store: str | None,
    fmt: str,
    runs: tuple[str, ...],
    cost_per_hour: float | None,
    keys: tuple[str, ...],
    time_key: str | None,
) -> None:
    """Compare runs against the first: config differences, final and best metrics with
    deltas and ratios (per stage for stage/metric keys), wall-clock time and cost."""
    from ._views import StoredRun
    from .analysis import compare

    backend = open_backend(store)
    if len(runs) < 2:
        raise click.UsageError("compare needs at least two runs")
    recs = [backend.get_run(r) for r in runs]
    sums = backend.metric_summaries([r.id for r in recs])
    views = [StoredRun(r, sums.get(r.id, {}), backend) for r in recs]
    _emit_table(
        fmt,
        compare(views, cost_per_hour=cost_per_hour, keys=_split(keys) or None, time_key=time_key),
    )


@cli.command("eval", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--task",
    type=click.Choice(["regression", "classification"]),
    help="Default: classification when the labels are integers or booleans.",
)
@click.option("--true", "true_col", metavar="COL", help="Column of true values.")
@click.option("--pred", "pred_col", metavar="COL", help="Column of predictions.")
@click.option(
    "--mask",
    metavar="MASK",
    help="Rows to score: offdiag, diag, offdiag:N, or an expression over the row's columns.",
)
@click.option(
    "--run", "run_ref", metavar="RUN", help="Store the metrics as this run's summary values."
)
@store_options
def eval_cmd(
    store: str | None,
    fmt: str,
    files: tuple[str, ...],
    task: str | None,
    true_col: str | None,
    pred_col: str | None,
    mask: str | None,
    run_ref: str | None,
) -> None:
    """Score prediction files: MSE, MAE, R2, N (regression); accuracy, precision, recall,
    F1 (binary and macro), N (classification)."""
    from .analysis import eval_file, eval_summary, eval_table

    table = eval_table(list(files), task=task, true_col=true_col, pred_col=pred_col, mask=mask)
    if run_ref is not None:
        if len(files) != 1:
            raise click.UsageError("--run takes one prediction file")
        backend = open_backend(store)
        rec = backend.get_run(run_ref)
        result = eval_file(files[0], task=task, true_col=true_col, pred_col=pred_col, mask=mask)
        backend.update_run(rec.id, summary={**rec.summary, **eval_summary(result, files[0])})
        table.notes.append(f"stored as summary values of run {rec.name} ({rec.id})")
    _emit_table(fmt, table)


@cli.command("ui", context_settings=CONTEXT)
@click.option(
    "--store",
    "store",
    metavar="PATH",
    envvar="EXPBOOK_STORE",
    help="Store folder or database file (default: nearest .expbook/ upwards, or $EXPBOOK_STORE).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a browser.")
def ui_cmd(store: str | None, host: str, port: int, open_browser: bool) -> None:
    """Serve the local dashboard (read-only): runs table, run charts, compare view.

    Needs the ui extra: pip install 'expbook[ui]'.
    """
    try:
        from .web import serve
    except ImportError as e:
        raise ExpbookError(
            f"expbook ui needs the ui extra ({e.name} is missing): pip install 'expbook[ui]'"
        ) from None
    serve(store, host=host, port=port, open_browser=open_browser, echo=click.echo)


# -- reports ---------------------------------------------------------------------------------
def _report_runs(backend: Any, project: str | None) -> Any:
    from ._views import load_runs

    return lambda: load_runs(backend, project)


@cli.command("report", context_settings=CONTEXT)
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
) -> None:
    """Render a Markdown document: ```expbook blocks into generated regions, inline values
    {{ EXPR | fmt }} and claim statuses. Text outside those is never changed."""
    from .report import record_rendering, render_file

    backend = open_backend(store)
    load = _report_runs(backend, project)
    if new is not None:
        from .report import write_atomic
        from .report.starters import starter

        if os.path.exists(doc) and not force:
            raise ExpbookError(f"{doc} exists: choose a new file name (or --force)")
        write_atomic(doc, starter(new, load(), project))
    elif not os.path.isfile(doc):
        raise ExpbookError(f"no such document: {doc}")
    result = render_file(doc, load, force=force, check=check_only, html=html_out)
    if not check_only:
        # kept in the store for the dashboard's reports page; a store that cannot be written
        # (read-only file system) only costs the dashboard its copy
        try:
            record_rendering(backend, doc, result, project)
        except Exception as e:
            click.echo(f"expbook: {doc}: not kept for the dashboard: {e}", err=True)
    for issue in result.issues:
        click.echo(f"expbook: {doc}:{issue}", err=True)
    fails = len(result.failed_claims)
    if check_only:
        state = "out of date" if result.changed else "up to date"
    else:
        state = "written" if result.changed else "unchanged"
    if fmt == "json":
        from ._output import to_json

        click.echo(to_json({"path": doc, "state": state, **result.to_jsonable()}))
    else:
        click.echo(
            f"{doc}: {result.blocks} blocks, {result.values} values, {len(result.claims)} "
            f"claims ({fails} failing), {len(result.errors)} errors: {state}"
        )
    if result.errors or (check_only and result.changed):
        raise SystemExit(1)


@cli.command("check", context_settings=CONTEXT)
@click.argument("doc", type=click.Path(exists=True, dir_okay=False))
@click.option("--project", "-p", help="Only runs of this project.")
@store_options
def check_cmd(store: str | None, fmt: str, doc: str, project: str | None) -> None:
    """Evaluate the claims of a journal (lines `- [claim ID] `EXPR``): which hold, fail or
    cannot be evaluated. Exit 1 if any fails or cannot be evaluated. Writes nothing."""
    from .report import check_file, claims_table

    claims = check_file(doc, _report_runs(open_backend(store), project))
    table = claims_table(claims)
    counts = {s: sum(c.status == s for c in claims) for s in ("holds", "fails", "value", "error")}
    table.notes.append(
        f"{len(claims)} claims: {counts['holds']} hold, {counts['fails']} fail, "
        f"{counts['value']} values, {counts['error']} cannot be evaluated"
    )
    _emit_table(fmt, table)
    if counts["fails"] or counts["error"]:
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI, turning errors into one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="expbook", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("expbook: aborted", err=True)
        return 1
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except SystemExit as e:
        return int(e.code or 0)
    except click.ClickException as e:
        click.echo(f"expbook: error: {e.format_message()}", err=True)
        return e.exit_code
    except ExpbookError as e:
        click.echo(f"expbook: error: {e}", err=True)
        return 1
    except ValueError as e:  # bad expressions and option values from the analysis layer
        from .expr import ExprError

        if not isinstance(e, ExprError) and type(e) is not ValueError:
            raise
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
