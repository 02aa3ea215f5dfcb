"""The HTTP side of syncing: the write API of ``expbook server`` through the standard
library's HTTP client, with the token header, bounded timeouts, and the server's answers
turned into a few exceptions the engine acts on.

* :class:`Unavailable`: the server cannot be reached, timed out, or answered 5xx (a
  restart, a database that is down): try again later, with backoff.
* :class:`Refused`: 401 or 403 (no token, a revoked token, a token of another project or
  scope): syncing stops, with the server's reason.
* :class:`Gap`: 409 on points, with the server's counts: resend from there.
* :class:`Rejected`: any other 4xx (a run id taken in another project, a bad value): this
  run is not synced, the others go on.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ExpbookError, UsageError

ENV_SERVER = "EXPBOOK_SERVER"
ENV_TOKEN = "EXPBOOK_TOKEN"
API = "/api/v1/runs"
TIMEOUT_S = 30.0  # a request (a large batch on a busy server) gives up after this long
CONNECT_TIMEOUT_S = 5.0


class SyncError(ExpbookError):
    """A sync request that did not go through."""

    status: int | None = None


class Unavailable(SyncError):
    """The server cannot be reached now, or failed (5xx): retry later."""


class Refused(SyncError):
    """The server refused the token (401) or its scope or project (403)."""


class Rejected(SyncError):
    """The server refused this request's content (4xx): this run cannot sync as it is."""


class Gap(SyncError):
    """A batch started past what the server holds; ``received`` are the server's counts."""

    def __init__(self, message: str, received: dict[str, int]) -> None:
        super().__init__(message)
        self.received = received


class MissingFiles(SyncError):
    """Media rows named files the server does not have (``missing``: their paths)."""

    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


def server_url(url: str | None) -> str | None:
    """The server's base URL (``$EXPBOOK_SERVER`` when None), without a trailing slash."""
    url = url or os.environ.get(ENV_SERVER) or None
    if url is None:
        return None
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"server must be an http(s):// URL, not {url[:100]!r}")
    return url


def server_token(token: str | None) -> str | None:
    """The token to send: ``token``, else ``$EXPBOOK_TOKEN`` (None: none)."""
    return token if token is not None else os.environ.get(ENV_TOKEN) or None


def b64(values: Any, dtype: str) -> str:
    import numpy as np

    return base64.b64encode(np.ascontiguousarray(values, dtype=dtype).tobytes()).decode("ascii")


def b64_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Client:
    """Calls to one server's write API, over one kept-alive connection (the standard
    library's :mod:`http.client`: a process that syncs imports nothing more, and a request
    costs a fraction of a millisecond of the client's CPU, which training shares)."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = TIMEOUT_S,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        from urllib.parse import urlsplit

        self.url = url.rstrip("/")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"server must be an http(s):// URL, not {url[:100]!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        token = server_token(token)
        self._headers = {"Accept": "application/json", "User-Agent": "expbook-sync"}
        if token:
            self._headers["Authorization"] = f"Bearer {token.strip()}"
        self._conn: Any = None  # made at the first request; never a proxy (the token)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> Any:
        import http.client

        if self._conn is None:
            if self._https:
                import ssl

                conn: Any = http.client.HTTPSConnection(
                    self._host,
                    self._port,
                    timeout=self._connect_timeout,
                    context=ssl.create_default_context(),
                )
            else:
                conn = http.client.HTTPConnection(
                    self._host, self._port, timeout=self._connect_timeout
                )
            conn.connect()
            conn.sock.settimeout(self._timeout)
            # a request's body goes in a write of its own after the headers (http.client
            # sends a large one so): without this, Nagle's algorithm holds it until the
            # server acknowledges the headers, which its delayed ACK puts off ~40 ms
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
        return self._conn

    # -- requests ----------------------------------------------------------------------
    def _exchange(self, method: str, target: str, content: bytes | None) -> tuple[int, str, bytes]:
        """One request and its whole answer: (status, reason, body). A kept-alive
        connection the server closed meanwhile (a restart, an idle timeout) is opened again
        once: every request of the write API may be repeated safely."""
        import http.client

        headers = dict(self._headers)
        if content is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            fresh = self._conn is None
            try:
                conn = self._connection()
                conn.request(method, target, body=content, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.close()
                return resp.status, resp.reason, data
            except (OSError, http.client.HTTPException) as e:
                self.close()
                if attempt or fresh or isinstance(e, TimeoutError):
                    raise Unavailable(f"cannot reach {self.url}: {_reason(e)}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        from urllib.parse import urlencode

        content = None
        if body is not None:
            # NaN and infinities in a run's config or summary go as Python's JSON spells
            # them (the server reads them back as numbers: the run is stored as it is here)
            content = json.dumps(
                body, separators=(",", ":"), allow_nan=True, default=_default
            ).encode()
        target = self._prefix + path
        if params:
            target += "?" + urlencode(params, doseq=True)
        status, reason, data = self._exchange(method, target, content)
        if status < 300:
            try:
                return json.loads(data)
            except ValueError:
                raise Unavailable(f"{self.url} answered something that is not JSON") from None
        try:
            got = json.loads(data)
        except ValueError:
            got = {}
        if not isinstance(got, dict):
            got = {}
        message = str(got.get("error") or reason or "error")
        text = f"{self.url} answered {status}: {message}"
        err: SyncError
        if status in (401, 403):
            err = Refused(text)
        elif status == 409 and isinstance(got.get("received"), dict):
            err = Gap(text, {str(k): int(v) for k, v in got["received"].items()})
        elif status == 409 and isinstance(got.get("missing"), list):
            err = MissingFiles(text, [str(m) for m in got["missing"]])
        elif status >= 500 or status in (408, 425, 429):
            err = Unavailable(text)
        else:
            err = Rejected(text)
        err.status = status
        raise err

    def put_run(self, run_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Create or update the run; the answer has the server's counts (``received``)."""
        return dict(self._call("PUT", f"{API}/{_q(run_id)}", dict(fields)))

    def received(self, run_id: str) -> dict[str, int]:
        got = self._call("GET", f"{API}/{_q(run_id)}/received")
        return {str(k): int(v) for k, v in got["received"].items()}

    def post_points(
        self,
        run_id: str,
        batches: Sequence[Mapping[str, Any]],
        run: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Append batches (``{key, start, steps, values, times}`` or ``{key, start,
        chunks}``), after creating or updating the run with ``run``'s fields when given (one
        transaction); the answer: the server's counts after (``received``) and, with
        ``run``, what PUT answers."""
        body: dict[str, Any] = {"batches": list(batches)}
        if run is not None:
            body["run"] = dict(run)
        return dict(self._call("POST", f"{API}/{_q(run_id)}/points", body))

    def media(self, run_id: str) -> list[dict[str, Any]]:
        """The run's media rows the server has (through its read API)."""
        got = self._call("GET", f"/api/v1/store/runs/{_q(run_id)}/media")
        return list(got.get("media") or [])

    def post_media(
        self, run_id: str, files: Sequence[Mapping[str, Any]], rows: Sequence[Mapping[str, Any]]
    ) -> int:
        """Record media rows (their files in ``files`` unless the server has them)."""
        got = self._call(
            "POST", f"{API}/{_q(run_id)}/media", {"files": list(files), "rows": list(rows)}
        )
        return int(got.get("media", 0))

    def post_values(self, run_id: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Record non-numeric values ``{key, step, wall, value}`` (by key and step)."""
        got = self._call("POST", f"{API}/{_q(run_id)}/values", {"values": list(rows)})
        return int(got.get("values", 0))

    def heartbeat(self, run_id: str) -> None:
        self._call("POST", f"{API}/{_q(run_id)}/heartbeat")


def _default(o: Any) -> Any:
    item = getattr(o, "item", None)  # numpy scalars
    if callable(item):
        return item()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


def _q(run_id: str) -> str:
    from urllib.parse import quote

    return quote(run_id, safe="")


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text and text[0] else type(e).__name__
