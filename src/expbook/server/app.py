"""The ASGI app of ``expbook server``: the dashboard, the store read API, the write API and
the login page, behind one token check, described by one OpenAPI document.

:func:`create_server` builds it on one store (a SQLite folder or file, or a PostgreSQL URL).
The dashboard is :func:`expbook.web.create_app`'s app, mounted behind a guard that asks for a
token (the login page sets it as a cookie) and confines a project's token to that project.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import AmbiguousRun, ExpbookError, RunNotFound
from ._auth import COOKIE, Authorizer, authorize_function, visible_project
from ._read import openapi_paths as read_paths
from ._read import read_routes

__all__ = ["MAX_BODY", "create_server", "is_url", "open_store"]

MAX_BODY = 16 * 1024 * 1024  # bytes of one request body
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
COOKIE_MAX_AGE = 30 * 24 * 3600


def is_url(location: str | os.PathLike[str] | None) -> bool:
    return location is not None and "://" in os.fspath(location)


def open_store(db: str | os.PathLike[str] | None, *, create: bool = True) -> Any:
    """The server's store: ``db`` (a PostgreSQL URL, a folder or ``.db`` file) or the local
    default (as ``expbook ui`` finds it), opened for writing."""
    from ..store import connect, resolve_location

    if is_url(db):
        return connect(os.fspath(db), create=create)  # type: ignore[arg-type]
    return connect(resolve_location(db), create=create)


# -- request size ----------------------------------------------------------------------------
class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with a 413 JSON error (by their
    Content-Length, or while they stream in)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = JSONResponse(
            {"error": f"request body over {self.limit // (1024 * 1024)} MiB", "status": 413}, 413
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    if int(value) > self.limit:
                        await too_large(scope, receive, send)
                        return
                except ValueError:
                    await JSONResponse({"error": "bad Content-Length", "status": 400}, 400)(
                        scope, receive, send
                    )
                    return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except _TooLarge:
            if not started:
                await too_large(scope, receive, send)


# -- the dashboard's guard -------------------------------------------------------------------
_CONFINED_BY_QUERY = ("/", "/api/runs", "/api/workspace/groups", "/sweep", "/api/sweep")
_RUN_PAGES = ("/runs/", "/api/runs/")
_BY_IDS = ("/compare", "/api/compare", "/api/workspace/series")
_OPEN = ("/openapi.json", "/favicon.ico")


class DashboardGuard:
    """Lets a request through to the dashboard when its token allows reading; a project's
    token sees its project only (the runs table and sweeps are filtered to it, another
    project's run is a 404, pages that span projects—reports, the column list—a 403)."""

    def __init__(self, app: ASGIApp, auth: Authorizer, get_backend: Callable[[], Any]) -> None:
        self.app = app
        self.auth = auth
        self.get_backend = get_backend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/static/") or path in _OPEN:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            token = await run_in_threadpool(self.auth, request, "read", None)
            only = visible_project(token)
            if only is not None:
                await run_in_threadpool(self.confine, scope, request, only)
        except HTTPException as e:
            if e.status_code == 401 and not path.startswith("/api/") and request.method == "GET":
                target = "/login?" + urlencode({"next": _local_path(request)})
                await RedirectResponse(target, 303)(scope, receive, send)
                return
            await _error(request, e.status_code, str(e.detail))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def confine(self, scope: Scope, request: Request, only: str) -> None:
        path = scope["path"]
        if path in _CONFINED_BY_QUERY:
            asked = request.query_params.get("project")
            if asked and asked != only:
                raise HTTPException(403, f"this token is for project {only!r}, not {asked!r}")
            kept = [(k, v) for k, v in parse_qsl(scope["query_string"].decode("latin-1"), True)]
            kept = [(k, v) for k, v in kept if k != "project"] + [("project", only)]
            scope["query_string"] = urlencode(kept).encode("latin-1")
            return
        if path.startswith(_RUN_PAGES):
            rest = path.split("/runs/", 1)[1]
            ref = rest.split("/series/", 1)[0] if path.startswith("/api/") else rest
            self._visible(ref, only)
            return
        if path in _BY_IDS:
            refs = [x.strip() for x in request.query_params.get("ids", "").split(",")]
            refs += request.query_params.getlist("id")
            for ref in refs:
                if ref:
                    self._visible(ref, only)
            return
        if path.startswith("/files/"):
            return  # content-addressed media: a name is only known from a visible run
        raise HTTPException(403, f"this token sees project {only!r} only; this page spans projects")

    def _visible(self, ref: str, only: str) -> None:
        try:
            self.get_backend().get_run(ref, project=only)
        except (RunNotFound, AmbiguousRun):
            raise HTTPException(404, f"no run matches {ref!r}") from None


def _local_path(request: Request) -> str:
    q = request.url.query
    return request.url.path + ("?" + q if q else "")


def _safe_next(target: str | None) -> str:
    """A redirect target on this site only (a path), else ``/``."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    return target


def _error(request: Request, status: int, message: str) -> Response:
    return JSONResponse({"error": message, "status": status}, status)


# -- login -----------------------------------------------------------------------------------
_LOGIN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in · expbook</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body><main class="login">
<h1>expbook server</h1>
<p>This server needs a token. Ask its admin for one (<code>expbook server token create</code>).</p>
{error}
<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<label>Token <input type="password" name="token" autocomplete="off" autofocus required></label>
<button type="submit">Log in</button>
</form></main></body></html>
"""


def _login_page(next_: str, error: str | None = None, status: int = 200) -> Response:
    err = f'<p class="error" id="error">{html.escape(error)}</p>' if error else ""
    return HTMLResponse(
        _LOGIN.format(error=err, next=html.escape(next_, quote=True)),
        status,
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


def _login_routes(auth: Authorizer) -> list[Route]:
    async def login(request: Request) -> Response:
        if request.method == "GET":
            return _login_page(_safe_next(request.query_params.get("next")))
        raw = await request.body()
        if len(raw) > 4096:
            raise HTTPException(413, "login form too large")
        ctype = request.headers.get("content-type", "").split(";")[0].strip()
        if ctype == "application/json":
            try:
                body = json.loads(raw)
            except ValueError:
                raise HTTPException(400, "invalid JSON") from None
            if not isinstance(body, dict):
                raise HTTPException(400, 'send {"token": "eb_..."}')
            fields = {k: v for k, v in body.items() if isinstance(v, str)}
        elif ctype == "application/x-www-form-urlencoded":
            fields = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        else:
            raise HTTPException(415, "send the token as a form or as JSON")
        secret = fields.get("token", "").strip()
        next_ = _safe_next(fields.get("next"))
        as_json = ctype == "application/json"
        probe = Request(
            {
                "type": "http",
                "headers": [(b"authorization", f"Bearer {secret}".encode("latin-1", "replace"))],
            }
        )
        try:
            info = await run_in_threadpool(auth, probe, "read", None)
        except HTTPException as e:
            if as_json:
                raise
            return _login_page(next_, str(e.detail), e.status_code)
        if info is None:
            # the server needs no token: nothing to keep
            return JSONResponse({"ok": True}) if as_json else RedirectResponse(next_, 303)
        response: Response = (
            JSONResponse({"ok": True, "id": info["id"], "project": info["project"]})
            if as_json
            else RedirectResponse(next_, 303)
        )
        response.set_cookie(
            COOKIE,
            secret,
            max_age=COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/login", 303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return [
        Route("/login", login, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
    ]


# -- the document ----------------------------------------------------------------------------
def openapi_document(write_paths: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dashboard's API, the store read API and the write API in one document."""
    from ..web._openapi import openapi_document as dashboard_document

    doc = dashboard_document()
    doc["info"]["title"] = "expbook server API"
    doc["info"]["description"] = (
        "The team server: the dashboard's JSON API, the store read API (/api/v1/store/) and "
        "the write API (/api/v1/runs/). Send a token as 'Authorization: Bearer eb_...' (or "
        "the login page's cookie) once the server has any: read endpoints need the read "
        "scope, writes the write scope, and a project's token sees that project only."
    )
    # the dashboard's edit endpoints are not served here
    for ops in doc["paths"].values():
        ops.pop("patch", None)
        ops.pop("delete", None)
    doc["paths"].update(read_paths())
    doc["paths"].update(write_paths or {})
    doc["components"].setdefault("securitySchemes", {}).update(
        {
            "bearer": {"type": "http", "scheme": "bearer"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE},
        }
    )
    doc["security"] = [{"bearer": []}, {"cookie": []}, {}]
    auth_errors = {
        "401": {
            "description": "No token, an unknown or a revoked token",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
        "403": {
            "description": "The token's scope or project does not allow this",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    }
    for ops in doc["paths"].values():
        for op in ops.values():
            if isinstance(op, dict) and "responses" in op:
                for code, resp in auth_errors.items():
                    op["responses"].setdefault(code, resp)
                op["responses"].setdefault(
                    "413",
                    {
                        "description": "Request body over 16 MiB",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    },
                )
    return doc


def _write_api() -> tuple[Callable[..., list[Any]] | None, dict[str, Any]]:
    """The write API's routes and OpenAPI paths, where this install has them."""
    import importlib

    try:
        _write = importlib.import_module("expbook.server._write")
    except ImportError:
        return None, {}
    routes = getattr(_write, "write_routes", None)
    paths_fn = getattr(_write, "openapi_paths", None)
    paths = paths_fn() if callable(paths_fn) else getattr(_write, "WRITE_OPENAPI_PATHS", {})
    return routes, dict(paths)


def _write_endpoints(
    get_backend: Callable[[], Any], authorize: Callable[..., Any]
) -> tuple[Any, list[Any], dict[str, Any]]:
    """The write API (the object that closes its sessions, its routes, its OpenAPI paths)."""
    import importlib

    routes, paths = _write_api()
    if routes is None:
        return None, [], {}
    api_class = getattr(importlib.import_module("expbook.server._write"), "WriteAPI", None)
    if api_class is None:
        return None, routes(get_backend, authorize), paths
    api = api_class(get_backend, authorize)
    return api, api.routes(), paths


# -- the app ---------------------------------------------------------------------------------
def create_server(
    db: str | os.PathLike[str] | None = None,
    *,
    require_token: bool = False,
    allowed_hosts: Sequence[str] | None = None,
) -> Starlette:
    """The server's app on the store ``db`` (a PostgreSQL URL, a folder or ``.db`` file; the
    local default store when None). ``require_token`` asks for a token even while the store
    has none (a server listening off loopback)."""
    from ..web.app import create_app

    backend = open_store(db)
    location = os.fspath(db) if db is not None and is_url(db) else backend.location
    try:
        dashboard = create_app(location)
    except BaseException:
        backend.close()
        raise

    def get_backend() -> Any:
        return backend

    auth = Authorizer(get_backend, required=require_token)
    authorize = authorize_function(auth)
    write_api, write_routes, write_paths = _write_endpoints(get_backend, authorize)
    document = openapi_document(write_paths)

    def openapi(request: Request) -> Response:
        return JSONResponse(document)

    routes: list[Any] = [
        Route("/api/openapi.json", openapi),
        *_login_routes(auth),
        *read_routes(get_backend, authorize),
        *write_routes,
        Mount("", app=DashboardGuard(dashboard, auth, get_backend)),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse(
            {"error": str(exc.detail), "status": exc.status_code},
            exc.status_code,
            headers=exc.headers,
        )

    async def expbook_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, RunNotFound):
            return _error(request, 404, str(exc))
        if isinstance(exc, AmbiguousRun):
            return _error(request, 409, str(exc))
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return _error(request, 500, message)

    async def server_error(request: Request, exc: Exception) -> Response:
        return _error(request, 500, f"internal error ({type(exc).__name__})")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        if write_api is not None:
            write_api.close()
        dashboard.state.ui.close()
        backend.close()

    middleware = [Middleware(BodyLimit)]
    if allowed_hosts:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={
            HTTPException: http_error,
            ExpbookError: expbook_error,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    app.state.backend = backend
    app.state.auth = auth
    app.state.dashboard = dashboard
    app.state.location = location
    return app
