"""The read-only view of a run that every analysis function computes over.

The store's run objects implement :class:`RunView`; :class:`MemoryRun` implements it in
memory (tests, notebooks). Analyses that only need best/last values read ``run.metrics``
(:class:`~expbook.store.base.MetricSummary`, kept current by the store: no point scans);
analyses that need points (value at a step, first crossing, steady state, throughput) call
``run.series(key)`` through :func:`points`.

Conventions of ``MetricSummary`` (the store's): ``count`` counts every point, NaN included,
``nan_count`` the NaN ones; ``first_*``/``last_*`` are the points with the smallest/largest
step (one point per step: a later write of a step wins); ``min_*``/``max_*`` ignore NaN, the
first step wins ties, and they are ``None`` when every value is NaN.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from ..store.base import MetricSummary, Series
from ..store.sqlite_write import _summarize

__all__ = ["MemoryRun", "MetricSummary", "RunView", "Series", "points"]

Points = tuple[Sequence[int], Sequence[float], Sequence["float | None"]]


@runtime_checkable
class RunView(Protocol):
    """What analysis needs from a run. The store's run objects provide exactly this."""

    # read-only members: plain attributes (in-memory runs) and properties (stored runs,
    # which decode their record on first use) both provide them

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def project(self) -> str: ...

    @property
    def status(self) -> str:
        """running|finished|failed|crashed"""
        ...

    @property
    def created_at(self) -> float | None:
        """seconds since the epoch"""
        ...

    @property
    def finished_at(self) -> float | None: ...

    @property
    def tags(self) -> list[str]: ...

    @property
    def config(self) -> dict:
        """nested, as logged"""
        ...

    @property
    def summary(self) -> Mapping[str, Any]:
        """explicit summary values merged over each last logged value"""
        ...

    @property
    def metrics(self) -> Mapping[str, MetricSummary]:
        """one entry per logged key"""
        ...

    def series(self, key: str) -> Series | Points:
        """Points of ``key`` sorted by step, one point per step, loaded lazily: the store's
        :class:`~expbook.store.base.Series` (numpy arrays, read by field name) or a plain
        ``(steps, values, walls)`` tuple. Empty for an unknown key."""
        ...


def points(run: RunView, key: str) -> Points:
    """``(steps, values, walls)`` of ``key`` in ``run``, whatever shape ``series`` returns.

    Fields are read by name when the result has them (the store's ``Series`` is ordered
    ``steps, walls, values``); a plain 3-tuple is read as ``(steps, values, walls)``.
    """
    s = run.series(key)
    steps = getattr(s, "steps", None)
    if steps is not None:
        return steps, s.values, s.walls  # type: ignore[union-attr]
    steps, values, walls = s
    return steps, values, walls


_EMPTY = Series((), (), ())


class MemoryRun:
    """A run held in memory: a :class:`RunView` built from plain Python data.

    ``series`` maps a key to points ``(step, value)`` or ``(step, value, wall)`` in any order;
    a step given twice keeps its last value. ``summary`` holds explicit summary values, which
    take precedence over the last logged values in :attr:`summary`.
    """

    __slots__ = (
        "_series",
        "config",
        "created_at",
        "finished_at",
        "id",
        "metrics",
        "name",
        "project",
        "status",
        "summary",
        "tags",
    )

    def __init__(
        self,
        name: str,
        *,
        series: Mapping[str, Iterable[Sequence[Any]]] | None = None,
        config: Mapping[str, Any] | None = None,
        summary: Mapping[str, Any] | None = None,
        id: str | None = None,
        project: str = "default",
        status: str = "finished",
        tags: Iterable[str] = (),
        created_at: float | None = None,
        finished_at: float | None = None,
    ):
        self.name = name
        if not id:
            import hashlib  # not at import time: the store's runs have ids

            id = hashlib.sha1(f"{project}\0{name}".encode()).hexdigest()[:8]
        self.id = id
        self.project = project
        self.status = status
        self.tags = list(tags)
        self.config = dict(config or {})
        self.created_at = created_at
        self.finished_at = finished_at
        self._series: dict[str, Series] = {}
        self.metrics: dict[str, MetricSummary] = {}
        for key, pts in (series or {}).items():
            steps, walls, values = _normalize(pts)
            self._series[key] = Series(steps, walls, values)
            if steps:
                self.metrics[key] = _summarize(steps, walls, values)
        merged: dict[str, Any] = {k: m.last_value for k, m in self.metrics.items()}
        merged.update(summary or {})
        self.summary = merged

    def series(self, key: str) -> Series:
        """The store's :class:`Series` shape: ``steps``, ``walls`` (NaN where unknown),
        ``values``."""
        return self._series.get(key, _EMPTY)

    def __repr__(self) -> str:
        return f"MemoryRun({self.name!r}, id={self.id!r}, keys={sorted(self.metrics)})"


def _normalize(pts: Iterable[Sequence[Any]]) -> tuple[list[int], list[float], list[float]]:
    """(steps, walls, values) sorted by step; a later write of a step wins; NaN for no wall."""
    by_step: dict[int, tuple[float, float]] = {}
    for p in pts:
        v = p[1]
        wall = p[2] if len(p) > 2 and p[2] is not None else math.nan
        by_step[int(p[0])] = (math.nan if v is None else float(v), float(wall))
    steps = sorted(by_step)
    return steps, [by_step[s][1] for s in steps], [by_step[s][0] for s in steps]
