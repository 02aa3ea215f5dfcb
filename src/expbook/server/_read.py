"""The store read API of ``expbook server`` (under ``/api/v1/store/``), what
:class:`~expbook.store.remote.RemoteStore` reads through.

Compact, lossless JSON:

* runs come as rows in :data:`RUN_FIELDS` order, their JSON columns (tags, config, summary,
  meta, source) as the JSON text the store holds, so listing 100,000 runs decodes nothing
  on the server;
* metric summaries as rows ``[run index, key index, count, nan_count, first_step, ...]``
  (the fields of :class:`~expbook.store.MetricSummary`);
* series as base64 of little-endian arrays (int64 steps, float64 walls and values);
* a number that is not finite (in a summary, a value at a step) as the string ``"NaN"``,
  ``"Infinity"`` or ``"-Infinity"``.

Every endpoint needs the ``read`` scope. A token of one project sees that project only:
lists are filtered to it, another project named outright is a 403, and a run of another
project is a 404 (it does not exist for that token).
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import AmbiguousRun, RunNotFound
from ._auth import visible_project

__all__ = ["RUN_FIELDS", "SUMMARY_FIELDS", "openapi_paths", "read_routes"]

PREFIX = "/api/v1/store"

RUN_FIELDS = (
    "id",
    "name",
    "project",
    "status",
    "created_at",
    "updated_at",
    "finished_at",
    "heartbeat_at",
    "host",
    "pid",
    "exit_code",
    "group",
    "notes",
    "parent",
    "tags",
    "config",
    "summary",
    "meta",
    "source",
)
_JSON_FIELDS = ("tags", "config", "summary", "meta", "source")
SUMMARY_FIELDS = (
    "count",
    "nan_count",
    "first_step",
    "first_value",
    "first_wall",
    "last_step",
    "last_value",
    "last_wall",
    "min_value",
    "min_step",
    "max_value",
    "max_step",
)
MAX_IDS = 100_000  # run ids in one request
MAX_KEYS = 1000  # keys in one request
MAX_OVERVIEWS = 20_000  # (run, key) pairs in one overviews request
MAX_BODY = 16 * 1024 * 1024
RANK_BY = ("min", "max", "last")  # which per-run summary value /rank orders by
PIVOT_AGGS = ("min", "max", "mean", "median", "std", "count", "first", "last")
_INT64 = 2**63 - 1
# the orders page_runs takes (those the dashboard's runs table asks for)
PAGE_ORDERS = (
    "created_at, rid",
    "created_at ASC, rid ASC",
    "created_at DESC, rid DESC",
    "lower(name) ASC, created_at ASC, rid ASC",
    "lower(name) DESC, created_at DESC, rid DESC",
    "id ASC",
    "id DESC",
)


# the store's content-addressed files (media and artifact blobs): the only files served
STORED_FILE = re.compile(
    r"(media|artifacts)/([0-9a-f]{2})/\2[0-9a-f]{62}(\.[A-Za-z0-9]{1,12}){0,2}"
)


# -- encoding --------------------------------------------------------------------------------
def _num(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")
    return v


def _deep(o: Any) -> Any:
    """``o`` with every non-finite float spelled as a string (JSON has no NaN)."""
    if isinstance(o, float):
        return _num(o)
    if isinstance(o, dict):
        return {str(k): _deep(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_deep(v) for v in o]
    if hasattr(o, "item"):  # numpy scalars
        return _deep(o.item())
    return o


def dumps(data: Any) -> str:
    try:
        return json.dumps(data, allow_nan=False, separators=(",", ":"), default=_default)
    except ValueError:  # a NaN or infinity somewhere: spelled out (rare, so done only then)
        return json.dumps(_deep(data), allow_nan=False, separators=(",", ":"), default=_default)


def _default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, (set, frozenset)):
        return list(o)
    return str(o)


def send(data: Any, status: int = 200) -> Response:
    return Response(dumps(data), status_code=status, media_type="application/json")


def _json_text(rec: Any, name: str) -> str:
    raw = rec.__dict__.get("_raw_" + name)
    if raw is not None:
        return str(raw)  # as stored: nothing decoded
    return json.dumps(getattr(rec, name), separators=(",", ":"), default=_default)


def run_row(rec: Any) -> list[Any]:
    d = rec.__dict__
    row = [d.get(f) if f in d else getattr(rec, f) for f in RUN_FIELDS[:14]]
    row += [_json_text(rec, f) for f in _JSON_FIELDS]
    return row


_INT_FIELDS = ("count", "nan_count", "first_step", "last_step", "min_step", "max_step")


def summaries_json(sums: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Summaries as columns: ``run`` and ``key`` (indices into ``runs`` and ``keys``) and
    one array per field of :class:`~expbook.store.MetricSummary`, each base64 of
    little-endian int64 (counts, steps) or float64 (values, walls), with ``nulls``: per
    field that has any, a base64 byte mask of the rows where it is null."""
    import numpy as np

    runs = list(sums)
    keys: dict[str, int] = {}
    run_idx: list[int] = []
    key_idx: list[int] = []
    flat: list[Any] = []
    for i, run_id in enumerate(runs):
        for key, summary in sums[run_id].items():
            k = keys.get(key)
            if k is None:
                k = keys[key] = len(keys)
            run_idx.append(i)
            key_idx.append(k)
            flat.append(summary)
    columns: dict[str, str] = {}
    nulls: dict[str, str] = {}
    for f, col in zip(SUMMARY_FIELDS, zip(*flat) if flat else [()] * len(SUMMARY_FIELDS)):
        mask = [v is None for v in col]
        if any(mask):
            nulls[f] = base64.b64encode(np.array(mask, dtype=np.uint8).tobytes()).decode()
            col = tuple(0 if v is None else v for v in col)
        columns[f] = _b64(col, "<i8" if f in _INT_FIELDS else "<f8")
    return {
        "runs": runs,
        "keys": list(keys),
        "n": len(flat),
        "run": _b64(run_idx, "<i8"),
        "key": _b64(key_idx, "<i8"),
        "columns": columns,
        "nulls": nulls,
    }


def _b64(a: Any, dtype: str) -> str:
    import numpy as np

    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def series_json(s: Any) -> dict[str, Any]:
    return {
        "n": len(s.steps),
        "steps": _b64(s.steps, "<i8"),
        "walls": _b64(s.walls, "<f8"),
        "values": _b64(s.values, "<f8"),
    }


# -- parameters ------------------------------------------------------------------------------
def _int(request: Request, name: str, lo: int = -_INT64, hi: int = _INT64) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        v = int(raw)
    except ValueError:
        raise HTTPException(400, f"{name} must be an integer, not {raw[:50]!r}") from None
    if not lo <= v <= hi:
        raise HTTPException(400, f"{name} must be between {lo} and {hi}")
    return v


def _keys_param(request: Request) -> list[str] | None:
    if "key" not in request.query_params:
        return None
    keys = request.query_params.getlist("key")
    if len(keys) > MAX_KEYS:
        raise HTTPException(400, f"key: at most {MAX_KEYS} keys")
    return list(dict.fromkeys(keys))


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body's JSON object (empty: ``{}``); a 400 for anything else."""
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as e:
        raise HTTPException(400, f"invalid JSON: {str(e)[:200]}") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "send a JSON object")
    return body


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise HTTPException(413, "request body over 16 MiB")
    return json_object(raw)


def _str_list(body: dict[str, Any], name: str, most: int) -> list[str] | None:
    v = body.get(name)
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise HTTPException(400, f"{name}: a list of strings")
    if len(v) > most:
        raise HTTPException(400, f"{name}: at most {most} items")
    return v


def _opt_str(body: dict[str, Any], name: str) -> str | None:
    v = body.get(name)
    if v is not None and not isinstance(v, str):
        raise HTTPException(400, f"{name}: a string")
    return v


# -- the routes ------------------------------------------------------------------------------
def read_routes(get_backend: Callable[[], Any], authorize: Callable[..., Any]) -> list[Route]:
    """The ``/api/v1/store/...`` endpoints on ``get_backend()``'s store."""

    def scope(request: Request, project: str | None = None) -> str | None:
        """Check the token; the project a request is confined to (None: every project)."""
        token = authorize(request, "read", project)
        only = visible_project(token)
        return project if project is not None else only

    def project_param(request: Request) -> str | None:
        return request.query_params.get("project") or None

    def visible_run(request: Request, run_id: str, missing_ok: bool = False) -> Any:
        """The run ``run_id`` (an exact id) when the token may see it, else 404 (None with
        ``missing_ok``: the store's answer for a run that is not there is then empty)."""
        only = scope(request)
        try:
            rec = get_backend().get_run(run_id, project=only)
        except (RunNotFound, AmbiguousRun):
            rec = None
        if rec is None or rec.id != run_id:
            if missing_ok:
                return None
            raise HTTPException(404, f"no run with id {run_id!r}")
        return rec

    def info(request: Request) -> Response:
        only = scope(request)
        backend = get_backend()
        projects = backend.projects()
        if only is not None:
            projects = [p for p in projects if p == only]
        return send(
            {
                "location": backend.location,
                "data_version": backend.data_version(),
                "projects": projects,
                "project": only,
            }
        )

    def stats(request: Request) -> Response:
        if scope(request) is not None:
            raise HTTPException(403, "the store's totals need a token for every project (*)")
        return send(get_backend().stats())

    def runs(request: Request) -> Response:
        project = scope(request, project_param(request))
        backend = get_backend()
        records = backend.list_runs(project)
        out: dict[str, Any] = {"fields": list(RUN_FIELDS), "runs": [run_row(r) for r in records]}
        if request.query_params.get("summaries") in ("1", "true"):
            sums = backend.metric_summaries(project=project) if records else {}
            out["summaries"] = summaries_json(sums)
        return send(out)

    def page(request: Request) -> Response:
        project = scope(request, project_param(request))
        limit = _int(request, "limit", 1, 10_000) or 50
        offset = _int(request, "offset", 0) or 0
        order = request.query_params.get("order") or "created_at, rid"
        if order not in PAGE_ORDERS:
            raise HTTPException(400, f"order: one of {', '.join(PAGE_ORDERS)}")
        total, records = get_backend().page_runs(project, order, limit, offset)
        return send(
            {"fields": list(RUN_FIELDS), "total": total, "runs": [run_row(r) for r in records]}
        )

    def run(request: Request) -> Response:
        project = scope(request, project_param(request))
        ref = request.query_params.get("ref")
        if not ref:
            raise HTTPException(400, "ref: a run id, id prefix or name")
        backend = get_backend()
        try:
            rec = backend.get_run(ref, project=project)
        except RunNotFound as e:
            raise HTTPException(404, str(e)) from None
        except AmbiguousRun as e:
            raise HTTPException(409, str(e)) from None
        out: dict[str, Any] = {"fields": list(RUN_FIELDS), "run": run_row(rec)}
        if request.query_params.get("summaries") in ("1", "true"):
            out["summaries"] = summaries_json(backend.metric_summaries([rec.id]))
        return send(out)

    async def summaries(request: Request) -> Response:
        body = await _body(request)
        run_ids = _str_list(body, "run_ids", MAX_IDS)
        keys = _str_list(body, "keys", MAX_KEYS)
        project = scope(request, _opt_str(body, "project"))

        def work() -> dict[str, Any]:
            return summaries_json(get_backend().metric_summaries(run_ids, keys, project=project))

        return send(await run_in_threadpool(work))

    def rank(request: Request) -> Response:
        project = scope(request, project_param(request))
        p = request.query_params
        key = p.get("key")
        if not key:
            raise HTTPException(400, "key: name the metric")
        by = p.get("by") or "min"
        if by not in RANK_BY:
            raise HTTPException(400, f"by: one of {', '.join(RANK_BY)}")
        desc = p.get("desc") or "0"
        if desc not in ("0", "1"):
            raise HTTPException(400, "desc: 0 or 1")
        limit = _int(request, "limit", 1, MAX_IDS) or 10
        got = get_backend().rank_runs(key, by, desc=desc == "1", project=project, limit=limit)
        return send(got)

    async def runs_by_id(request: Request) -> Response:
        body = await _body(request)
        run_ids = _str_list(body, "run_ids", MAX_IDS) or []
        only = scope(request)

        def work() -> dict[str, Any]:
            records = get_backend().get_runs(run_ids) if run_ids else []
            if only is not None:
                records = [r for r in records if r.project == only]
            return {"fields": list(RUN_FIELDS), "runs": [run_row(r) for r in records]}

        return send(await run_in_threadpool(work))

    async def pivot(request: Request) -> Response:
        body = await _body(request)
        keys = _str_list(body, "keys", MAX_KEYS)
        value = _opt_str(body, "value")
        agg = _opt_str(body, "agg") or "min"
        split = body.get("split")
        if not keys or not value:
            raise HTTPException(400, "keys and value: the row and column keys, the cell key")
        if agg not in PIVOT_AGGS:
            raise HTTPException(400, f"agg: one of {', '.join(PIVOT_AGGS)}")
        if not isinstance(split, int) or isinstance(split, bool) or not 1 <= split <= len(keys):
            raise HTTPException(400, "split: how many of keys are row keys (1 to their number)")
        project = scope(request, _opt_str(body, "project"))

        def work() -> dict[str, Any]:
            got = get_backend().pivot_cells(keys, value, agg, split=split, project=project)
            # JSON text with NaN spelled as Python writes it: cells hold any JSON value
            return {"pivot": None if got is None else json.dumps(got, separators=(",", ":"))}

        return send(await run_in_threadpool(work))

    def metric_keys(request: Request) -> Response:
        project = scope(request, project_param(request))
        return send({"keys": get_backend().metric_keys(project)})

    def run_keys(request: Request) -> Response:
        rec = visible_run(request, request.path_params["run_id"])
        return send({"keys": get_backend().keys(rec.id)})

    def series(request: Request) -> Response:
        rec = visible_run(request, request.path_params["run_id"])
        keys = _keys_param(request)
        lo, hi = _int(request, "step_min"), _int(request, "step_max")
        got = get_backend().read_series(rec.id, keys, lo, hi)
        return send({"series": {k: series_json(s) for k, s in got.items()}})

    def overview(request: Request) -> Response:
        rec = visible_run(request, request.path_params["run_id"])
        key = request.query_params.get("key")
        if not key:
            raise HTTPException(400, "key: name the metric")
        lo, hi = _int(request, "step_min"), _int(request, "step_max")
        got = get_backend().read_overview(rec.id, key, lo, hi)
        if got is None:
            return send({"overview": None, "covered": 0})
        return send({"overview": series_json(got[0]), "covered": got[1]})

    async def overviews(request: Request) -> Response:
        body = await _body(request)
        run_ids = _str_list(body, "run_ids", MAX_IDS) or []
        keys = _str_list(body, "keys", MAX_KEYS) or []
        if len(run_ids) * len(keys) > MAX_OVERVIEWS:
            raise HTTPException(400, f"at most {MAX_OVERVIEWS} (run, key) pairs")
        only = scope(request)

        def work() -> dict[str, Any]:
            backend = get_backend()
            ids = run_ids
            if only is not None and ids:
                seen = backend.metric_summaries(ids, keys or None, project=only)
                ids = [r for r in ids if r in seen]
            got = backend.read_overviews(ids, keys) if ids and keys else {}
            return {
                "overviews": [{"run": r, "key": k, **series_json(s)} for (r, k), s in got.items()]
            }

        return send(await run_in_threadpool(work))

    def tail_start(request: Request) -> Response:
        rec = visible_run(request, request.path_params["run_id"])
        n = _int(request, "n", 0)
        if n is None:
            raise HTTPException(400, "n: how many points")
        got = get_backend().tail_start(rec.id, _keys_param(request), n, _int(request, "step_max"))
        return send({"start": got})

    async def values_at(request: Request) -> Response:
        body = await _body(request)
        key = _opt_str(body, "key")
        step = body.get("step")
        if not key:
            raise HTTPException(400, "key: name the metric")
        if not isinstance(step, int) or isinstance(step, bool) or abs(step) > _INT64:
            raise HTTPException(400, "step: an integer")
        run_ids = _str_list(body, "run_ids", MAX_IDS)
        project = scope(request, _opt_str(body, "project"))

        def work() -> dict[str, Any]:
            got = get_backend().values_at(key, step, run_ids, project=project)
            return {"values": {r: _num(v) for r, v in got.items()}}

        return send(await run_in_threadpool(work))

    def values(request: Request) -> Response:
        rec = visible_run(request, request.path_params["run_id"])
        key = request.query_params.get("key") or None
        got = get_backend().read_values(rec.id, key)
        return send({"values": [list(v) for v in got]})

    def media(request: Request) -> Response:
        rec = visible_run(request, request.path_params["run_id"])
        key = request.query_params.get("key") or None
        return send({"media": get_backend().read_media(rec.id, key)})

    def media_keys(request: Request) -> Response:
        rec = visible_run(request, request.path_params["run_id"])
        return send({"media_keys": get_backend().media_keys(rec.id)})

    def events(request: Request) -> Response:
        rec = visible_run(request, request.path_params["run_id"], missing_ok=True)
        kind = request.query_params.get("kind") or None
        return send({"events": [] if rec is None else get_backend().events(rec.id, kind)})

    def run_artifacts(request: Request) -> Response:
        rec = visible_run(request, request.path_params["run_id"])
        return send({"artifacts": [list(a) for a in get_backend().artifacts(rec.id)]})

    def artifact(request: Request) -> Response:
        project = scope(request, project_param(request))
        name = request.query_params.get("name")
        if not name:
            raise HTTPException(400, "name: the artifact's name")
        version = request.query_params.get("version") or None
        got = get_backend().get_artifact(name, version, project)
        if got is None:
            raise HTTPException(404, f"no artifact {name!r}")
        return send(got)

    def artifact_names(request: Request) -> Response:
        project = scope(request, project_param(request))
        return send({"names": get_backend().artifact_names(project)})

    def source_of(request: Request) -> Response:
        p = request.query_params
        project, source = p.get("project"), p.get("source")
        if not project or not source:
            raise HTTPException(400, "project and source: what was imported, into which project")
        scope(request, project)
        got = get_backend().source_of(project, source, p.get("external_id") or "")
        return send(
            {"run": None, "content_hash": None}
            if got is None
            else {"run": got[0], "content_hash": got[1]}
        )

    def source_files(request: Request) -> Response:
        source = request.query_params.get("source")
        if not source:
            raise HTTPException(400, "source: what was imported")
        project = scope(request, project_param(request))
        got = get_backend().source_files(source, project)
        return send({"files": [list(f) for f in got]})

    def file(request: Request) -> Response:
        import os

        from starlette.responses import FileResponse

        scope(request)
        rel = request.query_params.get("path") or ""
        if not STORED_FILE.fullmatch(rel):
            raise HTTPException(404, "no such file")
        files_dir = getattr(get_backend(), "files_dir", None)
        if not files_dir:
            raise HTTPException(404, "no such file")
        root = os.path.realpath(files_dir)
        full = os.path.realpath(os.path.join(files_dir, rel))
        if not full.startswith(root + os.sep) or not os.path.isfile(full):
            raise HTTPException(404, "no such file")
        return FileResponse(
            full,
            media_type="application/octet-stream",
            headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"},
        )

    def artifacts(request: Request) -> Response:
        project = scope(request, project_param(request))
        p = request.query_params
        run_id = p.get("run_id") or None
        if run_id is not None:
            visible_run(request, run_id)
        got = get_backend().list_artifacts(
            project, run_id, p.get("type") or None, p.get("name") or None
        )
        return send({"artifacts": got})

    def reports(request: Request) -> Response:
        only = scope(request)
        got = get_backend().reports()
        if only is not None:
            got = [r for r in got if r.get("project") == only]
        return send({"reports": got})

    def report(request: Request) -> Response:
        only = scope(request)
        got = get_backend().get_report(request.path_params["report_id"])
        if got is None or (only is not None and got.get("project") != only):
            raise HTTPException(404, f"no report {request.path_params['report_id']!r}")
        return send(got)

    return [
        Route(PREFIX, info),
        Route(PREFIX + "/stats", stats),
        Route(PREFIX + "/runs", runs),
        Route(PREFIX + "/page", page),
        Route(PREFIX + "/run", run),
        Route(PREFIX + "/summaries", summaries, methods=["POST"]),
        Route(PREFIX + "/keys", metric_keys),
        Route(PREFIX + "/rank", rank),
        Route(PREFIX + "/runs_by_id", runs_by_id, methods=["POST"]),
        Route(PREFIX + "/pivot", pivot, methods=["POST"]),
        Route(PREFIX + "/runs/{run_id}/keys", run_keys),
        Route(PREFIX + "/runs/{run_id}/series", series),
        Route(PREFIX + "/runs/{run_id}/overview", overview),
        Route(PREFIX + "/overviews", overviews, methods=["POST"]),
        Route(PREFIX + "/runs/{run_id}/tail_start", tail_start),
        Route(PREFIX + "/values_at", values_at, methods=["POST"]),
        Route(PREFIX + "/runs/{run_id}/values", values),
        Route(PREFIX + "/runs/{run_id}/media", media),
        Route(PREFIX + "/runs/{run_id}/media_keys", media_keys),
        Route(PREFIX + "/runs/{run_id}/events", events),
        Route(PREFIX + "/artifacts", artifacts),
        Route(PREFIX + "/runs/{run_id}/artifacts", run_artifacts),
        Route(PREFIX + "/artifact", artifact),
        Route(PREFIX + "/artifact_names", artifact_names),
        Route(PREFIX + "/source", source_of),
        Route(PREFIX + "/source_files", source_files),
        Route(PREFIX + "/file", file),
        Route(PREFIX + "/reports", reports),
        Route(PREFIX + "/reports/{report_id}", report),
    ]


# -- OpenAPI ---------------------------------------------------------------------------------
def _q(name: str, desc: str, typ: str = "string", **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": desc, "schema": {"type": typ, **extra}}


def _p(name: str, desc: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": desc,
        "schema": {"type": "string"},
    }


_ERR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_AUTH_ERRORS = {
    "401": {"description": "No token, an unknown or a revoked token", **_ERR},
    "403": {"description": "The token's scope or project does not allow this", **_ERR},
}


def _ok(
    desc: str, props: dict[str, Any], *, errors: Sequence[str] = ("400", "404")
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "200": {
            "description": desc,
            "content": {"application/json": {"schema": {"type": "object", "properties": props}}},
        },
        **_AUTH_ERRORS,
    }
    for code in errors:
        out[code] = {"description": "A bad parameter" if code == "400" else "Not found", **_ERR}
    return out


def _get(
    summary: str, params: list[dict[str, Any]], props: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    return {
        "get": {"summary": summary, "parameters": params, "responses": _ok(summary, props, **kw)}
    }


def _post(summary: str, body: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object", "properties": body}}},
            },
            "responses": {
                **_ok(summary, props),
                "413": {"description": "Request body over 16 MiB", **_ERR},
            },
        }
    }


_NUMBER = {
    "oneOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]
}
_STRS = {"type": "array", "items": {"type": "string"}}
_ROWS = {"type": "array", "items": {"type": "array"}}
_B64 = {"type": "string", "format": "byte"}
_SUMMARIES: dict[str, Any] = {
    "type": "object",
    "description": "metric summaries as columns (base64 of little-endian int64 or float64 "
    "arrays); run and key index runs and keys; nulls: byte masks of null entries",
    "properties": {
        "runs": _STRS,
        "keys": _STRS,
        "n": {"type": "integer"},
        "run": _B64,
        "key": _B64,
        "columns": {"type": "object", "additionalProperties": _B64},
        "nulls": {"type": "object", "additionalProperties": _B64},
    },
}
_SERIES = {
    "type": "object",
    "description": "base64 of little-endian arrays: int64 steps, float64 walls and values",
    "properties": {"n": {"type": "integer"}, "steps": _B64, "walls": _B64, "values": _B64},
}
_STEP = {"format": "int64", "minimum": -_INT64, "maximum": _INT64}
_PROJECT = _q("project", "only runs of this project (a project token: its own, or a 403)")
_RUN_ID = _p("run_id", "the run's id (exact)")
_KEY = {**_q("key", "a metric key (repeat for several; none: every key)"), "explode": True}
_RUNS_PROPS = {"fields": _STRS, "runs": _ROWS}


def openapi_paths() -> dict[str, Any]:
    """The read API's part of the server's OpenAPI document."""
    return {
        PREFIX: _get(
            "The store: location, data version and the projects the token sees",
            [],
            {
                "location": {"type": "string"},
                "data_version": {"type": "integer"},
                "projects": _STRS,
                "project": {"type": "string", "nullable": True},
            },
            errors=(),
        ),
        PREFIX + "/stats": _get(
            "The store's totals: runs, points, bytes (a token for every project)",
            [],
            {
                "runs": {"type": "integer"},
                "points": {"type": "integer"},
                "bytes": {"type": "integer"},
            },
            errors=(),
        ),
        PREFIX + "/runs": _get(
            "Every run (of a project), oldest first, as rows; with summaries=1 the metric "
            "summaries of all of them too",
            [_PROJECT, _q("summaries", "1: include the metric summaries", enum=["0", "1"])],
            {**_RUNS_PROPS, "summaries": _SUMMARIES},
            errors=("400",),
        ),
        PREFIX + "/page": _get(
            "One page of runs and how many there are",
            [
                _PROJECT,
                _q("limit", "rows", "integer", minimum=1, maximum=10000, default=50),
                _q("offset", "rows to skip", "integer", minimum=0, maximum=_INT64, default=0),
                _q(
                    "order",
                    "the order (a fixed list)",
                    enum=list(PAGE_ORDERS),
                    default=PAGE_ORDERS[0],
                ),
            ],
            {**_RUNS_PROPS, "total": {"type": "integer"}},
            errors=("400",),
        ),
        PREFIX + "/run": _get(
            "One run by id, unique id prefix or unique name (409 when ambiguous)",
            [
                {**_q("ref", "run id, id prefix or name", minLength=1), "required": True},
                _PROJECT,
                _q("summaries", "1: include its metric summaries", enum=["0", "1"]),
            ],
            {"fields": _STRS, "run": {"type": "array"}, "summaries": _SUMMARIES},
            errors=("400", "404", "409"),
        ),
        PREFIX + "/summaries": _post(
            "Metric summaries of runs (all the token sees when run_ids is left out)",
            {"run_ids": _STRS, "keys": _STRS, "project": {"type": "string", "nullable": True}},
            _SUMMARIES["properties"],
        ),
        PREFIX + "/keys": _get(
            "run id -> the keys it has points for",
            [_PROJECT],
            {"keys": {"type": "object", "additionalProperties": _STRS}},
            errors=("400",),
        ),
        PREFIX + "/rank": _get(
            "Runs ranked by a metric's per-run summary, as far as a leaderboard's first "
            "limit rows need: counts, the first ranked, unranked and metric-less runs' ids, "
            "and the runs whose summary values need a look",
            [
                {**_q("key", "the metric", minLength=1), "required": True},
                _q("by", "the summary value to rank by", enum=list(RANK_BY), default="min"),
                _q("desc", "1: highest first", enum=["0", "1"], default="0"),
                _q("limit", "rows shown", "integer", minimum=1, maximum=MAX_IDS, default=10),
                _PROJECT,
            ],
            {
                "total": {"type": "integer"},
                "scored": {"type": "integer"},
                "unscored": {"type": "integer"},
                "plain": {"type": "integer"},
                "top": _STRS,
                "unscored_first": _STRS,
                "plain_first": _STRS,
                "candidates": _STRS,
            },
            errors=("400",),
        ),
        PREFIX + "/runs_by_id": _post(
            "The runs with these ids (those the token sees), oldest first, as rows",
            {"run_ids": _STRS},
            _RUNS_PROPS,
        ),
        PREFIX + "/pivot": _post(
            "A pivot's aggregated cells (keys: row keys, then column keys; split: how many "
            "are row keys), as JSON text; null when only every run's data can answer",
            {
                "keys": _STRS,
                "value": {"type": "string"},
                "agg": {"type": "string", "enum": list(PIVOT_AGGS)},
                "split": {"type": "integer", "minimum": 1},
                "project": {"type": "string", "nullable": True},
            },
            {"pivot": {"type": "string", "nullable": True}},
        ),
        PREFIX + "/runs/{run_id}/keys": _get("The run's metric keys", [_RUN_ID], {"keys": _STRS}),
        PREFIX + "/runs/{run_id}/series": _get(
            "Every point of the run's keys (in a step range)",
            [
                _RUN_ID,
                _KEY,
                _q("step_min", "first step", "integer", **_STEP),
                _q("step_max", "last step", "integer", **_STEP),
            ],
            {"series": {"type": "object", "additionalProperties": _SERIES}},
        ),
        PREFIX + "/runs/{run_id}/overview": _get(
            "The stored sketch of one key in a step range (null: read the points)",
            [
                _RUN_ID,
                {**_q("key", "the metric", minLength=1), "required": True},
                _q("step_min", "first step", "integer", **_STEP),
                _q("step_max", "last step", "integer", **_STEP),
            ],
            {"overview": {**_SERIES, "nullable": True}, "covered": {"type": "integer"}},
        ),
        PREFIX + "/overviews": _post(
            "Sketches of many (run, key)s in one read",
            {"run_ids": _STRS, "keys": _STRS},
            {"overviews": {"type": "array", "items": _SERIES}},
        ),
        PREFIX + "/runs/{run_id}/tail_start": _get(
            "A step from which on the last n points of the keys lie (history --tail)",
            [
                _RUN_ID,
                _KEY,
                {**_q("n", "points", "integer", minimum=0, maximum=_INT64), "required": True},
                _q("step_max", "last step", "integer", **_STEP),
            ],
            {"start": {"type": "integer", "nullable": True}},
        ),
        PREFIX + "/values_at": _post(
            "run id -> the value of key at exactly step",
            {
                "key": {"type": "string"},
                "step": {"type": "integer", **_STEP},
                "run_ids": _STRS,
                "project": {"type": "string", "nullable": True},
            },
            {"values": {"type": "object", "additionalProperties": _NUMBER}},
        ),
        PREFIX + "/runs/{run_id}/values": _get(
            "The run's non-numeric values: [key, step, wall, value]",
            [_RUN_ID, _q("key", "one key only")],
            {"values": _ROWS},
        ),
        PREFIX + "/runs/{run_id}/media": _get(
            "The run's media rows",
            [_RUN_ID, _q("key", "one key only")],
            {"media": {"type": "array", "items": {"type": "object"}}},
        ),
        PREFIX + "/runs/{run_id}/media_keys": _get(
            "The run's media keys",
            [_RUN_ID],
            {"media_keys": {"type": "array", "items": {"type": "object"}}},
        ),
        PREFIX + "/runs/{run_id}/events": _get(
            "The run's events (alerts, recorded environment)",
            [_RUN_ID, _q("kind", "one kind only")],
            {"events": {"type": "array", "items": {"type": "object"}}},
        ),
        PREFIX + "/artifacts": _get(
            "Artifact versions (without files)",
            [
                _PROJECT,
                _q("run_id", "those the run logged or used"),
                _q("type", "one type only"),
                _q("name", "one name only"),
            ],
            {"artifacts": {"type": "array", "items": {"type": "object"}}},
        ),
        PREFIX + "/runs/{run_id}/artifacts": _get(
            "The run's recorded files: [path, kind, sha256]", [_RUN_ID], {"artifacts": _ROWS}
        ),
        PREFIX + "/artifact": _get(
            "One artifact version with its files and lineage",
            [
                {**_q("name", "the artifact's name", minLength=1), "required": True},
                _q("version", "vN, N, an alias or latest"),
                _PROJECT,
            ],
            {"name": {"type": "string"}, "files": {"type": "array"}},
        ),
        PREFIX + "/artifact_names": _get(
            "The names of every artifact", [_PROJECT], {"names": _STRS}, errors=("400",)
        ),
        PREFIX + "/source": _get(
            "The run imported from a source, and its content hash",
            [
                {**_q("project", "the project", minLength=1), "required": True},
                {**_q("source", "the imported path", minLength=1), "required": True},
                _q("external_id", "the run's id in the source"),
            ],
            {
                "run": {"type": "string", "nullable": True},
                "content_hash": {"type": "string", "nullable": True},
            },
            errors=("400",),
        ),
        PREFIX + "/source_files": _get(
            "[run id, name, file fingerprint] of the runs imported from a source",
            [{**_q("source", "the imported path", minLength=1), "required": True}, _PROJECT],
            {"files": _ROWS},
            errors=("400",),
        ),
        PREFIX + "/file": {
            "get": {
                "summary": "One stored file (media, artifact blob) by its content address",
                "parameters": [
                    {**_q("path", "media/<sha[:2]>/<sha><ext> or artifacts/..."), "required": True}
                ],
                "responses": {
                    "200": {
                        "description": "The file's bytes",
                        "content": {"application/octet-stream": {"schema": {"type": "string"}}},
                    },
                    "404": {"description": "No such file", **_ERR},
                    **_AUTH_ERRORS,
                },
            }
        },
        PREFIX + "/reports": _get(
            "The recorded reports (a project token: its project's)",
            [],
            {"reports": {"type": "array", "items": {"type": "object"}}},
            errors=(),
        ),
        PREFIX + "/reports/{report_id}": _get(
            "One recorded report with its text and figures",
            [_p("report_id", "report id")],
            {"id": {"type": "string"}, "text": {"type": "string"}},
            errors=("404",),
        ),
    }
