"""Runs of a store seen through :class:`expbook.analysis.view.RunView`.

:func:`load_runs` reads every run of a project and its per-key summaries in two queries;
points are read only when an analysis asks for them, and :func:`prefetch` reads the series of
many runs in one query when a computation needs points of every run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ._read import run_summary
from .store.base import MetricSummary, RunRecord, Series


class StoredRun:
    """A run of the store, as analysis sees it."""

    __slots__ = (
        "_backend",
        "_series",
        "config",
        "created_at",
        "finished_at",
        "id",
        "metrics",
        "name",
        "project",
        "record",
        "status",
        "summary",
        "tags",
    )

    id: str
    name: str
    project: str
    status: str
    created_at: float | None
    finished_at: float | None
    tags: list[str]
    config: dict[str, Any]
    summary: dict[str, Any]
    metrics: dict[str, MetricSummary]

    def __init__(self, rec: RunRecord, metrics: dict[str, MetricSummary], backend: Any) -> None:
        self.record = rec
        self.id = rec.id
        self.name = rec.name
        self.project = rec.project
        self.status = rec.state
        self.created_at = rec.created_at
        self.finished_at = rec.finished_at
        self.tags = rec.tags
        self.config = rec.config
        self.metrics = metrics
        self.summary = run_summary(rec, metrics)
        self._backend = backend
        self._series: dict[str, Series] = {}

    def series(self, key: str) -> Series:
        s = self._series.get(key)
        if s is None:
            got = self._backend.read_series(self.id, [key]).get(key)
            s = got if got is not None else _empty()
            self._series[key] = s
        return s

    def __repr__(self) -> str:
        return f"<StoredRun {self.name!r} {self.id}>"


def _empty() -> Series:
    import numpy as np

    return Series(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))


def load_runs(backend: Any, project: str | None = None) -> list[StoredRun]:
    """Every run (of ``project``) with its metric summaries; no points are read."""
    recs = backend.list_runs(project)
    sums = backend.metric_summaries(project=project)
    return [StoredRun(r, sums.get(r.id, {}), backend) for r in recs]


def prefetch(runs: Sequence[StoredRun], keys: Iterable[str]) -> None:
    """Read ``keys`` of every run now (one query per key set), so later ``series()`` calls
    are served from memory."""
    keys = list(keys)
    if not runs or not keys:
        return
    backend = runs[0]._backend
    for run in runs:
        missing = [k for k in keys if k not in run._series and k in run.metrics]
        if missing:
            got = backend.read_series(run.id, missing)
            for k in missing:
                run._series[k] = got.get(k, _empty())
