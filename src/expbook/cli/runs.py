"""Commands on stored runs: ``runs``, ``show``, ``history`` and ``rm``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from .._output import emit, fmt_number, visible
from ..errors import ExpbookError
from ._common import (
    CONTEXT,
    open_backend,
    store_options,
)


@click.command("runs", context_settings=CONTEXT)
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
    from .._read import Store, run_record_json

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
        # the system metrics a run records by itself come after what it logged
        items = sorted(summ.items(), key=lambda kv: kv[0].startswith("system/"))
        shown = ", ".join(f"{k}={fmt_number(v)}" for k, v in items[:4]) + (
            " …" if len(summ) > 4 else ""
        )
        row = [
            r["id"],
            r["name"],
            r["project"],
            r["status"] + (" (incomplete)" if r["meta"].get("unwritten_points") else ""),
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

    from ..analysis.keys import getter, known_keys, suggest

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

    from .._read import flatten

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


@click.command("show", context_settings=CONTEXT)
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
    from .._read import Store, flatten, run_record_json

    book = Store(open_backend(store))
    rec = book.run(run)
    metrics = book.backend.metric_summaries([rec.id]).get(rec.id, {})
    obj = run_record_json(rec, metrics)
    obj["metrics"] = {k: m._asdict() for k, m in sorted(metrics.items())}
    media: list[dict[str, Any]] = getattr(book.backend, "media_keys", lambda _rid: [])(rec.id)
    obj["media"] = media
    if fmt != "csv":
        from .._recorded import recorded

        obj.update(recorded(book.backend, rec))  # error, system, env, alerts, console
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
        if fmt == "csv" or not k.startswith("system/")  # a table of their own below
    ]
    cols = ["metric", "points", "last step", "last", "min", "min step", "max", "max step", "NaN"]
    if fmt == "csv":
        emit(fmt, columns=cols, rows=rows, json_obj=None)
        return
    from rich.text import Text

    from .._output import console as make_console

    con = make_console()
    unwritten = rec.meta.get("unwritten_points")
    con.print(
        Text.assemble(
            (visible(rec.name), "bold"),
            f"  id {visible(rec.id)}  project {visible(rec.project)}  status ",
            (rec.state, "bold"),
            f" (incomplete: {unwritten:,} points were not written)" if unwritten else "",
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
    if media:
        emit(
            "table",
            columns=["media", "type", "steps", "last step"],
            rows=[[m["key"], m["type"], m["count"], m["last_step"]] for m in media],
            json_obj=None,
            title="media",
        )
    _print_recorded(con, obj)


def _print_recorded(con: Any, obj: dict[str, Any]) -> None:
    """``show``'s sections for what the run recorded by itself."""
    from rich.text import Text

    system = obj.get("system")
    if system and system["metrics"]:
        every = f" (every {fmt_number(system['interval_s'])} s)" if system["interval_s"] else ""
        emit(
            "table",
            columns=["system metric", "samples", "last", "mean", "max"],
            rows=[
                [k, m["samples"], m["last"], m["mean"], m["max"]]
                for k, m in system["metrics"].items()
            ],
            json_obj=None,
            title="system" + every,
        )
    env = obj.get("env")
    if env:
        git = env.get("git") or {}
        line = f"environment: python {env.get('python', '?')}"
        if env.get("implementation"):
            line += f" ({env['implementation']})"
        if env.get("platform"):
            line += f" on {env['platform']}"
        line += f", {env.get('package_count') or 0} packages"
        if git.get("diff"):
            line += f", git diff of {len(git['diff'].encode()):,} bytes"
        con.print(line + " (all of it: --format json)")
    alerts = obj.get("alerts") or []
    if alerts:
        emit(
            "table",
            columns=["time", "level", "title", "text"],
            rows=[[a["time"], a["level"], a["title"], a["text"]] for a in alerts],
            json_obj=None,
            title="alerts",
        )
    error = obj.get("error")
    if error:
        con.print(Text.assemble(("error: ", "bold red"), f"{error['type']}: {error['message']}"))
        if error.get("traceback"):
            con.print(error["traceback"].rstrip("\n"))
    console = obj.get("console")
    if console:
        n = len(console["tail"])
        cut = " (truncated)" if console["truncated"] else ""
        con.print(Text(f"console: last {n} lines of {console['path']}{cut}", style="bold"))
        for line in console["tail"]:
            con.print(line)


def _meta_lines(rec: Any) -> list[str]:
    """Where and how a run ran, for ``show``: group, notes, host, command line, working
    directory, Python, git commit, exit code, and any other metadata as ``key: value``."""
    import json
    import shlex

    from .._recorded import meta_shown_elsewhere

    meta = {k: v for k, v in rec.meta.items() if k not in meta_shown_elsewhere()}
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


@click.command("history", context_settings=CONTEXT)
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
    from .._read import Store

    if step_min is not None and step_max is not None and step_min > step_max:
        raise click.BadParameter(
            f"--step-min {step_min} is above --step-max {step_max}", param_hint="--step-min"
        )
    book = Store(open_backend(store))
    rec = book.run(run)
    # values that are not numbers (strings, lists...): in json output, by key and step
    others = _other_values(book.backend, rec.id, keys, step_min, step_max)
    # every key of the run by default: a column each, even with no point in the rows chosen
    wanted = [k for k in keys if k not in others] or ([] if keys else book.backend.keys(rec.id))
    if fmt == "json" and tail is None and every is None:
        # every point of each key in the range: decoded to Python numbers without numpy
        lists = book.backend.read_series_lists(rec.id, wanted, step_min, step_max)
        _check_keys(book, rec, tuple(k for k in keys if k not in others), lists)
        obj = {k: [[s, v] for s, v in zip(sr.steps, sr.values)] for k, sr in lists.items()}
        emit(fmt, columns=[], rows=[], json_obj={**obj, **others})
        return
    series = _read_history(book.backend, rec.id, wanted, step_min, step_max, tail)
    _check_keys(book, rec, tuple(k for k in keys if k not in others), series)
    steps, columns = _history_rows(series, tail, every)
    if fmt == "json":
        obj = {k: _points(steps, vals, hit) for k, (vals, hit) in columns.items()}
        if len(steps):
            chosen = {int(s) for s in steps}
            others = {k: [p for p in pts if p[0] in chosen] for k, pts in others.items()}
        emit(fmt, columns=[], rows=[], json_obj={**obj, **others})
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


def _other_values(
    backend: Any,
    run_id: str,
    keys: tuple[str, ...],
    step_min: int | None,
    step_max: int | None,
) -> dict[str, list[list[Any]]]:
    """``{key: [[step, value], ...]}`` of the run's non-numeric values (of ``keys``, if any)."""
    read = getattr(backend, "read_values", None)
    if read is None:
        return {}
    out: dict[str, list[list[Any]]] = {}
    for key, step, _wall, value in read(run_id):
        if keys and key not in keys:
            continue
        if (step_min is not None and step < step_min) or (step_max is not None and step > step_max):
            continue
        out.setdefault(key, []).append([step, value])
    # media (expbook.Image, Table...): [step, {"type", "path" under the store's files_dir,
    # "index" in a logged list, and the metadata}]
    for m in getattr(backend, "read_media", lambda _rid: [])(run_id):
        step = m["step"]
        if keys and m["key"] not in keys:
            continue
        if (step_min is not None and step < step_min) or (step_max is not None and step > step_max):
            continue
        item = {"type": m["type"], "path": m["path"], "index": m["index"], **m["meta"]}
        out.setdefault(m["key"], []).append([step, item])
    return out


def _check_keys(book: Any, rec: Any, keys: tuple[str, ...], series: dict[str, Any]) -> None:
    missing = [k for k in keys if k not in series]
    if missing:
        have = book.backend.keys(rec.id)
        raise ExpbookError(
            f"run {rec.name!r} has no metric {missing[0]!r}"
            + (f" (it has: {', '.join(have[:10])})" if have else " (it has no metrics)")
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


@click.command("rm", context_settings=CONTEXT)
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
