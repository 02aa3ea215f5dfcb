"""Sweeps: ``expbook pivot`` and ``expbook winners``, with repeated seeds aggregated.

``pivot(runs, rows=["framework", "pool"], cols=["feature"], value="test_mse", agg="min")``
puts params against a metric (seed 000's "pool x feature x framework"). Row and column keys
are params (config first, then summary; see :mod:`expbook.analysis.keys`), ``value`` is a
metric, summary or derived key. Aggregations: ``min max mean median std count first last``
(``std`` is the sample standard deviation; ``first``/``last`` follow the order of the runs,
which is the store's creation order). Row and column values are sorted: numbers numerically,
then strings, then null.

JSON shape (``kind: "pivot"``)::

    {"kind": "pivot", "rows_by": ["framework", "pool"], "cols_by": ["feature"],
     "value": "test_mse", "agg": "min",
     "col_values": [["deg_lap_pe"], ["onehot"]],
     "columns": ["framework", "pool", "deg_lap_pe", "onehot"],
     "rows": [{"framework": "jax", "pool": "mean", "deg_lap_pe": 1.711538,
               "onehot": 13.221221}, ...],
     "notes": []}

A column is labelled by its value (several ``cols`` keys: values joined with ``" / "``,
null as ``"null"``); without ``cols`` the single value column is named after ``value``.

Repeated seeds: runs whose configs are equal once the keys matching ``ignore`` (by default
:data:`DEFAULT_IGNORE`: ``*seed``, ``*_dir``, ``*_path``, ``run_name``, ``run_id``,
``name``) are left out form one *config group*. :func:`seed_groups` lists the groups with the
mean, sample std (null for one run), min, max and count of the metric; :func:`winners` ranks
groups by their mean and reports the best group overall and per ``by`` group.

JSON shape of ``winners`` (``kind: "winners"``)::

    {"kind": "winners", "metric": "test_mse", "mode": "min", "by": ["framework"],
     "columns": ["scope", "run", "n", "framework", "pool", "feature", "value", "std"],
     "rows": [{"scope": "overall", "run": "torch_deg_lap_pe_L2_H64_mean_s0", "n": 1,
               "framework": "torch", "pool": "mean", "feature": "deg_lap_pe",
               "value": 1.625502, "std": null},
              {"scope": "framework=jax", ...}, {"scope": "framework=torch", ...}],
     "notes": []}

``run`` is the best run of the winning group, ``value`` the group's mean (the run's value
when ``n`` is 1). Param columns default to the config keys that vary across the runs.
``seed_groups`` has ``kind: "groups"`` and columns ``rank, run, n, ...params, mean, std,
min, max, ...metrics, runs`` (``runs``: names of the group's runs).
"""

from __future__ import annotations

import fnmatch
import json
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .derive import Derived, apply_derived, derived_kinds
from .keys import getter, require_keys
from .table import Table
from .view import RunView

__all__ = [
    "AGGS",
    "DEFAULT_IGNORE",
    "aggregate",
    "pivot",
    "pivot_df",
    "seed_groups",
    "seed_groups_df",
    "winners",
    "winners_df",
]

AGGS = ("min", "max", "mean", "median", "std", "count", "first", "last")
DEFAULT_IGNORE = ("*seed", "*_dir", "*_path", "run_name", "run_id", "name")


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v


_FLOATS = frozenset({float, type(None)})


def _mean(xs: Sequence[float]) -> float:
    return math.fsum(xs) / len(xs)


def _std(xs: Sequence[float]) -> float | None:
    n = len(xs)
    if n < 2:
        return None
    m = _mean(xs)
    return math.sqrt(math.fsum((x - m) ** 2 for x in xs) / (n - 1))


def _median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2.0


def aggregate(values: Sequence[Any], agg: str) -> Any:
    """Aggregate the values of one cell. Numeric aggregations skip nulls, non-numbers and
    NaN; ``count`` counts non-null values; ``first``/``last`` take non-null values as they
    come. An empty cell is None."""
    if agg == "count":
        return sum(v is not None for v in values)
    if agg in ("first", "last"):
        present = [v for v in values if v is not None]
        return (present[0] if agg == "first" else present[-1]) if present else None
    if _FLOATS.issuperset(map(type, values)):  # a store's values: no call per value
        nums = [v for v in values if v == v and v is not None]
    else:
        nums = [v for v in values if _num(v)]
    if not nums:
        return None
    if agg == "min":
        return min(nums)
    if agg == "max":
        return max(nums)
    if agg == "mean":
        return _mean(nums)
    if agg == "median":
        return _median(nums)
    if agg == "std":
        return _std(nums)
    raise ValueError(f"agg must be one of {', '.join(AGGS)}, not {agg!r}")


def _sort_key(v: Any) -> tuple:
    if v is None:
        return (3, "")
    if isinstance(v, (int, float)):
        return (0, float(v) if v == v else math.inf)
    if isinstance(v, str):
        return (1, v)
    return (2, json.dumps(v, sort_keys=True, default=str))


def _tuple_key(t: tuple) -> tuple:
    return tuple(_sort_key(v) for v in t)


def _label(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(v, default=str)


_SCALARS = frozenset({int, float, str, bool, type(None)})


def _freeze(v: Any) -> Any:
    """A hashable stand-in for a config value (lists become tuples, dicts sorted pairs)."""
    if type(v) in _SCALARS:
        return v
    if isinstance(v, list | tuple):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    try:
        hash(v)
    except TypeError:
        return repr(v)
    return v


def pivot(
    runs: Sequence[RunView],
    rows: Iterable[str],
    cols: Iterable[str] = (),
    value: str = "",
    agg: str = "min",
    derive: Iterable[str | Derived] = (),
) -> Table:
    """Params against a metric: one row per ``rows`` combination, one column per ``cols``
    combination, cells aggregated with ``agg``."""
    rows, cols = list(rows), list(cols)
    if not rows:
        raise ValueError("pivot needs at least one row key")
    if not value:
        raise ValueError("pivot needs a value key")
    if agg not in AGGS:
        raise ValueError(f"agg must be one of {', '.join(AGGS)}, not {agg!r}")
    derived = list(derive)
    if derived:
        runs = apply_derived(runs, derived)
    names = derived_kinds(runs)
    require_keys(runs, rows, "row key", prefer="param", extra=names)
    require_keys(runs, cols, "column key", prefer="param", extra=names)
    require_keys(runs, [value], "value", extra=names)
    rget = [getter(k, "param") for k in rows]
    cget = [getter(k, "param") for k in cols]
    vget = getter(value, "metric")
    cells: dict[tuple, dict[tuple, list[Any]]] = {}
    col_keys: dict[tuple, None] = {}
    for run in runs:
        rk = tuple(_freeze(g(run)) for g in rget)
        ck = tuple(_freeze(g(run)) for g in cget)
        col_keys[ck] = None
        cells.setdefault(rk, {}).setdefault(ck, []).append(vget(run))
    done = {rk: {ck: aggregate(v, agg) for ck, v in by_col.items()} for rk, by_col in cells.items()}
    return pivot_table(rows, cols, value, agg, done, list(col_keys))


def group_cells(
    items: Iterable[tuple[Sequence[Any], Sequence[Any]]],
    split: int,
    agg: str,
    has_metric: bool = False,
    ordered: bool = True,
) -> dict[str, Any] | None:
    """A pivot's aggregated cells as :func:`pivot` groups and aggregates them, from
    ``(key values, cell values)`` items in the order of the runs they first come from: the
    row keys' values (the first ``split``) and the column keys' values of some runs, and
    the values of ``value`` of those runs (in run order when ``ordered``; else in any order,
    which ``first``/``last`` cannot take).

    What a store that reads those columns itself returns from ``pivot_cells``: ``{"cells":
    [[row key, [[col key, value], ...]], ...], "col_keys": [col key, ...]}`` in first-seen
    order. None where :func:`pivot` over the runs could answer otherwise: no run; a key, or
    the value, null in every run (unless ``has_metric``: some run logged the value's key),
    for which :func:`pivot` checks more; or, unordered, a cell whose min, max or median
    depends on the order of values that compare equal (0.0 and -0.0, 1 and 1.0)."""
    if not ordered and agg in ("first", "last"):
        raise ValueError("first and last need the values in run order")
    cells: dict[tuple, dict[tuple, list[Any]]] = {}
    col_keys: dict[tuple, None] = {}
    seen: list[bool] | None = None
    value_seen = has_metric
    for keys, values in items:
        if seen is None:
            seen = [False] * len(keys)
        for i, v in enumerate(keys):
            if v is not None:
                seen[i] = True
        if not value_seen:
            value_seen = any(v is not None for v in values)
        rk = tuple(_freeze(v) for v in keys[:split])
        ck = tuple(_freeze(v) for v in keys[split:])
        col_keys[ck] = None
        cells.setdefault(rk, {}).setdefault(ck, []).extend(values)
    if seen is None or not all(seen) or not value_seen:
        return None
    if not ordered and agg in ("min", "max", "median"):
        for by_col in cells.values():
            if not all(_order_free(vs) for vs in by_col.values()):
                return None
    return {
        "cells": [
            [rk, [[ck, aggregate(vs, agg)] for ck, vs in by_col.items()]]
            for rk, by_col in cells.items()
        ],
        "col_keys": list(col_keys),
    }


def _order_free(values: Sequence[Any]) -> bool:
    """Whether no two numbers of ``values`` compare equal while they print differently."""
    if _FLOATS.issuperset(map(type, values)) and 0.0 not in values:
        return True  # floats print differently only as 0.0 and -0.0 (NaN never counts)
    shown: dict[Any, str] = {}
    for v in values:
        if _num(v):
            r = repr(v)
            if shown.setdefault(v, r) != r:
                return False
    return True


def pivot_table(
    rows: list[str],
    cols: list[str],
    value: str,
    agg: str,
    cells: Mapping[tuple, Mapping[tuple, Any]],
    col_keys: Sequence[tuple],
) -> Table:
    """The pivot :class:`Table` of aggregated ``cells`` (row key -> col key -> value, in
    first-seen order) and the column keys in first-seen order."""
    ckeys = sorted(col_keys, key=_tuple_key)
    labels = [" / ".join(_label(v) for v in ck) for ck in ckeys] if cols else [value]
    labels = _unique(labels, set(rows))
    out_rows = []
    for rk in sorted(cells, key=_tuple_key):
        row = list(rk)
        by_col = cells[rk]
        row.extend(by_col.get(ck) for ck in ckeys)
        out_rows.append(row)
    return Table(
        [*rows, *labels],
        out_rows,
        kind="pivot",
        title=f"{agg}({value}) by {', '.join(rows)}" + (f" x {', '.join(cols)}" if cols else ""),
        meta={
            "rows_by": rows,
            "cols_by": cols,
            "value": value,
            "agg": agg,
            "col_values": [list(ck) for ck in ckeys] if cols else [],
        },
    )


def _unique(labels: list[str], taken: set[str]) -> list[str]:
    out = []
    seen = set(taken)
    for lab in labels:
        name, i = lab, 2
        while name in seen:
            name = f"{lab} ({i})"
            i += 1
        seen.add(name)
        out.append(name)
    return out


# ---------------------------------------------------------------------------------------------
# Config groups (repeated seeds) and winners


class _Group:
    __slots__ = ("members", "values")

    def __init__(self) -> None:
        self.members: list[RunView] = []
        self.values: list[float] = []


def _ignorer(patterns: Sequence[str]) -> Callable[[str], bool]:
    cache: dict[str, bool] = {}

    def ignored(key: str) -> bool:
        hit = cache.get(key)
        if hit is None:
            hit = any(fnmatch.fnmatchcase(key, p) for p in patterns)
            cache[key] = hit
        return hit

    return ignored


def _flat_items(
    cfg: Any, prefix: str, ignored: Callable[[str], bool], out: list[tuple[str, Any]]
) -> None:
    """(dotted key, frozen value) of the config's leaves that are not ignored."""
    # called once per run by winners and seed groups: the common case (a top-level str key,
    # a scalar value) is kept to a type check and one cached pattern test
    for k, v in cfg.items():
        key = k if not prefix and type(k) is str else prefix + str(k)
        tv = type(v)
        if tv in _SCALARS:
            if not ignored(key):
                out.append((key, v))
        elif (tv is dict or isinstance(v, Mapping)) and v:
            _flat_items(v, key + ".", ignored, out)
        elif not ignored(key):
            out.append((key, _freeze(v)))


_NO_PLAN = object()


def _plan(names: tuple, ignored: Callable[[str], bool]) -> tuple[Any, ...] | None:
    """For configs with these top-level keys: (kept keys in config order, a picker of their
    values, the kept keys sorted, a picker in that order); None where the shortcut does not
    apply (a key that is not a string, or no key kept)."""
    if not all(type(k) is str for k in names):
        return None
    kept = tuple(k for k in names if not ignored(k))
    if not kept:
        return None
    ordered = tuple(sorted(kept))
    return kept, _picker(kept), ordered, _picker(ordered)


def _picker(keys: tuple[str, ...]) -> Callable[[dict], tuple]:
    get = operator.itemgetter(*keys)
    if len(keys) == 1:
        return lambda d: (get(d),)
    return get


def _config_groups(
    runs: Sequence[RunView], metric: str, ignore: Sequence[str]
) -> tuple[list[_Group], list[str], int]:
    """Groups of runs with equal configs (ignored keys aside), the config keys that vary,
    and how many runs had no value for ``metric``."""
    ignored = _ignorer(ignore)
    vget = getter(metric, "metric")
    groups: dict[tuple, _Group] = {}
    first_items: list[tuple[_Group, list[tuple[str, Any]]]] = []  # per group, in order
    plans: dict[tuple, Any] = {}
    missing = 0
    n = 0
    for run in runs:
        v = vget(run)
        if not _num(v):
            missing += 1
            continue
        n += 1
        cfg = run.config
        items: list[tuple[str, Any]] | None = None
        # The common flat config of scalars: the group key (its items sorted by name) is
        # picked without a Python loop, with which keys count worked out once per tuple of
        # key names. Anything else goes through _flat_items.
        plan = plans.get(tuple(cfg), _NO_PLAN) if type(cfg) is dict else None
        if plan is _NO_PLAN:
            plan = plans[tuple(cfg)] = _plan(tuple(cfg), ignored)
        if plan is not None:
            values = plan[3](cfg)
            if _SCALARS.issuperset(map(type, values)):
                key = tuple(zip(plan[2], values))
            else:
                plan = None
        if plan is None:
            items = []
            _flat_items(cfg, "", ignored, items)
            key = tuple(sorted(items))
        g = groups.get(key)
        if g is None:
            g = groups[key] = _Group()
            if items is None:
                items = list(zip(plan[0], plan[1](cfg)))  # type: ignore[index]
            first_items.append((g, items))
        g.members.append(run)
        g.values.append(float(v))
    # Which keys vary, counted per group (every run of a group has the same items): keys in
    # the order the runs first show them, as a pass over every run would find them.
    seen_values: dict[str, set] = {}
    present: dict[str, int] = {}
    for g, items in first_items:
        size = len(g.members)
        for k, fx in items:
            s = seen_values.get(k)
            if s is None:
                seen_values[k] = {fx}
                present[k] = size
            else:
                s.add(fx)
                present[k] += size
    varying = [k for k, s in seen_values.items() if len(s) > 1 or present[k] < n]
    return list(groups.values()), varying, missing


def _best_index(values: Sequence[float], use_max: bool) -> int:
    best = 0
    for i, v in enumerate(values):
        if (v > values[best]) if use_max else (v < values[best]):
            best = i
    return best


def seed_groups(
    runs: Sequence[RunView],
    metric: str,
    mode: str = "min",
    params: Iterable[str] | None = None,
    metrics: Iterable[str] = (),
    ignore: Sequence[str] = DEFAULT_IGNORE,
    derive: Iterable[str | Derived] = (),
) -> Table:
    """One row per config group (runs equal but for seeds), ranked by the mean of ``metric``."""
    _check_mode(mode)
    derived = list(derive)
    if derived:
        runs = apply_derived(runs, derived)
    params = None if params is None else list(params)
    metrics = list(metrics)
    _require(runs, metric, (), params, metrics)
    groups, varying, missing = _config_groups(runs, metric, ignore)
    plist = list(varying if params is None else params)
    extra = list(metrics)
    pget = [getter(p, "param") for p in plist]
    xget = [getter(k, "metric") for k in extra]
    use_max = mode == "max"
    stats = []
    for g in groups:
        mean = _mean(g.values)
        stats.append((-mean if use_max else mean, g, mean))
    stats.sort(key=lambda t: t[0])
    rows = []
    for rank, (_, g, mean) in enumerate(stats, 1):
        rep = g.members[_best_index(g.values, use_max)]
        row: list[Any] = [rank, rep.name, len(g.members)]
        row.extend(f(rep) for f in pget)
        row.extend([mean, _std(g.values), min(g.values), max(g.values)])
        row.extend(aggregate([f(r) for r in g.members], "mean") for f in xget)
        row.append([r.name for r in g.members])
        rows.append(row)
    notes = [f"{missing} run(s) without '{metric}' left out"] if missing else []
    return Table(
        ["rank", "run", "n", *plist, "mean", "std", "min", "max", *extra, "runs"],
        rows,
        kind="groups",
        title=f"{metric} by config ({mode}; seeds aggregated)",
        notes=notes,
        meta={"metric": metric, "mode": mode, "ignore": list(ignore)},
        labels={"mean": f"{metric} mean", "std": "± std"},
    )


def _require(
    runs: Sequence[RunView],
    metric: str,
    by: Iterable[str],
    params: Iterable[str] | None,
    metrics: Iterable[str],
) -> None:
    names = derived_kinds(runs)
    require_keys(runs, [metric], "metric", extra=names)
    require_keys(runs, by, "group key", prefer="param", extra=names)
    require_keys(runs, params or (), "param", prefer="param", extra=names)
    require_keys(runs, metrics, "metric", extra=names)


def _check_mode(mode: str) -> None:
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")


def winners(
    runs: Sequence[RunView],
    metric: str,
    mode: str = "min",
    by: Iterable[str] | None = None,
    params: Iterable[str] | None = None,
    metrics: Iterable[str] = (),
    ignore: Sequence[str] = DEFAULT_IGNORE,
    derive: Iterable[str | Derived] = (),
) -> Table:
    """The best config group overall and per ``by`` group, with their params.

    A config group is a set of runs equal but for ignored keys (seeds); it is ranked by the
    mean of ``metric`` over its runs. ``metrics`` adds the group means of other keys.
    """
    _check_mode(mode)
    by = list(by or [])
    derived = list(derive)
    if derived:
        runs = apply_derived(runs, derived)
    params = None if params is None else list(params)
    metrics = list(metrics)
    _require(runs, metric, by, params, metrics)
    groups, varying, missing = _config_groups(runs, metric, ignore)
    plist = list(varying if params is None else params)
    plist = by + [p for p in plist if p not in by]
    extra = list(metrics)
    pget = [getter(p, "param") for p in plist]
    xget = [getter(k, "metric") for k in extra]
    bget = [getter(k, "param") for k in by]
    use_max = mode == "max"

    def better(a: float, b: float) -> bool:
        return a > b if use_max else a < b

    scored = [(g, _mean(g.values)) for g in groups]

    def row_for(scope: str, g: _Group, mean: float) -> list[Any]:
        rep = g.members[_best_index(g.values, use_max)]
        row: list[Any] = [scope, rep.name, len(g.members)]
        row.extend(f(rep) for f in pget)
        row.extend([mean, _std(g.values)])
        row.extend(aggregate([f(r) for r in g.members], "mean") for f in xget)
        return row

    rows = []
    if scored:
        best_g, best_m = scored[0]
        for g, m in scored[1:]:
            if better(m, best_m):
                best_g, best_m = g, m
        rows.append(row_for("overall", best_g, best_m))
    if by:
        per: dict[tuple, tuple[_Group, float]] = {}
        for g, m in scored:
            rep = g.members[0]
            k = tuple(_freeze(f(rep)) for f in bget)
            cur = per.get(k)
            if cur is None or better(m, cur[1]):
                per[k] = (g, m)
        for k in sorted(per, key=_tuple_key):
            g, m = per[k]
            scope = ", ".join(f"{b}={_label(v)}" for b, v in zip(by, k))
            rows.append(row_for(scope, g, m))
    notes = [f"{missing} run(s) without '{metric}' left out"] if missing else []
    return Table(
        ["scope", "run", "n", *plist, "value", "std", *extra],
        rows,
        kind="winners",
        title=f"winners by {metric} ({mode})",
        notes=notes,
        meta={"metric": metric, "mode": mode, "by": by},
        labels={"value": metric, "std": "± std"},
    )


def pivot_df(runs: Sequence[RunView], rows: Iterable[str], **kwargs: Any):
    """:func:`pivot` as a pandas DataFrame (same arguments)."""
    return pivot(runs, rows, **kwargs).to_df()


def winners_df(runs: Sequence[RunView], metric: str, **kwargs: Any):
    """:func:`winners` as a pandas DataFrame (same arguments)."""
    return winners(runs, metric, **kwargs).to_df()


def seed_groups_df(runs: Sequence[RunView], metric: str, **kwargs: Any):
    """:func:`seed_groups` as a pandas DataFrame (same arguments)."""
    return seed_groups(runs, metric, **kwargs).to_df()
