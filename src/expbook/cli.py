"""The ``expbook`` command line.

Every command that prints results takes ``--store`` and ``--format table|json|csv``.
This module is the only place that turns errors into exit codes: an error a user can cause
ends in one line on stderr (``expbook: error: ...``) and exit code 1 (2 for a bad flag).
"""

from __future__ import annotations

import functools
import os
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

import click

from . import __version__
from ._output import FORMATS, emit, fmt_number, visible
from .errors import ExpbookError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def store_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--store`` and ``--format`` on a command."""

    @click.option(
        "--store",
        "store",
        metavar="PATH",
        envvar="EXPBOOK_STORE",
        help="The store: its folder, a folder holding .expbook/, or a .db file (default: "
        "$EXPBOOK_STORE, else the nearest .expbook/ upwards).",
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
    ask for leaderboards, sweeps, comparisons and reports. `expbook COMMAND -h` shows a
    command's options and an example.

    \b
    Example:
      expbook demo && expbook runs --sort=-val_acc --limit 3
    """


# -- runs -----------------------------------------------------------------------------------
@cli.command("runs", context_settings=CONTEXT)
@click.option("--project", "-p", help="Only runs of this project.")
@click.option(
    "--filter",
    "-f",
    "filter_",
    metavar="EXPR",
    help="Keep runs where EXPR holds (the language of leaderboard --filter), e.g. "
    "'config.lr < 0.1 and status == \"finished\"'.",
)
@click.option(
    "--sort",
    metavar="KEY",
    help="Order by this column: a run field (name, status, created_at...), config.KEY, "
    "summary.KEY or a metric; prefix - for descending, e.g. --sort=-val_acc. Runs "
    "without a value come last.",
)
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Only the first N runs.")
@store_options
def runs_cmd(
    store: str | None,
    fmt: str,
    project: str | None,
    filter_: str | None,
    sort: str | None,
    limit: int | None,
) -> None:
    """List runs: id, name, project, status, creation time and summary values (oldest first
    unless --sort says otherwise).

    \b
    Example:
      expbook runs --project demo --filter 'config.hidden >= 16' --sort=-val_acc --limit 5
    """
    from ._read import Store, run_record_json

    book = Store(open_backend(store))
    backend = book.backend
    sort_key, descending = (sort[1:], True) if sort and sort.startswith("-") else (sort, False)
    if sort is not None and not sort_key:
        raise click.BadParameter(
            "give a column to sort by, e.g. --sort=-val_acc", param_hint="--sort"
        )
    chosen = book._select(project, filter_, None)  # the selection of Store.runs(filter=)
    sort_values: list[Any] = []
    if sort_key:
        chosen, sort_values = _sort_runs(chosen, sort_key, descending)
    if limit is not None:
        chosen, sort_values = chosen[:limit], sort_values[:limit]
    sums = backend.metric_summaries(project=project) if chosen else {}
    records = [run_record_json(r.record, sums.get(r.id, {})) for r in chosen]
    if fmt == "csv":
        _runs_csv(records)
        return
    shown_key = sort_key if sort_key and sort_key not in _RUN_TABLE_COLUMNS else None
    rows = []
    for i, r in enumerate(records):
        summ = r["summary"]
        shown = ", ".join(f"{k}={fmt_number(v)}" for k, v in list(summ.items())[:4]) + (
            " …" if len(summ) > 4 else ""
        )
        row = [
            r["id"],
            r["name"],
            r["project"],
            r["status"],
            r["created_at"][:19].replace("T", " "),
            ", ".join(r["tags"]),
        ]
        if shown_key:
            row.append(sort_values[i])
        rows.append([*row, shown])
    columns = ["id", "name", "project", "status", "created", "tags"]
    emit(
        fmt,
        columns=[*columns, *([shown_key] if shown_key else []), "summary"],
        rows=rows,
        json_obj=records,
        empty="no runs match" if filter_ else "no runs yet: try `expbook demo`",
    )


_RUN_TABLE_COLUMNS = {"id", "name", "project", "status", "created", "created_at", "tags"}


def _sort_runs(runs: list[Any], key: str, descending: bool) -> tuple[list[Any], list[Any]]:
    """``runs`` ordered by ``key`` (numbers, then text, then anything else; missing values
    last either way), and the value of each."""
    import math

    from .analysis.keys import getter, known_keys, suggest

    if key == "created":
        key = "created_at"
    if key == "group":
        get: Callable[[Any], Any] = lambda run: run.record.group  # noqa: E731
    else:
        get = getter(key, "param" if key.startswith("config.") else "metric")
    values = [get(r) for r in runs]
    if runs and all(v is None for v in values):
        raise ExpbookError(f"--sort: no run has '{key}'{suggest(key, known_keys(runs))}")

    def rank(i: int) -> tuple[int, Any]:
        v = values[i]
        if isinstance(v, (int, float)):  # bools too
            return (0, float(v))
        if isinstance(v, str):
            return (1, v.lower())
        return (2, repr(v))

    def missing(v: Any) -> bool:
        return v is None or (isinstance(v, float) and math.isnan(v))

    present = [i for i, v in enumerate(values) if not missing(v)]
    present.sort(key=rank, reverse=descending)  # stable: ties keep their order
    order = present + [i for i, v in enumerate(values) if missing(v)]
    return [runs[i] for i in order], [values[i] for i in order]


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
    """Show one run: its fields, where it ran (host, command line, git commit), its config,
    and a summary of every metric.

    RUN is an id, a unique id prefix, or a unique name.

    \b
    Example:
      expbook show mlp-h4-lr3
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
    from rich.text import Text

    from ._output import console as make_console

    con = make_console()
    con.print(
        Text.assemble(
            (visible(rec.name), "bold"),
            f"  id {visible(rec.id)}  project {visible(rec.project)}  status ",
            (rec.state, "bold"),
        )
    )
    con.print(f"created {obj['created_at']}  finished {obj['finished_at'] or '-'}")
    if rec.tags:
        con.print("tags: " + ", ".join(map(str, rec.tags)))
    src = rec.source
    if src.get("kind") != "logged":
        con.print(f"source: {src.get('format', '?')} {src.get('path', '')}")
    for line in _meta_lines(rec):
        con.print(line)
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


def _meta_lines(rec: Any) -> list[str]:
    """Where and how a run ran, for ``show``: group, notes, host, command line, working
    directory, Python, git commit, exit code, and any other metadata as ``key: value``."""
    import json
    import shlex

    meta = dict(rec.meta)
    lines = []
    if rec.group:
        lines.append(f"group: {rec.group}")
    if rec.notes:
        lines.append(f"notes: {rec.notes}")
    where = [
        f"{label} {meta.pop(k)}"
        for k, label in (("host", "host"), ("pid", "pid"), ("python", "python"))
        if meta.get(k) is not None
    ]
    if where:
        lines.append("  ".join(where))
    argv = meta.pop("argv", None)
    if isinstance(argv, list) and argv:
        lines.append("command: " + shlex.join(str(a) for a in argv))
    if meta.get("cwd"):
        lines.append(f"cwd: {meta.pop('cwd')}")
    git = meta.pop("git", None)
    if isinstance(git, dict) and git.get("commit"):
        lines.append(
            f"git: {git['commit']}"
            + (f" on {git['branch']}" if git.get("branch") else "")
            + (" (uncommitted changes)" if git.get("dirty") else "")
        )
    if rec.exit_code is not None:
        lines.append(f"exit code: {rec.exit_code}")
    meta.pop("executable", None)
    for k, v in sorted(meta.items()):
        lines.append(f"{k}: {v if isinstance(v, str) else json.dumps(v, default=str)}")
    return lines


@cli.command("history", context_settings=CONTEXT)
@click.argument("run")
@click.argument("keys", nargs=-1)
@click.option("--step-min", type=int, metavar="STEP", help="Only steps from STEP on (inclusive).")
@click.option("--step-max", type=int, metavar="STEP", help="Only steps up to STEP (inclusive).")
@click.option(
    "--tail", type=click.IntRange(min=1), metavar="N", help="Only the last N steps (rows)."
)
@click.option(
    "--every",
    type=click.IntRange(min=1),
    metavar="N",
    help="Only every N-th row of those (the first, the (N+1)-th...).",
)
@store_options
def history_cmd(
    store: str | None,
    fmt: str,
    run: str,
    keys: tuple[str, ...],
    step_min: int | None,
    step_max: int | None,
    tail: int | None,
    every: int | None,
) -> None:
    """Print the logged points of RUN (all keys, or the KEYs named), one row per step in step
    order. Rows are chosen by --step-min/--step-max, then --tail, then --every. A table
    shows the first and last rows that fit the terminal; csv and json print every row chosen.

    \b
    Example:
      expbook history mlp-h4-lr3 val_loss --tail 20
      expbook history mlp-h4-lr3 --step-min 1000 --every 100 --format csv > points.csv
    """
    from ._read import Store

    if step_min is not None and step_max is not None and step_min > step_max:
        raise click.BadParameter(
            f"--step-min {step_min} is above --step-max {step_max}", param_hint="--step-min"
        )
    book = Store(open_backend(store))
    rec = book.run(run)
    # every key of the run by default: a column each, even with no point in the rows chosen
    wanted = list(keys) or book.backend.keys(rec.id)
    series = _read_history(book.backend, rec.id, wanted, step_min, step_max, tail)
    missing = [k for k in keys if k not in series]
    if missing:
        have = book.backend.keys(rec.id)
        raise ExpbookError(
            f"run {rec.name!r} has no metric {missing[0]!r}"
            + (f" (it has: {', '.join(have[:10])})" if have else " (it has no metrics)")
        )
    steps, columns = _history_rows(series, tail, every)
    if fmt == "json":
        obj = {k: _points(steps, vals, hit) for k, (vals, hit) in columns.items()}
        emit(fmt, columns=[], rows=[], json_obj=obj)
        return
    cols = ["step", *series]
    if fmt == "csv":
        _history_csv(cols, steps, columns)
        return
    import shutil

    n = len(steps)
    fit = max(10, shutil.get_terminal_size((100, 40)).lines - 10)
    if n <= fit:
        empty = f"run {rec.name!r} has no points" + (
            " in the steps chosen" if step_min is not None or step_max is not None else ""
        )
        emit(fmt, columns=cols, rows=_rows(steps, columns, 0, n), json_obj=None, empty=empty)
        return
    head = fit // 2
    gap = [["…", *([""] * len(series))]]
    rows = _rows(steps, columns, 0, head) + gap + _rows(steps, columns, n - (fit - head), n)
    emit(
        fmt,
        columns=cols,
        rows=rows,
        json_obj=None,
        notes=[
            f"{n - fit:,} of {n:,} rows left out. Every row: --format csv (or json); "
            "fewer rows: --tail N, --every N, --step-min/--step-max."
        ],
    )


def _read_history(
    backend: Any,
    run_id: str,
    keys: list[str],
    step_min: int | None,
    step_max: int | None,
    tail: int | None,
) -> dict[str, Any]:
    """The series of ``keys`` in the step range; for ``tail``, only the chunks that hold the
    last ``tail`` steps (all of them again when out-of-order writes make that fall short)."""
    start = backend.tail_start(run_id, keys, tail, step_max) if tail else None
    if start is not None and (step_min is None or start > step_min):
        series = backend.read_series(run_id, keys, start, step_max)
        if len(_union_steps(series)) >= tail:  # type: ignore[operator]
            return series
    return backend.read_series(run_id, keys, step_min, step_max)


def _union_steps(series: dict[str, Any]) -> Any:
    import numpy as np

    parts = [sr.steps for sr in series.values()]
    if not parts:
        return np.zeros(0, np.int64)
    if len(parts) == 1:
        return parts[0]
    # each part is sorted: a stable sort merges them quickly, then drop the repeats
    steps = np.sort(np.concatenate(parts), kind="stable")
    keep = np.ones(len(steps), bool)
    keep[1:] = steps[1:] != steps[:-1]
    return steps[keep]


def _history_rows(
    series: dict[str, Any], tail: int | None, every: int | None
) -> tuple[Any, dict[str, tuple[Any, Any]]]:
    """The steps of the rows chosen, and per key its values at those steps with a mask of
    where it has a point (None when it has one at every step): numpy arrays."""
    import numpy as np

    steps = _union_steps(series)
    if tail is not None:
        steps = steps[-tail:]
    if every is not None:
        steps = steps[::every]
    columns: dict[str, tuple[Any, Any]] = {}
    for k, sr in series.items():
        if len(sr.steps) == len(steps) and np.array_equal(sr.steps, steps):
            columns[k] = (sr.values, None)
        elif len(sr.steps) == 0:
            columns[k] = (np.zeros(len(steps)), np.zeros(len(steps), bool))
        else:
            idx = np.minimum(np.searchsorted(sr.steps, steps), len(sr.steps) - 1)
            columns[k] = (sr.values[idx], sr.steps[idx] == steps)
    return steps, columns


def _points(steps: Any, values: Any, hit: Any) -> list[list[Any]]:
    """``[[step, value], ...]`` where a key has points (``history --format json``)."""
    if hit is not None:
        steps, values = steps[hit], values[hit]
    return [[s, v] for s, v in zip(steps.tolist(), values.tolist())]


def _rows(steps: Any, columns: dict[str, tuple[Any, Any]], lo: int, hi: int) -> list[list[Any]]:
    """Rows ``lo:hi`` for a table (None where a key has no point)."""
    cols = []
    for values, hit in columns.values():
        vals = values[lo:hi].tolist()
        if hit is not None:
            vals = [v if h else None for v, h in zip(vals, hit[lo:hi].tolist())]
        cols.append(vals)
    return [[s, *vals] for s, *vals in zip(steps[lo:hi].tolist(), *cols)]


def _history_csv(header: list[str], steps: Any, columns: dict[str, tuple[Any, Any]]) -> None:
    """Every row as CSV, a column at a time (a million rows in about a second): values as
    ``repr`` (round-trips), ``NaN``/``inf``/``-inf``, empty where a key has no point."""
    import csv
    import io

    import numpy as np

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(header)
    cols = [list(map(str, steps.tolist()))]
    for values, hit in columns.values():
        if hit is not None:
            values = values[hit]
        text = list(map(repr, values.tolist()))
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            v = values[i]
            text[i] = "NaN" if v != v else ("inf" if v > 0 else "-inf")
        if hit is not None:
            given = iter(text)
            text = [next(given) if h else "" for h in hit.tolist()]
        cols.append(text)
    out = sys.stdout
    out.write(buf.getvalue())
    for i in range(0, len(cols[0]), 100_000):  # in parts: a bounded string at a time
        part = [c[i : i + 100_000] for c in cols]
        out.write("\n".join(map(",".join, zip(*part))) + "\n")
    out.flush()


@cli.command("rm", context_settings=CONTEXT)
@click.argument("runs", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Delete without asking.")
@store_options
def rm_cmd(store: str | None, fmt: str, runs: tuple[str, ...], yes: bool) -> None:
    """Delete runs (with all their points). RUN is an id, id prefix or unique name.

    \b
    Example:
      expbook rm mlp-h4-lr0.03 k3x9a0qe --yes
    """
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
@click.option(
    "--project", default="demo", show_default=True, help="Project the demo runs are logged in."
)
@store_options
def demo_cmd(store: str | None, fmt: str, n_runs: int, steps: int, project: str) -> None:
    """Train a small sweep of tiny numpy models into the store and show a leaderboard. Also
    writes a report, expbook-PROJECT-report.md, into the working directory.

    \b
    Example:
      expbook demo --runs 4 --steps 100 --store /tmp/demo-store
    """
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

    \b
    Example:
      expbook import results/ logs/ --project gnn
      expbook import train.log --pattern 'step {step} loss {loss}'
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
    from .store import connect, resolve_db_path, resolve_location

    location = resolve_location(store)
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

    from ._output import console

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


def _book(store: str | None) -> Any:
    """The :class:`expbook.Store` the analysis commands are a thin layer over."""
    from ._read import Store

    return Store(open_backend(store))


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
        from ._output import visible_lines

        for t in table.tables():
            click.echo(visible_lines(t.to_text()))
    else:
        from ._output import console, print_wide

        con = console()
        for t in table.tables():
            print_wide(con, t.to_rich(), t.headers(), t.formatted_rows())
            for note in t.notes:
                con.print(note)


DERIVE = click.option(
    "--derive",
    "-d",
    "derive",
    multiple=True,
    metavar="NAME=EXPR",
    help="Add a column computed per run, e.g. 'ppl=exp(val_loss)' (repeatable); point-wise in "
    "logged keys, it is a series (best, best step, value at a step).",
)


@cli.command("leaderboard", context_settings=CONTEXT)
@click.argument("runs", nargs=-1)
@click.option("--metric", "-m", required=True, help="Metric (or summary or derived) key.")
@click.option(
    "--mode",
    type=click.Choice(["min", "max"]),
    default="min",
    show_default=True,
    help="Whether lower (min) or higher (max) values of the metric are better.",
)
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

    \b
    Example:
      expbook leaderboard --metric val_loss --at-step 15000 --sort at --top 10
    """
    table = _book(store).leaderboard(
        metric,
        runs=list(runs),
        project=project,
        filter=filter_,
        mode=mode,
        at_step=at_step,
        sort=sort,
        top=top,
        params=list(params),
        columns=list(columns),
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
    help="How the runs of one cell are combined.",
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
    """A sweep table: params on rows and columns, a metric aggregated in the cells.

    \b
    Example:
      expbook pivot 'torch_*' 'jax_*' --rows framework,pool --cols feature --value test_mse
    """
    table = _book(store).pivot(
        list(rows),
        list(cols),
        value,
        agg=agg,
        runs=list(runs),
        project=project,
        filter=filter_,
        derive=list(derive),
    )
    _emit_table(fmt, table)


@cli.command("winners", context_settings=CONTEXT)
@click.option(
    "--metric", "-m", required=True, help="Metric (or summary or derived) key to rank by."
)
@click.option(
    "--mode",
    type=click.Choice(["min", "max"]),
    default="min",
    show_default=True,
    help="Whether lower (min) or higher (max) values of the metric are better.",
)
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
    differ only in their seed are one config: mean ± std over the seeds, with the count.

    \b
    Example:
      expbook winners 'torch_*' 'jax_*' --metric test_mse --by framework
    """
    table = _book(store).winners(
        metric,
        mode=mode,
        by=list(by),
        groups=groups,
        runs=list(runs),
        project=project,
        filter=filter_,
        derive=list(derive),
    )
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
    deltas and ratios (per stage for stage/metric keys), wall-clock time and cost.

    \b
    Example:
      expbook compare baseline_32dim hjnqclgk --cost-per-hour 2.1
    """
    book = _book(store)
    if len(runs) < 2:
        raise click.UsageError("compare needs at least two runs")
    table = book.compare(
        *runs, cost_per_hour=cost_per_hour, keys=list(keys) or None, time_key=time_key
    )
    _emit_table(fmt, table)


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
    F1 (binary and macro), N (classification).

    \b
    Example:
      expbook eval results/run1/preds.csv --mask offdiag --run run1
    """
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
    help="The store: its folder, a folder holding .expbook/, or a .db file (default: "
    "$EXPBOOK_STORE, else the nearest .expbook/ upwards).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on (an error if another program holds it).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a browser.")
def ui_cmd(store: str | None, host: str, port: int, open_browser: bool) -> None:
    """Serve the local dashboard (read-only): runs table, run charts, compare view.

    Needs the ui extra: pip install 'expbook[ui]'.

    \b
    Example:
      expbook ui --store .expbook --port 8081 --open
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
    {{ EXPR | fmt }} and claim statuses. Text outside those is never changed.

    \b
    Example:
      expbook report notes.md --html notes.html
    """
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
            click.echo(visible(f"expbook: {doc}: not kept for the dashboard: {e}"), err=True)
    for issue in result.issues:
        click.echo(visible(f"expbook: {doc}:{issue}"), err=True)
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
    cannot be evaluated. Exit 1 if any fails or cannot be evaluated. Writes nothing.

    \b
    Example:
      expbook check journal.md --format json
    """
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
        click.echo(f"expbook: error: {visible(e.format_message())}", err=True)
        return e.exit_code
    except ExpbookError as e:
        click.echo(f"expbook: error: {visible(str(e))}", err=True)
        return 1
    except ValueError as e:  # bad expressions and option values from the analysis layer
        from .expr import ExprError

        if not isinstance(e, ExprError) and type(e) is not ValueError:
            raise
        click.echo(f"expbook: error: {visible(str(e))}", err=True)
        return 1
    except BrokenPipeError:
        return 0
    except sqlite3.Error as e:  # a store damaged or read-only where a command writes to it
        click.echo(f"expbook: error: the store cannot be used: {visible(str(e))}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("expbook: interrupted", err=True)
        return 130
    except OSError as e:
        msg = f"{e.strerror or e}: {e.filename or ''}".rstrip(": ")
        click.echo(f"expbook: error: {visible(msg)}", err=True)
        return 1
    return 0


def entry() -> None:
    sys.exit(main())
