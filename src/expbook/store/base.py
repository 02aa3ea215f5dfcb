"""Record types and the interface every store backend implements.

Callers (the logging API, importers, analysis, CLI, dashboard) speak only to :class:`Backend`.
The embedded SQLite store implements it today; a PostgreSQL-backed team server or a remote
HTTP client can implement the same methods later without touching callers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

STATUSES = ("running", "finished", "failed", "crashed", "killed")

# A running run whose heartbeat is older than this is shown as crashed.
HEARTBEAT_STALE_S = 60.0
# How often a live run refreshes its heartbeat.
HEARTBEAT_EVERY_S = 5.0

_HOST: str | None = None  # this machine's name, looked up on first use


def _this_host() -> str:
    global _HOST
    if _HOST is None:
        import socket  # not at import time: only a running run's state needs it

        _HOST = socket.gethostname()
    return _HOST


class MetricSummary(NamedTuple):
    """What the store keeps current for each (run, key) on every write."""

    count: int  # type: ignore[assignment]
    nan_count: int
    first_step: int | None
    first_value: float | None
    first_wall: float | None
    last_step: int | None
    last_value: float | None
    last_wall: float | None
    min_value: float | None
    min_step: int | None
    max_value: float | None
    max_step: int | None


class Series(NamedTuple):
    """Points of one key of one run, sorted by step, one point per step (numpy arrays, or
    Python lists from ``read_series_lists``)."""

    steps: Any  # int64[n]
    walls: Any  # float64[n], NaN where unknown
    values: Any  # float64[n]

    def __len__(self) -> int:
        return len(self.steps)


@dataclass
class RunRecord:
    """One run as stored. ``status`` is as written; :attr:`state` adds crash detection."""

    id: str
    name: str
    project: str
    status: str
    created_at: float
    updated_at: float
    finished_at: float | None = None
    heartbeat_at: float | None = None
    host: str | None = None
    pid: int | None = None
    exit_code: int | None = None
    group: str | None = None
    notes: str | None = None
    parent: str | None = None
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)  # explicitly set summary values
    meta: dict[str, Any] = field(default_factory=dict)  # host, command, git, python...
    source: dict[str, Any] = field(default_factory=lambda: {"kind": "logged"})

    @property
    def state(self) -> str:
        """The status a reader should show: a ``running`` run whose process is gone or whose
        heartbeat stopped is ``crashed``."""
        if self.status != "running":
            return self.status
        now = time.time()
        beat = self.heartbeat_at or self.created_at
        if now - beat > HEARTBEAT_STALE_S:
            return "crashed"
        if self.pid and self.host == _this_host() and not _pid_alive(self.pid):
            return "crashed"
        return "running"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    # A zombie (killed child not yet reaped) still answers kill(0): look closer on Linux.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class PointBatch(NamedTuple):
    """Points of one key to append: parallel sequences, in the order they were logged."""

    steps: Sequence[int]
    walls: Sequence[float]
    values: Sequence[float]


class Backend(Protocol):
    """The interface every store backend implements."""

    location: str

    # -- runs --------------------------------------------------------------------------
    def create_run(
        self,
        *,
        name: str | None,
        project: str,
        run_id: str | None = None,
        status: str = "running",
        config: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        group: str | None = None,
        notes: str | None = None,
        meta: Mapping[str, Any] | None = None,
        created_at: float | None = None,
    ) -> RunRecord: ...

    def update_run(self, run_id: str, **fields: Any) -> None: ...

    def get_run(self, ref: str, project: str | None = None) -> RunRecord: ...

    def list_runs(self, project: str | None = None) -> list[RunRecord]: ...

    def delete_runs(self, run_ids: Iterable[str]) -> int: ...

    def page_runs(
        self,
        project: str | None = None,
        order: str = "created_at, rid",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[int, list[RunRecord]]: ...

    def data_version(self) -> int: ...

    # -- points --------------------------------------------------------------------------
    def append_points(self, run_id: str, batches: Mapping[str, PointBatch]) -> None: ...

    def metric_summaries(
        self,
        run_ids: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
        project: str | None = None,
    ) -> dict[str, dict[str, MetricSummary]]: ...

    def read_series(
        self,
        run_id: str,
        keys: Iterable[str] | None = None,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> dict[str, Series]: ...

    def read_series_lists(
        self,
        run_id: str,
        keys: Iterable[str] | None = None,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> dict[str, Series]: ...

    def read_overview(
        self,
        run_id: str,
        key: str,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> tuple[Series, int] | None: ...

    def read_overviews(
        self, run_ids: Sequence[str], keys: Sequence[str]
    ) -> dict[tuple[str, str], Series]: ...

    # -- pushed-down reads (leaderboard, pivot) -------------------------------------------
    def rank_runs(
        self,
        key: str,
        by: str = "min",
        *,
        desc: bool = False,
        project: str | None = None,
        limit: int = 10,
    ) -> dict[str, Any] | None:
        """The runs (of ``project``) ranked by ``key``'s per-run summary value ``by``
        (``min``: ``min_value``, ``max``: ``max_value``, ``last``: ``last_value``), only as
        far as a leaderboard's first ``limit`` rows need. A JSON-ready dict:

        * ``total``: runs; ``scored``: runs with points of ``key`` whose value is a number
          (not NaN); ``unscored``: runs with points but no such value; ``plain``: runs
          without points of ``key`` whose explicit summary cannot hold it;
        * ``top``: the first ``limit`` scored runs' ids, by value (descending with
          ``desc``), then ``created_at``, then creation order (the order of
          :meth:`list_runs`); ``unscored_first`` and ``plain_first``: the first ``limit``
          of those, in run order;
        * ``candidates``: every other run (no points of ``key`` but an explicit summary
          that may hold it), in run order: their value is read from their record.

        None when the store cannot answer (the caller reads every run)."""
        ...

    def get_runs(self, run_ids: Iterable[str]) -> list[RunRecord]:
        """The records of ``run_ids`` (unknown ids left out), in :meth:`list_runs` order."""
        ...

    def pivot_cells(
        self,
        keys: Sequence[str],
        value: str,
        agg: str,
        *,
        split: int,
        project: str | None = None,
    ) -> dict[str, Any] | None:
        """The cells of ``expbook pivot`` over every run (of ``project``): ``keys`` are the
        row keys (the first ``split``) then the column keys, read from each run's config,
        ``value`` as :func:`~expbook.analysis.keys.getter` reads a metric, aggregated with
        ``agg``; what :func:`expbook.analysis.sweep.group_cells` returns. None where that
        would not be :func:`~expbook.analysis.sweep.pivot`'s exact answer (a key missing
        from a config, NaN keys, ...): the caller then reads every run."""
        ...

    # -- reports -------------------------------------------------------------------------
    def record_report(
        self,
        path: str,
        *,
        title: str,
        text: str,
        figures: Mapping[str, Any],
        project: str | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> str: ...

    def reports(self) -> list[dict[str, Any]]: ...

    def get_report(self, report_id: str) -> dict[str, Any] | None: ...

    def values_at(
        self,
        key: str,
        step: int,
        run_ids: Iterable[str] | None = None,
        project: str | None = None,
    ) -> dict[str, float]:
        """run id -> the value of ``key`` at exactly ``step`` (runs without one left out)."""
        ...

    # -- housekeeping -------------------------------------------------------------------
    def atomic(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...


def iter_batches(
    batches: Mapping[str, PointBatch],
) -> Iterator[tuple[str, PointBatch]]:
    """Batches in key order, skipping empty ones (deterministic write order)."""
    for key in sorted(batches):
        b = batches[key]
        if len(b.steps):
            yield key, b
