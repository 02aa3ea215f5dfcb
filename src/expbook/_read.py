"""The read API: :func:`open_store` and :class:`Store`, results as pandas DataFrames.

pandas is imported only inside the methods that return DataFrames; the ``*_records``
variants return plain Python objects and are what the CLI uses.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .store import MetricSummary, RunRecord, SQLiteStore, connect

if TYPE_CHECKING:
    import pandas as pd


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys: {"a": {"b": 1}} -> {"a.b": 1}."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def run_summary(rec: RunRecord, metrics: Mapping[str, MetricSummary]) -> dict[str, Any]:
    """Last logged value of each key, with explicitly set summary values on top."""
    out: dict[str, Any] = {k: s.last_value for k, s in sorted(metrics.items())}
    out.update(rec.summary)
    return out


def run_record_json(rec: RunRecord, metrics: Mapping[str, MetricSummary]) -> dict[str, Any]:
    """The documented JSON shape of one run (``expbook runs --format json``)."""
    return {
        "id": rec.id,
        "name": rec.name,
        "project": rec.project,
        "status": rec.state,
        "created_at": _iso(rec.created_at),
        "finished_at": _iso(rec.finished_at),
        "tags": rec.tags,
        "group": rec.group,
        "notes": rec.notes,
        "config": rec.config,
        "summary": run_summary(rec, metrics),
        "source": rec.source,
        "meta": rec.meta,
    }


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="milliseconds")


class Store:
    """Runs, configs, summaries and series of one store.

    >>> book = expbook.open_store()
    >>> book.runs()            # one row per run
    >>> book.history("abc123", ["loss"])
    """

    def __init__(self, backend: SQLiteStore) -> None:
        self.backend = backend

    @property
    def location(self) -> str:
        return self.backend.location

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<expbook.Store {self.location}>"

    # -- runs ----------------------------------------------------------------------------
    def run(self, ref: str, project: str | None = None) -> RunRecord:
        """A run by id, unique id prefix, or unique name."""
        return self.backend.get_run(ref, project)

    def run_records(self, project: str | None = None) -> list[dict[str, Any]]:
        """Every run as the JSON-ready dict of ``expbook runs --format json``."""
        recs = self.backend.list_runs(project)
        sums = self.backend.metric_summaries(project=project)
        return [run_record_json(r, sums.get(r.id, {})) for r in recs]

    def runs(self, project: str | None = None) -> pd.DataFrame:
        """One row per run: id, name, project, status, times, tags, params flattened to
        dotted columns (``config.lr``), and summary values (``summary.loss``)."""
        import pandas as pd

        recs = self.backend.list_runs(project)
        sums = self.backend.metric_summaries(project=project)
        rows = []
        for r in recs:
            row: dict[str, Any] = {
                "id": r.id,
                "name": r.name,
                "project": r.project,
                "status": r.state,
                "created_at": pd.Timestamp(r.created_at, unit="s", tz="UTC"),
                "finished_at": (
                    pd.Timestamp(r.finished_at, unit="s", tz="UTC") if r.finished_at else pd.NaT
                ),
                "tags": list(r.tags),
                "group": r.group,
            }
            row.update({f"config.{k}": v for k, v in flatten(r.config).items()})
            row.update({f"summary.{k}": v for k, v in run_summary(r, sums.get(r.id, {})).items()})
            rows.append(row)
        base = ["id", "name", "project", "status", "created_at", "finished_at", "tags", "group"]
        return pd.DataFrame(rows, columns=_columns(base, rows))

    # -- points --------------------------------------------------------------------------
    def keys(self, ref: str) -> list[str]:
        return self.backend.keys(self.run(ref).id)

    def history(self, ref: str, keys: Iterable[str] | None = None) -> pd.DataFrame:
        """Logged points of a run: one row per step, a column per key (NaN where a key has
        no point at that step), plus ``_time`` (wall time of the row's last point)."""
        import numpy as np
        import pandas as pd

        rec = self.run(ref)
        series = self.backend.read_series(rec.id, None if keys is None else list(keys))
        if keys is not None:
            missing = [k for k in keys if k not in series]
            if missing:
                from .errors import ExpbookError

                raise ExpbookError(f"run {rec.name!r} has no metric {missing[0]!r}")
        frames = []
        for key, s in series.items():
            frames.append(pd.DataFrame({"step": s.steps, key: s.values, f"_time:{key}": s.walls}))
        if not frames:
            return pd.DataFrame({"step": np.zeros(0, np.int64)})
        df = frames[0]
        for f in frames[1:]:
            df = df.merge(f, on="step", how="outer")
        df = df.sort_values("step", kind="stable").reset_index(drop=True)
        tcols = [c for c in df.columns if str(c).startswith("_time:")]
        df["_time"] = pd.to_datetime(df[tcols].max(axis=1), unit="s", utc=True)
        df = df.drop(columns=tcols)
        return df

    def series_records(self, ref: str, keys: Iterable[str] | None = None) -> dict[str, Any]:
        """{key: [[step, value], ...]} in step order (what ``expbook history --format json``
        prints); numpy is not imported."""
        rec = self.run(ref)
        series = self.backend.read_series_lists(rec.id, None if keys is None else list(keys))
        return {k: [[st, v] for st, v in zip(s.steps, s.values)] for k, s in series.items()}

    def series_points(self, ref: str, key: str) -> list[tuple[int, float]]:
        """[(step, value), ...] of one key of a run, in step order, as Python numbers; numpy
        is not imported. A key the run never logged is an error."""
        rec = self.run(ref)
        s = self.backend.read_series_lists(rec.id, [key]).get(key)
        if s is None:
            from .errors import ExpbookError

            raise ExpbookError(f"run {rec.name!r} has no metric {key!r}")
        return list(zip(s.steps, s.values))

    def metric_summary(self, ref: str, key: str) -> dict[str, Any]:
        """count, NaN count, first/last (step, value), min/max with their steps of one key."""
        rec = self.run(ref)
        s = self.backend.metric_summaries([rec.id], [key]).get(rec.id, {}).get(key)
        if s is None:
            from .errors import ExpbookError

            raise ExpbookError(f"run {rec.name!r} has no metric {key!r}")
        return s._asdict()


def _columns(base: list[str], rows: list[dict[str, Any]]) -> list[str]:
    seen = dict.fromkeys(base)
    extra_c: dict[str, None] = {}
    extra_s: dict[str, None] = {}
    for row in rows:
        for k in row:
            if k.startswith("config."):
                extra_c[k] = None
            elif k.startswith("summary."):
                extra_s[k] = None
    return [*seen, *sorted(extra_c), *sorted(extra_s)]


def open_store(path: str | os.PathLike[str] | None = None) -> Store:
    """Open the store at ``path`` (or ``$EXPBOOK_STORE``, or the nearest ``.expbook/``)."""
    return Store(connect(path))
