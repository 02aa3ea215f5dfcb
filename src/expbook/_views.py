"""Runs of a store seen through :class:`expbook.analysis.view.RunView`.

:func:`load_runs` reads every run of a project in one query. Per-key summaries are read one
key at a time, for every run at once, the first time any run is asked for that key (a
leaderboard of one metric over 10,000 runs reads 10,000 summary rows, not 40,000); points are
read only when an analysis asks for them, and :func:`prefetch_values_at` reads the value at one
step of many runs in one query.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .store.base import MetricSummary, RunRecord, Series


class _SummaryIndex:
    """Per-key summaries of a set of runs, loaded per key on first use."""

    def __init__(self, backend: Any, project: str | None) -> None:
        self.backend = backend
        self.project = project
        self._by_key: dict[str, dict[str, MetricSummary]] = {}
        self._keys_of: dict[str, list[str]] | None = None

    def key(self, key: str) -> dict[str, MetricSummary]:
        got = self._by_key.get(key)
        if got is None:
            rows = self.backend.metric_summaries(keys=[key], project=self.project)
            got = self._by_key[key] = {rid: m[key] for rid, m in rows.items()}
        return got

    def keys_of(self, run_id: str) -> list[str]:
        if self._keys_of is None:
            self._keys_of = self.backend.metric_keys(self.project)
        return self._keys_of.get(run_id, [])


class _Metrics(Mapping[str, MetricSummary]):
    """``run.metrics`` of a stored run: a read-only mapping backed by the shared index."""

    __slots__ = ("_index", "_run_id")

    def __init__(self, index: _SummaryIndex, run_id: str) -> None:
        self._index = index
        self._run_id = run_id

    def __getitem__(self, key: str) -> MetricSummary:
        if not isinstance(key, str):
            raise KeyError(key)
        return self._index.key(key)[self._run_id]

    def get(self, key: str, default: Any = None) -> Any:
        # the hot path of every analysis loop: no exception for a missing key
        if not isinstance(key, str):
            return default
        return self._index.key(key).get(self._run_id, default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._run_id in self._index.key(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index.keys_of(self._run_id))

    def __len__(self) -> int:
        return len(self._index.keys_of(self._run_id))


class _Summary(Mapping[str, Any]):
    """Explicit summary values over each key's last logged value (``run.summary``)."""

    __slots__ = ("_explicit", "_metrics")

    def __init__(self, explicit: dict[str, Any], metrics: Mapping[str, MetricSummary]) -> None:
        self._explicit = explicit
        self._metrics = metrics

    def __getitem__(self, key: str) -> Any:
        if key in self._explicit:
            return self._explicit[key]
        return self._metrics[key].last_value

    def get(self, key: str, default: Any = None) -> Any:
        # what every key getter calls: no exception for a missing key
        explicit = self._explicit
        if key in explicit:
            return explicit[key]
        m = self._metrics.get(key)
        return default if m is None else m.last_value

    def __contains__(self, key: object) -> bool:
        return key in self._explicit or key in self._metrics

    def __iter__(self) -> Iterator[str]:
        yield from self._metrics
        yield from (k for k in self._explicit if k not in self._metrics)

    def __len__(self) -> int:
        return len(self._metrics) + sum(1 for k in self._explicit if k not in self._metrics)


class StoredRun:
    """A run of the store, as analysis sees it.

    ``tags``, ``config`` and ``summary`` are read from the record on first use (the store
    decodes its JSON columns lazily), so listing 10,000 runs to rank them by one metric
    decodes no config.
    """

    __slots__ = (
        "_backend",
        "_series",
        "_summary",
        "created_at",
        "finished_at",
        "id",
        "metrics",
        "name",
        "prefetched_values",
        "project",
        "record",
        "status",
    )

    id: str
    name: str
    project: str
    status: str
    created_at: float | None
    finished_at: float | None
    metrics: Mapping[str, MetricSummary]
    prefetched_values: dict[tuple[str, int], float | None] | None
    """(key, step) -> the value at that step (None: no point there), read by
    :func:`prefetch_values_at` for :func:`expbook.analysis.derive.value_at` (None until then)."""

    def __init__(self, rec: RunRecord, metrics: Mapping[str, MetricSummary], backend: Any) -> None:
        self.record = rec
        self.id = rec.id
        self.name = rec.name
        self.project = rec.project
        status = rec.status
        self.status = status if status != "running" else rec.state  # crash detection
        self.created_at = rec.created_at
        self.finished_at = rec.finished_at
        self.metrics = metrics
        self._summary: _Summary | None = None
        self._backend = backend
        self._series: dict[str, Series] | None = None  # (10,000 runs: no dicts until used)
        self.prefetched_values = None

    @property
    def tags(self) -> list[str]:
        return self.record.tags

    @property
    def config(self) -> dict[str, Any]:
        return self.record.config

    @property
    def summary(self) -> Mapping[str, Any]:
        """Explicit summary values over each key's last logged value."""
        s = self._summary
        if s is None:
            s = self._summary = _Summary(self.record.summary, self.metrics)
        return s

    def series(self, key: str) -> Series:
        cache = self._series
        if cache is None:
            cache = self._series = {}
        s = cache.get(key)
        if s is None:
            got = self._backend.read_series(self.id, [key]).get(key)
            s = got if got is not None else _empty()
            cache[key] = s
        return s

    def peek_series(self, key: str) -> Series:
        """:meth:`series` without keeping what it reads (a derived series over thousands of
        runs reads each key once and keeps only its own result)."""
        if self._series is not None:
            s = self._series.get(key)
            if s is not None:
                return s
        got = self._backend.read_series(self.id, [key]).get(key)
        return got if got is not None else _empty()

    def __repr__(self) -> str:
        return f"<StoredRun {self.name!r} {self.id}>"


def _empty() -> Series:
    import numpy as np

    return Series(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))


def load_runs(backend: Any, project: str | None = None) -> list[StoredRun]:
    """Every run (of ``project``) with its metric summaries; no points are read."""
    recs = backend.list_runs(project)
    index = _SummaryIndex(backend, project)
    return [StoredRun(r, _Metrics(index, r.id), backend) for r in recs]


def prefetch_values_at(runs: Sequence[StoredRun], key: str, step: int) -> None:
    """Read the value of ``key`` at ``step`` of every run now, in one store query
    (``values_at``), for the runs whose summary cannot answer (``step`` strictly between
    their first and last step); ``value_at`` then reads no series."""
    if not runs:
        return
    need = []
    for run in runs:
        m = run.metrics.get(key)
        if (
            m is not None
            and m.count
            and m.first_step is not None
            and m.last_step is not None
            and m.first_step < step < m.last_step
            and (key, step) not in (run.prefetched_values or ())
        ):
            need.append(run)
    if not need:
        return
    got = runs[0]._backend.values_at(key, step, [r.id for r in need])
    for run in need:
        if run.prefetched_values is None:
            run.prefetched_values = {}
        run.prefetched_values[(key, step)] = got.get(run.id)
