"""What the parts of the SQLite store share: the connection and its transactions, key and
run ids, JSON columns, and the error wrapper of read methods."""

from __future__ import annotations

import functools
import json
import math
import re
import sqlite3
import struct
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import RunNotFound, StoreError

if TYPE_CHECKING:
    from .sqlite import SQLiteStore

_S = TypeVar("_S", bound="StoreCore")
_F = TypeVar("_F", bound=Callable[..., Any])

CHUNK_POINTS = 8192  # at most this many points in one chunk

MERGE_BELOW = 1024  # a tail chunk smaller than this is merged with the next write

BUSY_TIMEOUT_S = 120.0

_FEW_RUNS = 200  # values_at: up to this many runs are looked up by id, more in one pass

_THREADS_FROM = 1000  # values_at: from this many runs on, two threads inflate the chunks


def _dumps(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), default=_json_default)


def _json_default(o: Any) -> Any:
    try:
        return o.item()  # numpy scalars
    except AttributeError:
        pass
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


_decoder = json.JSONDecoder()

_decode = _decoder.decode

_scan = _decoder.scan_once  # type: ignore[attr-defined]  # the C scanner, without decode()'s two whitespace regex matches

_LOGGED = '{"kind":"logged"}'


def _loads(text: str) -> Any:
    """json.loads for the run table's columns, with the common tiny values short-cut
    (listing 10,000 runs decodes 50,000 of these)."""
    if text == "{}":
        return {}
    if text == "[]":
        return []
    if text == _LOGGED:
        return {"kind": "logged"}
    try:  # the store writes compact JSON: one scan reads it all
        value, end = _scan(text, 0)
        if end == len(text):
            return value
    except StopIteration:
        pass
    return _decode(text)  # whitespace around it, or an error to report


def _nan_if_none(step: Any, value: Any) -> Any:
    # SQLite stores NaN as NULL: a NULL value next to a real step was a NaN.
    if value is None and step is not None:
        return math.nan
    return value


def _unreadable(e: BaseException) -> str:
    """What went wrong reading a store, on one line."""
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    m = re.match(r"Could not decode to UTF-8 column '([^']*)'", msg)
    if isinstance(e, UnicodeDecodeError) or m:
        col = f" in column {m.group(1)!r}" if m else ""
        return f"text that is not UTF-8{col}: the store is damaged"
    if isinstance(e, sqlite3.Error):
        return msg
    return f"a stored value does not decode ({msg[:200]}): the store is damaged"


# What reading a damaged database can raise: SQLite's own errors, text that is not UTF-8,
# and a chunk or JSON column that does not decode.
_READ_ERRORS = (sqlite3.Error, UnicodeDecodeError, ValueError, IndexError, struct.error, zlib.error)


def _reads(method: _F) -> _F:
    """A read method of :class:`SQLiteStore`: a damaged database raises :class:`StoreError`
    with a one-line message instead of SQLite's, the codec's or the JSON decoder's error."""

    @functools.wraps(method)
    def wrapper(self: SQLiteStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except _READ_ERRORS as e:
            raise StoreError(f"cannot read store {self.db_path}: {_unreadable(e)}") from e

    return wrapper  # type: ignore[return-value]


def _ndarray(x: Any) -> bool:
    """True for a numpy array (numpy is never imported here: the logging path avoids it)."""
    np = sys.modules.get("numpy")
    return np is not None and isinstance(x, np.ndarray)


def _pick(columns: tuple[Any, ...], idx: list[int]) -> list[Any]:
    """The points at ``idx`` of each column (numpy arrays or lists)."""
    return [c[idx] if _ndarray(c) else [c[j] for j in idx] for c in columns]


class StoreCore:
    """The connection of a :class:`~expbook.store.sqlite.SQLiteStore` and its plumbing
    (``__init__`` lives in the store itself)."""

    db_path: str
    location: str
    readonly: bool
    _conn: sqlite3.Connection
    _lock: threading.RLock
    _depth: int
    _kids: dict[str, int]
    _rids: dict[str, int]
    _tables: set[str]

    def __enter__(self: _S) -> _S:
        return self

    def _lock_run(self, rid: int) -> None:
        """Serialize writers of one run until the transaction ends: SQLite's write lock,
        held from a write transaction's start, does it already (PostgreSQL's store takes
        an advisory lock)."""

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            conn = getattr(self, "_conn", None)
            if conn is not None:
                conn.close()
                self._conn = None  # type: ignore[assignment]

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One write transaction (nested calls join the outer one)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._begin()
            self._depth = 1
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                self._abort()
                raise
            finally:
                self._depth = 0

    def _abort(self) -> None:
        """Undo a failed transaction, keeping the error that failed it.

        A failed COMMIT (disk full, file too large, I/O error) or statement may already
        have been rolled back by SQLite itself; ROLLBACK is only issued when a transaction
        is still open, and an error of its own never hides the first one. Either way the
        key and run ids cached during the transaction may name rows that no longer exist
        (and that another key or run may get next): the caches are emptied."""
        self._kids.clear()
        self._rids.clear()
        try:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def _begin(self) -> None:
        if self._conn.in_transaction:  # left open by a ROLLBACK that failed: end it now
            self._abort()
        # The busy timeout covers BEGIN IMMEDIATE; retry once more on the rare
        # "database is locked" that can still surface under heavy checkpoint contention.
        for attempt in range(20):
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                time.sleep(0.05 * (attempt + 1))
        self._conn.execute("BEGIN IMMEDIATE")

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _rows_per_run(self, table: str, run_ids: Sequence[str]) -> dict[str, int]:
        """run id -> how many rows of ``table`` (one of this store's tables with a ``rid``
        column) it has; runs with none are left out."""
        if table not in self._tables or not run_ids:
            return {}
        wanted = set(run_ids)
        sql = f"SELECT r.id, COUNT(*) FROM {table} t JOIN runs r ON r.rid = t.rid"
        args: list[Any] = []
        if len(wanted) <= 500:  # a few runs: by id
            sql += f" WHERE r.id IN ({','.join('?' * len(wanted))})"
            args = sorted(wanted)
        rows = self._q(sql + " GROUP BY t.rid", args)
        return {str(r[0]): int(r[1]) for r in rows if r[0] in wanted}

    def _kid(self, key: str) -> int:
        kid = self._kids.get(key)
        if kid is None:
            row = self._conn.execute("SELECT kid FROM keys WHERE name=?", (key,)).fetchone()
            if row is None:
                cur = self._conn.execute("INSERT INTO keys(name) VALUES (?)", (key,))
                kid = int(cur.lastrowid or 0)
            else:
                kid = row[0]
            self._kids[key] = kid
        return kid

    def _rid(self, run_id: str) -> int:
        rid = self._rids.get(run_id)
        if rid is None:
            row = self._conn.execute("SELECT rid FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(f"no run with id {run_id!r}")
            rid = self._rids[run_id] = row[0]
        return rid
