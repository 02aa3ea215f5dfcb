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

__all__ = ["MAX_DRAWN", "MAX_POINTS", "downsample", "render_bar", "render_plot", "tick_label"]

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


PLOT_X = ("step", "wall")  # besides a metric logged alongside (``x: epoch``)
BANDS = ("minmax", "std")
GROUP_POINTS = 200  # the common x grid of a group's mean curve
MAX_GROUP_RUNS = 5000
MAX_GROUPS = 20
_PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
            "#17becf", "#7f7f7f", "#bcbd22"]  # fmt: skip
_STYLES = ["-", ":", "--", "-."]  # a key's line style in an overlay (matplotlib)
_DASHES = ["solid", "dot", "dash", "dashdot"]  # the same in plotly


def _keys(block: Block) -> list[str]:
    """``metric``: one key, or several overlaid (a list, or names separated by commas)."""
    m = block.fields["metric"]
    items = m if isinstance(m, list) else str(m).split(",") if isinstance(m, str) else [m]
    keys = [str(k).strip() for k in items if str(k).strip()]
    if not keys or any(isinstance(k, (dict, list)) for k in items):
        raise BlockError(f"plot: metric must be a metric name or a list of them, not {m!r}")
    return list(dict.fromkeys(keys))


def _group_cols(block: Block) -> list[str]:
    g = block.fields.get("group")
    if g is None:
        return []
    items = g if isinstance(g, list) else str(g).split(",")
    cols = [str(c).strip() for c in items if str(c).strip()]
    if not cols or any(isinstance(c, (dict, list)) for c in items):
        raise BlockError(f"plot: group must be a param or a list of params, not {g!r}")
    return [c[len("config.") :] if c.startswith("config.") else c for c in cols]


def _curve(run: Any, key: str, x: str) -> tuple[Any, Any] | None:
    """(x, y) numpy arrays of ``key`` in ``run`` against ``x``: the step, seconds since the
    run's first point, or the value of metric ``x`` at each step (interpolated between the
    steps it was logged at, never past its ends). None when the run has no such x."""
    import numpy as np

    from ..analysis import points

    steps, values, walls = points(run, key)
    st = np.asarray(steps, dtype=np.float64)
    ys = np.asarray(values, dtype=np.float64)
    if x == "step":
        return st, ys
    if x == "wall":
        w = np.asarray([np.nan if v is None else v for v in (walls or ())], dtype=np.float64)
        if len(w) != len(st) or not np.isfinite(w).any():
            return None
        return w - np.nanmin(w), ys
    if x not in run.metrics:
        return None
    xs_steps, xs_values, _ = points(run, x)
    xst = np.asarray(xs_steps, dtype=np.float64)
    xv = np.asarray(xs_values, dtype=np.float64)
    ok = np.isfinite(xv)
    xst, xv = xst[ok], xv[ok]
    if not len(xst):
        return None
    inside = (st >= xst[0]) & (st <= xst[-1])
    return np.interp(st[inside], xst, xv), ys[inside]


def _group_stats(curves: list[tuple[Any, Any]], n: int = GROUP_POINTS) -> dict[str, Any] | None:
    """Mean, min, max and (population) std of ``curves`` on ``n`` evenly spaced x values over
    the range they cover; at each x only the curves whose own range holds it count."""
    import numpy as np

    kept = []
    for xv, yv in curves:
        ok = np.isfinite(xv) & np.isfinite(yv)
        if ok.any():
            order = np.argsort(xv[ok], kind="stable")
            kept.append((xv[ok][order], yv[ok][order]))
    if not kept:
        return None
    lo = min(float(c[0][0]) for c in kept)
    hi = max(float(c[0][-1]) for c in kept)
    grid = np.linspace(lo, hi, n) if hi > lo else np.array([lo])
    stack = np.full((len(kept), len(grid)), np.nan)
    for i, (xv, yv) in enumerate(kept):
        inside = (grid >= xv[0]) & (grid <= xv[-1])
        stack[i, inside] = np.interp(grid[inside], xv, yv)
    count = np.sum(~np.isnan(stack), axis=0)
    keep = count > 0
    stack, grid = stack[:, keep], grid[keep]
    return {
        "n": len(kept),
        "x": grid.tolist(),
        "mean": np.nanmean(stack, axis=0).tolist(),
        "min": np.nanmin(stack, axis=0).tolist(),
        "max": np.nanmax(stack, axis=0).tolist(),
        "std": np.nanstd(stack, axis=0).tolist(),
    }


def _label_of(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _groups(runs: Sequence[Any], cols: list[str]) -> list[tuple[str, list[Any]]]:
    """Runs by their values of the params ``cols`` (a run without one: "none"), in the
    order of the values; a label ``lr=0.1, depth=18`` (``config.lr = 0.1`` for one param)."""
    from .._read import flatten

    by: dict[tuple[str, ...], list[Any]] = {}
    for r in runs:
        cfg = flatten(r.config or {})
        by.setdefault(tuple(_label_of(cfg.get(c)) for c in cols), []).append(r)

    def order(item: tuple[tuple[str, ...], list[Any]]) -> tuple[Any, ...]:
        out: list[Any] = []
        for v in item[0]:
            try:
                out.append((0, float(v), ""))
            except ValueError:
                out.append((1, 0.0, v))
        return tuple(out)

    out = []
    for values, members in sorted(by.items(), key=order):
        if len(cols) == 1:
            label = f"config.{cols[0]} = {values[0]}"
        else:
            label = ", ".join(f"{c}={v}" for c, v in zip(cols, values))
        out.append((label, members))
    return out


def tick_label(v: float, plain: bool = False) -> str:
    """A tick: plain decimals (0.25, 1,500 with ``plain``) or scientific notation (3e-4),
    never an SI prefix. The dashboard's canvas charts write the same (static/chart.js)."""
    if v == 0:
        return "0"
    a = abs(v)
    if plain and a >= 1 and float(v).is_integer():
        return f"{v:,.0f}"
    if a >= 1e5 or a < 1e-3:
        mant, exp = f"{v:.3e}".split("e")
        mant = mant.rstrip("0").rstrip(".")
        return f"{mant}e{int(exp)}"
    return f"{v:.6g}"


def _readable_ticks(ax: Any, log_x: bool, log_y: bool, x_plain: bool) -> None:
    """Readable ticks on a matplotlib axes: :func:`tick_label` on linear axes; a log axis
    over two decades or more labelled at its decades only, a narrower one at 1, 2 and 5."""
    import math

    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for axis, log, plain in ((ax.xaxis, log_x, x_plain), (ax.yaxis, log_y, False)):
        if not log:
            axis.set_major_formatter(FuncFormatter(lambda v, _p, plain=plain: tick_label(v, plain)))
            continue
        lo, hi = ax.get_xlim() if axis is ax.xaxis else ax.get_ylim()
        lo, hi = max(min(lo, hi), 1e-300), max(lo, hi, 1e-300)
        decades = math.floor(math.log10(hi)) - math.ceil(math.log10(lo)) + 1
        subs = (1.0,) if decades >= 2 else (1.0, 2.0, 5.0)
        axis.set_major_locator(LogLocator(base=10, subs=subs))
        axis.set_major_formatter(FuncFormatter(lambda v, _p: tick_label(v)))
        axis.set_minor_locator(LogLocator(base=10, subs=tuple(range(2, 10))))
        axis.set_minor_formatter(NullFormatter())


def render_plot(block: Block, runs: Sequence[Any], ctx: Context, bid: str) -> str:
    """A ``plot`` block: ``metric`` (one key, or a list overlaid in one figure, a line style
    per key) against ``x`` (``step``, the default; ``wall``: seconds since each run's first
    point; or a metric logged alongside, e.g. ``epoch``), a line per run, or with ``group``
    (params) a mean line per group with its ``band`` (``minmax``, the default, or ``std``:
    mean ± the standard deviation over the group's runs)."""
    keys = _keys(block)
    metric = keys[0]
    log_y, log_x = _flag(block, "log_y"), _flag(block, "log_x")
    smooth = block.fields.get("smooth", 0) or 0
    if isinstance(smooth, bool) or not isinstance(smooth, (int, float)) or not 0 <= smooth < 1:
        raise BlockError(f"plot: smooth must be a number in [0, 1), not {smooth!r}")
    mode = str(block.fields.get("mode", "min"))
    if mode not in ("min", "max"):
        raise BlockError(f"plot: mode must be one of min, max, not {mode!r}")
    x = block.fields.get("x", "step")
    if not isinstance(x, str) or not x.strip():
        raise BlockError(f"plot: x must be step, wall or a metric name, not {x!r}")
    x = x.strip()
    cols = _group_cols(block)
    band = str(block.fields.get("band", "minmax"))
    if band not in BANDS:
        raise BlockError(f"plot: band must be one of {', '.join(BANDS)}, not {band!r}")
    if "band" in block.fields and not cols:
        raise BlockError("plot: band applies to grouped curves: add group: PARAM")
    logged = [r for r in runs if any(k in r.metrics for k in keys)]
    if x not in PLOT_X and logged and not any(x in r.metrics for r in logged):
        raise BlockError(f"plot: x: no selected run has logged points of {x!r}")
    if cols:
        if "top" in block.fields:
            raise BlockError("plot: top does not apply to grouped curves (every run counts)")
        if len(logged) > MAX_GROUP_RUNS:
            raise BlockError(f"plot: group averages at most {MAX_GROUP_RUNS} runs")
        chosen, total = logged, len(logged)
    else:
        chosen, total = _best_of(logged, metric, mode, _top(block))
    multi = len(keys) > 1

    # lines: (label, xs, ys, colour index, key index)
    lines: list[tuple[str, list[float], list[float], int, int]] = []
    bands: list[tuple[str, list[float], list[float], list[float], int, int]] = []
    groups: list[tuple[str, list[Any]]] = []
    if cols:
        groups = _groups(chosen, cols)
        if len(groups) > MAX_GROUPS:
            raise BlockError(
                f"plot: group makes {len(groups)} groups; at most {MAX_GROUPS} are drawn"
            )
        for gi, (label, members) in enumerate(groups):
            for ki, key in enumerate(keys):
                curves = []
                for r in members:
                    if key not in r.metrics:
                        continue
                    xy = _curve(r, key, x)
                    if xy is not None:
                        xv, yv = xy
                        if smooth:
                            import numpy as np

                            yv = np.asarray(_ema(yv.tolist(), smooth), dtype=np.float64)
                        curves.append((xv, yv))
                st = _group_stats(curves)
                if st is None:
                    continue
                name = f"{label} · {key}" if multi else label
                lines.append((f"{name} (n={st['n']})", st["x"], st["mean"], gi, ki))
                if band == "std":
                    lo = [m - d for m, d in zip(st["mean"], st["std"])]
                    hi = [m + d for m, d in zip(st["mean"], st["std"])]
                else:
                    lo, hi = st["min"], st["max"]
                bands.append(
                    (f"{name} {'±std' if band == 'std' else 'min–max'}", st["x"], lo, hi, gi, ki)
                )
    else:
        for ri, run in enumerate(sorted(chosen, key=lambda r: r.name)):
            for ki, key in enumerate(keys):
                if key not in run.metrics:
                    continue
                xy = _curve(run, key, x)
                if xy is None:
                    continue
                xs, ys = downsample(xy[0].tolist(), xy[1].tolist())
                lines.append((f"{run.name} · {key}" if multi else run.name, xs, ys, ri, ki))
    if not lines:
        against = "" if x in PLOT_X else f" against {x!r}"
        raise BlockError(f"plot: no selected run has logged points of {metric!r}{against}")
    xlabel = "step" if x == "step" else "seconds since the run's first point" if x == "wall" else x
    ylabel = ", ".join(keys)
    from .html import figure_json

    if cols or multi or x != "step":
        ctx.figures[bid] = _plot_figure(
            block, lines, bands, log_y, log_x, smooth and not cols, xlabel, ylabel, x
        )
    else:  # a figure as before these options (the same JSON for the same block)
        ctx.figures[bid] = figure_json(
            "plot",
            [(name, xs, ys) for name, xs, ys, _, _ in lines],
            title=block.title,
            log_y=log_y,
            log_x=log_x,
            smooth=smooth,
            ylabel=metric,
        )
    settings: tuple[Any, ...] = (metric, log_y, log_x, smooth, block.title)
    if cols or multi or x != "step":
        settings += (tuple(keys), x, tuple(cols), band)
    h = hashlib.sha256(repr(settings).encode())
    for name, xs, ys, _, _ in lines:
        h.update(repr((name, xs, ys)).encode())
    for name, xs, lo, hi, _, _ in bands:
        h.update(repr((name, xs, lo, hi)).encode())
    note = (
        ""
        if cols
        else _shown(block, len({n.split(" · ")[0] for n, *_ in lines}), total, metric, mode)
    )
    if cols:
        n_runs = sum(len(m) for _, m in groups)
        shown = "±std" if band == "std" else "min–max"
        plural = "s" if len(groups) != 1 else ""
        note = (
            f"\n\n*{len(groups)} group{plural} of {n_runs} runs: the mean of each, "
            f"with its {shown} band.*"
        )

    def draw(fig: Any) -> None:
        ax = fig.add_subplot(1, 1, 1)
        for _name, xs, lo, hi, ci, _ki in bands:
            ax.fill_between(xs, lo, hi, color=_PALETTE[ci % len(_PALETTE)], alpha=0.2, linewidth=0)
        for name, xs, ys, ci, ki in lines:
            style = _STYLES[ki % len(_STYLES)]
            colour = _PALETTE[ci % len(_PALETTE)] if (cols or multi) else None
            if smooth and not cols:
                line = ax.plot(xs, ys, alpha=0.25, linewidth=1, color=colour, linestyle=style)[0]
                ax.plot(xs, _ema(ys, smooth), color=line.get_color(), label=name, linewidth=1.5,
                        linestyle=style)  # fmt: skip
            else:
                ax.plot(
                    xs, ys, label=name, linewidth=2 if cols else 1.5, color=colour, linestyle=style
                )
        if log_y:
            ax.set_yscale("log")
        if log_x:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if block.title:
            ax.set_title(block.title)
        ax.grid(True, alpha=0.3)
        _readable_ticks(ax, log_x, log_y, x in PLOT_X)
        if len(lines) <= 12:
            ax.legend(fontsize=7)
        fig.tight_layout()

    return _save(block, ctx, bid, h.digest(), draw) + note


def _plot_figure(
    block: Block,
    lines: list[tuple[str, list[float], list[float], int, int]],
    bands: list[tuple[str, list[float], list[float], list[float], int, int]],
    log_y: bool,
    log_x: bool,
    smooth: float,
    xlabel: str,
    ylabel: str,
    x: str,
) -> dict[str, Any]:
    """The plotly figure of a plot block using ``x``, overlays or groups: a colour per run or
    group, a line style per key, each group's band filled under its mean."""
    from .html import HTML_POINTS, _num, _readable

    data: list[dict[str, Any]] = []
    for name, xs, lo, hi, ci, _ki in bands:
        colour = _PALETTE[ci % len(_PALETTE)]
        xs_ = [_num(v) for v in xs]
        data.append({"type": "scatter", "mode": "lines", "x": xs_, "y": [_num(v) for v in hi],
                     "line": {"width": 0, "color": colour}, "showlegend": False,
                     "hoverinfo": "skip", "name": name})  # fmt: skip
        data.append({"type": "scatter", "mode": "lines", "x": xs_, "y": [_num(v) for v in lo],
                     "line": {"width": 0, "color": colour}, "fill": "tonexty",
                     "fillcolor": _rgba(colour, 0.2), "showlegend": False, "hoverinfo": "skip",
                     "name": name})  # fmt: skip
    for name, xs, ys, ci, ki in lines:
        xs, ys = downsample(xs, ys, HTML_POINTS)
        line: dict[str, Any] = {
            "color": _PALETTE[ci % len(_PALETTE)],
            "dash": _DASHES[ki % len(_DASHES)],
        }
        if smooth:
            data.append({"type": "scatter", "mode": "lines", "name": f"{name} (raw)",
                         "x": [_num(v) for v in xs], "y": [_num(v) for v in ys], "opacity": 0.3,
                         "showlegend": False, "line": {**line, "width": 1}})  # fmt: skip
            ys = _ema(ys, smooth)
        line["width"] = 2 if bands else 1.5
        xs_, ys_ = [_num(v) for v in xs], [_num(v) for v in ys]
        data.append({"type": "scatter", "mode": "lines", "name": name, "x": xs_, "y": ys_,
                     "line": line})  # fmt: skip
    layout: dict[str, Any] = {
        "margin": {"l": 60, "r": 20, "t": 40 if block.title else 20, "b": 50},
        "legend": {"font": {"size": 10}},
        "xaxis": {"title": {"text": xlabel}, "type": "log" if log_x else "linear"},
        "yaxis": {"title": {"text": ylabel}, "type": "log" if log_y else "linear"},
    }
    if x in PLOT_X:
        layout["xaxis"].update(exponentformat="none", separatethousands=True)
    if block.title:
        layout["title"] = {"text": block.title}
    _readable(data, layout)
    return {"data": data, "layout": layout}


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


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
