"""The embedded store: one SQLite database in WAL mode.

Points live in compressed chunks (see :mod:`expbook.store.codec`), one row per (run, key,
chunk), so a point costs about 12 bytes on disk and a series of 100,000 points is read in a
few milliseconds. A per-(run, key) summary row is kept current inside the same transaction
as every write, so leaderboards never scan points.

Concurrency: every write is one ``BEGIN IMMEDIATE`` transaction, which takes SQLite's write
lock up front and waits for it (busy timeout) instead of failing with "database is locked"
when a read lock would have to be upgraded. Many processes can write to one store at once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import operator
import os
import re
import sqlite3
import struct
import sys
import threading
import time
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields as dataclass_fields
from itertools import islice
from typing import Any, TypeVar

from ..errors import AmbiguousRun, RunNotFound, StoreError
from . import codec
from .base import (
    STATUSES,
    MetricSummary,
    PointBatch,
    RunRecord,
    Series,
    _this_host,
    iter_batches,
)
from .migrations import migrate
from .sketch import SKETCH_MIN, sketch_indices

_F = TypeVar("_F", bound=Callable[..., Any])

DB_NAME = "expbook.db"
STORE_DIR = ".expbook"  # the store folder of a project (and the default store)
CHUNK_POINTS = 8192  # at most this many points in one chunk
MERGE_BELOW = 1024  # a tail chunk smaller than this is merged with the next write
BUSY_TIMEOUT_S = 120.0
_FEW_RUNS = 200  # values_at: up to this many runs are looked up by id, more in one pass
_THREADS_FROM = 1000  # values_at: from this many runs on, two threads inflate the chunks

_RUN_COLUMNS = (
    "id, name, project, status, created_at, updated_at, finished_at, heartbeat_at, host, pid, "
    "exit_code, grp, notes, parent, tags, config, summary, meta, source"
)
_JSON_FIELDS = {"tags", "config", "summary", "meta", "source"}
_UPDATABLE = {
    "name",
    "project",
    "status",
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
    "created_at",
}

_ADJ = [
    "amber",
    "azure",
    "bold",
    "brisk",
    "calm",
    "clever",
    "crisp",
    "dapper",
    "eager",
    "fancy",
    "gentle",
    "glad",
    "golden",
    "happy",
    "jolly",
    "keen",
    "lively",
    "lucid",
    "mellow",
    "misty",
    "noble",
    "proud",
    "quiet",
    "rapid",
    "royal",
    "silent",
    "snowy",
    "solar",
    "stellar",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "wise",
    "young",
    "zesty",
]
_NOUN = [
    "aurora",
    "badger",
    "breeze",
    "brook",
    "canyon",
    "cedar",
    "comet",
    "coral",
    "dawn",
    "delta",
    "dune",
    "ember",
    "falcon",
    "fern",
    "field",
    "forest",
    "galaxy",
    "glade",
    "harbor",
    "heron",
    "island",
    "lake",
    "lotus",
    "maple",
    "meadow",
    "nebula",
    "orbit",
    "otter",
    "pine",
    "planet",
    "river",
    "sky",
    "spark",
    "star",
    "sun",
    "thunder",
    "tide",
    "valley",
    "wave",
    "willow",
]


def new_id() -> str:
    """8 random base-36 characters (2.8e12 possibilities)."""
    n = int.from_bytes(os.urandom(6), "big")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = []
    for _ in range(8):
        n, r = divmod(n, 36)
        out.append(digits[r])
    return "".join(out)


def resolve_db_path(path: str | os.PathLike[str]) -> str:
    """The database file of the store that ``path`` names (README, "The store"):

    * a folder holding ``expbook.db``, or named ``.expbook``: its ``expbook.db``;
    * a folder holding a ``.expbook/`` folder: the ``expbook.db`` in there;
    * a path ending in ``.db``, or any other existing file: that file;
    * anything else: ``PATH/expbook.db`` (the folder is made on first write).
    """
    p = os.fspath(path)
    if os.path.isdir(p):
        own = os.path.join(p, DB_NAME)
        if os.path.exists(own) or os.path.basename(os.path.normpath(p)) == STORE_DIR:
            return own
        inner = os.path.join(p, STORE_DIR)
        if os.path.isdir(inner):
            return os.path.join(inner, DB_NAME)
        return own
    if p.endswith(".db") or os.path.exists(p):
        return p
    return os.path.join(p, DB_NAME)


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


_RECORD_KEYS = (
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
    *(f"_raw_{f}" for f in ("tags", "config", "summary", "meta", "source")),
)  # the order of _RUN_COLUMNS; JSON columns are kept as text until first read
_new_record = object.__new__
_BY_CREATED = operator.itemgetter(4, len(_RECORD_KEYS))  # (created_at, rid) of a listed row


class _StoredRecord(RunRecord):
    """A :class:`RunRecord` read from the run table whose JSON columns (``tags``, ``config``,
    ``summary``, ``meta``, ``source``) are decoded on first access, each once.

    It behaves as a ``RunRecord`` in every other way, and compares equal to one with the
    same field values.
    """

    def __getattr__(self, name: str) -> Any:
        # only reached for attributes not in the instance dict: an undecoded JSON column
        if name in _JSON_FIELDS:
            d = self.__dict__
            raw = d.pop("_raw_" + name, None)
            if raw is not None:
                try:
                    value = d[name] = _loads(raw)
                except ValueError:
                    d["_raw_" + name] = raw
                    raise StoreError(
                        f"cannot read run {d.get('id')!r}: its {name} is not valid JSON "
                        "(the store is damaged)"
                    ) from None
                return value
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RunRecord):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in _RECORD_FIELDS)

    __hash__ = None  # type: ignore[assignment]  # as RunRecord's (a mutable dataclass)


_RECORD_FIELDS = tuple(f.name for f in dataclass_fields(RunRecord))


class SQLiteStore:
    """A store in one SQLite file. Thread-safe; open one per process and share it."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        readonly: bool = False,
    ) -> None:
        self.db_path = resolve_db_path(path)
        self.location = os.path.dirname(os.path.abspath(self.db_path))
        # files that belong to the store (media, artifacts, run folders): beside the
        # database, in the store folder, or in "<name>.db-files" for a bare database file
        self.files_dir = (
            os.path.join(self.location, "files")
            if os.path.basename(self.db_path) == DB_NAME
            else os.path.abspath(self.db_path) + "-files"
        )
        self.readonly = readonly
        self._lock = threading.RLock()
        self._depth = 0
        self._kids: dict[str, int] = {}
        self._rids: dict[str, int] = {}
        exists = os.path.exists(self.db_path)
        if not exists and (not create or readonly):
            raise StoreError(f"no expbook store at {self.location}")
        if not exists:
            try:
                os.makedirs(self.location, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create store folder {self.location}: {e.strerror}") from e
        try:
            if readonly:
                uri = "file:" + os.path.abspath(self.db_path) + "?mode=ro"
                self._conn = sqlite3.connect(
                    uri,
                    uri=True,
                    timeout=BUSY_TIMEOUT_S,
                    isolation_level=None,
                    check_same_thread=False,
                )
            else:
                self._conn = sqlite3.connect(
                    self.db_path,
                    timeout=BUSY_TIMEOUT_S,
                    isolation_level=None,
                    check_same_thread=False,
                )
            self._conn.execute("PRAGMA foreign_keys=ON")
            if not readonly:
                mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
                if mode != "wal":
                    self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                migrate(self._conn)
            else:
                self._conn.execute("SELECT 1 FROM runs LIMIT 1")
            tables = self._conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            self._tables = {r[0] for r in tables}
        except sqlite3.DatabaseError as e:
            raise StoreError(f"cannot open store {self.db_path}: {e}") from e

    def check_writable(self) -> None:
        """Raise :class:`StoreError` (one line) when this process cannot write to the store:
        opened read-only, or its database file or folder is read-only for this user."""
        if self.readonly:
            raise StoreError(f"store {self.location} is open read-only")
        for path, what in ((self.db_path, "database file"), (self.location, "folder")):
            if not os.access(path, os.W_OK):
                raise StoreError(
                    f"cannot write to store {self.location}: its {what} is read-only "
                    f"({path}); make it writable or choose another store"
                )

    # -- plumbing ------------------------------------------------------------------------
    def __enter__(self) -> SQLiteStore:
        return self

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

    # -- runs ----------------------------------------------------------------------------
    def create_run(
        self,
        *,
        name: str | None,
        project: str,
        run_id: str | None = None,
        status: str = "running",
        config: Mapping[str, Any] | None = None,
        tags: Sequence[str] = (),
        group: str | None = None,
        notes: str | None = None,
        meta: Mapping[str, Any] | None = None,
        created_at: float | None = None,
        source: Mapping[str, Any] | None = None,
        pid: int | None = None,
        host: str | None = None,
    ) -> RunRecord:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        now = time.time()
        created = created_at if created_at is not None else now
        with self.atomic():
            rid_ = run_id or new_id()
            while (
                run_id is None
                and self._conn.execute("SELECT 1 FROM runs WHERE id=?", (rid_,)).fetchone()
            ):
                rid_ = new_id()
            if name is None:
                (count,) = self._conn.execute(
                    "SELECT COUNT(*) FROM runs WHERE project=?", (project,)
                ).fetchone()
                import secrets  # not at import time: reading commands never name runs

                name = f"{secrets.choice(_ADJ)}-{secrets.choice(_NOUN)}-{count + 1}"
            try:
                self._conn.execute(
                    "INSERT INTO runs (id, name, project, status, created_at, updated_at, "
                    "heartbeat_at, host, pid, grp, notes, tags, config, meta, source) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        rid_,
                        name,
                        project,
                        status,
                        created,
                        now,
                        now if status == "running" else None,
                        host
                        if host is not None
                        else (_this_host() if status == "running" else None),
                        pid if pid is not None else (os.getpid() if status == "running" else None),
                        group,
                        notes,
                        _dumps(list(tags)),
                        _dumps(dict(config or {})),
                        _dumps(dict(meta or {})),
                        _dumps(dict(source or {"kind": "logged"})),
                    ),
                )
            except sqlite3.IntegrityError as e:
                raise StoreError(f"a run with id {rid_!r} already exists") from e
        return self.get_run(rid_)

    def update_run(self, run_id: str, **fields: Any) -> None:
        bad = set(fields) - _UPDATABLE
        if bad:
            raise ValueError(f"cannot update {sorted(bad)}")
        if "status" in fields and fields["status"] not in STATUSES:
            raise ValueError(f"unknown status {fields['status']!r}")
        cols, vals = [], []
        for k, v in fields.items():
            cols.append(("grp" if k == "group" else k) + "=?")
            vals.append(_dumps(v) if k in _JSON_FIELDS else v)
        cols.append("updated_at=?")
        vals.append(time.time())
        with self.atomic():
            cur = self._conn.execute(
                f"UPDATE runs SET {', '.join(cols)} WHERE id=?", (*vals, run_id)
            )
            if cur.rowcount == 0:
                raise RunNotFound(f"no run with id {run_id!r}")

    def heartbeat(self, run_ids: Sequence[str]) -> None:
        now = time.time()
        with self.atomic():
            self._conn.executemany(
                "UPDATE runs SET heartbeat_at=? WHERE id=?", [(now, r) for r in run_ids]
            )

    @staticmethod
    def _record(row: Sequence[Any]) -> RunRecord:
        # No __init__ and no JSON decoding here: listing 10,000 runs builds 10,000 of these,
        # and most callers read a few plain fields (see _StoredRecord).
        rec = _new_record(_StoredRecord)
        rec.__dict__.update(zip(_RECORD_KEYS, row))
        return rec

    @_reads
    def list_runs(self, project: str | None = None) -> list[RunRecord]:
        """Every run (of ``project``), oldest first (by ``created_at``, then creation order)."""
        # Sorted here, not by ORDER BY: SQLite's sorter would copy every whole row (10,000
        # runs: ~40% of the query); the rows mostly come in creation order already.
        sql = f"SELECT {_RUN_COLUMNS}, rid FROM runs"
        rows = self._q(sql) if project is None else self._q(sql + " WHERE project=?", (project,))
        rows.sort(key=_BY_CREATED)
        return [self._record(r) for r in rows]  # _record ignores the trailing rid

    @_reads
    def page_runs(
        self,
        project: str | None = None,
        order: str = "created_at, rid",
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[int, list[RunRecord]]:
        """(number of runs, one page of them). ``order`` is an ORDER BY over run columns,
        chosen by the caller from a fixed list; values reach SQL only as bound parameters."""
        where, params = ("", []) if project is None else (" WHERE project = ?", [project])
        (total,) = self._q("SELECT count(*) FROM runs" + where, params)[0]
        rows = self._q(
            f"SELECT {_RUN_COLUMNS} FROM runs{where} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return total, [self._record(r) for r in rows]

    @_reads
    def data_version(self) -> int:
        """A number that changes whenever another connection commits to the store."""
        return int(self._q("PRAGMA data_version")[0][0])

    @_reads
    def projects(self) -> list[str]:
        return [r[0] for r in self._q("SELECT DISTINCT project FROM runs ORDER BY project")]

    @_reads
    def get_run(self, ref: str, project: str | None = None) -> RunRecord:
        """A run by id, unique id prefix, or unique name (within ``project`` if given)."""
        ref = str(ref)
        where_p = " AND project=?" if project else ""
        extra: tuple[Any, ...] = (project,) if project else ()
        rows = self._q(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id=?" + where_p, (ref, *extra))
        if rows:
            return self._record(rows[0])
        rows = self._q(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE name=?" + where_p + " ORDER BY created_at",
            (ref, *extra),
        )
        if len(rows) == 1:
            return self._record(rows[0])
        if len(rows) > 1:
            ids = ", ".join(r[0] for r in rows[:5])
            raise AmbiguousRun(f"{len(rows)} runs are named {ref!r} (ids {ids}): use an id")
        if len(ref) >= 2 and ref.replace("-", "").replace("_", "").isalnum():
            esc = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = self._q(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE id LIKE ? ESCAPE '\\'" + where_p,
                (esc + "%", *extra),
            )
            if len(rows) == 1:
                return self._record(rows[0])
            if len(rows) > 1:
                ids = ", ".join(r[0] for r in rows[:5])
                raise AmbiguousRun(f"id prefix {ref!r} matches {len(rows)} runs ({ids})")
        raise RunNotFound(f"no run matches {ref!r}")

    def delete_runs(self, run_ids: Iterable[str]) -> int:
        n = 0
        with self.atomic():
            for run_id in run_ids:
                row = self._conn.execute("SELECT rid FROM runs WHERE id=?", (run_id,)).fetchone()
                if row is None:
                    continue
                rid = row[0]
                for table in (
                    "chunks",
                    "chunk_sketches",
                    "metric_summary",
                    "sources",
                    "artifacts",
                    "run_values",
                ):
                    self._conn.execute(f"DELETE FROM {table} WHERE rid=?", (rid,))
                self._conn.execute("DELETE FROM runs WHERE rid=?", (rid,))
                self._rids.pop(run_id, None)
                n += 1
        return n

    # -- values that are not numbers ---------------------------------------------------------
    def append_values(self, run_id: str, rows: Iterable[tuple[str, int, float, str]]) -> None:
        """Store non-numeric values ``(key, step, wall, json text)``; a step already stored
        for a key is replaced (last write wins)."""
        with self.atomic():
            rid = self._rid(run_id)
            self._conn.executemany(
                "INSERT OR REPLACE INTO run_values (rid, kid, step, wall, value) "
                "VALUES (?, ?, ?, ?, ?)",
                [(rid, self._kid(key), step, wall, text) for key, step, wall, text in rows],
            )

    @_reads
    def read_values(
        self, run_id: str, key: str | None = None
    ) -> list[tuple[str, int, float | None, Any]]:
        """The non-numeric values of a run (of one key), ``(key, step, wall, value)`` in step
        order, values decoded from JSON."""
        sql = (
            "SELECT k.name, v.step, v.wall, v.value FROM run_values v "
            "JOIN keys k ON k.kid = v.kid JOIN runs r ON r.rid = v.rid WHERE r.id = ?"
        )
        args: list[Any] = [run_id]
        if key is not None:
            sql += " AND k.name = ?"
            args.append(key)
        try:
            rows = self._conn.execute(sql + " ORDER BY k.name, v.step", args).fetchall()
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):  # a store from before 0003_values, opened read-only
                return []
            raise
        return [(k, step, wall, json.loads(text)) for k, step, wall, text in rows]

    @_reads
    def value_keys(self, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """``{run id: {key: number of non-numeric values}}``."""
        out: dict[str, dict[str, int]] = {}
        ids = list(run_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for rid, name, n in self._conn.execute(
                "SELECT r.id, k.name, count(*) FROM run_values v JOIN keys k ON k.kid = v.kid "
                f"JOIN runs r ON r.rid = v.rid WHERE r.id IN ({marks}) GROUP BY r.id, k.name",
                chunk,
            ):
                out.setdefault(rid, {})[name] = n
        return out

    # -- points --------------------------------------------------------------------------
    def append_points(self, run_id: str, batches: Mapping[str, PointBatch]) -> None:
        """Append points; a step already stored for a key is replaced (last write wins)."""
        with self.atomic():
            rid = self._rid(run_id)
            for key, batch in iter_batches(batches):
                self._append_key(rid, self._kid(key), *_dedupe(batch))

    def _append_key(
        self, rid: int, kid: int, steps: list[int], walls: list[float], values: list[float]
    ) -> None:
        conn = self._conn
        summ = conn.execute(
            "SELECT last_step FROM metric_summary WHERE rid=? AND kid=?", (rid, kid)
        ).fetchone()
        tail = conn.execute(
            "SELECT seq, n, step_max, data FROM chunks WHERE rid=? AND kid=? "
            "ORDER BY seq DESC LIMIT 1",
            (rid, kid),
        ).fetchone()
        next_seq = tail[0] + 1 if tail else 0
        in_order = summ is None or summ[0] is None or steps[0] > summ[0]
        grow_tail = tail is not None and tail[1] < MERGE_BELOW and steps[0] > tail[2]
        if not isinstance(steps, list) and (grow_tail or not in_order):
            # numpy arrays (importers): the rarer paths below work on lists
            steps, walls, values = steps.tolist(), walls.tolist(), values.tolist()
        if in_order:
            if grow_tail:
                # grow the small tail chunk instead of adding another small one
                s0, w0, v0 = codec.decode_lists(tail[3])
                for table in ("chunks", "chunk_sketches"):
                    conn.execute(
                        f"DELETE FROM {table} WHERE rid=? AND kid=? AND seq=?", (rid, kid, tail[0])
                    )
                self._write_chunks(rid, kid, tail[0], s0 + steps, w0 + walls, v0 + values)
            else:
                self._write_chunks(rid, kid, next_seq, steps, walls, values)
            self._merge_summary(rid, kid, _summarize(steps, walls, values))
            return
        # Out of order: is any of these steps stored already?
        overlap = conn.execute(
            "SELECT data FROM chunks WHERE rid=? AND kid=? AND step_max>=? AND step_min<=?",
            (rid, kid, steps[0], steps[-1]),
        ).fetchall()
        wanted = set(steps)
        repeated = any(wanted.intersection(codec.decode_lists(r[0])[0]) for r in overlap)
        self._write_chunks(rid, kid, next_seq, steps, walls, values)
        if repeated:
            self._recompute_summary(rid, kid)
        else:
            self._merge_summary(rid, kid, _summarize(steps, walls, values))

    def _write_chunks(
        self,
        rid: int,
        kid: int,
        seq: int,
        steps: list[int],
        walls: list[float],
        values: list[float],
    ) -> None:
        rows = []
        sketches = []
        for i in range(0, len(steps), CHUNK_POINTS):
            s = steps[i : i + CHUNK_POINTS]
            w = walls[i : i + CHUNK_POINTS]
            v = values[i : i + CHUNK_POINTS]
            rows.append((rid, kid, seq, len(s), int(s[0]), int(s[-1]), codec.encode(s, w, v)))
            if len(s) >= SKETCH_MIN:
                idx = sketch_indices(v)
                sketches.append((rid, kid, seq, codec.encode(*_pick((s, w, v), idx))))
            seq += 1
        self._conn.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?)", rows)
        if sketches:
            self._conn.executemany("INSERT INTO chunk_sketches VALUES (?,?,?,?)", sketches)

    def _merge_summary(self, rid: int, kid: int, s: MetricSummary) -> None:
        self._conn.execute(
            """
            INSERT INTO metric_summary VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
            ON CONFLICT(rid, kid) DO UPDATE SET
              count = count + excluded.count,
              nan_count = nan_count + excluded.nan_count,
              first_value = CASE WHEN excluded.first_step < first_step
                            THEN excluded.first_value ELSE first_value END,
              first_wall = CASE WHEN excluded.first_step < first_step
                           THEN excluded.first_wall ELSE first_wall END,
              first_step = MIN(first_step, excluded.first_step),
              last_value = CASE WHEN excluded.last_step > last_step
                           THEN excluded.last_value ELSE last_value END,
              last_wall = CASE WHEN excluded.last_step > last_step
                          THEN excluded.last_wall ELSE last_wall END,
              last_step = MAX(last_step, excluded.last_step),
              min_step = CASE WHEN min_value IS NULL OR excluded.min_value < min_value
                           OR (excluded.min_value = min_value AND excluded.min_step < min_step)
                         THEN excluded.min_step ELSE min_step END,
              min_value = CASE WHEN min_value IS NULL OR excluded.min_value < min_value
                          THEN excluded.min_value ELSE min_value END,
              max_step = CASE WHEN max_value IS NULL OR excluded.max_value > max_value
                           OR (excluded.max_value = max_value AND excluded.max_step < max_step)
                         THEN excluded.max_step ELSE max_step END,
              max_value = CASE WHEN max_value IS NULL OR excluded.max_value > max_value
                          THEN excluded.max_value ELSE max_value END
            """,
            (rid, kid, *s),
        )

    def _recompute_summary(self, rid: int, kid: int) -> None:
        merged: dict[int, tuple[float, float]] = {}
        for (blob,) in self._conn.execute(
            "SELECT data FROM chunks WHERE rid=? AND kid=? ORDER BY seq", (rid, kid)
        ):
            s, w, v = codec.decode_lists(blob)
            for step, wall, value in zip(s, w, v):
                merged[step] = (wall, value)
        steps = sorted(merged)
        walls = [merged[k][0] for k in steps]
        values = [merged[k][1] for k in steps]
        self._conn.execute("DELETE FROM metric_summary WHERE rid=? AND kid=?", (rid, kid))
        self._merge_summary(rid, kid, _summarize(steps, walls, values))

    @_reads
    def metric_summaries(
        self,
        run_ids: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
        project: str | None = None,
    ) -> dict[str, dict[str, MetricSummary]]:
        # key names are looked up apart (a small table) rather than joined to every row
        sql = (
            "SELECT r.id, s.kid, s.count, s.nan_count, s.first_step, s.first_value, "
            "s.first_wall, s.last_step, s.last_value, s.last_wall, s.min_value, s.min_step, "
            "s.max_value, s.max_step FROM metric_summary s JOIN runs r ON r.rid = s.rid"
        )
        where: list[str] = []
        params: list[Any] = []
        if project is not None:
            where.append("r.project = ?")
            params.append(project)
        if run_ids is not None:
            ids = list(run_ids)
            if not ids:
                return {}
            where.append(f"r.id IN ({','.join('?' * len(ids))})")
            params.extend(ids)
        if keys is None:
            names = dict(self._q("SELECT kid, name FROM keys"))
        else:
            ks = list(keys)
            if not ks:
                return {}
            names = dict(
                self._q(f"SELECT kid, name FROM keys WHERE name IN ({','.join('?' * len(ks))})", ks)
            )
            if not names:
                return {}
            where.append(f"s.kid IN ({','.join('?' * len(names))})")
            params.extend(names)
        if where:
            sql += " WHERE " + " AND ".join(where)
        out: dict[str, dict[str, MetricSummary]] = {}
        new = tuple.__new__
        for row in self._q(sql, params):
            vals = row[2:]
            # SQLite stores NaN as NULL: a NULL first/last value next to a real step was NaN
            if (row[5] is None and row[4] is not None) or (row[8] is None and row[7] is not None):
                vals = list(vals)
                vals[3] = _nan_if_none(vals[2], vals[3])
                vals[6] = _nan_if_none(vals[5], vals[6])
            got = out.get(row[0])
            if got is None:
                got = out[row[0]] = {}
            name = names.get(row[1])
            if name is None:  # a key another process added between the two reads
                name = names[row[1]] = self._q("SELECT name FROM keys WHERE kid=?", (row[1],))[0][0]
            got[name] = new(MetricSummary, vals)
        return out

    @_reads
    def metric_keys(self, project: str | None = None) -> dict[str, list[str]]:
        """run id -> the keys it has points for (sorted), without loading any summary."""
        sql = (
            "SELECT r.id, k.name FROM metric_summary s JOIN runs r ON r.rid = s.rid "
            "JOIN keys k ON k.kid = s.kid"
        )
        rows = self._q(sql + " WHERE r.project = ?", (project,)) if project else self._q(sql)
        out: dict[str, list[str]] = {}
        for run_id, key in rows:
            out.setdefault(run_id, []).append(key)
        for keys in out.values():
            keys.sort()
        return out

    @_reads
    def keys(self, run_id: str) -> list[str]:
        with self._lock:
            rid = self._rid(run_id)
            rows = self._conn.execute(
                "SELECT k.name FROM metric_summary s JOIN keys k ON k.kid=s.kid WHERE s.rid=? "
                "ORDER BY k.name",
                (rid,),
            ).fetchall()
        return [r[0] for r in rows]

    @_reads
    def read_series(
        self,
        run_id: str,
        keys: Iterable[str] | None = None,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> dict[str, Series]:
        import numpy as np

        wanted, grouped = self._series_chunks(run_id, keys, step_min, step_max)
        out: dict[str, Series] = {}
        for key in wanted if wanted is not None else sorted(grouped):
            chunks = grouped.get(key)
            if not chunks:
                if wanted is not None and key in self._all_keys(run_id):
                    out[key] = Series(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
                continue
            parts = [codec.decode_arrays(b) for _, _, b in chunks]
            if len(parts) == 1:
                steps, walls, values = parts[0]
            else:
                steps = np.concatenate([p[0] for p in parts])
                walls = np.concatenate([p[1] for p in parts])
                values = np.concatenate([p[2] for p in parts])
                if not _chunks_ordered(chunks):
                    # last write wins for a repeated step, then sort by step
                    rev = steps[::-1]
                    _, first_in_rev = np.unique(rev, return_index=True)
                    idx = len(steps) - 1 - first_in_rev
                    steps, walls, values = steps[idx], walls[idx], values[idx]
            if step_min is not None or step_max is not None:
                lo = -(2**63) if step_min is None else step_min
                hi = 2**63 - 1 if step_max is None else step_max
                m = (steps >= lo) & (steps <= hi)
                steps, walls, values = steps[m], walls[m], values[m]
            out[key] = Series(steps, walls, values)
        return out

    @_reads
    def tail_start(
        self,
        run_id: str,
        keys: Iterable[str] | None,
        n: int,
        step_max: int | None = None,
    ) -> int | None:
        """A step from which on the last ``n`` points (steps up to ``step_max``) of some key
        of ``keys`` (default: all) lie, from the chunks' step ranges alone; None when no key
        has ``n`` points that way. Reading the steps from it on gives at least the last ``n``
        distinct steps of all those keys together, unless chunks overlap (out-of-order
        writes): a reader counts what it got and reads everything when short."""
        hi = 2**63 - 1 if step_max is None else step_max
        sql = (
            "SELECT c.kid, c.n, c.step_min, c.step_max FROM chunks c "
            "JOIN keys k ON k.kid = c.kid WHERE c.rid=? AND c.step_min<=?"
        )
        with self._lock:
            params: list[Any] = [self._rid(run_id), hi]
            if keys is not None:
                wanted = list(dict.fromkeys(keys))
                if not wanted:
                    return None
                sql += f" AND k.name IN ({','.join('?' * len(wanted))})"
                params.extend(wanted)
            rows = self._conn.execute(sql + " ORDER BY c.kid, c.step_max DESC", params).fetchall()
        start: int | None = None
        kid, count, low, done = None, 0, 0, False
        for k, cnt, smin, smax in rows:
            if k != kid:
                kid, count, low, done = k, 0, smin, False
            if done:
                continue
            low = min(low, smin)
            if smax <= hi:  # a chunk cut by step_max counts nothing: its points above are out
                count += cnt
            if count >= n:
                done = True
                start = low if start is None else max(start, low)
        return start

    @_reads
    def read_series_lists(
        self,
        run_id: str,
        keys: Iterable[str] | None = None,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> dict[str, Series]:
        """:meth:`read_series` with Python lists in each :class:`Series` (``list[int]`` steps,
        ``list[float]`` walls and values) instead of numpy arrays: the same points, decoded
        with the standard library, so a caller that wants Python numbers (the CLI, JSON) never
        imports numpy."""
        wanted, grouped = self._series_chunks(run_id, keys, step_min, step_max)
        out: dict[str, Series] = {}
        for key in wanted if wanted is not None else sorted(grouped):
            chunks = grouped.get(key)
            if not chunks:
                if wanted is not None and key in self._all_keys(run_id):
                    out[key] = Series([], [], [])
                continue
            steps, walls, values = codec.decode_lists(chunks[0][2])
            if len(chunks) > 1:
                if _chunks_ordered(chunks):
                    for _, _, blob in chunks[1:]:
                        s, w, v = codec.decode_lists(blob)
                        steps += s
                        walls += w
                        values += v
                else:
                    # last write wins for a repeated step, then sort by step
                    latest: dict[int, tuple[float, float]] = dict(zip(steps, zip(walls, values)))
                    for _, _, blob in chunks[1:]:
                        s, w, v = codec.decode_lists(blob)
                        latest.update(zip(s, zip(w, v)))
                    steps = sorted(latest)
                    walls = [latest[x][0] for x in steps]
                    values = [latest[x][1] for x in steps]
            if step_min is not None or step_max is not None:
                i = 0 if step_min is None else bisect_left(steps, step_min)
                j = len(steps) if step_max is None else bisect_right(steps, step_max)
                steps, walls, values = steps[i:j], walls[i:j], values[i:j]
            out[key] = Series(steps, walls, values)
        return out

    def _series_chunks(
        self,
        run_id: str,
        keys: Iterable[str] | None,
        step_min: int | None,
        step_max: int | None,
    ) -> tuple[list[str] | None, dict[str, list[tuple[int, int, bytes]]]]:
        """(the keys asked for, or None for all; {key: [(step_min, step_max, blob), ...]} in
        write order) for :meth:`read_series` and :meth:`read_series_lists`."""
        sql = (
            "SELECT k.name, c.step_min, c.step_max, c.data FROM chunks c "
            "JOIN keys k ON k.kid = c.kid WHERE c.rid=?"
        )
        grouped: dict[str, list[tuple[int, int, bytes]]] = {}
        with self._lock:
            params: list[Any] = [self._rid(run_id)]
            wanted = None
            if keys is not None:
                wanted = list(dict.fromkeys(keys))
                if not wanted:
                    return wanted, grouped
                sql += f" AND k.name IN ({','.join('?' * len(wanted))})"
                params.extend(wanted)
            if step_min is not None:
                sql += " AND c.step_max >= ?"
                params.append(step_min)
            if step_max is not None:
                sql += " AND c.step_min <= ?"
                params.append(step_max)
            sql += " ORDER BY c.kid, c.seq"
            rows = self._conn.execute(sql, params).fetchall()
        for key, smin, smax, blob in rows:
            grouped.setdefault(key, []).append((smin, smax, blob))
        return wanted, grouped

    @_reads
    def read_overview(
        self,
        run_id: str,
        key: str,
        step_min: int | None = None,
        step_max: int | None = None,
    ) -> tuple[Series, int] | None:
        """The sketch of ``key``'s points with steps in [step_min, step_max], and how many
        points it stands for; None when the key has no points there or its chunks overlap in
        steps (read the points with :meth:`read_series` then).

        Chunks inside the range give their stored sketch (:mod:`expbook.store.sketch`), so
        most of the data is never read; a chunk without one or cut by an edge of the range is
        decoded, cut and sketched here. The global min and max of the range are kept.
        """
        import numpy as np

        lo = -(2**63) if step_min is None else step_min
        hi = 2**63 - 1 if step_max is None else step_max
        with self._lock:
            if "chunk_sketches" not in self._tables:
                return None
            rid = self._rid(run_id)
            kid = self._conn.execute("SELECT kid FROM keys WHERE name=?", (key,)).fetchone()
            if kid is None:
                return None
            rows = self._conn.execute(
                "SELECT c.seq, c.n, c.step_min, c.step_max, s.data FROM chunks c "
                "LEFT JOIN chunk_sketches s ON s.rid=c.rid AND s.kid=c.kid AND s.seq=c.seq "
                "WHERE c.rid=? AND c.kid=? AND c.step_max>=? AND c.step_min<=? ORDER BY c.seq",
                (rid, kid[0], lo, hi),
            ).fetchall()
            if not rows or any(rows[i][2] <= rows[i - 1][3] for i in range(1, len(rows))):
                return None
            whole = [r[0] for r in rows if r[4] is None or r[2] < lo or r[3] > hi]
            blobs: dict[int, bytes] = {}
            for i in range(0, len(whole), 500):
                part = whole[i : i + 500]
                blobs.update(
                    self._conn.execute(
                        f"SELECT seq, data FROM chunks WHERE rid=? AND kid=? "
                        f"AND seq IN ({','.join('?' * len(part))})",
                        (rid, kid[0], *part),
                    ).fetchall()
                )
        parts = []
        covered = 0
        for seq, n, smin, smax, sketch in rows:
            if seq not in blobs:
                covered += n
                parts.append(codec.decode_arrays(sketch))
                continue
            steps, walls, values = codec.decode_arrays(blobs[seq])
            if smin < lo or smax > hi:
                m = (steps >= lo) & (steps <= hi)
                steps, walls, values = steps[m], walls[m], values[m]
            covered += len(steps)
            if len(steps):
                idx = np.asarray(sketch_indices(values), dtype=np.int64)
                parts.append((steps[idx], walls[idx], values[idx]))
        if not parts:
            return None
        series = Series(
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )
        return series, covered

    @_reads
    def values_at(
        self,
        key: str,
        step: int,
        run_ids: Iterable[str] | None = None,
        project: str | None = None,
    ) -> dict[str, float]:
        """run id -> the value of ``key`` logged at exactly ``step``, for many runs at once.

        Runs without a point at ``step`` (or without ``key``) are left out; a NaN value is
        NaN. The value is the one :meth:`read_series` gives (a later write of a step wins).
        One query reads only the chunks whose step range covers ``step``, and of each only
        the bytes up to that point are inflated (:func:`codec.value_at`); numpy is not used.
        """
        step = int(step)
        sql = (
            "SELECT r.id, c.seq, c.step_min, c.step_max, c.data FROM runs r "
            "JOIN chunks c ON c.rid = r.rid AND c.kid = ? WHERE c.step_min <= ? "
            "AND c.step_max >= ?"
        )
        wanted: set[str] | None = None
        with self._lock:
            got = self._conn.execute("SELECT kid FROM keys WHERE name=?", (key,)).fetchone()
            if got is None:
                return {}
            params: list[Any] = [got[0], step, step]
            if project is not None:
                sql += " AND r.project = ?"
                params.append(project)
            if run_ids is not None:
                ids = list(dict.fromkeys(run_ids))
                if not ids:
                    return {}
                if len(ids) <= _FEW_RUNS:
                    # a few runs: look each up by id
                    sql += f" AND r.id IN ({','.join('?' * len(ids))})"
                    params.extend(ids)
                else:
                    # many: one pass over the runs in storage order (far fewer page reads than
                    # lookups in id order), keeping the wanted ones
                    wanted = set(ids)
            rows = self._conn.execute(sql, params).fetchall()
        by_run: dict[str, list[tuple[int, int, int, bytes]]] = {}
        for run_id, seq, smin, smax, blob in rows:
            if wanted is None or run_id in wanted:
                by_run.setdefault(run_id, []).append((seq, smin, smax, blob))
        items = list(by_run.items())
        out: dict[str, float] = {}
        if len(items) < _THREADS_FROM or _cpus() < 2:
            _values_into(items, step, out)
            return out
        # Many runs: inflating is most of the time and zlib releases the GIL, so a second
        # thread takes half of the chunks (10,000 runs: ~0.43 -> ~0.22 s on two free cores).
        half = len(items) // 2
        other: dict[str, float] = {}
        failed: list[BaseException] = []

        def second_half() -> None:
            try:
                _values_into(items[half:], step, other)
            except BaseException as e:  # re-raised in the caller's thread
                failed.append(e)

        worker = threading.Thread(target=second_half, name="expbook-values-at", daemon=True)
        worker.start()
        try:
            _values_into(items[:half], step, out)
        finally:
            worker.join()
        if failed:
            raise failed[0]
        out.update(other)
        return out

    def _all_keys(self, run_id: str) -> set[str]:
        return set(self.keys(run_id))

    # -- imports -------------------------------------------------------------------------
    @_reads
    def source_of(self, project: str, source: str, external_id: str = "") -> tuple[str, str] | None:
        """(run id, content hash) of the run imported from this source, if any."""
        rows = self._q(
            "SELECT r.id, s.content_hash FROM sources s JOIN runs r ON r.rid=s.rid "
            "WHERE s.project=? AND s.source=? AND s.external_id=?",
            (project, source, external_id),
        )
        return (rows[0][0], rows[0][1]) if rows else None

    @_reads
    def source_files(self, source: str, project: str | None = None) -> list[tuple[str, str, Any]]:
        """(run id, name, recorded file fingerprint) of every run imported from ``source``."""
        sql = (
            "SELECT r.id, r.name, s.files FROM sources s JOIN runs r ON r.rid = s.rid "
            "WHERE s.source=?"
        )
        params: tuple[Any, ...] = (source,)
        if project is not None:
            sql += " AND s.project=?"
            params += (project,)
        return [(rid, name, json.loads(files)) for rid, name, files in self._q(sql, params)]

    def set_source_files(
        self, project: str, source: str, external_id: str, files: Sequence[Any]
    ) -> None:
        """Record a new file fingerprint for an imported source whose content is unchanged."""
        with self.atomic():
            self._conn.execute(
                "UPDATE sources SET files=? WHERE project=? AND source=? AND external_id=?",
                (_dumps(list(files)), project, source, external_id),
            )

    def refresh_source_files(self, source: str, project: str | None, files: Sequence[Any]) -> None:
        """Record a new file fingerprint for every run imported from ``source`` (in
        ``project``, or in any project), whose content was found unchanged."""
        sql = "UPDATE sources SET files=? WHERE source=?"
        params: tuple[Any, ...] = (_dumps(list(files)), source)
        if project is not None:
            sql += " AND project=?"
            params += (project,)
        with self.atomic():
            self._conn.execute(sql, params)

    def replace_points(self, run_id: str, batches: Mapping[str, PointBatch]) -> None:
        """Drop every point of the run, then write these (one transaction)."""
        with self.atomic():
            rid = self._rid(run_id)
            for table in ("chunks", "chunk_sketches", "metric_summary"):
                self._conn.execute(f"DELETE FROM {table} WHERE rid=?", (rid,))
            self.append_points(run_id, batches)

    def record_source(
        self,
        run_id: str,
        *,
        project: str,
        source: str,
        external_id: str,
        format: str,
        content_hash: str,
        files: Sequence[Mapping[str, Any]],
    ) -> None:
        with self.atomic():
            self._conn.execute(
                "INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?,?,?,?)",
                (
                    project,
                    source,
                    external_id,
                    self._rid(run_id),
                    format,
                    content_hash,
                    _dumps(list(files)),
                    time.time(),
                ),
            )

    def set_artifacts(self, run_id: str, artifacts: Sequence[tuple[str, str, str]]) -> None:
        """Replace the run's artifacts with (path, kind, sha256) entries."""
        with self.atomic():
            rid = self._rid(run_id)
            self._conn.execute("DELETE FROM artifacts WHERE rid=?", (rid,))
            self._conn.executemany(
                "INSERT OR REPLACE INTO artifacts VALUES (?,?,?,?)",
                [(rid, p, k, h) for p, k, h in artifacts],
            )

    @_reads
    def artifacts(self, run_id: str) -> list[tuple[str, str, str]]:
        with self._lock:
            rid = self._rid(run_id)
            return [
                (r[0], r[1], r[2])
                for r in self._conn.execute(
                    "SELECT path, kind, sha256 FROM artifacts WHERE rid=? ORDER BY path", (rid,)
                )
            ]

    # -- reports -------------------------------------------------------------------------
    def record_report(
        self,
        path: str,
        *,
        title: str,
        text: str,
        figures: Mapping[str, Any],
        project: str | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> str:
        """Keep the latest rendering of the document at ``path`` (its Markdown, with the
        plotly figures of its plot regions) for the dashboard; returns the report's id."""
        path = os.path.abspath(path)
        rid = hashlib.sha256(path.encode()).hexdigest()[:12]
        with self.atomic():
            self._conn.execute(
                "INSERT OR REPLACE INTO reports VALUES (?,?,?,?,?,?,?,?)",
                (
                    rid,
                    path,
                    title,
                    project,
                    time.time(),
                    text,
                    json.dumps(figures, separators=(",", ":"), allow_nan=False),
                    _dumps(dict(info or {})),
                ),
            )
        return rid

    @_reads
    def reports(self) -> list[dict[str, Any]]:
        """Every recorded report (without its text), most recently rendered first."""
        if "reports" not in self._tables:
            return []
        rows = self._q(f"SELECT {_REPORT_COLUMNS} FROM reports ORDER BY rendered_at DESC, path")
        return [_report(r) for r in rows]

    @_reads
    def get_report(self, report_id: str) -> dict[str, Any] | None:
        """A recorded report with its Markdown ``text`` and ``figures``, or None."""
        if "reports" not in self._tables:
            return None
        rows = self._q(
            f"SELECT {_REPORT_COLUMNS}, text, figures FROM reports WHERE id=?", (report_id,)
        )
        if not rows:
            return None
        out = _report(rows[0])
        out["text"], out["figures"] = rows[0][6], json.loads(rows[0][7])
        return out

    @_reads
    def stats(self) -> dict[str, int]:
        (runs,) = self._q("SELECT COUNT(*) FROM runs")[0]
        (points,) = self._q("SELECT COALESCE(SUM(n), 0) FROM chunks")[0]
        return {"runs": runs, "points": points, "bytes": os.path.getsize(self.db_path)}


def _chunks_ordered(chunks: Sequence[tuple[int, int, bytes]]) -> bool:
    """True when each chunk's steps all come after the previous chunk's (no step repeats)."""
    return all(chunks[i][0] > chunks[i - 1][1] for i in range(1, len(chunks)))


def _ndarray(x: Any) -> bool:
    """True for a numpy array (numpy is never imported here: the logging path avoids it)."""
    np = sys.modules.get("numpy")
    return np is not None and isinstance(x, np.ndarray)


_REPORT_COLUMNS = "id, path, title, project, rendered_at, info"


def _report(row: Sequence[Any]) -> dict[str, Any]:
    """A ``reports`` row (the _REPORT_COLUMNS first) as the dict the API returns."""
    rid, path, title, project, rendered_at, info = row[:6]
    return {
        "id": rid,
        "path": path,
        "title": title,
        "project": project,
        "rendered_at": rendered_at,
        "info": json.loads(info),
    }


def _pick(columns: tuple[Any, ...], idx: list[int]) -> list[Any]:
    """The points at ``idx`` of each column (numpy arrays or lists)."""
    return [c[idx] if _ndarray(c) else [c[j] for j in idx] for c in columns]


def _values_into(
    items: Sequence[tuple[str, list[tuple[int, int, int, bytes]]]], step: int, out: dict
) -> None:
    """For :meth:`SQLiteStore.values_at`: the value at ``step`` of each run whose candidate
    chunks (seq, step_min, step_max, blob) are given, into ``out``."""
    value_at = codec.value_at
    for run_id, chunks in items:
        if len(chunks) > 1:
            chunks.sort(reverse=True)  # the newest chunk first: a later write wins
        for _, smin, smax, blob in chunks:
            v = value_at(blob, step, smin, smax)
            if v is not None:
                out[run_id] = v
                break


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


def _dedupe(batch: PointBatch) -> tuple[Any, Any, Any]:
    """Sort by step, keeping the last value logged for a repeated step.

    Lists in, lists out; numpy arrays of steps (importers) give numpy arrays (int64 steps,
    float64 walls and values) and are never turned into Python objects point by point."""
    if _ndarray(batch.steps):
        return _dedupe_arrays(batch)
    if isinstance(batch.steps, array):
        steps = batch.steps.tolist()
    elif all(type(s) is int for s in batch.steps):
        steps = list(batch.steps)
    else:
        steps = [int(s) for s in batch.steps]
    walls = batch.walls.tolist() if isinstance(batch.walls, array) else list(batch.walls)
    values = batch.values.tolist() if isinstance(batch.values, array) else list(batch.values)
    if all(map(operator.lt, steps, islice(steps, 1, None))):
        return steps, walls, values
    last: dict[int, int] = {}
    for i, s in enumerate(steps):
        last[s] = i
    order = sorted(last)
    idx = [last[s] for s in order]
    return order, [walls[i] for i in idx], [values[i] for i in idx]


def _dedupe_arrays(batch: PointBatch) -> tuple[Any, Any, Any]:
    import numpy as np

    steps = np.asarray(batch.steps).astype(np.int64, copy=False)
    walls = np.asarray(batch.walls, dtype=np.float64)
    values = np.asarray(batch.values, dtype=np.float64)
    if len(steps) > 1 and not bool(np.all(steps[1:] > steps[:-1])):
        # first occurrence in the reversed steps = last one logged; unique() sorts by step
        order, first_rev = np.unique(steps[::-1], return_index=True)
        idx = len(steps) - 1 - first_rev
        return order, walls[idx], values[idx]
    return steps, walls, values


def _summarize(steps: Any, walls: Any, values: Any) -> MetricSummary:
    """Summary of step-sorted, deduplicated points."""
    if not isinstance(values, list) and _ndarray(values):
        return _summarize_arrays(steps, walls, values)
    n = len(values)
    nan_count = sum(map(math.isnan, values))
    finite = values if not nan_count else [v for v in values if v == v]
    mn: float | None
    mx: float | None
    mn_step: int | None
    mx_step: int | None
    if finite:
        mn = min(finite)
        mx = max(finite)
        mn_step = steps[values.index(mn)]
        mx_step = steps[values.index(mx)]
    else:
        mn = mx = None
        mn_step = mx_step = None
    w0 = walls[0] if walls[0] == walls[0] else None
    w1 = walls[-1] if walls[-1] == walls[-1] else None
    return MetricSummary(
        n,
        nan_count,
        steps[0],
        values[0],
        w0,
        steps[-1],
        values[-1],
        w1,
        mn,
        mn_step,
        mx,
        mx_step,
    )


def _summarize_arrays(steps: Any, walls: Any, values: Any) -> MetricSummary:
    """:func:`_summarize` of numpy arrays, with the same result: min and max are the first
    point holding the extreme value (as Python's ``min``/``max`` and ``list.index`` pick)."""
    import numpy as np

    n = len(values)
    nan = np.isnan(values)
    nan_count = int(np.count_nonzero(nan))
    mn: float | None = None
    mx: float | None = None
    mn_step: int | None = None
    mx_step: int | None = None
    if nan_count < n:
        finite = values[~nan] if nan_count else values
        i = int(np.argmax(values == finite.min()))
        j = int(np.argmax(values == finite.max()))
        mn, mn_step = float(values[i]), int(steps[i])
        mx, mx_step = float(values[j]), int(steps[j])
    w0 = float(walls[0])
    w1 = float(walls[-1])
    return MetricSummary(
        n,
        nan_count,
        int(steps[0]),
        float(values[0]),
        w0 if w0 == w0 else None,
        int(steps[-1]),
        float(values[-1]),
        w1 if w1 == w1 else None,
        mn,
        mn_step,
        mx,
        mx_step,
    )
