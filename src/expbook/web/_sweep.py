"""The sweep views behind ``/sweep`` and ``/api/sweep``: which params vary over a project's
runs, one metric per run, and how much each param matters for it.

The metric of a run comes from the store's summaries, never from its points: with
``reduce=best`` the series' minimum (``goal=min``) or maximum (``goal=max``), with
``reduce=last`` its summary value (an explicit summary over the last logged value); a key
with no series (a summary value only) gives that value either way.

Importance is told two ways: a correlation per param (Spearman's rank correlation for a
numeric param, the correlation ratio eta for a categorical one) and, when scikit-learn is
installed, a random forest's permutation importance (the drop in R² on the runs when that
param's values are shuffled). The response names the methods used.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from .._read import flatten
from .._views import StoredRun
from ..analysis import select_runs
from ..expr import ExprError
from ._runs import BadQuery, RunsSnapshot, _matches, default_columns

__all__ = ["SWEEP_MAX_RUNS", "guess_goal", "sweep_data"]

# More runs than this are refused (a sweep view of a whole store would be unreadable and slow).
SWEEP_MAX_RUNS = 5000
# Fewer runs with a metric than this: no model is fitted (correlations only).
MIN_RUNS_FOR_MODEL = 8
FOREST_TREES = 100
PERMUTATION_REPEATS = 5

_LOWER_IS_BETTER = re.compile(
    r"(loss|err|error|perplexity|ppl|wer|cer|mse|mae|rmse|nll|regret|time|latency|bpd|bpc)",
    re.IGNORECASE,
)


def guess_goal(metric: str) -> str:
    """``min`` for a key that reads like a loss or an error, else ``max``."""
    return "min" if _LOWER_IS_BETTER.search(metric.rsplit("/", 1)[-1]) else "max"


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _label(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool) or v is None:
        return json.dumps(v)
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(v, sort_keys=True, default=str)


def _metric_value(run: StoredRun, key: str, goal: str, reduce: str) -> float | None:
    m = run.metrics.get(key)
    if reduce == "best" and m is not None and m.count:
        v = m.min_value if goal == "min" else m.max_value
        if v is not None and math.isfinite(v):
            return float(v)
    got: Any = run.summary.get(key)
    return float(got) if _number(got) else None


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their mean rank (as Spearman's correlation wants)."""
    import pandas as pd

    return pd.Series(x).rank(method="average").to_numpy(dtype=float)


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rank correlation of ``x`` and ``y`` (None when either is constant)."""
    if len(x) < 3:
        return None
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float((rx * rx).sum()) * float((ry * ry).sum()))
    return float((rx * ry).sum() / den) if den > 0 else None


def correlation_ratio(labels: list[str], y: np.ndarray) -> float | None:
    """The correlation ratio eta: sqrt(between-category variance / total variance), in
    [0, 1] (None when ``y`` is constant or there is one category)."""
    if len(y) < 3 or len(set(labels)) < 2:
        return None
    total = float(((y - y.mean()) ** 2).sum())
    if total <= 0:
        return None
    between = 0.0
    for c in set(labels):
        sel = np.array([lab == c for lab in labels])
        between += float(sel.sum()) * (float(y[sel].mean()) - float(y.mean())) ** 2
    return math.sqrt(between / total)


def _forest(features: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A random forest's permutation importance of each column of ``features`` (mean and
    std of the drop in R² over the repeats), seeded: the same runs give the same answer."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    model = RandomForestRegressor(n_estimators=FOREST_TREES, random_state=0, n_jobs=1)
    model.fit(features, y)
    got = permutation_importance(
        model, features, y, n_repeats=PERMUTATION_REPEATS, random_state=0, n_jobs=1
    )
    return got.importances_mean, got.importances_std


def _have_sklearn() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def select(
    snap: RunsSnapshot, project: str | None, q: str | None, filter: str | None
) -> list[StoredRun]:
    """The runs the runs page would list for the same project, search and filter."""
    runs = list(snap.runs)
    if project:
        runs = [r for r in runs if r.project == project]
    if q and q.strip():
        needle = q.strip().lower()
        runs = [r for r in runs if _matches(r, needle)]
    if filter and filter.strip():
        try:
            kept = {r.id for r in select_runs(runs, filter=filter)}
        except ExprError as e:
            raise BadQuery(str(e)) from None
        runs = [r for r in runs if r.id in kept]
    return runs


def metric_choices(runs: list[StoredRun]) -> list[str]:
    """The numeric summary keys of ``runs``: a leaderboard's defaults first, then the rest."""
    have: set[str] = set()
    for r in runs:
        have.update(k for k, v in r.summary.items() if _number(v))
    first = [c.removeprefix("summary.") for c in default_columns(runs) if c.startswith("summary.")]
    first = [k for k in first if k in have]
    return first + sorted(have - set(first))


def sweep_data(
    runs: list[StoredRun],
    metric: str | None,
    goal: str | None = None,
    reduce: str = "best",
    model: bool = True,
) -> dict[str, Any]:
    """The ``/api/sweep`` object for ``runs`` (see the module's docstring)."""
    if goal not in (None, "", "min", "max"):
        raise BadQuery(f"goal must be 'min' or 'max', not {goal!r}")
    if reduce not in ("best", "last"):
        raise BadQuery(f"reduce must be 'best' or 'last', not {reduce!r}")
    if len(runs) > SWEEP_MAX_RUNS:
        raise BadQuery(
            f"{len(runs)} runs: a sweep view takes at most {SWEEP_MAX_RUNS} "
            "(choose a project or a filter)"
        )
    choices = metric_choices(runs)
    if metric:
        metric = metric.removeprefix("summary.")
        if metric not in choices:
            raise BadQuery(f"metric: no run here has a numeric value for {metric!r}")
    elif choices:
        metric = choices[0]
    goal_given = bool(goal)
    if not goal:
        goal = guess_goal(metric) if metric else "min"

    configs = [flatten(r.config) for r in runs]
    values = [_metric_value(r, metric, goal, reduce) if metric else None for r in runs]

    # the params that vary, numeric or categorical
    keys = sorted({k for c in configs for k in c})
    params: list[dict[str, Any]] = []
    for k in keys:
        vs = [c.get(k) for c in configs]
        present = [v for v in vs if v is not None]
        if len({_label(v) for v in vs}) < 2:
            continue
        numeric = bool(present) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in present
        )
        entry: dict[str, Any] = {"key": "config." + k, "kind": "numeric" if numeric else "cat"}
        if numeric:
            entry["values"] = [float(v) if v is not None else None for v in vs]
            entry["log"] = bool(all(v > 0 for v in present) and max(present) / min(present) >= 100)
        else:
            labels = [_label(v) if v is not None else None for v in vs]
            entry["kind"] = "categorical"
            entry["values"] = labels
            entry["categories"] = sorted({lab for lab in labels if lab is not None})
            # a string that differs on every run (a run name, a folder) says nothing of a
            # sweep: listed, left out of the charts and of the importance
            entry["per_run"] = len(runs) > 2 and len(entry["categories"]) == len(runs)
        params.append(entry)

    out_runs = []
    for r, v in zip(runs, values):
        out_runs.append(
            {
                "id": r.id,
                "name": r.name,
                "project": r.project,
                "status": r.status,
                "metric": v,
                "metrics": {k: float(x) for k, x in r.summary.items() if _number(x)},
            }
        )

    return {
        "metric": metric,
        "goal": goal,
        "goal_from": "given" if goal_given else "guessed from the metric's name",
        "reduce": reduce,
        "value": (
            f"the series' {'minimum' if goal == 'min' else 'maximum'} (the summary value "
            "when the key has no series)"
            if reduce == "best"
            else "the summary value (an explicit summary over the last logged value)"
        ),
        "metrics": choices,
        "runs": out_runs,
        "params": params,
        "importance": importance(params, values, model=model),
    }


def importance(
    params: list[dict[str, Any]], values: list[float | None], model: bool = True
) -> dict[str, Any]:
    """Correlation and (with scikit-learn) permutation importance of each param."""
    have = [i for i, v in enumerate(values) if v is not None]
    y_all = np.array([values[i] for i in have], dtype=float)
    used = [p for p in params if not p.get("per_run")]
    rows = []
    for p in used:
        vs = [p["values"][i] for i in have]
        if p["kind"] == "numeric":
            sel = [j for j, v in enumerate(vs) if v is not None]
            x = np.array([vs[j] for j in sel], dtype=float)
            corr = spearman(x, y_all[sel]) if sel else None
            how = "spearman"
        else:
            labels = [v if v is not None else "(none)" for v in vs]
            corr = correlation_ratio(labels, y_all)
            how = "eta"
        rows.append({"key": p["key"], "kind": p["kind"], "correlation": corr, "measure": how})

    out: dict[str, Any] = {
        "runs": len(have),
        "correlation": "Spearman's rank correlation (numeric params, signed) and the "
        "correlation ratio eta (categorical params, 0 to 1)",
        "model": None,
        "method": "correlation only",
    }
    fit = model and used and len(have) >= MIN_RUNS_FOR_MODEL and float(np.ptp(y_all)) > 0
    if fit and not _have_sklearn():
        out["note"] = "scikit-learn is not installed: no model-based importance"
    elif model and used and not fit:
        out["note"] = (
            f"too few runs with a value ({len(have)}, a model needs {MIN_RUNS_FOR_MODEL}) "
            "or a constant metric: no model-based importance"
        )
    elif fit:
        cols = []
        for p in used:
            vs = [p["values"][i] for i in have]
            if p["kind"] == "numeric":
                # a log-spaced param is split on its log (the same splits, better balanced);
                # a run without the param gets the median
                t = [None if v is None else math.log10(v) if p.get("log") else v for v in vs]
                present = [v for v in t if v is not None]
                fill = float(np.median(present)) if present else 0.0
                cols.append([fill if v is None else v for v in t])
            else:
                codes = {c: n for n, c in enumerate(p["categories"])}
                cols.append([codes.get(v, -1) if v is not None else -1 for v in vs])
        features = np.array(cols, dtype=float).T
        mean, std = _forest(features, y_all)
        for row, m, s in zip(rows, mean, std):
            row["importance"] = float(m)
            row["importance_std"] = float(s)
        out["model"] = "random_forest_permutation"
        out["method"] = (
            f"random forest permutation importance (scikit-learn, {FOREST_TREES} trees, "
            f"{PERMUTATION_REPEATS} repeats: the drop in R² when a param is shuffled) "
            "and correlation"
        )
    if out["model"]:
        rows.sort(key=lambda r: (-r["importance"], r["key"]))
    else:
        rows.sort(key=lambda r: (-(abs(r["correlation"] or 0.0)), r["key"]))
    out["params"] = rows
    return out


def sweep_routes(ui: Any, render: Any, to_json: Any) -> list[Any]:
    """The ``/sweep`` page and ``/api/sweep`` (``ui``, ``render`` and ``to_json`` are the
    app's: the read-only store, a template renderer and its JSON response)."""
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    # the last answers, each with the snapshot it was computed from (a model is fitted once
    # per snapshot and query, not on every reload)
    cache: OrderedDict[tuple[str, ...], tuple[RunsSnapshot, dict[str, Any]]] = OrderedDict()
    lock = threading.Lock()

    def chosen(request: Request) -> tuple[RunsSnapshot, list[StoredRun], dict[str, str]]:
        p = request.query_params
        args = {k: p.get(k) or "" for k in ("project", "q", "filter", "metric", "goal", "reduce")}
        snap = ui.snapshots.get()
        try:
            runs = select(snap, args["project"], args["q"], args["filter"])
        except BadQuery:
            newer = ui.snapshots.fresh()  # the filter may name a key that is new
            if newer is snap:
                raise
            snap, runs = newer, select(newer, args["project"], args["q"], args["filter"])
        return snap, runs, args

    def api_sweep(request: Request) -> Response:
        try:
            snap, runs, a = chosen(request)
            key = tuple(a.values())
            with lock:
                hit = cache.get(key)
            if hit is not None and hit[0] is snap:
                return to_json(hit[1])
            data = sweep_data(runs, a["metric"] or None, a["goal"] or None, a["reduce"] or "best")
        except BadQuery as e:
            raise HTTPException(400, str(e)) from None
        data["project"] = a["project"] or None
        with lock:
            cache[key] = (snap, data)
            cache.move_to_end(key)
            while len(cache) > 16:
                cache.popitem(last=False)
        return to_json(data)

    def sweep_page(request: Request) -> Response:
        error = None
        try:
            _, runs, a = chosen(request)
            metrics = metric_choices(runs)
        except BadQuery as e:
            error, metrics, runs = str(e), [], []
            a = {k: request.query_params.get(k) or "" for k in ("project", "q", "filter")}
            a.update(metric="", goal="", reduce="")
        metric = a["metric"].removeprefix("summary.") or (metrics[0] if metrics else "")
        if not error and a["goal"] not in ("", "min", "max"):
            error = f"goal must be 'min' or 'max', not {a['goal']!r}"
        elif not error and a["reduce"] not in ("", "best", "last"):
            error = f"reduce must be 'best' or 'last', not {a['reduce']!r}"
        elif not error and metric and metric not in metrics:
            error = f"metric: no run here has a numeric value for {metric!r}"
        return render(
            request,
            "sweep.html",
            status=400 if error else 200,
            error=error,
            args=a,
            projects=ui.backend.projects(),
            metrics=metrics,
            metric=metric,
            goal=a["goal"] or (guess_goal(metric) if metric else "min"),
            count=len(runs),
        )

    return [Route("/sweep", sweep_page, name="sweep"), Route("/api/sweep", api_sweep)]


def openapi_path() -> dict[str, Any]:
    """``/api/sweep`` in the OpenAPI document (:mod:`expbook.web._openapi`)."""
    from ._openapi import _ok, _q

    num: dict[str, Any] = {"type": "number", "nullable": True}
    param = {
        "type": "object",
        "properties": {
            "key": {"type": "string", "description": "config.KEY (nested keys dotted)"},
            "kind": {"type": "string", "enum": ["numeric", "categorical"]},
            "values": {
                "type": "array",
                "description": "the value of each run, in the order of `runs` (null: not set); "
                "a categorical value as its label",
                "items": {"nullable": True},
            },
            "log": {"type": "boolean", "description": "numeric: positive, 2+ decades apart"},
            "categories": {"type": "array", "items": {"type": "string"}},
            "per_run": {
                "type": "boolean",
                "description": "categorical: differs on every run (left out of the importance)",
            },
        },
    }
    ranked = {
        "type": "object",
        "properties": {
            "key": {"type": "string"},
            "kind": {"type": "string"},
            "measure": {"type": "string", "enum": ["spearman", "eta"]},
            "correlation": {
                **num,
                "description": "Spearman's rho (-1..1) or the correlation ratio eta (0..1)",
            },
            "importance": {**num, "description": "with a model: mean drop in R² when shuffled"},
            "importance_std": num,
        },
    }
    schema = {
        "type": "object",
        "properties": {
            "project": {"type": "string", "nullable": True},
            "metric": {"type": "string", "nullable": True, "description": "summary key"},
            "goal": {"type": "string", "enum": ["min", "max"]},
            "goal_from": {"type": "string", "description": "given, or guessed from the name"},
            "reduce": {"type": "string", "enum": ["best", "last"]},
            "value": {"type": "string", "description": "which value of a run is its metric"},
            "metrics": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the numeric summary keys of these runs (the metric choices)",
            },
            "runs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "project": {"type": "string"},
                        "status": {"type": "string"},
                        "metric": num,
                        "metrics": {"type": "object", "description": "numeric summary values"},
                    },
                },
            },
            "params": {"type": "array", "items": param, "description": "the params that vary"},
            "importance": {
                "type": "object",
                "properties": {
                    "runs": {"type": "integer", "description": "runs with a metric value"},
                    "model": {
                        "type": "string",
                        "nullable": True,
                        "enum": ["random_forest_permutation", None],
                    },
                    "method": {"type": "string", "description": "the methods used, in words"},
                    "correlation": {"type": "string"},
                    "note": {"type": "string", "description": "why no model, when none"},
                    "params": {"type": "array", "items": ranked, "description": "ranked"},
                },
            },
        },
    }
    return {
        "get": {
            "summary": "A sweep over a project's runs: the params that vary, a metric per run "
            "and each param's importance for it (correlation, and a random forest's "
            "permutation importance when scikit-learn is installed)",
            "parameters": [
                _q("project", "only this project's runs"),
                _q("q", "search in name, id, tags, group and notes"),
                _q("filter", "the runs page's filter expression, e.g. `config.lr < 0.01`"),
                _q("metric", "a summary key (default: a leaderboard's first metric)"),
                _q("goal", "min or max (default: guessed from the key)", enum=["min", "max"]),
                _q(
                    "reduce",
                    "best: the series' min or max by goal; last: the summary value",
                    enum=["best", "last"],
                ),
            ],
            "responses": _ok("The sweep", schema),
        }
    }
