"""The read API: :func:`open_store` and :class:`Store`.

``Store`` answers the same questions as the analysis commands (``leaderboard``, ``pivot``,
``winners``, ``compare``, ``runs``), each as a result object with ``to_df()`` (pandas,
imported only then) and ``to_dict()`` (exactly what the command prints with ``--format
json``); the command line is a thin layer over these methods. Everything goes through
``Store.backend``, the storage interface of :mod:`expbook.store`, so another backend (a team
server) can stand behind the same methods.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .store import MetricSummary, RunRecord, SQLiteStore, connect

if TYPE_CHECKING:
    import pandas as pd

    from .analysis.table import Table, TableSet

Keys = str | Iterable[str]
"""One key, several comma-separated keys (``"framework,pool"``) or a list of keys."""


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


def _keys(keys: Keys | None) -> list[str]:
    if keys is None:
        return []
    items = [keys] if isinstance(keys, str) else list(keys)
    return [k.strip() for item in items for k in str(item).split(",") if k.strip()]


def _public_record(rec: RunRecord) -> RunRecord:
    """A plain :class:`RunRecord` with every field decoded (the store's own records decode
    their JSON columns lazily)."""
    if type(rec) is RunRecord:
        return rec
    return RunRecord(**{f.name: getattr(rec, f.name) for f in dataclasses.fields(RunRecord)})


class RunList:
    """The runs :meth:`Store.runs` selected.

    * ``to_dict()``: a list with one object per run, as ``expbook runs --format json`` prints;
    * ``to_df()``: a DataFrame with one row per run: ``id, name, project, status, created_at,
      finished_at, tags, group``, ``config.<dotted key>`` and ``summary.<key>`` columns;
    * iterating gives each run's :class:`RunRecord`; ``len()`` counts the runs.

    Column access and DataFrame attributes (``runs["config.lr"]``, ``runs.sort_values(...)``)
    are passed to ``to_df()``, so code that treated the result as a DataFrame keeps working.
    """

    def __init__(self, records: Sequence[RunRecord], metrics: Mapping[str, Any]) -> None:
        self._records = [_public_record(r) for r in records]
        self._metrics = metrics
        self._df: pd.DataFrame | None = None

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self._records]

    @property
    def names(self) -> list[str]:
        return [r.name for r in self._records]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[RunRecord]:
        return iter(self._records)

    def __repr__(self) -> str:
        return f"<expbook.RunList of {len(self)} runs>"

    def to_dict(self) -> list[dict[str, Any]]:
        """Every run as the object of ``expbook runs --format json``."""
        return [run_record_json(r, self._metrics.get(r.id, {})) for r in self._records]

    def to_df(self) -> pd.DataFrame:
        """One row per run (imports pandas)."""
        if self._df is None:
            self._df = _runs_frame(self._records, self._metrics)
        return self._df

    def __getitem__(self, key: Any) -> Any:
        return self.to_df()[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.to_df(), name)

    def _repr_html_(self) -> str | None:
        df: Any = self.to_df()
        return df._repr_html_()


def _runs_frame(recs: Sequence[RunRecord], sums: Mapping[str, Any]) -> pd.DataFrame:
    import pandas as pd

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


class Store:
    """Runs, configs, summaries and series of one store, and the analyses over them.

    >>> book = expbook.open_store()
    >>> book.runs(project="demo").to_df()          # one row per run
    >>> book.leaderboard("val_loss", params="hidden,lr").to_df()
    >>> book.history("mlp-h4-lr0.3", ["val_loss"])

    Every analysis method selects runs the way the command line does: ``runs`` (names, ids or
    globs such as ``"mlp-h4-*"``), ``project`` and ``filter`` (an expression, e.g.
    ``'config.lr < 1 and val_acc > 0.9'``); ``derive`` adds ``NAME=EXPR`` columns. A key that
    no selected run has raises :class:`~expbook.errors.UnknownKey` with a suggestion.
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
        """A run (its :class:`RunRecord`) by id, unique id prefix, or unique name."""
        return _public_record(self.backend.get_run(ref, project))

    def run_records(self, project: str | None = None) -> list[dict[str, Any]]:
        """Every run as the JSON-ready dict of ``expbook runs --format json``."""
        recs = self.backend.list_runs(project)
        sums = self.backend.metric_summaries(project=project)
        return [run_record_json(r, sums.get(r.id, {})) for r in recs]

    def runs(
        self,
        project: str | None = None,
        *,
        filter: str | None = None,
        runs: Keys | None = None,
    ) -> RunList:
        """The runs of ``project`` (every run by default), named by ``runs`` (names, ids or
        globs), for which ``filter`` holds, oldest first.

        Returns a :class:`RunList`: ``.to_df()`` is one row per run (``id, name, project,
        status, created_at, finished_at, tags, group``, then ``config.<dotted>`` and
        ``summary.<key>`` columns), ``.to_dict()`` what ``expbook runs --format json`` prints.
        """
        if filter is None and runs is None:
            recs = self.backend.list_runs(project)
            sums = self.backend.metric_summaries(project=project)
            return RunList(recs, sums)
        chosen = self._select(project, filter, runs)
        ids = [r.id for r in chosen]
        sums = self.backend.metric_summaries(ids) if ids else {}
        return RunList([r.record for r in chosen], sums)

    # -- analyses ------------------------------------------------------------------------
    def _select(self, project: str | None, filter: str | None, names: Keys | None) -> list[Any]:
        from ._views import load_runs
        from .analysis import select_runs
        from .errors import ExpbookError

        wanted = _keys(names)
        chosen = select_runs(
            load_runs(self.backend, project), filter=filter, names=wanted or None, strict=True
        )
        if wanted and not chosen:
            raise ExpbookError(f"no run matches {' '.join(wanted)}")
        return chosen

    def leaderboard(
        self,
        metric: str,
        *,
        runs: Keys | None = None,
        project: str | None = None,
        filter: str | None = None,
        mode: str = "min",
        at_step: int | None = None,
        sort: str = "best",
        top: int | None = None,
        params: Keys = (),
        columns: Keys = (),
        derive: Keys = (),
    ) -> Table:
        """Rank runs by ``metric`` (``expbook leaderboard``): per run the best value and its
        step, the last value and its step, the value at ``at_step``, the number of points,
        the status, ``params`` and ``columns``; runs without the metric come last.

        ``mode`` is ``"min"`` or ``"max"``; ``sort`` is ``"best"``, ``"last"`` or ``"at"``
        (by the value at ``at_step``); ``top`` keeps the first K rows. A derived metric that
        is point-wise in logged keys (``derive="ppl=exp(val_loss)"``) is a series: its best
        value, best step and value at a step are those of the derived points.
        """
        if filter is None and not _keys(runs) and at_step is None and not _derives(derive):
            # every run, ranked by the store: only the rows shown are read (or None)
            from .analysis.pushdown import leaderboard_pushdown

            table = leaderboard_pushdown(
                self.backend,
                metric,
                project=project,
                mode=mode,
                sort=sort,
                top=top,
                params=_keys(params),
                columns=_keys(columns),
            )
            if table is not None:
                return table
        from ._views import prefetch_values_at
        from .analysis import leaderboard

        chosen = self._select(project, filter, runs)
        if at_step is not None:
            prefetch_values_at(chosen, metric, at_step)
        return leaderboard(
            chosen,
            metric,
            mode=mode,
            at_step=at_step,
            top=top,
            params=_keys(params),
            columns=_keys(columns),
            sort=sort,
            derive=_derives(derive),
        )

    def pivot(
        self,
        rows: Keys,
        cols: Keys = (),
        value: str = "",
        *,
        agg: str = "min",
        runs: Keys | None = None,
        project: str | None = None,
        filter: str | None = None,
        derive: Keys = (),
    ) -> Table:
        """A sweep table (``expbook pivot``): one row per combination of the ``rows`` params,
        one column per combination of the ``cols`` params, ``value`` aggregated with ``agg``
        (``min max mean median std count first last``) in the cells."""
        if filter is None and not _keys(runs) and not _derives(derive):
            # every run, grouped and aggregated by the store (or None)
            from .analysis.pushdown import pivot_pushdown

            table = pivot_pushdown(
                self.backend, _keys(rows), _keys(cols), value, agg, project=project
            )
            if table is not None:
                return table
        from .analysis import pivot

        chosen = self._select(project, filter, runs)
        return pivot(
            chosen, _keys(rows), _keys(cols), value=value, agg=agg, derive=_derives(derive)
        )

    def winners(
        self,
        metric: str,
        *,
        mode: str = "min",
        by: Keys | None = None,
        groups: bool = False,
        params: Keys | None = None,
        metrics: Keys = (),
        runs: Keys | None = None,
        project: str | None = None,
        filter: str | None = None,
        derive: Keys = (),
    ) -> Table:
        """The best config overall and per ``by`` group (``expbook winners``). Runs whose
        configs differ only in their seed are one config, ranked by the mean of ``metric``
        (with the std and the count). With ``groups=True``, every config that way
        (``expbook winners --groups``). ``params`` defaults to the config keys that vary."""
        from .analysis import seed_groups, winners

        chosen = self._select(project, filter, runs)
        plist = None if params is None else _keys(params)
        if groups:
            return seed_groups(
                chosen,
                metric,
                mode=mode,
                params=plist,
                metrics=_keys(metrics),
                derive=_derives(derive),
            )
        return winners(
            chosen,
            metric,
            mode=mode,
            by=_keys(by) or None,
            params=plist,
            metrics=_keys(metrics),
            derive=_derives(derive),
        )

    def compare(
        self,
        *runs: str,
        cost_per_hour: float | None = None,
        keys: Keys | None = None,
        time_key: str | None = None,
    ) -> TableSet:
        """Compare runs (ids, id prefixes, names or globs) against the first named
        (``expbook compare``): config differences, final and best value of each metric with
        delta, relative delta and ratio, wall-clock time and cost. A glob stands for its
        matches sorted by name; a run named twice counts once. ``keys`` keeps only metrics
        matching these globs. ``.to_df()`` is one DataFrame per part (``config``,
        ``metrics``, ``resources``)."""
        import fnmatch

        from ._views import StoredRun, load_runs
        from .analysis import compare
        from .analysis.select import _is_glob
        from .errors import ExpbookError, UsageError

        picked: list[Any] = []  # records and (from globs) StoredRuns, in the order named
        every: list[Any] | None = None
        for ref in runs:
            if _is_glob(ref):
                try:  # a run literally named like a glob (``x[/y]``) is that run
                    picked.append(self.backend.get_run(ref))
                    continue
                except ExpbookError:
                    pass
                if every is None:
                    every = load_runs(self.backend)
                got = sorted(
                    (v for v in every if fnmatch.fnmatchcase(v.name, ref)), key=lambda v: v.name
                )
                if not got:
                    raise ExpbookError(f"no run matches {ref!r}")
                picked.extend(got)
            else:
                picked.append(self.backend.get_run(ref))
        records = [p for p in picked if not isinstance(p, StoredRun)]
        sums = self.backend.metric_summaries([r.id for r in records]) if records else {}
        views: list[Any] = []
        seen: set[str] = set()
        for p in picked:
            if p.id not in seen:
                seen.add(p.id)
                if not isinstance(p, StoredRun):
                    p = StoredRun(p, sums.get(p.id, {}), self.backend)
                views.append(p)
        if len(views) < 2:
            raise UsageError("compare needs at least two runs")
        return compare(
            views, cost_per_hour=cost_per_hour, keys=_keys(keys) or None, time_key=time_key
        )

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


def _derives(derive: Keys) -> list[str]:
    # NAME=EXPR items are never split on commas (expressions have commas)
    return [derive] if isinstance(derive, str) else list(derive)


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
