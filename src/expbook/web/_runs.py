"""The runs table behind ``/`` and ``/api/runs``: filter, search, sort, group and page.

Two paths, same answers (a test pins that):

* a page with no filter, search or grouping, sorted by a run field, is read straight from
  SQL (:func:`page_from_store`): a count and one page, whatever the size of the store;
* anything else runs over a :class:`RunsSnapshot` of every run and its metric summaries
  (:func:`query_runs`), built in the background at start and rebuilt behind the requests
  when the store changed (:class:`SnapshotCache`), so filtering 10,000 runs costs a pass
  in memory, not a re-read of the database per click.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._read import flatten, run_record_json
from .._views import StoredRun, load_runs
from ..analysis import select_runs
from ..analysis.keys import getter
from ..expr import ExprError

__all__ = [
    "BASE_COLUMNS",
    "BadQuery",
    "RunsQuery",
    "RunsSnapshot",
    "SnapshotCache",
    "group_columns",
    "group_rows",
    "is_simple",
    "matching_runs",
    "names_unknown_column",
    "page_from_store",
    "query_runs",
]

BASE_COLUMNS = ("name", "id", "project", "status", "created_at", "tags", "group")

# How old a snapshot may get before a request checks whether the store changed.
_SNAPSHOT_TTL_S = 5.0


class BadQuery(ValueError):
    """A query parameter that cannot be used (becomes a 400 with this message)."""


@dataclass
class RunsSnapshot:
    """Every run of the store with the keys the table can show."""

    runs: list[StoredRun]
    params: list[str]  # config.<dotted>, sorted
    metrics: list[str]  # summary.<key>, sorted
    projects: list[str]
    varying: list[str] = field(default_factory=list)  # params whose value differs
    # each project's own keys (config.<dotted> and summary.<key>, sorted)
    project_params: dict[str, list[str]] = field(default_factory=dict)
    project_metrics: dict[str, list[str]] = field(default_factory=dict)

    def keys_of(self, project: str | None) -> tuple[list[str], list[str]]:
        """The params and metrics of ``project`` (every project's when None)."""
        if not project:
            return self.params, self.metrics
        return self.project_params.get(project, []), self.project_metrics.get(project, [])


class SnapshotCache:
    """The latest :class:`RunsSnapshot` of a store, read on its own connection.

    The first :meth:`get` waits for a snapshot; later ones return the current one at once
    and, when it is older than a few seconds and the store changed since, rebuild it in a
    background thread (stale while revalidating), so a store with live writers never makes
    a request wait for a full re-read.
    """

    def __init__(self, location: str, ttl_s: float = _SNAPSHOT_TTL_S) -> None:
        from ..store import connect

        self._backend = connect(location, create=False, readonly=True)
        self._ttl = ttl_s
        self._lock = threading.Lock()  # guards the fields below
        self._build_lock = threading.Lock()  # one build at a time
        self._snap: RunsSnapshot | None = None
        self._version: Any = None
        self._at = 0.0
        self._refreshing = False
        self._closed = threading.Event()

    def _build(self, if_changed: bool = False, background: bool = False) -> RunsSnapshot:
        with self._build_lock:
            if self._closed.is_set():  # a late background build: its connection is gone
                raise RuntimeError("the runs snapshot's store is closed")
            try:
                version = self._data_version()
                with self._lock:
                    if if_changed and self._snap is not None and version == self._version:
                        return self._snap  # e.g. built by another request meanwhile
                snap = _snapshot(self._backend, pause=background)
            except BaseException:
                with self._lock:
                    self._refreshing = False  # the next request tries again
                raise
            with self._lock:
                self._snap, self._version, self._at = snap, version, time.monotonic()
                self._refreshing = False
            return snap

    def _build_quietly(self) -> None:
        # in a background thread: a store that cannot be read is reported by the request
        # that waits for the snapshot, not as a traceback on the server's terminal
        with contextlib.suppress(Exception):
            self._build(background=True)

    def fresh(self) -> RunsSnapshot:
        """The snapshot, rebuilt now (the caller waits) if the store changed since it was
        taken: for a request naming a key the current snapshot does not know."""
        return self._build(if_changed=True)

    def _data_version(self) -> Any:
        # changes whenever another connection commits to the database
        return self._backend.data_version()

    def start(self, after: threading.Event | None = None, wait_s: float = 20.0) -> None:
        """Build the first snapshot in the background (the app calls this at creation),
        once ``after`` is set (the first page served: reading every run holds the
        interpreter for seconds, which that page should not wait for) or ``wait_s`` passed.
        A request that needs the snapshot earlier builds it."""

        def build() -> None:
            deadline = time.monotonic() + wait_s
            while after is not None and not after.wait(0.05):
                if self._closed.is_set() or time.monotonic() > deadline:
                    break
            with self._lock:
                if self._snap is not None:
                    return
            self._build_quietly()

        threading.Thread(target=build, daemon=True, name="expbook-ui-runs").start()

    def peek(self) -> RunsSnapshot | None:
        """The current snapshot, or None while the first one is being built."""
        with self._lock:
            return self._snap

    def get(self) -> RunsSnapshot:
        with self._lock:
            snap, at, refreshing = self._snap, self._at, self._refreshing
        if snap is None:
            # a build in flight: wait for it rather than start another
            with self._build_lock, self._lock:
                snap = self._snap
            return snap if snap is not None else self._build()
        age = time.monotonic() - at
        if not refreshing and age > self._ttl:
            # rebuilt when the store changed, and once a minute anyway: a run whose process
            # died changes nothing in the store but should turn from running to crashed
            if age > 60 or self._data_version() != self._version:
                with self._lock:
                    self._refreshing = True
                threading.Thread(target=self._build_quietly, daemon=True).start()
            else:
                with self._lock:
                    self._at = time.monotonic()
        return snap

    def close(self) -> None:
        self._closed.set()
        with self._build_lock:
            self._backend.close()


# Requests the dashboard is serving now (its ASGI middleware counts them): the snapshot,
# built in a background thread, pauses for them, so a page served while 100,000 runs are
# read does not wait for the interpreter lock.
IN_FLIGHT = [0]


def yield_to_requests(most_s: float = 2.0) -> None:
    """Wait while a request is being served (at most ``most_s``)."""
    if IN_FLIGHT[0]:
        deadline = time.monotonic() + most_s
        while IN_FLIGHT[0] and time.monotonic() < deadline:
            time.sleep(0.002)


def _no_wait() -> None:
    pass


class CountRequests:
    """ASGI middleware: counts the HTTP requests in flight in :data:`IN_FLIGHT`, and sets
    ``served`` once the first one is answered."""

    def __init__(self, app: Any, served: threading.Event | None = None) -> None:
        self.app = app
        self.served = served

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        IN_FLIGHT[0] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            IN_FLIGHT[0] -= 1
            if self.served is not None:
                self.served.set()


def _snapshot(backend: Any, pause: bool = False) -> RunsSnapshot:
    """Every run with the keys the column picker lists; with ``pause`` (a build in the
    background) it waits whenever a request is being served."""
    wait = yield_to_requests if pause else _no_wait
    wait()
    runs = load_runs(backend)
    params: dict[str, set[str]] = {}
    metrics: set[str] = set()
    projects: set[str] = set()
    p_params: dict[str, set[str]] = {}
    p_metrics: dict[str, set[str]] = {}
    # runs with the same config text (and project) add the same params: each read once;
    # likewise runs that log the same keys and set no summary values
    seen_configs: set[tuple[str, str]] = set()
    seen_keys: set[tuple[str, tuple[str, ...]]] = set()
    for i, r in enumerate(runs):
        if not i % 500:
            wait()
        projects.add(r.project)
        raw = r.record.__dict__.get("_raw_config")
        if raw is None or (r.project, raw) not in seen_configs:
            if raw is not None:
                seen_configs.add((r.project, raw))
            pp = p_params.setdefault(r.project, set())
            for k, v in flatten(r.config).items():
                params.setdefault("config." + k, set()).add(repr(v))
                pp.add("config." + k)
        if r.record.__dict__.get("_raw_summary") == "{}":
            logged = (r.project, tuple(r.metrics))
            if logged in seen_keys:
                continue
            seen_keys.add(logged)
        keys = ["summary." + k for k in r.summary]
        metrics.update(keys)
        p_metrics.setdefault(r.project, set()).update(keys)
    varying = sorted(k for k, vals in params.items() if len(vals) > 1)
    return RunsSnapshot(
        runs,
        sorted(params),
        sorted(metrics),
        sorted(projects),
        varying,
        {p: sorted(ks) for p, ks in p_params.items()},
        {p: sorted(ks) for p, ks in p_metrics.items()},
    )


@dataclass
class RunsQuery:
    """What the runs table is asked for."""

    project: str | None = None
    filter: str | None = None
    q: str | None = None
    sort: str = "created_at"
    order: str = "desc"
    offset: int = 0
    limit: int = 50
    columns: list[str] | None = None
    group: str | None = None


def _sort_key(v: Any) -> tuple[int, Any]:
    # numbers before strings before everything else; None (and NaN) always last
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return (3, 0)
    if isinstance(v, bool):
        return (0, float(v))
    if isinstance(v, (int, float)):
        return (0, v)
    if isinstance(v, str):
        return (1, v.lower())
    return (2, repr(v))


def _check_column(col: str, what: str) -> None:
    if col in BASE_COLUMNS or (col.startswith(("config.", "summary.")) and col[-1] != "."):
        return
    raise BadQuery(f"{what}: unknown column {col!r} (use a run field, config.KEY or summary.KEY)")


def names_unknown_column(snap: RunsSnapshot, query: RunsQuery) -> bool:
    """Whether ``query`` sorts, groups or shows a config or summary column no run of
    ``snap`` has (a key that may have appeared after the snapshot was taken)."""
    known = set(snap.params).union(snap.metrics)
    cols = [query.sort, *group_columns(query), *(query.columns or ())]
    return any(c.startswith(("config.", "summary.")) and c not in known for c in cols)


def _matches(run: StoredRun, needle: str) -> bool:
    hay = [run.name, run.id, run.record.group or "", run.record.notes or "", *run.tags]
    return any(needle in str(h).lower() for h in hay)


def _cell_getter(col: str) -> Callable[[StoredRun], Any]:
    if col == "created_at":
        return lambda run: run.created_at
    if col == "group":
        return lambda run: run.record.group
    return getter(col, "param" if col.startswith("config.") else "metric")


def _cell(run: StoredRun, col: str) -> Any:
    return _cell_getter(col)(run)


# Logged alongside the results but not results themselves: counters, clocks and schedules.
_BOOKKEEPING = frozenset(
    {
        "step",
        "_step",
        "global_step",
        "epoch",
        "iteration",
        "iter",
        "lr",
        "learning_rate",
        "time",
        "_time",
        "_timestamp",
        "timestamp",
        "elapsed",
        "elapsed_s",
        "runtime",
        "_runtime",
        "train_runtime",
        "wall_time",
        "samples_per_second",
        "steps_per_second",
        "train_samples_per_second",
        "train_steps_per_second",
    }
)
_HELD_OUT = re.compile(r"(^|[/_.\-])(val|valid|validation|eval|test|dev|best)([/_.\-]|$)")
DEFAULT_PARAMS = 5
DEFAULT_METRICS = 5


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def default_columns(runs: list[StoredRun], project_column: bool = False) -> list[str]:
    """The columns a leaderboard of ``runs`` (the page shown) would use.

    Params: those whose value differs among ``runs`` (every param when none does), the
    ones most runs have first; a string that differs on every run (a run name, an output
    folder) comes last. Metrics: the numeric summary keys at least half of ``runs`` have,
    held-out ones (``val``, ``eval``, ``test``, ...) first, then the more common; counters,
    clocks, schedules (``epoch``, ``lr``, ``_runtime``, ...) and ``system/`` keys only when
    nothing else is there. ``project`` leads when ``project_column`` and ``runs`` span more
    than one project.
    """
    values: dict[str, list[Any]] = {}
    counts: dict[str, int] = {}
    for r in runs:
        for k, v in flatten(r.config).items():
            values.setdefault(k, []).append(v)
        for k, v in r.summary.items():
            if _is_number(v):
                counts[k] = counts.get(k, 0) + 1

    def distinct(vs: list[Any]) -> int:
        return len({repr(v) for v in vs})

    def param_rank(k: str) -> tuple[bool, int, str]:
        vs = values[k]
        per_run = len(vs) > 2 and all(isinstance(v, str) for v in vs) and distinct(vs) == len(vs)
        return (per_run, -len(vs), k)

    varying = [k for k in values if distinct(values[k]) > 1]
    params = sorted(varying, key=param_rank) if varying else sorted(values)

    def bookkeeping(k: str) -> bool:
        return k.startswith("system/") or k.rsplit("/", 1)[-1].lower() in _BOOKKEEPING

    common = [k for k in counts if 2 * counts[k] >= len(runs)]
    results = [k for k in common if not bookkeeping(k)] or common
    metrics = sorted(results, key=lambda k: (not _HELD_OUT.search(k.lower()), -counts[k], k))
    out = ["config." + k for k in params[:DEFAULT_PARAMS]]
    out += ["summary." + k for k in metrics[:DEFAULT_METRICS]]
    if project_column and len({r.project for r in runs}) > 1:
        out.insert(0, "project")
    return out


def group_columns(query: RunsQuery) -> list[str]:
    """The columns ``query`` groups by: ``group`` names one, or several separated by commas
    (``config.lr,config.width``)."""
    if not query.group:
        return []
    return list(dict.fromkeys(c.strip() for c in query.group.split(",") if c.strip()))


def group_getter(cols: list[str]) -> Callable[[StoredRun], Any]:
    """A run's group value: the value of the one column, or a list of the values of each."""
    gets = [_cell_getter(c) for c in cols]
    if len(gets) == 1:
        return gets[0]
    return lambda run: [g(run) for g in gets]


def group_label(cols: list[str], value: Any) -> str:
    """``config.lr = 0.1`` or ``lr=0.1, width=64`` for several columns."""
    if len(cols) == 1:
        return f"{cols[0]} = {_plain(value)}"
    return ", ".join(f"{c.split('.', 1)[-1]}={_plain(v)}" for c, v in zip(cols, value))


def _plain(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _group_sort_key(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_sort_key(x) for x in v)
    return _sort_key(v)


def group_rows(runs: list[StoredRun], cols: list[str], columns: list[str]) -> list[dict[str, Any]]:
    """One entry per group of ``runs`` (in the order the groups first appear): its value,
    label, run count ``n`` and, for each of ``columns`` holding numbers, the ``mean`` over
    the group's runs that have one (``counts``: how many). Runs that differ only in params
    left out of ``cols`` (seeds among them) fall into one group and are averaged."""
    get = group_getter(cols)
    cells = {c: _cell_getter(c) for c in columns}
    out: dict[str, dict[str, Any]] = {}
    for r in runs:
        value = get(r)
        g = out.get(repr(value))
        if g is None:
            g = out[repr(value)] = {
                "value": value,
                "label": group_label(cols, value),
                "n": 0,
                "runs": [],
                "_sums": {},
            }
        g["n"] += 1
        g["runs"].append(r.id)
        for c, cell in cells.items():
            v = cell(r)
            if _is_number(v) and math.isfinite(v):
                acc = g["_sums"].setdefault(c, [0.0, 0])
                acc[0] += v
                acc[1] += 1
    groups = list(out.values())
    for g in groups:
        sums = g.pop("_sums")
        g["mean"] = {c: t / k for c, (t, k) in sums.items()}
        g["counts"] = {c: k for c, (_, k) in sums.items()}
    return groups


def _validate(query: RunsQuery) -> None:
    if query.order not in ("asc", "desc"):
        raise BadQuery("order must be 'asc' or 'desc'")
    if query.offset < 0 or not 1 <= query.limit <= 1000:
        raise BadQuery("offset must be >= 0 and limit between 1 and 1000")
    for col in query.columns or ():
        _check_column(col, "columns")
    _check_column(query.sort, "sort")
    for col in group_columns(query):
        _check_column(col, "group")


def _page(
    query: RunsQuery, total: int, page: list[StoredRun], matched: list[StoredRun] | None = None
) -> dict[str, Any]:
    if query.columns is None:
        columns = default_columns(page, project_column=not query.project)
    else:
        columns = list(query.columns)
    gcols = group_columns(query)
    gget = group_getter(gcols) if gcols else None
    rows = []
    for r in page:
        row = run_record_json(r.record, r.metrics)
        row["values"] = {c: _cell(r, c) for c in columns}
        if gget is not None:
            row["group_value"] = gget(r)
            row["group_label"] = group_label(gcols, row["group_value"])
        rows.append(row)
    return {
        "total": total,
        "offset": query.offset,
        "limit": query.limit,
        "sort": query.sort,
        "order": query.order,
        "columns": columns,
        "runs": rows,
        **(
            {"groups": group_rows(matched if matched is not None else page, gcols, columns)}
            if gcols
            else {}
        ),
    }


# Sorts SQL can do, with the same tie-breaks as the in-memory sort (creation order).
_SQL_SORTS = {
    "created_at": "created_at {d}, rid {d}",
    "name": "lower(name) {d}, created_at {d}, rid {d}",
    "id": "id {d}",
}


def is_simple(query: RunsQuery) -> bool:
    """A page SQL can answer on its own: no filter, search or grouping, a plain sort."""
    return (
        not (query.filter and query.filter.strip())
        and not (query.q and query.q.strip())
        and not group_columns(query)
        and query.sort in _SQL_SORTS
    )


def page_from_store(backend: Any, query: RunsQuery) -> dict[str, Any]:
    """:func:`query_runs` for a simple query (:func:`is_simple`), reading only one page.

    Costs a count, one page of runs and their summaries, whatever the size of the store,
    and is never stale. The ORDER BY comes from a fixed list; values are bound parameters.
    """
    _validate(query)
    order = _SQL_SORTS[query.sort].format(d="DESC" if query.order == "desc" else "ASC")
    total, recs = backend.page_runs(query.project or None, order, query.limit, query.offset)
    sums = backend.metric_summaries(run_ids=[r.id for r in recs]) if recs else {}
    return _page(query, total, [StoredRun(r, sums.get(r.id, {}), backend) for r in recs])


def query_runs(snap: RunsSnapshot, query: RunsQuery) -> dict[str, Any]:
    """One page of runs: ``{"total", "offset", "limit", "sort", "order", "columns", "runs"}``.

    Each run is the documented run object (``expbook runs --format json``) plus ``values``,
    the chosen columns' values, and ``group_value`` when grouping.
    """
    _validate(query)
    ordered = matching_runs(snap, query)
    page = ordered[query.offset : query.offset + query.limit]
    if group_columns(query):
        # the table's group rows aggregate every run of the group, on any page
        shown = {repr(v) for v in map(group_getter(group_columns(query)), page)}
        get = group_getter(group_columns(query))
        matched = [r for r in ordered if repr(get(r)) in shown]
        return _page(query, len(ordered), page, matched)
    return _page(query, len(ordered), page)


def matching_runs(snap: RunsSnapshot, query: RunsQuery) -> list[StoredRun]:
    """Every run of ``snap`` that ``query`` selects (project, search, filter), in the
    table's order (sorted, then grouped)."""
    _validate(query)
    runs: list[StoredRun] = list(snap.runs)
    if query.project:
        runs = [r for r in runs if r.project == query.project]
    if query.q and query.q.strip():
        needle = query.q.strip().lower()
        runs = [r for r in runs if _matches(r, needle)]
    if query.filter and query.filter.strip():
        try:
            kept = {r.id for r in select_runs(runs, filter=query.filter)}
            runs = [r for r in runs if r.id in kept]
        except ExprError as e:
            raise BadQuery(str(e)) from None

    if query.sort == "created_at":
        keyed = [((0, r.created_at), i, r) for i, r in enumerate(runs)]
    else:
        get = _cell_getter(query.sort)
        keyed = [(_sort_key(get(r)), i, r) for i, r in enumerate(runs)]
    none_last = [k for k in keyed if k[0][0] == 3]
    present = [k for k in keyed if k[0][0] != 3]
    present.sort(key=lambda t: (t[0], t[1]), reverse=query.order == "desc")
    ordered = [r for _, _, r in present] + [r for _, _, r in none_last]
    gcols = group_columns(query)
    if gcols:
        gget = group_getter(gcols)
        gkeys = {r.id: _group_sort_key(gget(r)) for r in ordered}
        ordered.sort(key=lambda r: gkeys[r.id])  # stable: the sort order holds within groups
    return ordered
