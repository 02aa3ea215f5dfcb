"""The write API of ``expbook server`` (under ``/api/v1/runs/``), what syncing clients
(:mod:`expbook.sync`) upload through.

* ``PUT /api/v1/runs/{run_id}`` creates or updates a run: its fields as the client's local
  store has them (the status follows the client's). An id that exists in another project
  is a 409.
* ``POST /api/v1/runs/{run_id}/points`` appends points, idempotent by position: the server
  keeps, per (run, key), how many points it holds (``received``); a batch names the
  position of its first point (``start``), the part the server holds already is skipped,
  a batch that would leave a gap is a 409 carrying the server's counts (of every key of
  the run). The points and the counters are written in one transaction. A batch is either
  columns (``steps``, ``values``, ``times``) or ``chunks``: the client's stored chunks
  (base64 of :mod:`expbook.store.codec` blobs), each checked (version, size, body inflated
  no further than its size, steps strictly increasing) and kept as it is when it starts a
  chunk of the server's, so a client's upload is neither decoded on its side nor encoded
  again here. With ``run`` (the fields ``PUT`` takes) the run is created or updated first,
  in the same transaction: a short run goes up in one request.
* ``GET /api/v1/runs/{run_id}/received``: the counts, so a client resumes where it stopped.
* ``POST /api/v1/runs/{run_id}/heartbeat``: a live client's sign of life; a ``running``
  run whose heartbeats stop reads as ``crashed``, as in a local store.
* ``POST /api/v1/runs/{run_id}/values``: non-numeric values (any JSON) by key and step,
  stored as the local store keeps them (a value sent again replaces itself).

Every endpoint needs the ``write`` scope on the run's project; a run of another project is
a 404 for a project's token (it does not exist for that token). Points come as JSON lists
or, faster, as base64 of little-endian arrays (int64 steps, float64 values and times); a
request body may be gzip-compressed (``Content-Encoding: gzip``). Bad input is a 4xx JSON
error; a store that cannot be reached (PostgreSQL restarting) is a 503, which clients
retry.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import queue
import re
import sqlite3
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import StoreError
from ._auth import allows_project
from ._read import _ERR, json_object, send

__all__ = ["MAX_BATCHES", "MAX_POINTS", "WriteAPI", "openapi_paths", "write_routes"]

PREFIX = "/api/v1/runs"
MAX_BATCHES = 1000  # batches in one request
MAX_POINTS = 1_000_000  # points in one request (all batches)
MAX_INFLATED = 64 * 1024 * 1024  # bytes of a gzip-compressed body once inflated
MAX_ID = 128  # characters of a run id
MAX_KEY = 1000  # characters of a metric key
MAX_TEXT = 100_000  # characters of a name, notes, host, group
MAX_MEDIA_ROWS = 10_000  # media rows in one request
MAX_VALUE_ROWS = 10_000  # non-numeric values in one request
MAX_VALUE_TEXT = 1_000_000  # characters of one value's JSON
MAX_MEDIA_FILE = 12 * 1024 * 1024  # bytes of one media file
_SHA = re.compile(r"[0-9a-f]{64}")
_EXT = re.compile(r"(\.[A-Za-z0-9]{1,12}){0,2}")
_INT64 = 2**63 - 1
WRITE_STATUSES = ("running", "finished", "failed", "killed", "crashed")
_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_RUN_FIELDS = {
    "name": "text",
    "project": "text",
    "status": "status",
    "config": "object",
    "summary": "object",
    "meta": "object",
    "source": "object",
    "tags": "tags",
    "group": "text",
    "notes": "text",
    "host": "text",
    "created_at": "time",
    "finished_at": "time",
    "heartbeat_at": "time",
    "pid": "int",
    "exit_code": "int",
}


# -- the stores writes go to -----------------------------------------------------------------
class WriterPool:
    """The stores the write endpoints use. A PostgreSQL store gets a few sessions of its
    own (``$EXPBOOK_SERVER_WRITERS``, default 4), so uploads of different runs write in
    parallel; a SQLite store has one writer at a time anyway and is shared."""

    def __init__(self, get_backend: Callable[[], Any], size: int | None = None) -> None:
        self.get_backend = get_backend
        if size is None:
            try:
                size = int(os.environ.get("EXPBOOK_SERVER_WRITERS") or 4)
            except ValueError:
                size = 4
        self.size = max(1, min(size, 32))
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._made: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    def _pooled(self) -> bool:
        return hasattr(self.get_backend(), "url") and hasattr(self.get_backend(), "schema")

    @contextmanager
    def store(self) -> Iterator[Any]:
        if not self._pooled():
            yield self.get_backend()
            return
        try:
            store = self._idle.get_nowait()
        except queue.Empty:
            store = None
            with self._lock:
                if len(self._made) < self.size and not self._closed:
                    store = self._open()
            if store is None:
                store = self._idle.get(timeout=60)
        try:
            yield store
        finally:
            if self._closed:
                store.close()
            else:
                self._idle.put(store)

    def _open(self) -> Any:
        from ..store.postgres import PostgresStore

        backend = self.get_backend()
        store = PostgresStore(backend.url, create=False)
        self._made.append(store)
        return store

    def close(self) -> None:
        with self._lock:
            self._closed = True
            made, self._made = self._made, []
        for store in made:
            try:
                store.close()
            except Exception:
                pass


# -- input -----------------------------------------------------------------------------------
async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = inflate.decompress(raw, MAX_INFLATED)
        except zlib.error as e:
            raise HTTPException(400, f"body is not valid gzip: {e}") from None
        if inflate.unconsumed_tail:
            raise HTTPException(413, f"body over {MAX_INFLATED // (1024 * 1024)} MiB inflated")
    elif encoding not in ("identity", ""):
        raise HTTPException(415, f"Content-Encoding {encoding[:40]!r}: send gzip or none")
    return json_object(raw)


def _run_id(request: Request) -> str:
    run_id = request.path_params["run_id"]
    if not 0 < len(run_id) <= MAX_ID or any(ord(c) < 32 or c in "/\\" for c in run_id):
        raise HTTPException(400, f"run_id: 1 to {MAX_ID} characters, no / or control characters")
    return str(run_id)


def _text(name: str, v: Any, required: bool = False) -> str | None:
    if v is None and not required:
        return None
    if not isinstance(v, str) or (required and not v.strip()):
        raise HTTPException(400, f"{name}: a{' non-empty' if required else ''} string")
    if len(v) > MAX_TEXT or "\x00" in v:
        raise HTTPException(400, f"{name}: at most {MAX_TEXT} characters, no NUL")
    return v


def _run_fields(body: dict[str, Any]) -> dict[str, Any]:
    bad = sorted(set(body) - set(_RUN_FIELDS))
    if bad:
        raise HTTPException(400, f"unknown field {bad[0][:50]!r}: send {', '.join(_RUN_FIELDS)}")
    out: dict[str, Any] = {}
    for name, kind in _RUN_FIELDS.items():
        if name not in body:
            continue
        v = body[name]
        if kind == "text":
            out[name] = _text(name, v, required=name == "project")
        elif kind == "status":
            if v not in WRITE_STATUSES:
                raise HTTPException(400, f"status: one of {', '.join(WRITE_STATUSES)}")
            out[name] = v
        elif kind == "object":
            if not isinstance(v, dict):
                raise HTTPException(400, f"{name}: a JSON object")
            out[name] = v
        elif kind == "tags":
            if not isinstance(v, list) or not all(isinstance(t, str) for t in v):
                raise HTTPException(400, "tags: a list of strings")
            if len(v) > 1000 or any(len(t) > 1000 or "\x00" in t for t in v):
                raise HTTPException(400, "tags: at most 1000 tags of 1000 characters")
            out[name] = v
        elif kind == "time":
            if v is not None and (
                isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
            ):
                raise HTTPException(400, f"{name}: seconds since the epoch (a number) or null")
            if v is not None and not 0 <= v < 1e11:
                raise HTTPException(400, f"{name}: seconds since the epoch")
            out[name] = None if v is None else float(v)
        else:  # int
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or abs(v) > _INT64):
                raise HTTPException(400, f"{name}: an integer or null")
            out[name] = v
    if "project" not in out or out["project"] is None:
        raise HTTPException(400, "project: the run's project")
    if "name" in out and not (out["name"] or "").strip():
        raise HTTPException(400, "name: a non-empty string")
    return out


def _unb64(text: str) -> bytes:
    """Strict base64 (only its alphabet and padding): binascii.Error or ValueError else."""
    if sys.version_info >= (3, 11):  # half the time of b64decode(validate=True)
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    return base64.b64decode(text, validate=True)


def _column(name: str, v: Any, dtype: str, n: int | None) -> Any:
    """A batch's column: a JSON list or base64 of little-endian int64/float64."""
    import numpy as np

    if isinstance(v, str):
        try:
            raw = _unb64(v)
        except (binascii.Error, ValueError):
            raise HTTPException(400, f"{name}: base64 of little-endian {dtype}") from None
        if len(raw) % 8:
            raise HTTPException(400, f"{name}: base64 of 8-byte little-endian {dtype}")
        arr = np.frombuffer(raw, dtype="<i8" if dtype == "int64" else "<f8")
    elif isinstance(v, list):
        if dtype == "int64":
            if not all(type(x) is int and -_INT64 <= x <= _INT64 for x in v):
                raise HTTPException(400, f"{name}: integers (64-bit)")
            arr = np.array(v, dtype=np.int64)
        else:
            try:
                floats = [
                    math.nan if x is None else _NONFINITE[x] if isinstance(x, str) else _float(x)
                    for x in v
                ]
            except (KeyError, TypeError):
                raise HTTPException(
                    400, f"{name}: numbers (or null, 'NaN', 'Infinity', '-Infinity')"
                ) from None
            arr = np.array(floats, dtype=np.float64)
    else:
        raise HTTPException(400, f"{name}: a list or base64 of little-endian {dtype}")
    if n is not None and len(arr) != n:
        raise HTTPException(400, f"{name}: {len(arr)} entries for {n} steps")
    return arr


def _float(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError
    return float(x)


class _Batch:
    __slots__ = ("blobs", "key", "replace", "start", "steps", "times", "values")

    def __init__(
        self,
        key: str,
        start: int,
        steps: Any,
        times: Any,
        values: Any,
        blobs: list[bytes] | None = None,
        replace: bool = False,
    ) -> None:
        self.key = key
        self.start = start
        self.steps = steps
        self.times = times
        self.values = values
        self.blobs = blobs  # the client's chunks holding exactly these points, if it sent them
        # points rewritten on the client (a step logged again...): written over the
        # server's by step, not appended by position (``start`` unused)
        self.replace = replace


def _chunks(name: str, v: Any, room: int) -> tuple[Any, Any, Any, list[bytes]]:
    """A batch's ``chunks``: base64 of expbook chunk blobs (the client's local chunks), each
    decoded and checked; (steps, times, values, blobs). ``room``: points still allowed."""
    import numpy as np

    from ..store import codec
    from ..store.sqlite_core import CHUNK_POINTS

    if not isinstance(v, list) or not v:
        raise HTTPException(400, f"{name}: a non-empty list of base64 chunks")
    blobs, cols = [], []
    for i, text in enumerate(v):
        if not isinstance(text, str):
            raise HTTPException(400, f"{name}[{i}]: base64 of a chunk")
        try:
            blob = _unb64(text)
        except (binascii.Error, ValueError):
            raise HTTPException(400, f"{name}[{i}]: base64 of a chunk") from None
        try:
            got = codec.decode_checked(blob, CHUNK_POINTS)
        except ValueError as e:
            raise HTTPException(400, f"{name}[{i}]: not a chunk: {str(e)[:200]}") from None
        room -= len(got[0])
        if room < 0:
            raise HTTPException(400, f"at most {MAX_POINTS:,} points in one request")
        blobs.append(blob)
        cols.append(got)
    if len(cols) == 1:
        steps, walls, values = cols[0]
    else:
        steps, walls, values = (np.concatenate([c[j] for c in cols]) for j in range(3))
    return steps, walls, values, blobs


def _joined(batches: list[_Batch]) -> dict[str, Any]:
    """key -> one PointBatch of the batches of that key, in order."""
    import numpy as np

    from ..store.base import PointBatch

    by_key: dict[str, list[_Batch]] = {}
    for b in batches:
        by_key.setdefault(b.key, []).append(b)

    def column(got: list[_Batch], field: str) -> Any:
        if len(got) == 1:
            return getattr(got[0], field)
        return np.concatenate([getattr(b, field) for b in got])

    return {key: PointBatch(*(column(got, f) for f in _FIELDS)) for key, got in by_key.items()}


_FIELDS = ("steps", "times", "values")  # PointBatch's order: steps, walls, values


def _listed(
    body: dict[str, Any], name: str, shape: str, most: int, extra: tuple[str, ...] = ()
) -> list[Any]:
    """``body[name]``: a list of at most ``most`` items, in a body with no other field than
    ``name`` and ``extra``."""
    bad = sorted(set(body) - {name, *extra})
    if bad:
        raise HTTPException(400, f"unknown field {bad[0][:50]!r}: send {name}")
    raw = body.get(name)
    if not isinstance(raw, list):
        raise HTTPException(400, f"{name}: a list of {shape}")
    if len(raw) > most:
        raise HTTPException(400, f"{name}: at most {most:,} in one request")
    return raw


def _key(where: str, key: Any) -> str:
    """A key of a batch, value or media row (its ``where`` for the error)."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY or "\x00" in key:
        raise HTTPException(400, f"{where}.key: a key (1 to {MAX_KEY} characters)")
    return key


def _batches(body: dict[str, Any], extra: tuple[str, ...] = ()) -> list[_Batch]:
    import numpy as np

    shape = "{key, start, steps, values, times} or {key, start, chunks}"
    raw = _listed(body, "batches", shape, MAX_BATCHES, extra)
    out = []
    total = 0
    for i, b in enumerate(raw):
        where = f"batches[{i}]"
        if not isinstance(b, dict):
            raise HTTPException(400, f"{where}: an object")
        chunked = "chunks" in b
        replace = b.get("replace", False)
        if not isinstance(replace, bool):
            raise HTTPException(400, f"{where}.replace: true or false")
        fields = ("key", "chunks") if chunked else ("key", *_COLUMNS)
        fields += ("replace",) if replace else ("start", "replace")
        extra = sorted(set(b) - set(fields))
        if extra:
            also = (
                " (a batch that replaces has no start)"
                if extra[0] == "start"
                else " (chunks come without steps, values and times)"
                if chunked
                else ""
            )
            raise HTTPException(400, f"{where}: unknown field {extra[0][:50]!r}{also}")
        key = _key(where, b.get("key"))
        start = b.get("start", 0)
        if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= _INT64:
            raise HTTPException(400, f"{where}.start: the position of its first point (>= 0)")
        blobs = None
        if chunked:
            steps, walls, values, blobs = _chunks(
                f"{where}.chunks", b["chunks"], MAX_POINTS - total
            )
            total += len(steps)
        else:
            steps = _column(f"{where}.steps", b.get("steps"), "int64", None)
            total += len(steps)
            if total > MAX_POINTS:
                raise HTTPException(400, f"at most {MAX_POINTS:,} points in one request")
            values = _column(f"{where}.values", b.get("values"), "float64", len(steps))
            times = b.get("times")
            walls = (
                np.full(len(steps), np.nan)
                if times is None
                else _column(f"{where}.times", times, "float64", len(steps))
            )
        if len(steps) > 1 and not bool(np.all(steps[1:] > steps[:-1])):
            raise HTTPException(400, f"{where}.steps: strictly increasing")
        out.append(_Batch(key, start, steps, walls, values, blobs, replace))
    return out


_COLUMNS = ("steps", "values", "times")


def _media(body: dict[str, Any]) -> tuple[dict[str, bytes], list[tuple[Any, ...]]]:
    """(sha256 + ext -> bytes checked against its sha256, media rows as the store takes
    them, their file named by content address only)."""
    bad = sorted(set(body) - {"files", "rows"})
    if bad:
        raise HTTPException(400, f"unknown field {bad[0][:50]!r}: send files and rows")
    files_in = body.get("files") or []
    rows_in = body.get("rows")
    if not isinstance(files_in, list) or not isinstance(rows_in, list):
        raise HTTPException(400, "files and rows: lists")
    if len(rows_in) > MAX_MEDIA_ROWS or len(files_in) > MAX_MEDIA_ROWS:
        raise HTTPException(400, f"at most {MAX_MEDIA_ROWS} rows and files in one request")
    import hashlib

    files: dict[str, bytes] = {}
    for i, f in enumerate(files_in):
        where = f"files[{i}]"
        if not isinstance(f, dict) or set(f) - {"sha256", "ext", "data"}:
            raise HTTPException(400, f"{where}: an object {{sha256, ext, data}}")
        sha, ext, data = f.get("sha256"), f.get("ext", ""), f.get("data")
        if not isinstance(sha, str) or not _SHA.fullmatch(sha):
            raise HTTPException(400, f"{where}.sha256: 64 lowercase hex digits")
        if not isinstance(ext, str) or not _EXT.fullmatch(ext):
            raise HTTPException(400, f"{where}.ext: like .png or .json.gz (letters, digits)")
        if not isinstance(data, str):
            raise HTTPException(400, f"{where}.data: base64 of the file")
        try:
            raw = _unb64(data)
        except (binascii.Error, ValueError):
            raise HTTPException(400, f"{where}.data: base64 of the file") from None
        if len(raw) > MAX_MEDIA_FILE:
            raise HTTPException(413, f"{where}: a media file over {MAX_MEDIA_FILE >> 20} MiB")
        if hashlib.sha256(raw).hexdigest() != sha:
            raise HTTPException(400, f"{where}: its bytes do not have that sha256")
        files[sha + ext] = raw
    rows = []
    for i, r in enumerate(rows_in):
        where = f"rows[{i}]"
        keys = {"key", "step", "index", "wall", "type", "sha256", "ext", "meta"}
        if not isinstance(r, dict) or set(r) - keys:
            raise HTTPException(400, f"{where}: an object {{{', '.join(sorted(keys))}}}")
        key, step, idx, wall = r.get("key"), r.get("step"), r.get("index", 0), r.get("wall")
        typ, sha, ext, meta = r.get("type"), r.get("sha256"), r.get("ext", ""), r.get("meta")
        key = _key(where, key)
        for name, v in (("step", step), ("index", idx)):
            if isinstance(v, bool) or not isinstance(v, int) or abs(v) > _INT64:
                raise HTTPException(400, f"{where}.{name}: an integer")
        if wall is not None and (
            isinstance(wall, bool) or not isinstance(wall, (int, float)) or not math.isfinite(wall)
        ):
            raise HTTPException(400, f"{where}.wall: a number or null")
        if not isinstance(typ, str) or not typ or len(typ) > 100:
            raise HTTPException(400, f"{where}.type: the media type (image, table...)")
        if not isinstance(sha, str) or not _SHA.fullmatch(sha):
            raise HTTPException(400, f"{where}.sha256: 64 lowercase hex digits")
        if not isinstance(ext, str) or not _EXT.fullmatch(ext):
            raise HTTPException(400, f"{where}.ext: like .png")
        if not isinstance(meta, dict):
            raise HTTPException(400, f"{where}.meta: an object")
        path = f"media/{sha[:2]}/{sha}{ext}"
        rows.append((key, step, idx, None if wall is None else float(wall), typ, path, meta))
    return files, rows


def _values(body: dict[str, Any]) -> list[tuple[str, int, float | None, str]]:
    """A values request's rows as the stores take them: (key, step, wall, JSON text)."""
    raw = _listed(body, "values", "{key, step, wall, value}", MAX_VALUE_ROWS)
    rows = []
    for i, v in enumerate(raw):
        where = f"values[{i}]"
        if not isinstance(v, dict) or set(v) - {"key", "step", "wall", "value"} or "value" not in v:
            raise HTTPException(400, f"{where}: an object {{key, step, wall, value}}")
        key, step, wall = _key(where, v.get("key")), v.get("step"), v.get("wall")
        if isinstance(step, bool) or not isinstance(step, int) or not -_INT64 <= step <= _INT64:
            raise HTTPException(400, f"{where}.step: an integer (64-bit)")
        if wall is not None and (isinstance(wall, bool) or not isinstance(wall, (int, float))):
            raise HTTPException(400, f"{where}.wall: a time (seconds) or null")
        text = json.dumps(v["value"], allow_nan=True, separators=(",", ":"))
        if len(text) > MAX_VALUE_TEXT:
            raise HTTPException(400, f"{where}.value: over {MAX_VALUE_TEXT:,} characters of JSON")
        rows.append((key, step, None if wall is None else float(wall), text))
    return rows


# -- the routes ------------------------------------------------------------------------------
class _Gap(Exception):
    def __init__(self, key: str, start: int, have: dict[str, int]) -> None:
        super().__init__(key)
        self.key, self.start, self.have = key, start, have


def _unavailable(e: BaseException) -> HTTPException:
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    return HTTPException(503, f"the store cannot be written now, retry later ({msg[:300]})")


class WriteAPI:
    """The write endpoints on ``get_backend()``'s store; :meth:`close` ends the sessions
    the endpoints opened (a PostgreSQL store's pool)."""

    def __init__(self, get_backend: Callable[[], Any], authorize: Callable[..., Any]) -> None:
        self.get_backend = get_backend
        self.authorize = authorize
        self.pool = WriterPool(get_backend)

    def close(self) -> None:
        self.pool.close()

    # -- helpers -----------------------------------------------------------------------
    def _project(self, store: Any, run_id: str) -> str | None:
        """The project of the run with exactly this id (None: no such run); one query."""
        rows = store._q("SELECT project FROM runs WHERE id=?", (run_id,))
        return str(rows[0][0]) if rows else None

    def _visible_run(self, request: Request, store: Any, run_id: str) -> str:
        token = self.authorize(request, "write", None)
        project = self._project(store, run_id)
        if project is None or not allows_project(token, project):
            raise HTTPException(404, f"no run with id {run_id!r}")
        return project

    def _guarded(self, request: Request, work: Callable[[Any], Any]) -> Any:
        """``work(store)`` on a pooled store; a store that cannot be reached is a 503."""
        try:
            with self.pool.store() as store:
                return work(store)
        except (StoreError, sqlite3.OperationalError, queue.Empty) as e:
            raise _unavailable(e) from None

    # -- endpoints -----------------------------------------------------------------------
    async def put_run(self, request: Request) -> Response:
        run_id = _run_id(request)
        fields = _run_fields(await _body(request))

        def work(store: Any) -> dict[str, Any]:
            self.authorize(request, "write", fields["project"])
            for attempt in (0, 1):
                try:
                    return self._upsert(store, run_id, fields)
                except StoreError as e:
                    if attempt or "already exists" not in str(e):
                        raise  # a second writer created it meanwhile: update it
            raise AssertionError("unreachable")  # pragma: no cover

        return send(await run_in_threadpool(self._guarded, request, work))

    def _upsert(
        self, store: Any, run_id: str, fields: dict[str, Any], counts: bool = True
    ) -> dict[str, Any]:
        """Create or update the run; the answer (with the server's counts unless not
        ``counts``: the caller reads them)."""
        now = time.time()
        with store.atomic():
            rows = store._q("SELECT project, status FROM runs WHERE id=?", (run_id,))
            exists = bool(rows)
            if exists and rows[0][0] != fields["project"]:
                raise HTTPException(
                    409, f"run {run_id!r} exists in another project: pick another id"
                )
            status = fields.get("status", rows[0][1] if exists else "running")
            # a null name or created_at leaves the stored one (they are never empty)
            update = {
                k: v
                for k, v in fields.items()
                if k != "project" and not (v is None and k in ("name", "created_at"))
            }
            if status == "running" and update.get("heartbeat_at") is None:
                update["heartbeat_at"] = now
            if not exists:
                store.create_run(
                    name=fields.get("name") or run_id,
                    project=fields["project"],
                    run_id=run_id,
                    status=status,
                    config=fields.get("config"),
                    tags=fields.get("tags") or (),
                    group=fields.get("group"),
                    notes=fields.get("notes"),
                    meta=fields.get("meta"),
                    created_at=fields.get("created_at"),
                    source=fields.get("source"),
                    pid=fields.get("pid"),
                    host=fields.get("host"),
                )
                # what create_run does not set (a new running run has its heartbeat)
                update = {
                    k: v
                    for k, v in update.items()
                    if (k == "summary" and v)
                    or (k in ("finished_at", "exit_code") and v is not None)
                    # create_run beat it now: a heartbeat of long ago (a run synced after
                    # its client vanished) is kept, so that it reads as crashed
                    or (k == "heartbeat_at" and (status != "running" or abs(now - v) > 5.0))
                }
            if update:
                store.update_run(run_id, **update)
            received = store.received_counts(run_id) if counts else {}
        return {
            "id": run_id,
            "project": fields["project"],
            "status": status,
            "created": not exists,
            "received": received,
        }

    async def post_points(self, request: Request) -> Response:
        run_id = _run_id(request)
        body = await _body(request)
        batches = _batches(body, ("run",))
        fields = None
        if "run" in body:
            if not isinstance(body["run"], dict):
                raise HTTPException(400, "run: the run's fields, as PUT takes them")
            fields = _run_fields(body["run"])

        def work(store: Any) -> dict[str, Any]:
            if fields is None:
                self._visible_run(request, store, run_id)
                try:
                    return {"received": self._append(store, run_id, batches)}
                except _Gap as gap:
                    return {"gap": gap}
            # the run's fields and its points in one transaction (a client's one request
            # for a short run): created or updated, then appended
            self.authorize(request, "write", fields["project"])
            for attempt in (0, 1):
                try:
                    with store.atomic():
                        got = self._upsert(store, run_id, fields, counts=False)
                        got["received"] = self._append(store, run_id, batches, every=True)
                        return got
                except _Gap as gap:
                    return {"gap": gap}
                except StoreError as e:
                    if attempt or "already exists" not in str(e):
                        raise  # a second writer created it meanwhile: update it
            raise AssertionError("unreachable")  # pragma: no cover

        got = await run_in_threadpool(self._guarded, request, work)
        gap = got.get("gap")
        if gap is not None:
            return send(
                {
                    "error": f"batch of {gap.key!r} starts at point {gap.start} but the server "
                    f"holds {gap.have[gap.key]}: send from there",
                    "status": 409,
                    "received": gap.have,
                },
                409,
            )
        return send(got)

    def _append(
        self, store: Any, run_id: str, batches: list[_Batch], every: bool = False
    ) -> dict[str, int]:
        """Append what the server lacks of the batches; the counts after of the batches'
        keys (``every``: of every key of the run)."""

        keys = list(dict.fromkeys(b.key for b in batches))
        with store.atomic():
            held = store.received_counts(run_id)  # one query; the run locked until the end
            have = {k: held.get(k, 0) for k in keys}
            parts: dict[str, list[_Batch]] = {}
            for b in batches:
                if b.replace:
                    continue
                n = have[b.key]
                if b.start > n:
                    # the counts of every key of the run: the client learns them all
                    raise _Gap(b.key, b.start, {**held, **have})
                skip = n - b.start
                if skip >= len(b.steps):
                    continue  # all of it is here already (a retried batch)
                if skip:  # the part the server lacks (the client's chunks cut: not kept)
                    b = _Batch(b.key, n, b.steps[skip:], b.times[skip:], b.values[skip:])
                parts.setdefault(b.key, []).append(b)
                have[b.key] = b.start + len(b.steps)
            if parts:
                encoded = {
                    key: [blob for b in got for blob in b.blobs or ()]
                    for key, got in parts.items()
                    if all(b.blobs for b in got)
                }
                out = _joined([b for got in parts.values() for b in got])
                store.append_points(run_id, out, encoded=encoded or None)
                store.set_received_counts(run_id, {k: have[k] for k in parts})
            replaced = _joined([b for b in batches if b.replace])
            if replaced:
                # written over by step; the count is then what the server holds of the key
                store.append_points(run_id, replaced)
                sums = store.metric_summaries([run_id], list(replaced)).get(run_id, {})
                counts = {k: int(sums[k].count) if k in sums else 0 for k in replaced}
                store.set_received_counts(run_id, counts)
                have.update(counts)
        return {**held, **have} if every else have

    async def received(self, request: Request) -> Response:
        run_id = _run_id(request)
        keys = request.query_params.getlist("key") or None
        if keys is not None and len(keys) > MAX_BATCHES:
            raise HTTPException(400, f"key: at most {MAX_BATCHES} keys")

        def work(store: Any) -> dict[str, Any]:
            self._visible_run(request, store, run_id)
            return {"received": store.received_counts(run_id, keys)}

        return send(await run_in_threadpool(self._guarded, request, work))

    async def heartbeat(self, request: Request) -> Response:
        run_id = _run_id(request)

        def work(store: Any) -> dict[str, Any]:
            self._visible_run(request, store, run_id)
            store.heartbeat([run_id])
            return {"id": run_id, "heartbeat_at": time.time()}

        return send(await run_in_threadpool(self._guarded, request, work))

    async def post_values(self, request: Request) -> Response:
        run_id = _run_id(request)
        rows = _values(await _body(request))

        def work(store: Any) -> dict[str, Any]:
            self._visible_run(request, store, run_id)
            if rows:  # by (key, step): a value sent again replaces itself
                store.append_values(run_id, rows)
            return {"values": len(rows)}

        return send(await run_in_threadpool(self._guarded, request, work))

    async def post_media(self, request: Request) -> Response:
        run_id = _run_id(request)
        files, rows = _media(await _body(request))

        def work(store: Any) -> dict[str, Any]:
            import os

            from ..media._files import put_bytes

            self._visible_run(request, store, run_id)
            root = store.files_dir
            for name, data in files.items():
                put_bytes(root, "media", data, name[64:])  # named by its (checked) sha256
            missing = sorted(
                {r[5] for r in rows}
                - {f"media/{n[:2]}/{n}" for n in files}
                - {r[5] for r in rows if os.path.isfile(os.path.join(root, r[5]))}
            )
            if missing and not hasattr(store, "fetch_files"):
                return {"missing": missing}
            if missing:  # a PostgreSQL store keeps files in the database: fetch them
                store.fetch_files(missing)
                missing = [m for m in missing if not os.path.isfile(os.path.join(root, m))]
                if missing:
                    return {"missing": missing}
            if rows:
                store.add_media(run_id, rows)
            return {"media": len(store.read_media(run_id))}

        got = await run_in_threadpool(self._guarded, request, work)
        if "missing" in got:
            return send(
                {
                    "error": f"{len(got['missing'])} media file(s) are not on the server: "
                    "send them in files",
                    "status": 409,
                    "missing": got["missing"][:100],
                },
                409,
            )
        return send(got)

    def routes(self) -> list[Route]:
        return [
            Route(PREFIX + "/{run_id}", self.put_run, methods=["PUT"]),
            Route(PREFIX + "/{run_id}/points", self.post_points, methods=["POST"]),
            Route(PREFIX + "/{run_id}/received", self.received, methods=["GET"]),
            Route(PREFIX + "/{run_id}/heartbeat", self.heartbeat, methods=["POST"]),
            Route(PREFIX + "/{run_id}/media", self.post_media, methods=["POST"]),
            Route(PREFIX + "/{run_id}/values", self.post_values, methods=["POST"]),
        ]


def write_routes(get_backend: Callable[[], Any], authorize: Callable[..., Any]) -> list[Route]:
    """The ``/api/v1/runs/...`` endpoints (their sessions end with the process; a server
    that closes them calls :class:`WriteAPI` itself)."""
    return WriteAPI(get_backend, authorize).routes()


# -- OpenAPI ---------------------------------------------------------------------------------
_RUN_ID = {
    "name": "run_id",
    "in": "path",
    "required": True,
    "description": "the run's id (as the client's local store has it)",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID},
}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
_B64 = {"type": "string", "format": "byte"}
_NUM = {
    "oneOf": [
        {"type": "number"},
        {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]},
    ],
    "nullable": True,
}
_TIME = {"type": "number", "minimum": 0, "maximum": 1e11, "nullable": True}
_TEXT = {"type": "string", "nullable": True, "maxLength": MAX_TEXT}
_ERRORS = {
    "400": {"description": "A bad parameter or body", **_ERR},
    "404": {"description": "No such run (for this token)", **_ERR},
    "409": {"description": "A conflict (see the operation)", **_ERR},
    "413": {"description": "Request body over 16 MiB", **_ERR},
    "415": {"description": "A Content-Encoding other than gzip", **_ERR},
    "503": {"description": "The store cannot be written now: retry later", **_ERR},
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(summary: str, props: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [_RUN_ID],
        "responses": {
            "200": {"description": summary, **_json({"type": "object", "properties": props})},
            **_ERRORS,
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    return op


def openapi_paths() -> dict[str, Any]:
    """The write API's part of the server's OpenAPI document."""
    run_body = {
        "type": "object",
        "required": ["project"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
            "project": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
            "status": {"type": "string", "enum": list(WRITE_STATUSES)},
            "config": {"type": "object"},
            "summary": {"type": "object"},
            "meta": {"type": "object"},
            "source": {"type": "object"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 1000}},
            "group": _TEXT,
            "notes": _TEXT,
            "host": _TEXT,
            "created_at": _TIME,
            "finished_at": _TIME,
            "heartbeat_at": _TIME,
            "pid": {"type": "integer", "format": "int64", "nullable": True},
            "exit_code": {"type": "integer", "format": "int64", "nullable": True},
        },
    }
    batch = {
        "type": "object",
        "required": ["key", "start", "steps", "values"],
        "additionalProperties": False,
        "properties": {
            "key": {"type": "string", "minLength": 1, "maxLength": MAX_KEY},
            "start": {"type": "integer", "minimum": 0, "format": "int64"},
            "steps": {
                "oneOf": [{"type": "array", "items": {"type": "integer", "format": "int64"}}, _B64]
            },
            "values": {"oneOf": [{"type": "array", "items": _NUM}, _B64]},
            "times": {"oneOf": [{"type": "array", "items": _NUM}, _B64]},
            "replace": {"type": "boolean", "enum": [False]},
        },
    }
    chunked = {
        "type": "object",
        "required": ["key", "start", "chunks"],
        "additionalProperties": False,
        "properties": {
            "key": batch["properties"]["key"],
            "start": batch["properties"]["start"],
            "chunks": {
                "description": "base64 of expbook chunks (codec version 1), in step order",
                "type": "array",
                "minItems": 1,
                "items": _B64,
            },
            "replace": batch["properties"]["replace"],
        },
    }
    # points the client rewrote (a step logged again, or between stored ones): written over
    # the server's by step, with no position; the key's count is then what the server holds
    replace = {
        "type": "boolean",
        "enum": [True],
        "description": "write over the server's points by step (no start)",
    }
    replacing = [
        {
            **shape,
            "required": [f for f in shape["required"] if f != "start"] + ["replace"],
            "properties": {
                **{k: v for k, v in shape["properties"].items() if k != "start"},
                "replace": replace,
            },
        }
        for shape in (batch, chunked)
    ]
    points_body = {
        "type": "object",
        "required": ["batches"],
        "additionalProperties": False,
        "properties": {
            "batches": {
                "type": "array",
                "maxItems": MAX_BATCHES,
                "items": {"oneOf": [batch, chunked, *replacing]},
            },
            "run": {**run_body, "description": "the run's fields, written first (as PUT)"},
        },
    }
    return {
        PREFIX + "/{run_id}": {
            "put": _op(
                "Create or update a run (409: the id exists in another project)",
                {
                    "id": {"type": "string"},
                    "project": {"type": "string"},
                    "status": {"type": "string"},
                    "created": {"type": "boolean"},
                    "received": _COUNTS,
                },
                run_body,
            )
        },
        PREFIX + "/{run_id}/points": {
            "post": _op(
                "Append points, idempotent by position (409: a gap; the body has the "
                "server's counts); with run, create or update the run first, in the same "
                "transaction",
                {
                    "received": _COUNTS,
                    "id": {"type": "string"},
                    "project": {"type": "string"},
                    "status": {"type": "string"},
                    "created": {"type": "boolean"},
                },
                points_body,
            )
        },
        PREFIX + "/{run_id}/received": {
            "get": {
                **_op("How many points of each key the server holds", {"received": _COUNTS}),
                "parameters": [
                    _RUN_ID,
                    {
                        "name": "key",
                        "in": "query",
                        "description": "only these keys (repeat)",
                        "schema": {"type": "string"},
                        "explode": True,
                    },
                ],
            }
        },
        PREFIX + "/{run_id}/values": {
            "post": _op(
                "Record non-numeric values (strings, lists, objects) by key and step; a value "
                "sent again for the same key and step replaces the stored one",
                {"values": {"type": "integer"}},
                {
                    "type": "object",
                    "required": ["values"],
                    "additionalProperties": False,
                    "properties": {
                        "values": {
                            "type": "array",
                            "maxItems": MAX_VALUE_ROWS,
                            "items": {
                                "type": "object",
                                "required": ["key", "step", "value"],
                                "additionalProperties": False,
                                "properties": {
                                    "key": {"type": "string", "minLength": 1, "maxLength": MAX_KEY},
                                    "step": {"type": "integer", "format": "int64"},
                                    "wall": {"type": "number", "nullable": True},
                                    "value": {"description": "any JSON value"},
                                },
                            },
                        }
                    },
                },
            )
        },
        PREFIX + "/{run_id}/media": {
            "post": _op(
                "Record media rows; their files (content-addressed: checked against their "
                "sha256, kept by hash) come in files unless the server has them (409: missing)",
                {"media": {"type": "integer"}},
                {
                    "type": "object",
                    "required": ["rows"],
                    "additionalProperties": False,
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["sha256", "data"],
                                "additionalProperties": False,
                                "properties": {
                                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                    "ext": {"type": "string", "maxLength": 26},
                                    "data": _B64,
                                },
                            },
                        },
                        "rows": {
                            "type": "array",
                            "maxItems": MAX_MEDIA_ROWS,
                            "items": {
                                "type": "object",
                                "required": ["key", "step", "type", "sha256", "meta"],
                                "additionalProperties": False,
                                "properties": {
                                    "key": {"type": "string", "minLength": 1},
                                    "step": {"type": "integer", "format": "int64"},
                                    "index": {"type": "integer", "format": "int64"},
                                    "wall": {"type": "number", "nullable": True},
                                    "type": {"type": "string", "minLength": 1},
                                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                    "ext": {"type": "string", "maxLength": 26},
                                    "meta": {"type": "object"},
                                },
                            },
                        },
                    },
                },
            )
        },
        PREFIX + "/{run_id}/heartbeat": {
            "post": _op(
                "A live client's heartbeat",
                {"id": {"type": "string"}, "heartbeat_at": {"type": "number"}},
            )
        },
    }
