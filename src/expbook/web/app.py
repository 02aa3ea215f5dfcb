"""The dashboard's ASGI app: server-rendered pages and the JSON API behind them.

:func:`create_app` builds a fresh app on one store, opened read-only: nothing here writes.
Every value a request carries reaches SQL only as a bound parameter (through the store's
methods); the only files served are the package's own static files and plotly.js.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from .._read import flatten, run_record_json
from .._views import StoredRun
from ..errors import AmbiguousRun, ExpbookError, RunNotFound
from ..store import Series, connect, is_url, resolve_location
from ..store.sketch import SKETCH_WIDTH
from ._media import media_file, run_artifacts, run_media
from ._openapi import openapi_document
from ._runs import (
    BASE_COLUMNS,
    BadQuery,
    CountRequests,
    RunsQuery,
    SnapshotCache,
    group_columns,
    group_rows,
    is_simple,
    matching_runs,
    names_unknown_column,
    page_from_store,
    query_runs,
)
from ._sweep import sweep_routes
from ._workspace import (
    MAX_CURVE_RUNS,
    MAX_GROUP_RUNS,
    MAX_GROUPS,
    X_STEP,
    AnswerCache,
    OverviewCache,
    dumps,
    group_curves,
    run_curves,
    state,
    wanted_keys,
)
from .downsample import downsample_indices

__all__ = ["DEFAULT_MAX_POINTS", "create_app"]

HERE = Path(__file__).resolve().parent
DEFAULT_MAX_POINTS = 2000
MAX_MAX_POINTS = 100_000
# A view is drawn from the stored sketches of its chunks when each drawn bucket (max_points / 3
# of them) spans OVERVIEW_SPAN points or more, i.e. several sketch groups; narrower views (and
# every view of a shorter series) read the points themselves.
OVERVIEW_SPAN = 8 * SKETCH_WIDTH
_INT64 = 2**63 - 1


def _plotly_version() -> str:
    import plotly

    return str(getattr(plotly, "__version__", "0"))


def plotly_src() -> str:
    """The versioned URL of plotly.js the pages link (served with a year-long cache)."""
    from urllib.parse import quote

    return "/static/plotly.min.js?v=" + quote(_plotly_version())


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


# -- JSON ------------------------------------------------------------------------------------
def _clean(o: Any) -> Any:
    """JSON-safe: NaN and infinities become null (browsers cannot parse them)."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, np.generic):
        return _clean(o.item())
    return o


def _json(data: Any, status: int = 200) -> Response:
    body = json.dumps(_clean(data), allow_nan=False, default=str, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


def _floats(a: np.ndarray) -> list[float | None]:
    out = a.tolist()
    if not np.isfinite(a).all():
        out = [v if math.isfinite(v) else None for v in out]
    return out


# -- query parameters ------------------------------------------------------------------------
def _int_param(
    request: Request, name: str, default: int | None, lo: int = -_INT64, hi: int = _INT64
) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        # an empty value too: leave the parameter out for its default
        raise HTTPException(400, f"{name} must be an integer, not {raw!r}") from None
    if not lo <= v <= hi:
        raise HTTPException(400, f"{name} must be between {lo} and {hi}")
    return v


def _list_param(request: Request, name: str, single: str) -> list[str] | None:
    """``name=a,b`` and/or repeated ``single=a&single=b``; None when neither is given."""
    items: list[str] = []
    seen = False
    if name in request.query_params:
        seen = True
        items += [x.strip() for x in request.query_params[name].split(",") if x.strip()]
    if single in request.query_params:
        seen = True
        items += [x for x in request.query_params.getlist(single) if x]
    return list(dict.fromkeys(items)) if seen else None


def _runs_query(request: Request) -> RunsQuery:
    p = request.query_params
    return RunsQuery(
        project=p.get("project") or None,
        filter=p.get("filter") or None,
        q=p.get("q") or None,
        sort=p.get("sort") or "created_at",
        order=p.get("order", "desc"),
        offset=_int_param(request, "offset", 0, 0) or 0,
        limit=_int_param(request, "limit", 50, 1, 1000) or 50,
        columns=_list_param(request, "columns", "col"),
        group=p.get("group") or None,
    )


# -- the app ---------------------------------------------------------------------------------
class SeriesCache:
    """Whole series of recently viewed (run, key)s, decoded, least recently used dropped.

    An entry is valid while the key's summary in the store (count, first/last step and
    wall, extremes) is unchanged, so zooming into a finished run slices memory instead of
    decoding a million points again.
    """

    def __init__(self, max_points: int = 4_000_000) -> None:
        self.max_points = max_points
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str], tuple[str, Series]] = OrderedDict()
        self._points = 0
        self._views: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()

    def get(self, run_id: str, key: str, signature: str) -> Series | None:
        with self._lock:
            hit = self._items.get((run_id, key))
            if hit is None or hit[0] != signature:
                return None
            self._items.move_to_end((run_id, key))
            return hit[1]

    def indices(self, view: tuple[Any, ...], compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The downsampled indices of ``view`` (run, key, signature, range, max_points)."""
        with self._lock:
            idx = self._views.get(view)
            if idx is not None:
                self._views.move_to_end(view)
                return idx
        idx = compute()
        with self._lock:
            self._views[view] = idx
            while len(self._views) > 256:
                self._views.popitem(last=False)
        return idx

    def put(self, run_id: str, key: str, signature: str, series: Series) -> None:
        if len(series) > self.max_points:
            return
        with self._lock:
            old = self._items.pop((run_id, key), None)
            if old is not None:
                self._points -= len(old[1])
            self._items[(run_id, key)] = (signature, series)
            self._points += len(series)
            while self._points > self.max_points:
                _, (_, dropped) = self._items.popitem(last=False)
                self._points -= len(dropped)


def _slice(s: Series, step_min: int | None, step_max: int | None) -> Series:
    lo = 0 if step_min is None else int(np.searchsorted(s.steps, step_min, side="left"))
    hi = len(s) if step_max is None else int(np.searchsorted(s.steps, step_max, side="right"))
    return Series(s.steps[lo:hi], s.walls[lo:hi], s.values[lo:hi])


class _UI:
    """What the handlers share: the read-only store, the runs cache and the templates."""

    def __init__(self, store_path: str | os.PathLike[str] | None) -> None:
        location = resolve_location(store_path)
        self.backend = connect(location, create=False, readonly=True)
        # what another connection of the dashboard opens: the database file, or the URL
        self.db_location = location if is_url(location) else self.backend.db_path
        self.location = self.backend.location
        self.snapshots = SnapshotCache(self.db_location)
        self.series_cache = SeriesCache()
        self.overviews = OverviewCache()
        self.answers = AnswerCache()
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self.templates.env.filters["fmt"] = _fmt
        self.templates.env.filters["iso"] = _iso
        self.templates.env.globals["plotly_src"] = plotly_src

    def query(self, query: RunsQuery) -> dict[str, Any]:
        """A page of runs: straight from SQL when it can, else from the runs snapshot."""
        if is_simple(query):
            return page_from_store(self.backend, query)
        snap = self.snapshots.get()
        if names_unknown_column(snap, query):
            # a key that may have appeared after the snapshot: take a new one first
            snap = self.snapshots.fresh()
        try:
            return query_runs(snap, query)
        except BadQuery:
            if not (query.filter and query.filter.strip()):
                raise
            newer = self.snapshots.fresh()  # the filter may name a key that is new
            if newer is snap:
                raise
            return query_runs(newer, query)

    def matching(self, query: RunsQuery) -> list[StoredRun]:
        """Every run ``query`` selects, in the table's order (from the runs snapshot)."""
        snap = self.snapshots.get()
        if names_unknown_column(snap, query):
            snap = self.snapshots.fresh()
        try:
            return matching_runs(snap, query)
        except BadQuery:
            if not (query.filter and query.filter.strip()):
                raise
            newer = self.snapshots.fresh()
            if newer is snap:
                raise
            return matching_runs(newer, query)

    def warm_templates(self) -> None:
        for name in ("runs.html", "run.html", "sweep.html"):
            try:
                self.templates.env.get_template(name)
            except Exception:  # a page reports its own template error when it is asked for
                pass

    def close(self) -> None:
        self.snapshots.close()
        self.backend.close()

    def run(self, ref: str) -> StoredRun:
        try:
            rec = self.backend.get_run(ref)
        except (RunNotFound, AmbiguousRun) as e:
            raise HTTPException(404, str(e)) from None
        metrics = self.backend.metric_summaries([rec.id]).get(rec.id, {})
        return StoredRun(rec, metrics, self.backend)

    def report(self, report_id: str) -> dict[str, Any]:
        report = self.backend.get_report(report_id)
        if report is None:
            raise HTTPException(404, f"no report {report_id!r}")
        return report

    def runs(self, refs: Sequence[str]) -> list[StoredRun]:
        if not refs:
            raise HTTPException(400, "ids: name at least one run (ids=a,b)")
        if len(refs) > 50:
            raise HTTPException(400, "ids: at most 50 runs")
        return [self.run(r) for r in refs]

    def series(self, request: Request, run: StoredRun, key: str) -> dict[str, Any]:
        max_points = _int_param(request, "max_points", DEFAULT_MAX_POINTS, 4, MAX_MAX_POINTS)
        step_min = _int_param(request, "step_min", None)
        step_max = _int_param(request, "step_max", None)
        after = _int_param(request, "after_step", None, hi=_INT64 - 1)
        if after is not None:
            step_min = after + 1 if step_min is None else max(step_min, after + 1)
        summary = run.metrics.get(key)
        if summary is None:
            raise HTTPException(404, f"run {run.name!r} has no metric {key!r}")
        if step_min is not None and step_max is not None and step_min > step_max:
            # an empty range (e.g. nothing after the last step shown): no points
            return _series_json(run, key, summary, step_min, step_max, Series([], [], []), 0)
        limit = max_points or DEFAULT_MAX_POINTS
        signature = repr(tuple(summary))
        total = None
        if after is not None:
            # live updates: only the chunks after the last point the page has
            got = self.backend.read_series(run.id, [key], step_min=step_min, step_max=step_max)
            s = got.get(key)
        else:
            s = self.series_cache.get(run.id, key, signature)
            if s is not None:
                s = _slice(s, step_min, step_max)
            elif summary.count >= (limit // 3) * OVERVIEW_SPAN:
                # possibly a wide view of a long series: drawn from the chunks' stored sketches
                # when the range holds enough points
                got_overview = self.backend.read_overview(run.id, key, step_min, step_max)
                if got_overview is not None and got_overview[1] >= (limit // 3) * OVERVIEW_SPAN:
                    s, total = got_overview
            if s is None:
                whole = step_min is None and step_max is None
                s = self.backend.read_series(
                    run.id, [key], step_min=step_min, step_max=step_max
                ).get(key)
                if s is not None and whole:
                    self.series_cache.put(run.id, key, signature, s)
        if s is None:
            raise HTTPException(404, f"run {run.name!r} has no metric {key!r}")
        if after is None:
            # the same view again (a reload, another tab, the compare page): same points
            view = (run.id, key, signature, step_min, step_max, limit, total is None)
            idx = self.series_cache.indices(view, lambda: downsample_indices(s.values, limit))
        else:
            idx = downsample_indices(s.values, limit)
        if total is None:
            total = len(s)
        picked = Series(s.steps[idx], s.walls[idx], s.values[idx])
        return _series_json(run, key, summary, step_min, step_max, picked, total)


def _curves_json(data: dict[str, Any]) -> Response:
    """The workspace's answers: curves of :class:`Numbers` written to 6 digits."""
    return Response(dumps(data), media_type="application/json")


def _series_json(
    run: StoredRun,
    key: str,
    summary: Any,
    step_min: int | None,
    step_max: int | None,
    points: Series,
    total: int,
) -> dict[str, Any]:
    """The ``/api/runs/RUN/series/KEY`` object: ``points`` of ``total`` in the range."""
    return {
        "run": run.id,
        "name": run.name,
        "key": key,
        "status": run.status,
        "total": total,
        "returned": len(points),
        "downsampled": len(points) < total,
        "step_min": step_min,
        "step_max": step_max,
        "first_wall": summary.first_wall,
        "last_step": summary.last_step,
        "steps": np.asarray(points.steps, dtype=np.int64).tolist(),
        "walls": _floats(np.asarray(points.walls, dtype=np.float64)),
        "values": _floats(np.asarray(points.values, dtype=np.float64)),
    }


def _edit_routes(ui: _UI, token: str) -> list[Route]:
    from ._edit import edit_routes

    return edit_routes(ui, token)


def create_app(
    store_path: str | os.PathLike[str] | None,
    *,
    allowed_hosts: Sequence[str] | None = None,
    allow_edits: bool = False,
) -> Starlette:
    """The dashboard on the store at ``store_path`` (a folder or ``.db`` file), read-only.

    ``allowed_hosts`` (e.g. ``["127.0.0.1", "localhost"]``) rejects requests naming any
    other host, which guards a local server against DNS rebinding.
    """
    ui = _UI(store_path)
    edit_token = None
    if allow_edits:
        from ._edit import new_token

        edit_token = new_token()

    # -- API ---------------------------------------------------------------------------------
    def api_runs(request: Request) -> Response:
        try:
            page = ui.query(_runs_query(request))
        except BadQuery as e:
            raise HTTPException(400, str(e)) from None
        return _json(page)

    def api_columns(request: Request) -> Response:
        snap = ui.snapshots.get()
        return _json(
            {
                "base": list(BASE_COLUMNS),
                "params": snap.params,
                "metrics": snap.metrics,
                "varying": snap.varying,
                "projects": snap.projects,
            }
        )

    def api_run(request: Request) -> Response:
        run = ui.run(request.path_params["run_id"])
        out = run_record_json(run.record, run.metrics)
        out["metrics"] = {k: s._asdict() for k, s in sorted(run.metrics.items())}
        return _json(out)

    def api_series(request: Request) -> Response:
        run = ui.run(request.path_params["run_id"])
        return _json(ui.series(request, run, request.path_params["key"]))

    def api_compare(request: Request) -> Response:
        from ..analysis import compare

        runs = ui.runs(_list_param(request, "ids", "id") or [])
        out = compare(runs).to_jsonable()
        out["keys"] = sorted({k for r in runs for k in r.metrics})
        return _json(out)

    def _curve_params(request: Request, default_points: int) -> tuple[list[str], str, int]:
        keys = _list_param(request, "keys", "key") or []
        if not keys:
            raise HTTPException(400, "keys: name at least one metric (keys=loss,val/acc)")
        if len(keys) > 64:
            raise HTTPException(400, "keys: at most 64 metrics")
        x = request.query_params.get("x") or X_STEP
        points = _int_param(request, "max_points", default_points, 4, 5000)
        return keys, x, points or default_points

    def api_workspace_series(request: Request) -> Response:
        ids = _list_param(request, "ids", "id") or []
        if not ids:
            raise HTTPException(400, "ids: name at least one run (ids=a,b)")
        if len(ids) > MAX_CURVE_RUNS:
            raise HTTPException(400, f"ids: at most {MAX_CURVE_RUNS} runs")
        keys, x, points = _curve_params(request, 300)
        sums = ui.backend.metric_summaries(ids, wanted_keys(keys, x))
        asked, now = ("series", tuple(ids), tuple(keys), x, points), state(sums)
        body = ui.answers.get(asked, now)
        if body is None:
            curves = run_curves(ui.backend, ids, keys, x, points, ui.overviews, sums)
            body = dumps({"x": x, "keys": keys, "max_points": points, "curves": curves})
            ui.answers.put(asked, now, body)
        return Response(body, media_type="application/json")

    def api_workspace_groups(request: Request) -> Response:
        query = _runs_query(request)
        cols = group_columns(query)
        if not cols:
            raise HTTPException(400, "group: name the column(s) to group by (group=config.lr)")
        keys, x, points = _curve_params(request, 200)
        try:
            runs = ui.matching(query)
        except BadQuery as e:
            raise HTTPException(400, str(e)) from None
        truncated = len(runs) > MAX_GROUP_RUNS
        runs = runs[:MAX_GROUP_RUNS]
        groups = group_rows(runs, cols, [])
        for g in groups:
            del g["mean"], g["counts"]
        more = len(groups) > MAX_GROUPS  # e.g. grouped by a metric: a group per run
        groups = groups[:MAX_GROUPS]
        run_ids = [rid for g in groups for rid in g["runs"]]
        sums = ui.backend.metric_summaries(run_ids, wanted_keys(keys, x))
        asked = ("groups", tuple(cols), tuple(keys), x, points, truncated, more)
        now = (len(runs), repr(_clean(groups)), state(sums))
        body = ui.answers.get(asked, now)
        if body is not None:
            return Response(body, media_type="application/json")
        curves = group_curves(ui.backend, groups, keys, x, points, ui.overviews, sums)
        response = _curves_json(
            {
                "group": cols,
                "x": x,
                "keys": keys,
                "runs": len(runs),
                "truncated": truncated,
                "more_groups": more,
                "groups": _clean(groups),  # a group value may be NaN
                "curves": curves,
            }
        )
        ui.answers.put(asked, now, bytes(response.body).decode())
        return response

    def api_reports(request: Request) -> Response:
        return _json({"reports": ui.backend.reports()})

    def api_report(request: Request) -> Response:
        return _json(ui.report(request.path_params["report_id"]))

    def openapi(request: Request) -> Response:
        return _json(openapi_document())

    # -- pages -------------------------------------------------------------------------------
    def render(request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
        ctx.setdefault("store", ui.location)
        ctx.setdefault("edit_token", edit_token)
        return ui.templates.TemplateResponse(request, name, ctx, status_code=status)

    def runs_page(request: Request) -> Response:
        query = _runs_query(request)
        shown = request.query_params.get("shown_project")
        if shown is not None and shown != (query.project or ""):
            # the project was switched (the form says which one it showed): on to the new
            # project with its own default columns and no grouping, not the previous
            # project's choices (a plain URL, which the page's live refresh reuses)
            drop = {"col", "columns", "group", "offset", "shown_project", "wk", "wx"}
            if query.sort.startswith(("config.", "summary.")):
                drop |= {"sort", "order"}
            kept = [(k, v) for k, v in request.query_params.multi_items() if k not in drop]
            return RedirectResponse("/?" + urlencode(kept), status_code=303)
        error = None
        try:
            page = ui.query(query)
        except BadQuery as e:
            error = str(e)
            page = {"total": 0, "offset": 0, "limit": query.limit, "columns": [], "runs": []}
        # the column picker lists every key once the snapshot is there (built in the
        # background at start); before that, the keys of the runs on this page
        snap = ui.snapshots.peek()
        if snap is not None:
            # only the keys of the project shown (every project's under "all projects")
            params, metrics = snap.keys_of(query.project)
        else:
            params = sorted({c for r in page["runs"] for c in _config_columns(r["config"])})
            metrics = sorted({"summary." + k for r in page["runs"] for k in r["summary"]})

        def url(**changes: Any) -> str:
            # links keep the shown columns, so paging never changes them
            changes.setdefault("col", page["columns"])
            params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
            params = [(k, v) for k, v in params if k not in ("columns", "shown_project")]
            for k, v in changes.items():
                for item in v if isinstance(v, list) else [v]:
                    if item is not None:
                        params.append((k, str(item)))
            return "/?" + urlencode(params)

        workspace = _workspace_context(request, page, metrics, query)
        seedless = _seedless_group(snap.varying if snap is not None else [], params)
        groups = {g["label"]: g for g in page.get("groups", [])}
        return render(
            request,
            "runs.html",
            status=400 if error else 200,
            workspace=workspace,
            groups=groups,
            seedless=seedless,
            page=page,
            query=query,
            projects=ui.backend.projects(),
            params=params,
            metrics=metrics,
            error=error,
            url=url,
            chosen=set(page["columns"]),
            numeric=_numeric_columns(page),
        )

    def run_page(request: Request) -> Response:
        from .._recorded import meta_shown_elsewhere, recorded

        run = ui.run(request.path_params["run_id"])
        return render(
            request,
            "run.html",
            run=run,
            rec=run.record,
            config=flatten(run.config),
            summary=run.summary,
            # the system metrics the run recorded by itself come after the logged ones
            keys=sorted(run.metrics, key=lambda k: (k.startswith("system/"), k)),
            values=_other_values(ui.backend, run.record.id),
            media=run_media(ui.backend, ui.backend.files_dir, run.record.id),
            artifacts=run_artifacts(ui.backend, run.record.id),
            recorded=recorded(ui.backend, run.record),
            hidden_meta=meta_shown_elsewhere(),
        )

    def compare_page(request: Request) -> Response:
        from ..analysis import compare

        runs = ui.runs(_list_param(request, "ids", "id") or [])
        data = compare(runs).to_jsonable()
        return render(
            request,
            "compare.html",
            runs=runs,
            data=data,
            keys=sorted({k for r in runs for k in r.metrics}),
        )

    def reports_page(request: Request) -> Response:
        return render(request, "reports.html", reports=ui.backend.reports())

    def report_page(request: Request) -> Response:
        from ..report.html import markdown_body

        report = ui.report(request.path_params["report_id"])
        body, figures = markdown_body(report["text"], report["figures"], None)
        return render(request, "report.html", report=report, body=body, figures=figures)

    def plotly_js(request: Request) -> Response:
        # under its versioned URL (``?v=`` the plotly version, what the pages link) the file
        # never changes: the browser keeps it, and its compiled code, without asking again
        headers = {"Cache-Control": "no-cache"}
        if request.query_params.get("v") == _plotly_version():
            headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return FileResponse(_plotly_js(), media_type="text/javascript", headers=headers)

    def error(request: Request, status: int, message: str, headers: Any = None) -> Response:
        if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
            return JSONResponse({"error": message, "status": status}, status, headers=headers)
        try:
            response = render(request, "error.html", status=status, message=message)
        except Exception:  # the page itself needs the store: say it in plain text
            return PlainTextResponse(f"{status}: {message}", status, headers=headers)
        response.headers.update(headers or {})
        return response

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error(request, exc.status_code, exc.detail, exc.headers)

    async def store_error(request: Request, exc: Exception) -> Response:
        # a store that cannot be read (damaged, gone): the reason, never a traceback
        return error(request, 500, str(exc).splitlines()[0] if str(exc) else "store error")

    async def server_error(request: Request, exc: Exception) -> Response:
        return error(request, 500, f"internal error ({type(exc).__name__})")

    routes = [
        Route("/", runs_page, name="runs"),
        Route("/runs/{run_id}", run_page, name="run"),
        Route("/compare", compare_page, name="compare"),
        Route("/reports", reports_page, name="reports"),
        Route("/reports/{report_id}", report_page, name="report"),
        Route("/api/runs", api_runs),
        Route("/api/columns", api_columns),
        Route("/api/runs/{run_id}", api_run),
        Route("/api/runs/{run_id}/series/{key:path}", api_series),
        Route("/api/compare", api_compare),
        Route("/api/workspace/series", api_workspace_series),
        Route("/api/workspace/groups", api_workspace_groups),
        Route("/api/reports", api_reports),
        Route("/api/reports/{report_id}", api_report),
        *sweep_routes(ui, render, _json),
        Route("/openapi.json", openapi),
        Route("/files/{path:path}", lambda request: media_file(ui.backend.files_dir, request)),
        Route("/static/plotly.min.js", plotly_js),
        *(_edit_routes(ui, edit_token) if edit_token else []),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    # the runs snapshot is built once the first page is out, and pauses for requests
    first_served = threading.Event()
    middleware = [Middleware(CountRequests, served=first_served)]
    if allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    handlers: dict[Any, Callable[..., Any]] = {
        HTTPException: http_error,
        ExpbookError: store_error,
        Exception: server_error,
    }

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        ui.close()

    app = Starlette(
        routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan
    )
    app.state.ui = ui
    ui.snapshots.start(first_served)  # filters and sorts by metric fast from early on
    # the pages' templates compiled before the first visit asks for them
    threading.Thread(target=ui.warm_templates, name="expbook-templates", daemon=True).start()
    return app


def _other_values(backend: Any, run_id: str, shown: int = 20) -> list[dict[str, Any]]:
    """The run's non-numeric values per key: how many, and the last ``shown`` of them."""
    by: dict[str, list[tuple[int, Any]]] = {}
    for key, step, _wall, value in backend.read_values(run_id):
        by.setdefault(key, []).append((step, value))
    out = []
    for key, pts in by.items():
        last = pts[-shown:]
        out.append(
            {
                "key": key,
                "count": len(pts),
                "points": [(step, v if isinstance(v, str) else json.dumps(v)) for step, v in last],
            }
        )
    return out


DEFAULT_PANELS = 6  # panels of the workspace when none are chosen


def _seedless_group(varying: list[str], params: list[str]) -> str | None:
    """The grouping that collapses seeds, as ``expbook winners`` does: every param of
    ``params`` whose value varies, but those :data:`~expbook.analysis.sweep.DEFAULT_IGNORE`
    leaves out (``*seed``, ``*_dir``, ``*_path``, run names); None when that leaves out
    nothing (grouping by every varying param is then one run per group) or keeps nothing."""
    from fnmatch import fnmatchcase

    from ..analysis.sweep import DEFAULT_IGNORE

    shown = set(params)
    cols = [c for c in varying if c in shown]
    kept = [c for c in cols if not any(fnmatchcase(c[len("config.") :], p) for p in DEFAULT_IGNORE)]
    if not kept or len(kept) == len(cols):
        return None
    return ",".join(kept)


def _workspace_context(
    request: Request, page: dict[str, Any], metrics: list[str], query: RunsQuery
) -> dict[str, Any]:
    """What the workspace above the runs table draws: its panels (``wk=KEY``, one per
    parameter; ``wk=A|B`` overlays keys in one panel), sections by key prefix, the x axis
    (``wx``) and the runs (the page's first :data:`MAX_CURVE_RUNS`)."""
    keys = [m[len("summary.") :] for m in metrics]
    chosen = [w for w in request.query_params.getlist("wk") if w.strip()]
    panels = [[k for k in w.split("|") if k] for w in dict.fromkeys(chosen)]
    panels = [p for p in panels if p]
    if not panels:
        # the metrics of the table's columns, else the first of the project's keys
        shown = [c[len("summary.") :] for c in page["columns"] if c.startswith("summary.")]
        pool = shown or [k for k in keys if not k.startswith("system/")]
        panels = [[k] for k in pool[:DEFAULT_PANELS]]
    sections: dict[str, list[dict[str, Any]]] = {}
    for p in panels:
        head = p[0].split("/", 1)[0] if "/" in p[0] else ""
        sections.setdefault(head, []).append({"spec": "|".join(p), "keys": p})
    x = request.query_params.get("wx") or X_STEP
    runs = [r["id"] for r in page["runs"][:MAX_CURVE_RUNS]]
    group = ",".join(group_columns(query))
    wanted = ",".join(dict.fromkeys(k for p in panels for k in p))
    # the one request for every panel's curves: the page's head preloads it, the script reads it
    if group:
        drop = {"wk", "wx", "col", "columns", "offset", "limit", "shown_project", "group"}
        drop |= {"keys", "x", "max_points"}
        q = [(k, v) for k, v in request.query_params.multi_items() if k not in drop]
        q += [("group", group), ("keys", wanted), ("x", x), ("max_points", "200")]
        src = "/api/workspace/groups?" + urlencode(q)
    else:
        q = [("ids", ",".join(runs)), ("keys", wanted), ("x", x), ("max_points", "150")]
        src = "/api/workspace/series?" + urlencode(q)
    return {
        "src": src,
        "keys": keys,
        "panels": panels,
        "plain": {p[0] for p in panels if len(p) == 1},
        "overlays": ["|".join(p) for p in panels if len(p) > 1],
        "sections": sorted(sections.items(), key=lambda kv: (kv[0] == "", kv[0])),
        "x": x,
        "runs": runs,
        "group": group,
    }


def _numeric_columns(page: dict[str, Any]) -> set[str]:
    """The columns of ``page`` holding numbers only (their headers align right too)."""
    out = set()
    for c in page["columns"]:
        vals = [r["values"].get(c) for r in page["runs"]]
        if any(v is not None for v in vals) and all(
            v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in vals
        ):
            out.add(c)
    return out


def _config_columns(config: dict[str, Any]) -> list[str]:
    return ["config." + k for k in flatten(config)]


def _fmt(v: Any) -> str:
    """A cell: numbers to 5 significant digits, lists joined, None empty."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return f"{v:.5g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, default=str)
    return str(v)


def _iso(t: float | None) -> str:
    if t is None:
        return ""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
