"""The embedded store: one SQLite database in WAL mode.

Points live in compressed chunks (see :mod:`expbook.store.codec`), one row per (run, key,
chunk), so a point costs about 12 bytes on disk and a series of 100,000 points is read in a
few milliseconds. A per-(run, key) summary row is kept current inside the same transaction
as every write, so leaderboards never scan points.

Concurrency: every write is one ``BEGIN IMMEDIATE`` transaction, which takes SQLite's write
lock up front and waits for it (busy timeout) instead of failing with "database is locked"
when a read lock would have to be upgraded. Many processes can write to one store at once.

The store is in four modules: this one opens the database (the schema is
:mod:`~expbook.store.migrations`) and holds runs, import sources and reports;
:mod:`~expbook.store.sqlite_write` is the write path of points and values,
:mod:`~expbook.store.sqlite_read` their read path, and :mod:`~expbook.store.sqlite_core` the
connection plumbing all three share.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields as dataclass_fields
from typing import Any

from ..errors import AmbiguousRun, RunNotFound, StoreError
from .base import (
    STATUSES,
    RunRecord,
    _this_host,
)
from .migrations import migrate
from .sqlite_core import BUSY_TIMEOUT_S, _dumps, _loads, _reads
from .sqlite_events import EventsPath
from .sqlite_media import MediaPath
from .sqlite_read import ReadPath
from .sqlite_sweeps import SweepsPath
from .sqlite_sync import SyncPath
from .sqlite_tokens import TokensPath
from .sqlite_write import WritePath

DB_NAME = "expbook.db"

STORE_DIR = ".expbook"  # the store folder of a project (and the default store)

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


class SQLiteStore(ReadPath, WritePath, MediaPath, EventsPath, SweepsPath, TokensPath, SyncPath):
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
        gone: list[str] = []  # their folders go once the rows are gone
        with self.atomic():
            for run_id in run_ids:
                row = self._conn.execute("SELECT rid FROM runs WHERE id=?", (run_id,)).fetchone()
                if row is None:
                    continue
                rid = row[0]
                if "events" in self._tables:
                    self._conn.execute("DELETE FROM events WHERE rid=?", (rid,))
                gone.append(run_id)
                for table in (
                    "chunks",
                    "chunk_sketches",
                    "metric_summary",
                    "sources",
                    "artifacts",
                    "run_values",
                    "media",
                    "artifact_uses",
                ):
                    self._conn.execute(f"DELETE FROM {table} WHERE rid=?", (rid,))
                for table in (
                    "sync_received",
                    "sync_runs",
                    "sync_counts",
                    "sync_extras",
                    "point_rewrites",
                    "sync_rewrites",
                ):
                    if table in self._tables:  # a client's or a server's sync state
                        self._conn.execute(f"DELETE FROM {table} WHERE rid=?", (rid,))
                # artifact versions outlive the run that logged them (other runs use them)
                self._conn.execute("UPDATE artifact_versions SET rid=NULL WHERE rid=?", (rid,))
                self._conn.execute("DELETE FROM runs WHERE rid=?", (rid,))
                self._rids.pop(run_id, None)
                n += 1
        self._remove_run_dirs(gone)
        return n

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
