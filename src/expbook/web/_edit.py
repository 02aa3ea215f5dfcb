"""Editing from the dashboard (``expbook ui --allow-edits``): a run's notes and tags, and
deleting runs. Off by default; the command refuses it on an address other than loopback.

Each write is a small JSON endpoint; the store is opened for writing for that request only
(the dashboard otherwise holds it read-only). Requests must carry the edit token that the
server puts into its own pages (``X-Expbook-Edit``): a page of another site that the browser
shows cannot read it, and a cross-site request cannot set that header without a CORS
preflight, which this server never grants. A request whose ``Origin`` names another site is
refused as well.
"""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..errors import RunNotFound

if TYPE_CHECKING:
    from .app import _UI

TOKEN_HEADER = "X-Expbook-Edit"
MAX_NOTES = 64 * 1024  # characters
MAX_TAGS = 100
MAX_TAG = 200  # characters of one tag


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _check(request: Request, token: str) -> None:
    sent = request.headers.get(TOKEN_HEADER, "")
    if not secrets.compare_digest(sent, token):
        raise HTTPException(403, f"edits need the {TOKEN_HEADER} header of this server's pages")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise HTTPException(403, f"edits from another site ({origin}) are refused")


async def _body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(415, "send the edit as application/json")
    raw = await request.body()
    if len(raw) > 2 * MAX_NOTES + 64 * 1024:
        raise HTTPException(413, "edit too large")
    try:
        body = json.loads(raw)
    except ValueError as e:
        raise HTTPException(400, f"invalid JSON: {e}") from None
    if not isinstance(body, dict):
        raise HTTPException(400, 'send a JSON object such as {"notes": "..."}')
    return body


def _fields(body: dict[str, Any]) -> dict[str, Any]:
    """The run fields an edit sets, checked: ``notes`` (text or null), ``tags`` (text list)."""
    unknown = sorted(set(body) - {"notes", "tags"})
    if unknown:
        raise HTTPException(400, f"cannot edit {', '.join(unknown)} (only notes and tags)")
    if not body:
        raise HTTPException(400, "nothing to edit: send notes and/or tags")
    out: dict[str, Any] = {}
    if "notes" in body:
        notes = body["notes"]
        if notes is not None and not isinstance(notes, str):
            raise HTTPException(400, "notes: a string or null")
        if notes is not None and len(notes) > MAX_NOTES:
            raise HTTPException(400, f"notes: at most {MAX_NOTES} characters")
        out["notes"] = notes or None
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise HTTPException(400, "tags: a list of strings")
        clean = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
        if len(clean) > MAX_TAGS or any(len(t) > MAX_TAG for t in clean):
            raise HTTPException(400, f"tags: at most {MAX_TAGS}, each at most {MAX_TAG} characters")
        out["tags"] = clean
    return out


def edit_routes(ui: _UI, token: str) -> list[Route]:
    """The write endpoints, bound to ``ui``'s store."""
    from ..store import connect

    def writable() -> Any:
        return connect(ui.db_location, create=False)

    def run_id(ref: str) -> str:
        try:
            return ui.backend.get_run(ref).id
        except Exception as e:  # RunNotFound, AmbiguousRun
            raise HTTPException(404, str(e)) from None

    async def edit_run(request: Request) -> Response:
        _check(request, token)
        fields = _fields(await _body(request))
        rid = run_id(request.path_params["run_id"])
        store = writable()
        try:
            store.update_run(rid, **fields)
            rec = store.get_run(rid)
        except RunNotFound as e:
            raise HTTPException(404, str(e)) from None
        finally:
            store.close()
        ui.snapshots.fresh()
        return JSONResponse({"id": rec.id, "notes": rec.notes, "tags": list(rec.tags)})

    async def delete_run(request: Request) -> Response:
        _check(request, token)
        rid = run_id(request.path_params["run_id"])
        store = writable()
        try:
            n = store.delete_runs([rid])
        finally:
            store.close()
        ui.snapshots.fresh()
        return JSONResponse({"id": rid, "deleted": n})

    return [
        Route("/api/runs/{run_id}", edit_run, methods=["PATCH"]),
        Route("/api/runs/{run_id}", delete_run, methods=["DELETE"]),
    ]
