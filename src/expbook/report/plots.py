"""Plot blocks: PNG files (matplotlib) written next to the document, linked from the region.

``plot: {metric: loss, runs: 'exp20_*', log_y: true, smooth: 0.6}`` draws the metric against
the step for every selected run (``smooth`` is an exponential moving average weight in
[0, 1), as TensorBoard's slider); ``bar: {metric: val_loss, mode: min}`` draws each run's best
value as a horizontal bar, best first.

A figure is saved as ``<doc stem>_files/<block id>-<data hash>.png``: the name changes when
the data or the settings change, so the Markdown region (which links the file) changes too and
``--check`` sees it; an unchanged figure is not drawn again. Older files of the same block are
removed. Long series are downsampled to about 2,000 points per run, keeping each bucket's
minimum and maximum so spikes stay visible. A block draws at most :data:`MAX_DRAWN` runs
(``top``, default and cap): the best by the metric (``mode``), said under the figure.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

from .blocks import Block, BlockError, Context

__all__ = ["MAX_DRAWN", "MAX_POINTS", "downsample", "render_bar", "render_plot"]

MAX_POINTS = 2000
MAX_DRAWN = 50  # runs one plot or bar block draws at most: the best by the metric


def _best_of(runs: Sequence[Any], metric: str, mode: str, top: int) -> tuple[list[Any], int]:
    """The ``top`` runs with the best value of ``metric`` (from the summaries: no point is
    read) and how many runs have the metric at all."""
    import heapq

    def key(r: Any) -> float:
        m = r.metrics.get(metric)
        v = (m.min_value if mode == "min" else m.max_value) if m is not None else None
        if v is None:
            v = r.summary.get(metric)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
            return float("inf")
        return float(v) if mode == "min" else -float(v)

    have = [r for r in runs if metric in r.metrics or metric in r.summary]
    if len(have) <= top:
        return have, len(have)
    return heapq.nsmallest(top, have, key=lambda r: (key(r), r.name)), len(have)


def _top(block: Block, default: int = MAX_DRAWN) -> int:
    v = block.fields.get("top", default)
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise BlockError(f"{block.kind}: top must be a whole number >= 1, not {v!r}")
    return min(v, MAX_DRAWN)


def _shown(block: Block, drawn: int, total: int, metric: str, mode: str) -> str:
    """The line under a figure that draws fewer runs than the selection holds."""
    if drawn >= total:
        return ""
    return f"\n\n*{drawn} of {total} runs drawn: the best by {mode} {metric}.*"


def downsample(xs: Sequence[float], ys: Sequence[float], n: int = MAX_POINTS):
    """At most about ``n`` points: per bucket the first, the minimum and the maximum."""
    if len(xs) <= n:
        return list(xs), list(ys)
    size = max(1, (3 * len(xs)) // n)
    ox: list[float] = []
    oy: list[float] = []
    for start in range(0, len(xs), size):
        idx = range(start, min(start + size, len(xs)))
        lo = min(idx, key=lambda i: ys[i] if ys[i] == ys[i] else float("inf"))
        hi = max(idx, key=lambda i: ys[i] if ys[i] == ys[i] else float("-inf"))
        for i in sorted({start, lo, hi}):
            ox.append(xs[i])
            oy.append(ys[i])
    return ox, oy


def _ema(ys: Sequence[float], weight: float) -> list[float]:
    out: list[float] = []
    last = None
    for y in ys:
        if y != y:
            out.append(y)
            continue
        last = y if last is None else last * weight + (1 - weight) * y
        out.append(last)
    return out


def _flag(block: Block, name: str) -> bool:
    v = block.fields.get(name, False)
    if not isinstance(v, bool):
        raise BlockError(f"{block.kind}: {name} must be true or false, not {v!r}")
    return v


def _figure() -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise BlockError("plots need matplotlib: pip install 'expbook[report]'") from None
    fig = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(block: Block, ctx: Context, bid: str, key: bytes, draw: Any) -> str:
    digest = hashlib.sha256(key).hexdigest()[:10]
    folder_name = f"{ctx.doc_stem}_files"
    folder = os.path.join(ctx.base_dir, folder_name)
    name = f"{bid}-{digest}.png"
    path = os.path.join(folder, name)
    if ctx.write_files and not os.path.exists(path):
        fig = _figure()
        draw(fig)
        os.makedirs(folder, exist_ok=True)
        tmp = path + ".tmp"
        fig.savefig(tmp, format="png", metadata={"Software": None})
        os.replace(tmp, path)
        for old in os.listdir(folder):
            if old.startswith(f"{bid}-") and old.endswith(".png") and old != name:
                try:
                    os.unlink(os.path.join(folder, old))
                except OSError:
                    pass
    elif not ctx.write_files:
        _figure()  # the same error without matplotlib, with or without --check
    alt = block.title or f"{block.fields.get('metric')}"
    return f"![{alt}]({folder_name}/{name})"


def render_plot(block: Block, runs: Sequence[Any], ctx: Context, bid: str) -> str:
    from ..analysis import points

    metric = str(block.fields["metric"])
    log_y, log_x = _flag(block, "log_y"), _flag(block, "log_x")
    smooth = block.fields.get("smooth", 0) or 0
    if isinstance(smooth, bool) or not isinstance(smooth, (int, float)) or not 0 <= smooth < 1:
        raise BlockError(f"plot: smooth must be a number in [0, 1), not {smooth!r}")
    mode = str(block.fields.get("mode", "min"))
    if mode not in ("min", "max"):
        raise BlockError(f"plot: mode must be one of min, max, not {mode!r}")
    logged = [r for r in runs if metric in r.metrics]
    chosen, total = _best_of(logged, metric, mode, _top(block))
    series = []
    for run in sorted(chosen, key=lambda r: r.name):
        steps, values, _ = points(run, metric)
        xs, ys = downsample([float(s) for s in steps], [float(v) for v in values])
        series.append((run.name, xs, ys))
    if not series:
        raise BlockError(f"plot: no selected run has logged points of {metric!r}")
    from .html import figure_json

    ctx.figures[bid] = figure_json(
        "plot", series, title=block.title, log_y=log_y, log_x=log_x, smooth=smooth, ylabel=metric
    )
    h = hashlib.sha256(repr((metric, log_y, log_x, smooth, block.title)).encode())
    for name, xs, ys in series:
        h.update(repr((name, xs, ys)).encode())
    note = _shown(block, len(series), total, metric, mode)

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(1, 1, 1)
        for name, xs, ys in series:
            if smooth:
                line = ax.plot(xs, ys, alpha=0.25, linewidth=1)[0]
                ax.plot(xs, _ema(ys, smooth), color=line.get_color(), label=name, linewidth=1.5)
            else:
                ax.plot(xs, ys, label=name, linewidth=1.5)
        if log_y:
            ax.set_yscale("log")
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(metric)
        if block.title:
            ax.set_title(block.title)
        ax.grid(True, alpha=0.3)
        if len(series) <= 12:
            ax.legend(fontsize=7)
        fig.tight_layout()

    return _save(block, ctx, bid, h.digest(), draw) + note


def render_bar(block: Block, runs: Sequence[Any], ctx: Context, bid: str) -> str:
    from ..analysis import leaderboard

    metric = str(block.fields["metric"])
    mode = str(block.fields.get("mode", "min"))
    if mode not in ("min", "max"):
        raise BlockError(f"bar: mode must be one of min, max, not {mode!r}")
    chosen, total = _best_of(runs, metric, mode, _top(block))
    table = leaderboard(chosen, metric, mode=mode)
    rows = [(r["run"], r["best"]) for r in table.to_records() if r["best"] is not None]
    if not rows:
        raise BlockError(f"bar: no selected run has a value of {metric!r}")
    log_x = _flag(block, "log_x")
    key = repr((metric, mode, log_x, block.title, rows)).encode()
    from .html import figure_json

    ctx.figures[bid] = figure_json(
        "bar",
        [(name, [0.0], [float(v)]) for name, v in rows],
        title=block.title,
        log_x=log_x,
        xlabel=f"{mode} {metric}",
    )

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(1, 1, 1)
        names = [r[0] for r in rows][::-1]
        vals = [r[1] for r in rows][::-1]
        ax.barh(names, vals)
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(f"{'min' if mode == 'min' else 'max'} {metric}")
        if block.title:
            ax.set_title(block.title)
        ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()

    return _save(block, ctx, bid, key, draw) + _shown(block, len(rows), total, metric, mode)


def render_scatter(block: Block, files: Sequence[str], ctx: Context, bid: str) -> str:
    """Predicted against true values of prediction files, with the y = x line."""
    from ..analysis.evaluate import EvalError, _column, _pick_columns, _read
    from .html import figure_json

    true_col = block.fields.get("true")
    pred_col = block.fields.get("pred")
    series: list[tuple[str, list[float], list[float]]] = []
    h = hashlib.sha256(repr((true_col, pred_col, block.title)).encode())
    for path in files:
        try:
            t = _read(path)
            tc, pc, _ = _pick_columns(
                list(t.columns),
                None if true_col is None else str(true_col),
                None if pred_col is None else str(pred_col),
                path,
            )
        except EvalError as e:
            raise BlockError(f"scatter: {e}") from None
        if tc not in t.num or pc not in t.num:
            raise BlockError(f"scatter: {path}: columns {tc!r} and {pc!r} must be numeric")
        pairs = [
            (a, b)
            for a, b in zip(_column(t, tc), _column(t, pc))
            if a is not None and b is not None
        ]
        label = os.path.basename(os.path.dirname(path)) or os.path.basename(path)
        if os.path.basename(path) != "preds.csv":
            label = os.path.splitext(os.path.basename(path))[0]
        series.append((label, [a for a, _ in pairs], [b for _, b in pairs]))
        h.update(repr(series[-1]).encode())
    ctx.figures[bid] = figure_json("scatter", series, title=block.title)

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(1, 1, 1)
        lo = min(min(xs + ys) for _, xs, ys in series if xs)
        hi = max(max(xs + ys) for _, xs, ys in series if xs)
        for name, xs, ys in series:
            ax.scatter(xs, ys, s=8, alpha=0.6, label=name)
        ax.plot([lo, hi], [lo, hi], color="gray", linewidth=1, linestyle="--")
        ax.set_xlabel("true")
        ax.set_ylabel("predicted")
        if block.title:
            ax.set_title(block.title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()

    if not any(xs for _, xs, _ in series):
        raise BlockError("scatter: no rows with both a true and a predicted value")
    return _save(block, ctx, bid, h.digest(), draw)
