"""``leaderboard`` and ``pivot`` with the store doing the part that touches every run.

Over 100,000 runs the general path (:func:`~expbook.analysis.leaderboard.leaderboard` and
:func:`~expbook.analysis.sweep.pivot` over every run of the store) spends its time building
a record and a summary per run. Here the store does that part in its database instead:

* a leaderboard with ``top`` asks the store to rank the runs by the metric's per-run
  summary (``Backend.rank_runs``: an ``ORDER BY ... LIMIT`` over the summary table, plus
  counts), then reads the records and summaries of the few runs that can be shown, and runs
  the general code over those runs only, in their store order, so ranks, ties, notes and
  columns come out exactly as over every run;
* a pivot asks the store for its cells (``Backend.pivot_cells``): the store reads the row
  and column keys' config members and the value of each run, and groups and aggregates
  them as :func:`~expbook.analysis.sweep.pivot` does.

Each function returns None where it cannot promise the general path's exact output (a
filter, run names, derived columns, a value at a step, keys read from somewhere other than
one config member, a store without the method, or a key no run has, whose error message
the general path words); the caller then takes the general path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import UnknownKey
from .keys import RUN_FIELDS, _has_key
from .sweep import AGGS, _freeze, pivot_table
from .table import Table

__all__ = ["leaderboard_pushdown", "pivot_pushdown"]

MAX_CANDIDATES = 50_000  # runs read one by one, past which the general path is as quick


def _plain_metric(key: str) -> bool:
    prefixed = key.startswith(("config.", "summary.", "run."))
    return bool(key) and key not in RUN_FIELDS and not prefixed


def leaderboard_pushdown(
    backend: Any,
    metric: str,
    *,
    project: str | None = None,
    mode: str = "min",
    sort: str = "best",
    top: int | None = None,
    params: Sequence[str] = (),
    columns: Sequence[str] = (),
) -> Table | None:
    """:func:`~expbook.analysis.leaderboard.leaderboard` of every run of ``project`` with
    ``top``, read through ``backend.rank_runs``; None where the general path must answer."""
    from .._views import StoredRun, _Metrics
    from .leaderboard import _leaderboard

    rank = getattr(backend, "rank_runs", None)
    if (
        rank is None
        or top is None
        or isinstance(top, bool)
        or top < 1
        or mode not in ("min", "max")
        or sort not in ("best", "last")
        or not _plain_metric(metric)
    ):
        return None
    by = "last" if sort == "last" else mode
    got = rank(metric, by, desc=mode == "max", project=project, limit=top)
    if got is None or not (got["scored"] or got["unscored"] or got["candidates"]):
        return None  # no run, or no run has the metric: the general path's answer or error
    ids = [*got["top"], *got["unscored_first"], *got["plain_first"], *got["candidates"]]
    if len(ids) > MAX_CANDIDATES:
        return None  # most runs need a look anyway (summary values): the general path
    records = backend.get_runs(ids)
    if len(records) != len(set(ids)):
        return None  # a run deleted in between: read everything again
    index = _RunsIndex(backend, project, [r.id for r in records])
    runs = [StoredRun(r, _Metrics(index, r.id), backend) for r in records]  # type: ignore[arg-type]
    # a param or column none of these runs has may still be a logged key of another run,
    # which the store can tell (else the general path words the error)
    present = [
        k
        for k, prefer in [*((p, "param") for p in params), *((c, "metric") for c in columns)]
        if not _has_key(runs, k, prefer) and _logged(rank, k, project)
    ]
    try:
        return _leaderboard(
            runs,
            metric,
            mode=mode,
            top=top,
            params=params,
            columns=columns,
            sort=sort,
            more_missing=got["plain"] - len(got["plain_first"]),
            more_unscored=got["unscored"] - len(got["unscored_first"]),
            present=present,
        )
    except UnknownKey:
        return None  # no shown run has a --param or --column: the general path decides


def _logged(rank: Any, key: str, project: str | None) -> bool:
    """Whether some run of ``project`` logged ``key`` (has its per-run summary)."""
    got = rank(key, "last", project=project, limit=1)
    return got is not None and bool(got["scored"] or got["unscored"])


class _RunsIndex:
    """The per-key summaries of a few runs (``_SummaryIndex`` reads every run's)."""

    def __init__(self, backend: Any, project: str | None, run_ids: list[str]) -> None:
        from .._views import _SummaryIndex

        self._all = _SummaryIndex(backend, project)  # key listings (error hints only)
        self.backend = backend
        self.run_ids = run_ids
        self._by_key: dict[str, dict[str, Any]] = {}

    def key(self, key: str) -> dict[str, Any]:
        got = self._by_key.get(key)
        if got is None:
            rows = self.backend.metric_summaries(self.run_ids, [key]) if self.run_ids else {}
            got = self._by_key[key] = {rid: m[key] for rid, m in rows.items() if key in m}
        return got

    def keys_of(self, run_id: str) -> list[str]:
        return self._all.keys_of(run_id)


def pivot_pushdown(
    backend: Any,
    rows: Sequence[str],
    cols: Sequence[str],
    value: str,
    agg: str = "min",
    *,
    project: str | None = None,
) -> Table | None:
    """:func:`~expbook.analysis.sweep.pivot` of every run of ``project``, from the cells
    ``backend.pivot_cells`` computes; None where the general path must answer."""
    cells_of = getattr(backend, "pivot_cells", None)
    rows, cols = list(rows), list(cols)
    if cells_of is None or not rows or not value or agg not in AGGS:
        return None
    got = cells_of([*rows, *cols], value, agg, split=len(rows), project=project)
    if got is None:
        return None
    cells: dict[tuple, dict[tuple, Any]] = {}
    for rk, by_col in got["cells"]:
        cells[_key(rk)] = {_key(ck): v for ck, v in by_col}
    return pivot_table(rows, cols, value, agg, cells, [_key(ck) for ck in got["col_keys"]])


def _key(values: Sequence[Any]) -> tuple:
    """A row or column key as :func:`~expbook.analysis.sweep.pivot` keeps it (frozen: a
    key that came through JSON has lists where the store had tuples)."""
    return tuple(_freeze(v) for v in values)
