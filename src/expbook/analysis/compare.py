"""``expbook compare A B [C...]``: configs, metrics, time and cost side by side.

The first run is the baseline: deltas and ratios of the others are against it.

* **Config diff**: configs flattened to dotted keys (``stages.operator.epochs``); a key is
  listed when its values differ or when only some runs have it (``only_in``).
* **Metrics**: every logged key and every numeric summary key. ``final`` is the last logged
  value (the summary value for summary-only keys), ``best`` the min, or the max for keys that
  read as scores (accuracy, F1, AUC, R2, precision, recall, reward, BLEU, ...; override with
  ``modes``). Deltas: ``delta = x - x_base``, ``rel_delta = delta / |x_base|``,
  ``ratio = x / x_base``. A key with a ``/`` is grouped by its prefix as a *stage*
  (``operator/loss`` -> stage ``operator``, metric ``loss``).
* **Time**: wall-clock seconds from, in order, ``time_key``; a summary or config value named
  like a duration (``train_wall_clock_minutes``, ``runtime``, ``_runtime``, ``elapsed``,
  ``duration_s``, ``train_hours``: the unit comes from the suffix, seconds when none); or
  ``finished_at - created_at``.
* **Cost**: an explicit total (``cost_usd``, ``total_cost``...) in the summary or config; else
  hours x hourly price, the price from ``cost_per_hour`` or from a summary/config key such as
  ``gpu_hourly_usd`` or ``cost_per_hour`` (a per-GPU price is multiplied by ``gpu_count``
  when that is above 1).

JSON shape (``kind: "compare"``; lists are aligned with ``runs``, baseline entries of deltas
and ratios are null)::

    {"kind": "compare",
     "runs": [{"id": "...", "name": "baseline_32dim", "project": "...", "status": "..."}, ...],
     "baseline": "baseline_32dim",
     "config_diff": [{"key": "training.rollout_horizon", "values": [null, 3],
                      "only_in": ["hjnqclgk"]},
                     {"key": "ttc.candidates", "values": [8, 16], "only_in": null}],
     "metrics": [{"key": "operator/val_loss", "stage": "operator", "metric": "val_loss",
                  "mode": "min", "points": [15, 50], "final": [...], "best": [...],
                  "best_step": [...], "final_delta": [null, ...], "final_rel_delta": [...],
                  "final_ratio": [...], "best_delta": [...], "best_rel_delta": [...],
                  "best_ratio": [...]}],
     "time": {"seconds": [1224.0, 18924.0], "minutes": [20.4, 315.4],
              "source": ["summary.train_wall_clock_minutes", ...], "ratio": [null, 15.46]},
     "cost": {"usd": [0.697, 10.776], "per_hour": [2.05, 2.05],
              "source": ["summary.gpu_hourly_usd", ...], "ratio": [null, 15.46]},
     "notes": []}
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._read import flatten
from .derive import last_value
from .table import Table, TableSet
from .view import RunView

__all__ = ["compare", "compare_df", "metric_mode"]

_MAX_TOKENS = {
    "acc",
    "accuracy",
    "top1",
    "top5",
    "f1",
    "auc",
    "auroc",
    "auprc",
    "precision",
    "recall",
    "r2",
    "score",
    "reward",
    "return",
    "bleu",
    "rouge",
    "map",
    "iou",
    "miou",
    "dice",
    "psnr",
    "ssim",
    "throughput",
}


def metric_mode(key: str) -> str:
    """``"max"`` for keys that read as scores (``test_acc``, ``val/f1``, ``r2``), else ``"min"``."""
    leaf = re.split(r"[/.]", key)[-1].lower()
    tokens = [t for t in re.split(r"[^a-z0-9]+", leaf) if t]
    return "max" if any(t in _MAX_TOKENS or t.startswith("acc") for t in tokens) else "min"


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _labels(runs: Sequence[RunView]) -> list[str]:
    names = [r.name for r in runs]
    return [f"{r.name} ({r.id})" if names.count(r.name) > 1 else r.name for r in runs]


def _merged_order(flats: Sequence[Mapping[str, Any]]) -> list[str]:
    """Keys of all configs; keys missing from the first run go right after their predecessor
    in the run that has them (so ``training.rollout_horizon`` lands inside ``training``)."""
    order: list[str] = list(flats[0]) if flats else []
    known = set(order)
    for flat in flats[1:]:
        prev: str | None = None
        for k in flat:
            if k not in known:
                at = order.index(prev) + 1 if prev is not None else 0
                order.insert(at, k)
                known.add(k)
            prev = k
    return order


def _config_diff(runs: Sequence[RunView], labels: list[str]) -> list[dict[str, Any]]:
    flats = [flatten(r.config) for r in runs]
    out = []
    for k in _merged_order(flats):
        present = [k in f for f in flats]
        values = [f.get(k) for f in flats]
        if all(present) and all(v == values[0] and type(v) is type(values[0]) for v in values):
            continue
        only_in = None if all(present) else [lab for lab, p in zip(labels, present) if p]
        out.append({"key": k, "values": values, "only_in": only_in})
    return out


def _delta(xs: list[Any]) -> tuple[list[Any], list[Any], list[Any]]:
    base = xs[0]
    d: list[Any] = [None]
    rel: list[Any] = [None]
    ratio: list[Any] = [None]
    for x in xs[1:]:
        if _num(x) and _num(base):
            d.append(x - base)
            rel.append((x - base) / abs(base) if base != 0 else None)
            ratio.append(x / base if base != 0 else None)
        else:
            d.append(None)
            rel.append(None)
            ratio.append(None)
    return d, rel, ratio


def _metric_rows(
    runs: Sequence[RunView], keys: Iterable[str] | None, modes: Mapping[str, str]
) -> list[dict[str, Any]]:
    order: dict[str, None] = {}
    for r in runs:
        for k in r.metrics:
            order.setdefault(k, None)
    for r in runs:
        for k, v in r.summary.items():
            if _num(v) and k not in order:
                order.setdefault(k, None)
    selected = list(order)
    if keys is not None:
        pats = list(keys)
        for p in pats:
            if not any(fnmatch.fnmatchcase(k, p) for k in selected):
                from ..errors import UnknownKey
                from .keys import suggest

                raise UnknownKey(
                    f"no metric of the compared runs matches {p!r}{suggest(p, selected)}"
                )
        selected = [k for k in selected if any(fnmatch.fnmatchcase(k, p) for p in pats)]
    rows = []
    for key in selected:
        mode = modes.get(key) or metric_mode(key)
        finals, bests, steps, points = [], [], [], []
        for r in runs:
            m = r.metrics.get(key)
            if m is not None and m.count:
                finals.append(m.last_value)
                if mode == "max":
                    bests.append(m.max_value)
                    steps.append(m.max_step)
                else:
                    bests.append(m.min_value)
                    steps.append(m.min_step)
                points.append(m.count)
            else:
                v = last_value(r, key)
                v = v if _num(v) else None
                finals.append(v)
                bests.append(v)
                steps.append(None)
                points.append(0)
        stage, _, metric = key.partition("/") if "/" in key else (None, "", key)
        fd, fr, fq = _delta(finals)
        bd, br, bq = _delta(bests)
        rows.append(
            {
                "key": key,
                "stage": stage,
                "metric": metric,
                "mode": mode,
                "points": points,
                "final": finals,
                "best": bests,
                "best_step": steps,
                "final_delta": fd,
                "final_rel_delta": fr,
                "final_ratio": fq,
                "best_delta": bd,
                "best_rel_delta": br,
                "best_ratio": bq,
            }
        )
    return rows


# -- time and cost ----------------------------------------------------------------------------

_TIME_WORDS = {"wall", "clock", "time", "runtime", "duration", "elapsed"}
_NOT_TOTAL = {
    "per",
    "epoch",
    "step",
    "iter",
    "iteration",
    "batch",
    "eval",
    "avg",
    "mean",
    "limit",
    "budget",
    "max",
    "timeout",
}
_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "ms": 0.001,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hrs": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
}
_COST_TOTAL = {"cost", "cost_usd", "total_cost", "total_cost_usd", "gpu_cost", "gpu_cost_usd"}
_GPU_COUNT = ("gpu_count", "num_gpus", "n_gpus", "gpus")


def _time_unit(leaf: str) -> float | None:
    """Seconds per unit when ``leaf`` names a run's total duration, else None."""
    tokens = [t for t in re.split(r"[^a-z0-9]+", leaf.lower()) if t]
    if not tokens or not (_TIME_WORDS & set(tokens)) or _NOT_TOTAL & set(tokens):
        return None
    unit = _UNITS.get(tokens[-1])
    if unit is not None and len(tokens) > 1:
        return unit
    return 1.0 if tokens[-1] in _TIME_WORDS else None


def _hourly(leaf: str) -> bool:
    tokens = [t for t in re.split(r"[^a-z0-9]+", leaf.lower()) if t]
    return "hourly" in tokens or ("per" in tokens and ("hour" in tokens or "hr" in tokens))


def _places(run: RunView) -> list[tuple[str, str, Any]]:
    """(source label, leaf, value) of every numeric summary and config value."""
    out = [(f"summary.{k}", k.rsplit("/", 1)[-1], v) for k, v in run.summary.items() if _num(v)]
    for k, v in flatten(run.config).items():
        if _num(v):
            out.append((f"config.{k}", k.rsplit(".", 1)[-1], v))
    return out


def _run_time(run: RunView, time_key: str | None) -> tuple[float | None, str | None]:
    places = _places(run)
    if time_key is not None:
        for src, _leaf, v in places:
            if src in (f"summary.{time_key}", f"config.{time_key}", time_key):
                unit = _time_unit(time_key.rsplit(".", 1)[-1]) or 1.0
                return float(v) * unit, src
        return None, None
    for src, leaf, v in places:
        per = _time_unit(leaf)
        if per is not None and v > 0:
            return float(v) * per, src
    if run.created_at is not None and run.finished_at is not None:
        dt = run.finished_at - run.created_at
        if dt > 0:
            return float(dt), "finished_at - created_at"
    return None, None


def _run_cost(
    run: RunView, seconds: float | None, cost_per_hour: float | None
) -> tuple[float | None, float | None, str | None]:
    """(usd, per-hour price, source)."""
    places = _places(run)
    if cost_per_hour is None:
        for where, leaf, v in places:
            if leaf.lower() in _COST_TOTAL:
                return float(v), None, where
    price: float | None = cost_per_hour
    src: str | None = "--cost-per-hour"
    if price is None:
        src = None
        for s, leaf, v in places:
            if _hourly(leaf):
                price, src = float(v), s
                if leaf.lower().startswith("gpu"):
                    n = _gpu_count(places)
                    if n and n > 1:
                        price *= n
                        src = f"{s} x {n:g} gpus"
                break
    if price is None or seconds is None:
        return None, price, src
    return seconds / 3600.0 * price, price, src


def _gpu_count(places: list[tuple[str, str, Any]]) -> float | None:
    for _src, leaf, v in places:
        if leaf.lower() in _GPU_COUNT:
            return float(v)
    return None


def _ratios(xs: list[Any]) -> list[Any]:
    return _delta(xs)[2]


# -- assembly ---------------------------------------------------------------------------------


def compare(
    runs: Sequence[RunView],
    cost_per_hour: float | None = None,
    keys: Iterable[str] | None = None,
    modes: Mapping[str, str] | None = None,
    time_key: str | None = None,
) -> TableSet:
    """Compare runs against the first one (see the module docstring).

    ``keys`` restricts the metrics to keys matching these globs; ``modes`` sets ``min``/``max``
    per key; ``time_key`` names the duration value to use (unit from its suffix).
    """
    runs = list(runs)
    if not runs:
        raise ValueError("compare needs at least one run")
    labels = _labels(runs)
    diff = _config_diff(runs, labels)
    metrics = _metric_rows(runs, keys, dict(modes or {}))

    times = [_run_time(r, time_key) for r in runs]
    seconds = [t for t, _ in times]
    costs = [_run_cost(r, s, cost_per_hour) for r, s in zip(runs, seconds)]
    usd = [c for c, _, _ in costs]
    time_info = {
        "seconds": seconds,
        "minutes": [None if s is None else s / 60.0 for s in seconds],
        "source": [src for _, src in times],
        "ratio": _ratios(seconds),
    }
    cost_info = {
        "usd": usd,
        "per_hour": [p for _, p, _ in costs],
        "source": [src for _, _, src in costs],
        "ratio": _ratios(usd),
    }
    notes = []
    if any(s is None for s in seconds):
        missing = [lab for lab, s in zip(labels, seconds) if s is None]
        notes.append(f"no wall-clock time for {', '.join(missing)}")
    if any(c is None for c in usd) and any(s is not None for s in seconds):
        notes.append("no cost: pass --cost-per-hour or log gpu_hourly_usd / cost_per_hour")
    data = {
        "runs": [
            {"id": r.id, "name": r.name, "project": r.project, "status": r.status} for r in runs
        ],
        "baseline": runs[0].name,
        "config_diff": diff,
        "metrics": metrics,
        "time": time_info,
        "cost": cost_info,
    }
    parts = [_config_table(diff, labels)]
    stages: dict[str | None, list[dict[str, Any]]] = {}
    for row in metrics:
        stages.setdefault(row["stage"], []).append(row)
    for stage, rows in stages.items():
        parts.append(_metrics_table(stage, rows, labels))
    parts.append(_resources_table(time_info, cost_info, labels))
    return TableSet("compare", parts, data, notes)


def _suffixes(labels: list[str]) -> list[str]:
    if len(labels) == 2:
        return [""]
    return [f" [{lab}]" for lab in labels[1:]]


def _config_table(diff: list[dict[str, Any]], labels: list[str]) -> Table:
    rows = [[d["key"], *d["values"], d["only_in"]] for d in diff]
    return Table(
        ["key", *labels, "only_in"],
        rows,
        kind="compare.config",
        title="config differences",
        meta={"name": "config"},
    )


def _metrics_table(stage: str | None, rows: list[dict[str, Any]], labels: list[str]) -> Table:
    sfx = _suffixes(labels)
    cols = ["metric", "stat", *labels]
    for s in sfx:
        cols += [f"delta{s}", f"rel_delta{s}", f"ratio{s}"]
    out = []
    for row in rows:
        # a best row only where it says something the final row does not
        differs = any(b != f for b, f in zip(row["best"], row["final"]) if b is not None)
        stats = ["final", "best"] if differs else ["final"]
        for stat in stats:
            line: list[Any] = [row["metric"], stat if stat == "final" else f"best ({row['mode']})"]
            line.extend(row[stat])
            for i in range(1, len(labels)):
                line += [
                    row[f"{stat}_delta"][i],
                    row[f"{stat}_rel_delta"][i],
                    row[f"{stat}_ratio"][i],
                ]
            out.append(line)
    name = "metrics" if stage is None else f"stage:{stage}"
    title = "metrics" if stage is None else f"stage {stage}"
    kinds = {c: "pct" for c in cols if c.startswith("rel_delta")}
    kinds.update({c: "ratio" for c in cols if c.startswith("ratio")})
    meta = {"name": name, "stage": stage}
    return Table(cols, out, kind="compare.metrics", title=title, meta=meta, kinds=kinds)


def _resources_table(
    time_info: dict[str, Any], cost_info: dict[str, Any], labels: list[str]
) -> Table:
    sfx = _suffixes(labels)
    cols = ["quantity", *labels, *(f"ratio{s}" for s in sfx)]
    rows = [
        ["time (min)", *time_info["minutes"], *time_info["ratio"][1:]],
        ["cost (USD)", *cost_info["usd"], *cost_info["ratio"][1:]],
    ]
    kinds = {c: "ratio" for c in cols if c.startswith("ratio")}
    meta = {"name": "resources"}
    return Table(
        cols, rows, kind="compare.resources", title="time and cost", meta=meta, kinds=kinds
    )


def compare_df(runs: Sequence[RunView], **kwargs: Any):
    """:func:`compare` as pandas DataFrames: ``{"config": ..., "metrics": ..., "stage:X": ...,
    "resources": ...}`` (same arguments)."""
    return compare(runs, **kwargs).to_df()
