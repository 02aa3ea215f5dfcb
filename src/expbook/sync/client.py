"""The HTTP side of syncing: the write API of ``expbook server`` through httpx, with the
token header, bounded timeouts, and the server's answers turned into a few exceptions the
engine acts on.

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


def b64(values: Any, dtype: str) -> str:
    import numpy as np

    return base64.b64encode(np.ascontiguousarray(values, dtype=dtype).tobytes()).decode("ascii")


def b64_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Client:
    """Calls to one server's write API."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = TIMEOUT_S,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        import httpx

        self.url = url.rstrip("/")
        token = token if token is not None else os.environ.get(ENV_TOKEN) or None
        headers = {"Accept": "application/json", "User-Agent": "expbook-sync"}
        if token:
            headers["Authorization"] = f"Bearer {token.strip()}"
        # plain http never uses TLS: no certificate store to load (tens of ms a client)
        verify: Any = self.url.startswith("https://")
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            trust_env=False,  # a proxy from the environment must not see the token
            verify=verify,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ----------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        import httpx

        content = None
        headers = {}
        if body is not None:
            # NaN and infinities in a run's config or summary go as Python's JSON spells
            # them (the server reads them back as numbers: the run is stored as it is here)
            content = json.dumps(
                body, separators=(",", ":"), allow_nan=True, default=_default
            ).encode()
            headers["Content-Type"] = "application/json"
        try:
            resp = self._http.request(method, path, content=content, headers=headers, params=params)
        except httpx.HTTPError as e:
            raise Unavailable(f"cannot reach {self.url}: {_reason(e)}") from None
        if resp.status_code < 300:
            try:
                return resp.json()
            except ValueError:
                raise Unavailable(f"{self.url} answered something that is not JSON") from None
        try:
            got = resp.json()
        except ValueError:
            got = {}
        if not isinstance(got, dict):
            got = {}
        message = str(got.get("error") or resp.reason_phrase or "error")
        text = f"{self.url} answered {resp.status_code}: {message}"
        status = resp.status_code
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
