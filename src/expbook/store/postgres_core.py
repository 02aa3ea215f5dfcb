"""What the parts of the PostgreSQL store share: the URL (schema, hidden password), the
connection and its transactions, and the error wrapping.

The store's read path is the SQLite store's own (:mod:`expbook.store.sqlite_read`): its
SQL is plain SQL with ``?`` placeholders, which :class:`PgConnection` turns into psycopg's.
"""

from __future__ import annotations

import functools
import re
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from ..errors import RunNotFound, StoreError

_F = TypeVar("_F", bound=Callable[..., Any])

DEFAULT_SCHEMA = "public"

_SCHEMA_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")
_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*([^\s,]+)")


def is_postgres_url(location: Any) -> bool:
    s = str(location)
    return s.startswith(("postgresql://", "postgres://"))


def parse_url(url: str) -> tuple[str, str, str]:
    """(the URL to connect with, its schema, the URL to show: password hidden, no secrets).

    The schema is the ``schema=NAME`` query parameter (removed from the URL), else a
    ``-csearch_path=NAME`` in ``options``, else ``public``."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = None
    kept = []
    for k, v in query:
        if k == "schema":
            schema = v
        else:
            kept.append((k, v))
            if k == "options" and schema is None:
                m = _SEARCH_PATH.search(v)
                if m:
                    schema = m.group(1).strip('"')
    schema = schema or DEFAULT_SCHEMA
    if not _SCHEMA_RE.match(schema):
        raise StoreError(f"bad schema name {schema!r} in the store URL: letters, digits and _ only")
    conninfo = urlunsplit(parts._replace(query=urlencode(kept)))
    shown = parts.netloc
    if parts.password is not None:
        user = unquote(parts.username or "")
        host = shown.rsplit("@", 1)[1]
        shown = f"{user}:***@{host}"
    shown_query = [(k, v) for k, v in query if k.lower() not in ("password", "sslpassword")]
    location = urlunsplit(parts._replace(netloc=shown, query=urlencode(shown_query)))
    return conninfo, schema, location


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__


class PgConnection:
    """A psycopg connection that speaks the SQLite store's SQL dialect where the two meet:
    ``?`` placeholders (turned into ``%s``; a literal ``%`` is escaped). Results come in
    binary form (numbers are not parsed from text: listing 100,000 runs costs a third less).

    Every call holds the store's lock; a lost or refused connection is a one-line
    :class:`StoreError`. A connection lost outside a transaction (the server restarted, an
    idle session ended) is opened again by ``reopen`` and the statement tried once more;
    inside a transaction the error goes to the caller, whose transaction is rolled back."""

    def __init__(
        self,
        raw: Any,
        location: str,
        lock: threading.RLock,
        reopen: Callable[[], Any] | None = None,
        in_transaction: Callable[[], bool] = lambda: False,
    ) -> None:
        self.raw = raw
        self._closer = weakref.finalize(self, _close_quietly, raw)
        self.location = location
        self._lock = lock
        self._reopen = reopen
        self._in_transaction = in_transaction
        self._sql: dict[str, str] = {}

    def _tr(self, sql: str) -> str:
        out = self._sql.get(sql)
        if out is None:
            out = self._sql[sql] = sql.replace("%", "%%").replace("?", "%s")
        return out

    def _call(self, fn: Callable[[], Any]) -> Any:
        import psycopg

        with self._lock:
            for attempt in (0, 1):
                retry = self._reopen is not None and not self._in_transaction()
                if retry and self.raw.broken:
                    self._replace()
                try:
                    return fn()
                except psycopg.errors.ReadOnlySqlTransaction as e:
                    raise StoreError(f"store {self.location} is open read-only") from e
                except (psycopg.OperationalError, psycopg.InterfaceError) as e:
                    if attempt == 0 and retry and (self.raw.broken or self.raw.closed):
                        continue
                    raise StoreError(f"PostgreSQL store {self.location}: {_one_line(e)}") from e
        raise AssertionError("unreachable")  # pragma: no cover

    def _replace(self) -> None:
        assert self._reopen is not None
        self._closer()
        self.raw = self._reopen()
        self._closer = weakref.finalize(self, _close_quietly, self.raw)

    def execute(self, sql: str, params: Sequence[Any] | None = ()) -> Any:
        if params:
            q = self._tr(sql)
            return self._call(lambda: self.raw.execute(q, params, binary=True))
        return self._call(lambda: self.raw.execute(sql, binary=True))

    def pg(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run psycopg SQL (``%s`` placeholders) as it is."""
        return self._call(lambda: self.raw.execute(sql, params, binary=True))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        q = self._tr(sql)

        def run() -> None:
            with self.raw.cursor() as cur:
                cur.executemany(q, rows)

        self._call(run)

    def copy_rows(
        self, table: str, columns: Sequence[str], types: Sequence[str], rows: Any
    ) -> None:
        """Binary ``COPY table (columns) FROM STDIN``: the fast way to write many rows."""
        rows = list(rows)
        stmt = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"

        def run() -> None:
            with self.raw.cursor() as cur, cur.copy(stmt) as cp:
                cp.set_types(list(types))
                for row in rows:
                    cp.write_row(row)

        self._call(run)

    def close(self) -> None:
        self._closer()


def _close_quietly(raw: Any) -> None:
    # a store dropped without close() (a command's store at exit, one in a reference cycle):
    # the finalizer holds the session, so it ends here quietly, as a SQLite connection does,
    # whatever order the garbage collector finalizes the store's objects in
    try:
        raw.close()
    except Exception:
        pass


def _reads(method: _F) -> _F:
    """A read method of the PostgreSQL store: an error reading a stored value (a damaged
    chunk or JSON column) is a one-line :class:`StoreError` naming the store."""
    import struct
    import zlib

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (ValueError, IndexError, struct.error, zlib.error, UnicodeDecodeError) as e:
            if isinstance(e, StoreError):
                raise
            raise StoreError(f"cannot read store {self.location}: {_one_line(e)}") from e

    return wrapper  # type: ignore[return-value]


class PgCore:
    """The connection of a :class:`~expbook.store.postgres.PostgresStore` and its
    transactions (``__init__`` lives in the store itself)."""

    location: str
    schema: str
    readonly: bool
    _conn: PgConnection
    _lock: threading.RLock
    _depth: int
    _kids: dict[str, int]
    _rids: dict[str, int]
    _tables: set[str]

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            conn = getattr(self, "_conn", None)
            if conn is not None:
                try:
                    conn.close()
                finally:
                    self._conn = None  # type: ignore[assignment]

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction (nested calls join the outer one)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN")
            self._depth = 1
            try:
                yield
                self._conn.execute("COMMIT")
            except BaseException:
                self._abort()
                raise
            finally:
                self._depth = 0
                self._locked = set()

    def _abort(self) -> None:
        """Undo a failed transaction, keeping the error that failed it; the key and run ids
        cached during it may name rows that no longer exist: the caches are emptied."""
        self._kids.clear()
        self._rids.clear()
        try:
            from psycopg import pq

            if self._conn.raw.info.transaction_status != pq.TransactionStatus.IDLE:
                self._conn.raw.execute("ROLLBACK")
        except Exception:
            pass

    def _q(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def _lock_run(self, rid: int) -> None:
        """Serialize writers of one run's points until the transaction ends (one lock a
        run and transaction: it is held until the end anyway)."""
        if self._depth and rid not in self._locked:
            self._conn.pg("SELECT pg_advisory_xact_lock(%s, %s)", (_RUN_LOCK, rid))
            self._locked.add(rid)

    def _kid(self, key: str) -> int:
        kid = self._kids.get(key)
        if kid is None:
            row = self._conn.execute("SELECT kid FROM keys WHERE name=?", (key,)).fetchone()
            if row is None:
                row = self._conn.execute(
                    "INSERT INTO keys (name) VALUES (?) ON CONFLICT (name) DO NOTHING "
                    "RETURNING kid",
                    (key,),
                ).fetchone()
                if row is None:  # another writer added it meanwhile
                    row = self._conn.execute("SELECT kid FROM keys WHERE name=?", (key,)).fetchone()
            kid = self._kids[key] = int(row[0])
        return kid

    def _rid(self, run_id: str) -> int:
        rid = self._rids.get(run_id)
        if rid is None:
            row = self._conn.execute("SELECT rid FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(f"no run with id {run_id!r}")
            rid = self._rids[run_id] = int(row[0])
        return rid


_RUN_LOCK = 0x6578_7072  # advisory lock namespace of per-run write locks
