"""The workspace above the runs table: a chart per metric with a curve per run, or per group.

Every curve is drawn from the store's light view of the series (:meth:`read_overviews`: each
chunk's stored sketch, min, max and last of every 64 points, or the points of a short chunk),
read for all runs and keys in one query, and downsampled again to a few hundred points, so a
page of 200 runs never reads all their points.

* :func:`run_curves`: one curve per (run, key), its x axis the step, the wall time since the
  run's first point, or another metric the run logged on the same steps (``epoch``, ``tokens``:
  its value at each step, interpolated between the steps it was logged at);
* :func:`group_curves`: one curve per group of runs and key: the mean over the group's runs
  with the min and max, on a common grid of x values (each run counted within its own range).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from ..store import Series
from ..store.sketch import extreme_indices

__all__ = [
    "MAX_CURVE_RUNS",
    "MAX_GROUPS",
    "MAX_GROUP_RUNS",
    "X_STEP",
    "X_WALL",
    "AnswerCache",
    "Numbers",
    "OverviewCache",
    "downsample_many",
    "dumps",
    "group_curves",
    "run_curves",
    "state",
    "wanted_keys",
]

MAX_CURVE_RUNS = 200  # curves per key a request may ask for
MAX_GROUP_RUNS = 5000  # runs a grouped request averages over
MAX_GROUPS = 100  # groups a grouped request draws (the first in the table's order)
X_STEP = "step"
X_WALL = "wall"


class _Axis:
    """The x values of a run's points: step, seconds since its first point, or a metric."""

    def __init__(self, x: str, views: dict[tuple[str, str], Series], run_ids: list[str]):
        self.x = x
        self.start: dict[str, float] = {}
        self.metric: dict[str, Series] = {}
        if x == X_WALL:
            for (rid, _key), s in views.items():
                if len(s.walls):
                    w = float(np.nanmin(s.walls))
                    self.start[rid] = min(self.start.get(rid, w), w)
        elif x != X_STEP:
            for rid in run_ids:
                m = views.get((rid, x))
                if m is not None and len(m.steps):
                    self.metric[rid] = m

    def of(self, rid: str, s: Series) -> tuple[np.ndarray, np.ndarray] | None:
        """(x, y) of ``s``; None when the run has no such x (no point of the x metric)."""
        if self.x == X_STEP:
            return s.steps, s.values
        if self.x == X_WALL:
            return s.walls - self.start.get(rid, 0.0), s.values
        m = self.metric.get(rid)
        if m is None:
            return None
        ok = np.isfinite(m.values)
        xs, xv = m.steps[ok], m.values[ok]
        if not len(xs):
            return None
        # only the steps inside the x metric's own range: no made-up values past its ends
        inside = (s.steps >= xs[0]) & (s.steps <= xs[-1])
        return np.interp(s.steps[inside], xs, xv), s.values[inside]


class OverviewCache:
    """The light views of recently drawn (run, key)s, least recently used dropped.

    An entry holds while the key's summary in the store (count, first and last step and
    wall, extremes) is unchanged, so drawing the same page again (a reload, another x axis,
    an overlay) reads only what changed since: the points of live runs."""

    def __init__(self, max_points: int = 3_000_000) -> None:
        self.max_points = max_points
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], tuple[tuple[Any, ...], Series]] = OrderedDict()
        self._points = 0

    def get(self, rid: str, key: str, signature: tuple[Any, ...]) -> Series | None:
        with self._lock:
            hit = self._items.get((rid, key))
            if hit is None or hit[0] != signature:
                return None
            self._items.move_to_end((rid, key))
            return hit[1]

    def put(self, rid: str, key: str, signature: tuple[Any, ...], s: Series) -> None:
        with self._lock:
            old = self._items.pop((rid, key), None)
            if old is not None:
                self._points -= len(old[1])
            self._items[rid, key] = (signature, s)
            self._points += len(s)
            while self._points > self.max_points and self._items:
                _, (_, dropped) = self._items.popitem(last=False)
                self._points -= len(dropped)


class AnswerCache:
    """The JSON of recent workspace answers, each kept with the store state it was drawn
    from (:func:`state`: the summaries of every (run, key) it read, and for groups which runs
    each group holds). The same request while that state is unchanged (a reload, another
    tab) is answered without reading, downsampling or writing a curve again; a running run's
    new points change its summary, so its page is drawn afresh."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[Any, ...], tuple[Any, str]] = OrderedDict()
        self._bytes = 0

    def get(self, request: tuple[Any, ...], state: Any) -> str | None:
        with self._lock:
            hit = self._items.get(request)
            if hit is None or hit[0] != state:
                return None
            self._items.move_to_end(request)
            return hit[1]

    def put(self, request: tuple[Any, ...], state: Any, body: str) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(request, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._items[request] = (state, body)
            self._bytes += len(body)
            while self._bytes > self.max_bytes and self._items:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= len(dropped)


def wanted_keys(keys: list[str], x: str) -> list[str]:
    """The keys a request reads: its metrics and, for a metric x axis, that metric."""
    return list(dict.fromkeys([*keys, *([x] if x not in (X_STEP, X_WALL) else [])]))


def state(sums: dict[str, dict[str, Any]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    """What an answer drawn from these summaries depends on, comparable with ``==``."""
    return {(rid, key): tuple(s) for rid, by_key in sums.items() for key, s in by_key.items()}


def _read(
    backend: Any,
    run_ids: list[str],
    keys: list[str],
    x: str,
    cache: OverviewCache | None = None,
    sums: dict[str, dict[str, Any]] | None = None,
) -> tuple[dict[tuple[str, str], Series], _Axis]:
    wanted = wanted_keys(keys, x)
    if cache is None:
        views = backend.read_overviews(run_ids, wanted)
        return views, _Axis(x, views, run_ids)
    # what each (run, key) holds now: a cached view still matching it is used as it is
    if sums is None:
        sums = backend.metric_summaries(run_ids, wanted)
    views = {}
    missing: dict[tuple[str, str], tuple[Any, ...]] = {}
    for rid, by_key in sums.items():
        for key, summary in by_key.items():
            sig = tuple(summary)
            hit = cache.get(rid, key, sig)
            if hit is None:
                missing[rid, key] = sig
            else:
                views[rid, key] = hit
    if missing:
        rids = list(dict.fromkeys(r for r, _ in missing))
        got = backend.read_overviews(rids, list(dict.fromkeys(k for _, k in missing)))
        for (rid, key), s in got.items():
            known = missing.get((rid, key))
            if known is not None:
                views[rid, key] = s
                cache.put(rid, key, known, s)
    return views, _Axis(x, views, run_ids)


class Numbers(list):
    """Numbers for JSON, written to 6 significant digits (a chart needs no more; the
    answer is a third of the size of full precision): :func:`dumps` writes them."""


def _list(a: np.ndarray) -> Numbers:
    return Numbers(a.tolist())


class Ints(list):
    """Whole numbers (steps) for JSON, written exactly."""


def _int_list(a: np.ndarray) -> Ints:
    return Ints(np.asarray(a, dtype=np.int64).tolist())


def _numbers_json(vs: list[float]) -> str:
    text = ",".join(map(_G6, vs))
    if "n" in text:  # nan, inf, -inf: null
        text = ",".join("null" if ("n" in t) else t for t in text.split(","))
    return "[" + text + "]"


_G6 = "{:.6g}".format


def dumps(data: Any) -> str:
    """JSON of an answer holding :class:`Numbers` lists (anything else as ``json.dumps``)."""
    import json

    parts: list[str] = []

    def enc(o: Any) -> None:
        if isinstance(o, Numbers):
            parts.append(_numbers_json(o))
        elif isinstance(o, Ints):
            parts.append("[" + ",".join(map(str, o)) + "]")
        elif isinstance(o, dict):
            parts.append("{")
            for i, (k, v) in enumerate(o.items()):
                if i:
                    parts.append(",")
                parts.append(json.dumps(str(k)) + ":")
                enc(v)
            parts.append("}")
        elif isinstance(o, list) and any(isinstance(v, (dict, list)) for v in o):
            parts.append("[")
            for i, v in enumerate(o):
                if i:
                    parts.append(",")
                enc(v)
            parts.append("]")
        else:
            parts.append(json.dumps(o, allow_nan=False, default=str, separators=(",", ":")))

    enc(data)
    return "".join(parts)


def downsample_many(values: list[np.ndarray], max_points: int) -> list[np.ndarray]:
    """:func:`~expbook.web.downsample.downsample_indices` of each array of ``values``, in one
    pass over all of them (the same indices: each curve's first point, and per bucket its
    min, max and last): one numpy call for a page of curves instead of one per curve."""
    if max_points < 4:
        raise ValueError("max_points must be at least 4 (first, min, max, last)")
    out: list[np.ndarray] = [np.arange(len(v), dtype=np.int64) for v in values]
    long = [i for i, v in enumerate(values) if len(v) > max_points]
    if not long:
        return out
    n_buckets = (max_points - 1) // 3
    offsets, edges, firsts = [], [], []
    at = 0
    for i in long:
        n = len(values[i])
        offsets.append(at)
        firsts.append(at)
        edges.append(at + np.linspace(0, n, n_buckets + 1).astype(np.int64)[:-1])
        at += n
    allv = np.concatenate([np.asarray(values[i], dtype=np.float64) for i in long])
    # the picks and each curve's first point, sorted and once each: marked in one mask (a
    # pass over the points, where a union of the index arrays would sort them)
    keep = np.zeros(at, dtype=bool)
    keep[extreme_indices(allv, np.append(np.concatenate(edges), at))] = True
    keep[np.asarray(firsts, dtype=np.int64)] = True
    picks = np.flatnonzero(keep)
    bounds = np.searchsorted(picks, [*offsets, at])
    for j, i in enumerate(long):
        out[i] = picks[bounds[j] : bounds[j + 1]] - offsets[j]
    return out


def run_curves(
    backend: Any,
    run_ids: list[str],
    keys: list[str],
    x: str,
    max_points: int,
    cache: OverviewCache | None = None,
    sums: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """``[{"run", "key", "x", "y"}]``: a downsampled curve (at most ``max_points`` points,
    extremes kept) of each key each run has, in the order of ``run_ids`` then ``keys``
    (``sums``: the runs' summaries of those keys, when the caller read them already)."""
    views, axis = _read(backend, run_ids, keys, x, cache, sums)
    found = []
    for rid in run_ids:
        for key in keys:
            s = views.get((rid, key))
            if s is None:
                continue
            xy = axis.of(rid, s)
            if xy is not None:
                found.append((rid, key, s.steps, xy))
    picked = downsample_many([xy[1] for *_, xy in found], max_points)
    out = []
    for (rid, key, steps, (xv, yv)), idx in zip(found, picked):
        xs = _int_list(steps[idx]) if x == X_STEP else _list(xv[idx])
        out.append({"run": rid, "key": key, "x": xs, "y": _list(yv[idx])})
    return out


def group_curves(
    backend: Any,
    groups: list[dict[str, Any]],
    keys: list[str],
    x: str,
    points: int,
    cache: OverviewCache | None = None,
    sums: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """For each group (``{"label", "n", "runs", ...}``) and key: ``{"group", "key", "n",
    "x", "mean", "min", "max", "std", "count"}`` on ``points`` evenly spaced x values over
    the range the group's runs cover; at each x the runs whose own range holds it count
    (``count`` of them; ``std`` is their population standard deviation)."""
    run_ids = [rid for g in groups for rid in g["runs"]]
    views, axis = _read(backend, run_ids, keys, x, cache, sums)
    out = []
    for gi, g in enumerate(groups):
        for key in keys:
            curves = []
            for rid in g["runs"]:
                s = views.get((rid, key))
                if s is None:
                    continue
                xy = axis.of(rid, s)
                if xy is None:
                    continue
                xv, yv = xy
                ok = np.isfinite(xv) & np.isfinite(yv)
                if ok.any():
                    curves.append((xv[ok], yv[ok]))
            if not curves:
                continue
            lo = min(float(c[0][0]) for c in curves)
            hi = max(float(c[0][-1]) for c in curves)
            grid = np.linspace(lo, hi, points) if hi > lo else np.array([lo])
            stack = np.full((len(curves), len(grid)), np.nan)
            for i, (xv, yv) in enumerate(curves):
                order = np.argsort(xv, kind="stable")
                xv, yv = xv[order], yv[order]
                inside = (grid >= xv[0]) & (grid <= xv[-1])
                stack[i, inside] = np.interp(grid[inside], xv, yv)
            count = np.sum(~np.isnan(stack), axis=0)
            keep = count > 0
            stack, grid, count = stack[:, keep], grid[keep], count[keep]
            out.append(
                {
                    "group": gi,
                    "key": key,
                    "n": len(curves),
                    "x": _list(grid),
                    "mean": _list(np.nanmean(stack, axis=0)),
                    "min": _list(np.nanmin(stack, axis=0)),
                    "max": _list(np.nanmax(stack, axis=0)),
                    "std": _list(np.nanstd(stack, axis=0)),
                    "count": count.tolist(),
                }
            )
    return out
