"""The analysis commands: ``leaderboard``, ``pivot``, ``winners``, ``compare`` and ``eval``,
each a thin layer over :class:`expbook.Store`."""

from __future__ import annotations

import click

from .._output import emit_table
from ._common import (
    CONTEXT,
    DERIVE,
    open_backend,
    open_book,
    selection_options,
    store_options,
)


@click.command("leaderboard", context_settings=CONTEXT)
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
    table = open_book(store).leaderboard(
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
    emit_table(fmt, table)


@click.command("pivot", context_settings=CONTEXT)
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
    table = open_book(store).pivot(
        list(rows),
        list(cols),
        value,
        agg=agg,
        runs=list(runs),
        project=project,
        filter=filter_,
        derive=list(derive),
    )
    emit_table(fmt, table)


@click.command("winners", context_settings=CONTEXT)
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
    table = open_book(store).winners(
        metric,
        mode=mode,
        by=list(by),
        groups=groups,
        runs=list(runs),
        project=project,
        filter=filter_,
        derive=list(derive),
    )
    emit_table(fmt, table)


@click.command("compare", context_settings=CONTEXT)
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
    book = open_book(store)
    if len(runs) < 2:
        raise click.UsageError("compare needs at least two runs")
    table = book.compare(
        *runs, cost_per_hour=cost_per_hour, keys=list(keys) or None, time_key=time_key
    )
    emit_table(fmt, table)


@click.command("eval", context_settings=CONTEXT)
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
    from ..analysis import eval_file, eval_summary, eval_table

    table = eval_table(list(files), task=task, true_col=true_col, pred_col=pred_col, mask=mask)
    if run_ref is not None:
        if len(files) != 1:
            raise click.UsageError("--run takes one prediction file")
        backend = open_backend(store)
        rec = backend.get_run(run_ref)
        result = eval_file(files[0], task=task, true_col=true_col, pred_col=pred_col, mask=mask)
        backend.update_run(rec.id, summary={**rec.summary, **eval_summary(result, files[0])})
        table.notes.append(f"stored as summary values of run {rec.name} ({rec.id})")
    emit_table(fmt, table)
