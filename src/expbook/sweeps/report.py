"""A sweep's report: the starter document (``report:`` in the spec, or ``expbook report DOC.md
--new sweep --sweep NAME``) and the two blocks it adds to the report language:

* ``parallel: {metric: KEY, mode: min|max, params: [...]}``: parallel coordinates, one line
  per run from each param's axis to the metric's, coloured by the metric (a PNG), with a table
  of the axes' ranges;
* ``importance: {metric: KEY, mode: min|max, method: correlation|optuna}``: how much each
  param matters: Spearman's correlation (numeric) or eta (categorical), and a random forest's
  permutation importance when scikit-learn is installed; ``method: optuna`` asks Optuna's
  importance evaluator over a study rebuilt from the runs (fANOVA).

The starter selects the sweep's finished runs (``filter: '"sweep:NAME" in tags and status ==
"finished"'``): a crashed or pruned attempt is not counted.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Sequence
from typing import Any

from ..errors import ExpbookError

__all__ = [
    "render_importance",
    "render_parallel",
    "sweep_filter",
    "sweep_starter",
    "write_sweep_report",
]


def sweep_filter(name: str, finished: bool = True) -> str:
    """The ``--filter`` expression of a sweep's runs (finished ones only by default)."""
    expr = f'"sweep:{name}" in tags'
    return expr + ' and status == "finished"' if finished else expr


def _spec_of(backend: Any, name: str) -> Any:
    from .spec import SpecError, parse_spec

    row = backend.sweep_get(name)
    if row is None:
        names = [s["name"] for s in backend.sweep_list()]
        known = f"; sweeps: {', '.join(names)}" if names else " (the store has no sweeps)"
        raise ExpbookError(f"no sweep named {name!r}{known}")
    try:
        return parse_spec(row["spec"])
    except SpecError as e:
        raise ExpbookError(f"sweep {name}: its spec no longer reads: {e}") from None


def sweep_starter(backend: Any, name: str, runs: Sequence[Any] | None = None) -> str:
    """The text of a sweep's report document (blocks filled in from the store)."""
    import fnmatch

    from ..analysis.sweep import DEFAULT_IGNORE
    from ..report.starters import _pick_metric

    spec = _spec_of(backend, name)
    metric, mode = spec.metric, spec.goal
    if metric is None:
        from .._views import load_runs
        from ..analysis import select_runs

        mine = select_runs(
            runs if runs is not None else load_runs(backend, None), filter=sweep_filter(name)
        )
        if not mine:
            raise ExpbookError(
                f"sweep {name}: no metric in its spec and no finished run to guess one from"
            )
        metric, mode = _pick_metric(mine)
    flt = sweep_filter(name).replace("'", "''")
    sel = f", filter: '{flt}'"
    varying = spec.varying
    seeds = [p for p in varying if any(fnmatch.fnmatch(p, pat) for pat in DEFAULT_IGNORE)]
    axes = [p for p in varying if p not in seeds]
    plist = f", params: [{', '.join(varying)}]" if varying else ""
    dash = "/sweep?filter=" + _url(sweep_filter(name)) + f"&metric={metric}&goal={mode}"
    what = f"{spec.method}" + (f", {spec.total} trials" if spec.total else "")
    out = [
        f"# Sweep {name}: {metric}\n",
        f"{what} over {', '.join(p.name for p in spec.params)}; {mode} {metric} is best. "
        "The tables are regenerated as trials finish; text outside the generated regions is "
        "yours. The dashboard's sweep view of these runs: `expbook ui`, then "
        f"`{dash}`.\n",
        "## Leaderboard\n",
        _fence(f"leaderboard: {{metric: {metric}, mode: {mode}, top: 10{plist}{sel}}}"),
    ]
    if axes:
        rows, cols = (axes[:-1], axes[-1:]) if len(axes) > 1 else (axes, [])
        agg = "mean" if seeds else mode
        ctext = f", cols: [{', '.join(cols)}]" if cols else ""
        what_agg = f"{agg} over seeds" if seeds else agg
        out += [
            f"## {metric} by {', '.join(axes)} ({what_agg})\n",
            _fence(
                f"pivot: {{rows: [{', '.join(rows)}]{ctext}, value: {metric}, agg: {agg}{sel}}}"
            ),
            "## Winners (configs that differ only in their seed are aggregated)\n",
            _fence(
                f"winners: {{metric: {metric}, mode: {mode}"
                + (f", by: {axes[0]}" if len(axes) > 1 else "")
                + f"{sel}}}"
            ),
        ]
    if varying:
        method = "optuna" if spec.method == "optuna" else "correlation"
        out += [
            "## Parallel coordinates\n",
            _fence(f"parallel: {{metric: {metric}, mode: {mode}{plist}{sel}}}"),
            "## Parameter importance\n",
            _fence(f"importance: {{metric: {metric}, mode: {mode}, method: {method}{sel}}}"),
        ]
    return "\n".join(out).rstrip("\n") + "\n"


def _url(s: str) -> str:
    from urllib.parse import quote

    return quote(s, safe="")


def _fence(body: str) -> str:
    return f"```expbook\n{body}\n```\n"


def write_sweep_report(backend: Any, name: str, path: str, create_only: bool = False) -> bool:
    """Write the sweep's report at ``path`` when it does not exist, then render it (unless
    ``create_only`` or the sweep has no finished run yet); True when rendered."""
    from .._views import load_runs
    from ..analysis import select_runs
    from ..report import record_rendering, render_file, write_atomic

    runs = load_runs(backend, None)
    mine = select_runs(runs, filter=sweep_filter(name))
    if not os.path.exists(path):
        spec = _spec_of(backend, name)
        if spec.metric is None and not mine:
            return False  # the metric is guessed from runs: wait for the first one
        write_atomic(path, sweep_starter(backend, name, runs))
    if create_only or not mine:
        return False
    result = render_file(path, lambda: runs)
    try:
        record_rendering(backend, path, result, None)
    except Exception:
        pass  # the dashboard's copy only
    return True


# -- the blocks ------------------------------------------------------------------------------
def _metric_values(runs: Sequence[Any], metric: str, mode: str) -> list[float | None]:
    out: list[float | None] = []
    for r in runs:
        m = r.metrics.get(metric)
        v: Any = (
            (m.min_value if mode == "min" else m.max_value) if m is not None and m.count else None
        )
        if v is None:
            v = r.summary.get(metric)
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        out.append(float(v) if ok else None)
    return out


def _opts(block: Any) -> tuple[str, str, list[str]]:
    from ..report.blocks import BlockError, _list

    metric = str(block.fields["metric"])
    mode = str(block.fields.get("mode", "min"))
    if mode not in ("min", "max"):
        raise BlockError(f"{block.kind}: mode must be one of min, max, not {mode!r}")
    return metric, mode, _list(block, "params")


def _varying(runs: Sequence[Any], params: list[str]) -> list[str]:
    from .._read import flatten

    if params:
        return params
    configs = [flatten(r.config) for r in runs]
    keys = sorted({k for c in configs for k in c})
    out = []
    for k in keys:
        vals = {repr(c.get(k)) for c in configs}
        if len(vals) >= 2 and not (
            len(runs) > 2
            and len(vals) == len(runs)
            and all(isinstance(c.get(k), str) for c in configs)
        ):
            out.append(k)
    return out


def _columns(runs: Sequence[Any], params: list[str]) -> list[tuple[str, list[Any], bool]]:
    """(param, value per run, numeric) for each param."""
    from .._read import flatten

    configs = [flatten(r.config) for r in runs]
    out = []
    for p in params:
        vs = [c.get(p) for c in configs]
        present = [v for v in vs if v is not None]
        numeric = bool(present) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in present
        )
        out.append((p, vs, numeric))
    return out


def render_parallel(block: Any, runs: Sequence[Any], ctx: Any, bid: str) -> str:
    """A ``parallel`` block: a PNG of parallel coordinates and a table of the axes."""
    from ..analysis import Table
    from ..report.blocks import BlockError
    from ..report.plots import _save

    metric, mode, params = _opts(block)
    params = _varying(runs, params)
    values = _metric_values(runs, metric, mode)
    keep = [i for i, v in enumerate(values) if v is not None]
    if not keep:
        raise BlockError(f"parallel: no selected run has a value of {metric!r}")
    if not params:
        raise BlockError("parallel: no param varies over the selected runs")
    runs = [runs[i] for i in keep]
    ys = [v for v in (values[i] for i in keep) if v is not None]
    cols = _columns(runs, params)
    axes: list[tuple[str, list[float], list[str] | None]] = []
    rows = []
    for p, vs, numeric in cols:
        if numeric:
            nums = [float(v) if v is not None else math.nan for v in vs]
            fin = [v for v in nums if v == v]
            log = bool(fin) and min(fin) > 0 and max(fin) / min(fin) >= 100
            pos = [math.log10(v) if log and v == v else v for v in nums]
            axes.append((p + (" (log)" if log else ""), _scale(pos), None))
            rows.append([p, "numeric", f"{min(fin):.4g} .. {max(fin):.4g}" if fin else ""])
        else:
            labels = sorted({_lab(v) for v in vs})
            where = {lab: i for i, lab in enumerate(labels)}
            n = max(1, len(labels) - 1)
            axes.append((p, [where[_lab(v)] / n for v in vs], labels))
            rows.append([p, "categorical", ", ".join(labels)])
    axes.append((metric, _scale(ys), None))
    rows.append([metric, f"{mode} of the run", f"{min(ys):.4g} .. {max(ys):.4g}"])
    key = repr((metric, mode, params, [r.name for r in runs], ys, [a[1] for a in axes])).encode()

    def draw(fig: Any) -> None:
        import matplotlib

        ax = fig.add_subplot(1, 1, 1)
        lo, hi = min(ys), max(ys)
        span = (hi - lo) or 1.0
        cmap = matplotlib.colormaps["viridis_r" if mode == "min" else "viridis"]
        order = sorted(range(len(ys)), key=lambda i: ys[i] if mode == "max" else -ys[i])
        xs = list(range(len(axes)))
        for i in order:  # the best drawn last, on top
            ax.plot(
                xs,
                [a[1][i] for a in axes],
                color=cmap((ys[i] - lo) / span),
                alpha=0.8,
                linewidth=1.2,
            )
        for x, (_, _, cats) in enumerate(axes):
            ax.axvline(x, color="black", linewidth=0.8)
            if cats:
                n = max(1, len(cats) - 1)
                for j, c in enumerate(cats):
                    ax.text(x + 0.03, j / n, c, fontsize=7, va="center")
        ax.set_xticks(xs)
        ax.set_xticklabels([a[0] for a in axes], fontsize=8)
        ax.set_yticks([])
        ax.set_title(block.title or f"{metric} ({mode} is best) over {len(ys)} runs")
        fig.tight_layout()

    table = Table(["axis", "kind", "values"], rows, kind="parallel").to_markdown()
    try:
        img = _save(block, ctx, bid, hashlib.sha256(key).digest(), draw)
    except BlockError:
        img = "(the figure needs matplotlib: pip install 'expbook[report]')"
    return f"{img}\n\n{table}"


def _lab(v: Any) -> str:
    import json

    return v if isinstance(v, str) else json.dumps(v, default=str)


def _scale(xs: Sequence[float]) -> list[float]:
    fin = [x for x in xs if x == x]
    if not fin:
        return [0.5 for _ in xs]
    lo, hi = min(fin), max(fin)
    return [0.5 if hi == lo or x != x else (x - lo) / (hi - lo) for x in xs]


def render_importance(block: Any, runs: Sequence[Any], ctx: Any, bid: str) -> str:
    """An ``importance`` block: a table of the params by how much they matter."""
    from ..analysis import Table
    from ..report.blocks import BlockError

    metric, mode, params = _opts(block)
    method = str(block.fields.get("method", "correlation"))
    if method not in ("correlation", "optuna"):
        raise BlockError(f"importance: method must be correlation or optuna, not {method!r}")
    params = _varying(runs, params)
    values = _metric_values(runs, metric, mode)
    keep = [i for i, v in enumerate(values) if v is not None]
    if not keep or not params:
        raise BlockError(
            f"importance: no selected run has a value of {metric!r} and a param that varies"
        )
    runs = [runs[i] for i in keep]
    ys = [v for v in (values[i] for i in keep) if v is not None]
    cols = _columns(runs, params)
    if method == "optuna":
        imp = _optuna_importance(cols, ys, mode)
        rows = [[p, round(v, 4)] for p, v in imp]
        note = f"Optuna's parameter importances (fANOVA) over {len(ys)} runs; they sum to 1."
        return Table(["param", "importance"], rows, kind="importance").to_markdown() + f"\n\n{note}"
    importance: Any
    try:
        from ..web._sweep import importance  # the dashboard's (a model with scikit-learn)
    except ImportError:  # the dashboard's extra is not installed
        importance = _correlations

    entries = []
    for p, vs, numeric in cols:
        if numeric:
            entries.append(
                {
                    "key": p,
                    "kind": "numeric",
                    "values": [float(v) if v is not None else None for v in vs],
                }
            )
        else:
            labels = [_lab(v) if v is not None else None for v in vs]
            entries.append(
                {
                    "key": p,
                    "kind": "categorical",
                    "values": labels,
                    "categories": sorted({x for x in labels if x is not None}),
                }
            )
    got = importance(entries, list(ys))
    rows = []
    for r in got["params"]:
        c = r.get("correlation")
        rows.append(
            [
                r["key"],
                r["measure"],
                None if c is None else round(c, 4),
                None if r.get("importance") is None else round(r["importance"], 4),
            ]
        )
    return (
        Table(
            ["param", "measure", "correlation", "importance"], rows, kind="importance"
        ).to_markdown()
        + f"\n\n{got['method']} over {len(ys)} runs."
    )


def _correlations(params: list[dict[str, Any]], values: list[float]) -> dict[str, Any]:
    """Spearman's rank correlation (numeric params) and eta (categorical), without the
    dashboard's extra."""
    import numpy as np

    y = np.array(values, dtype=float)
    rows = []
    for p in params:
        vs = p["values"]
        if p["kind"] == "numeric":
            sel = [i for i, v in enumerate(vs) if v is not None]
            x = np.array([vs[i] for i in sel], dtype=float)
            corr = None
            if len(sel) > 2 and np.ptp(x) > 0 and np.ptp(y[sel]) > 0:
                rx = np.argsort(np.argsort(x)).astype(float)
                ry = np.argsort(np.argsort(y[sel])).astype(float)
                corr = float(np.corrcoef(rx, ry)[0, 1])
            rows.append({"key": p["key"], "measure": "spearman", "correlation": corr})
        else:
            groups: dict[Any, list[float]] = {}
            for v, t in zip(vs, y):
                groups.setdefault(v, []).append(float(t))
            total = float(((y - y.mean()) ** 2).sum())
            between = sum(len(g) * (np.mean(g) - y.mean()) ** 2 for g in groups.values())
            eta = float(math.sqrt(between / total)) if total > 0 else None
            rows.append({"key": p["key"], "measure": "eta", "correlation": eta})
    rows.sort(key=lambda r: (-(abs(r["correlation"] or 0.0)), r["key"]))
    return {"params": rows, "method": "correlation only"}


def _optuna_importance(
    cols: list[tuple[str, list[Any], bool]], ys: list[float], mode: str
) -> list[tuple[str, float]]:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    from ..report.blocks import BlockError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists: dict[str, Any] = {}
    for p, vs, numeric in cols:
        present = [v for v in vs if v is not None]
        if numeric and len({float(v) for v in present}) > 1:
            lo, hi = min(present), max(present)
            log = lo > 0 and hi / lo >= 100
            dists[p] = FloatDistribution(float(lo), float(hi), log=log)
        else:
            dists[p] = CategoricalDistribution(sorted({_lab(v) for v in vs}))
    study = optuna.create_study(direction="minimize" if mode == "min" else "maximize")
    for i, y in enumerate(ys):
        params = {}
        for p, vs, _ in cols:
            d = dists[p]
            params[p] = float(vs[i]) if isinstance(d, FloatDistribution) else _lab(vs[i])
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=y))
    if len(ys) < 2:
        raise BlockError("importance: Optuna needs two runs or more")
    try:
        imp = optuna.importance.get_param_importances(study)
    except Exception as e:
        raise BlockError(f"importance: Optuna: {e}") from None
    return [(k, float(v)) for k, v in imp.items()]
