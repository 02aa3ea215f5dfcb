"""Access tokens of ``expbook server`` and the check every endpoint makes.

A token is ``eb_`` followed by 43 random URL-safe characters. Only its SHA-256 is stored
(the store's token methods keep what they are given); the secret is shown once, when it is
created. A token belongs to one project (or ``*``, every project) and has a scope:
``read`` < ``write`` < ``admin``.

A request carries its token as ``Authorization: Bearer eb_...`` (clients) or in the
dashboard's session cookie (set by the login page: HttpOnly, SameSite=Strict, Secure over
https). The server asks for one as soon as its store holds any token, and always when it
listens on an address other than loopback (where ``expbook server`` refuses to start
without tokens).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from ..errors import ExpbookError

__all__ = [
    "COOKIE",
    "SCOPES",
    "Authorizer",
    "create_token",
    "hash_secret",
    "new_secret",
    "visible_project",
]

SCOPES = ("read", "write", "admin")
_RANK = {s: i for i, s in enumerate(SCOPES)}
PREFIX = "eb_"
COOKIE = "expbook_token"
MAX_TOKEN = 200  # characters: anything longer is not a token of ours
TOUCH_EVERY_S = 60.0  # last_used_at is written at most this often per token


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(
    backend: Any, *, project: str, scope: str, name: str | None = None
) -> tuple[dict[str, Any], str]:
    """Store a new token; returns (its info, the secret). The secret is not kept."""
    if scope not in _RANK:
        raise ExpbookError(f"unknown scope {scope!r}: use one of {', '.join(SCOPES)}")
    project = project.strip()
    if not project:
        raise ExpbookError("--project: name a project, or * for every project")
    secret = new_secret()
    token_id = "tok_" + secrets.token_hex(4)
    created = time.time()
    backend.add_token(
        token_id=token_id,
        project=project,
        scope=scope,
        name=name,
        secret_hash=hash_secret(secret),
        created_at=created,
    )
    info = {
        "id": token_id,
        "project": project,
        "scope": scope,
        "name": name,
        "created_at": created,
        "revoked_at": None,
        "last_used_at": None,
    }
    return info, secret


def visible_project(token: dict[str, Any] | None) -> str | None:
    """The one project a token may see, or None when it sees every project."""
    if token is None or token["project"] == "*":
        return None
    return str(token["project"])


def allows_project(token: dict[str, Any] | None, project: str | None) -> bool:
    only = visible_project(token)
    return only is None or project == only


def secret_of(conn: HTTPConnection) -> str | None:
    """The token a request carries: its Bearer header, else the session cookie."""
    header = conn.headers.get("authorization")
    if header is not None:
        kind, _, value = header.partition(" ")
        if kind.lower() != "bearer" or not value.strip():
            raise HTTPException(401, "Authorization: send 'Bearer <token>'")
        return value.strip()
    return conn.cookies.get(COOKIE) or None


class Authorizer:
    """``authorize(request, scope, project)``: the check every endpoint makes.

    ``required`` forces a token even when the store has none (a server listening off
    loopback). Whether the store has tokens is looked up at most once a second.
    """

    def __init__(self, get_backend: Callable[[], Any], *, required: bool = False) -> None:
        self.get_backend = get_backend
        self.required = required
        self._lock = threading.Lock()
        self._any: tuple[float, bool] = (0.0, False)
        self._touched: dict[str, float] = {}

    def has_tokens(self) -> bool:
        now = time.monotonic()
        with self._lock:
            at, known = self._any
            if known or now - at < 1.0:
                return known  # once a store has a token it always has (revoked ones stay)
        got = bool(self.get_backend().tokens())
        with self._lock:
            self._any = (now, got)
        return got

    def needed(self) -> bool:
        return self.required or self.has_tokens()

    def token(self, conn: HTTPConnection) -> dict[str, Any] | None:
        """The request's valid token, None when this server needs none; raises 401."""
        if not self.needed():
            return None
        secret = secret_of(conn)
        if secret is None:
            raise HTTPException(
                401,
                "this server needs a token: send 'Authorization: Bearer <token>' "
                "(set EXPBOOK_TOKEN for the CLI) or log in at /login",
            )
        if len(secret) > MAX_TOKEN or not secret.startswith(PREFIX):
            raise HTTPException(401, "not an expbook token (they start with eb_)")
        backend = self.get_backend()
        info = backend.token_by_hash(hash_secret(secret))
        if info is None:
            raise HTTPException(401, "unknown token")
        if info.get("revoked_at") is not None:
            raise HTTPException(401, f"token {info['id']} was revoked")
        self._touch(backend, info["id"])
        return dict(info)

    def _touch(self, backend: Any, token_id: str) -> None:
        now = time.time()
        with self._lock:
            if now - self._touched.get(token_id, 0.0) < TOUCH_EVERY_S:
                return
            self._touched[token_id] = now
        try:
            backend.touch_token(token_id, now)
        except ExpbookError:
            pass  # a busy or read-only store: last_used_at is a hint only

    def __call__(
        self, request: HTTPConnection, scope: str, project: str | None
    ) -> dict[str, Any] | None:
        """The token's info when it allows ``scope`` on ``project`` (None: any project the
        token sees; the caller filters), or None when the server needs no token; raises
        HTTPException 401 (no, unknown or revoked token) or 403 (scope or project)."""
        info = self.token(request)
        if info is None:
            return None
        if _RANK.get(info["scope"], -1) < _RANK[scope]:
            raise HTTPException(
                403, f"token {info['id']} has scope {info['scope']}; this needs {scope}"
            )
        if project is not None and not allows_project(info, project):
            raise HTTPException(
                403, f"token {info['id']} is for project {info['project']!r}, not {project!r}"
            )
        return info


def authorize_function(auth: Authorizer) -> Callable[..., dict[str, Any] | None]:
    """``auth`` as the plain function the write routes take (contract 5)."""

    def authorize(
        request: HTTPConnection, scope: str, project: str | None
    ) -> dict[str, Any] | None:
        return auth(request, scope, project)

    return authorize
