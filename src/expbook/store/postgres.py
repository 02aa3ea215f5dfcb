"""The PostgreSQL store: the SQLite store's layout in a PostgreSQL schema, through psycopg 3.

``PostgresStore("postgresql://user@host:5432/db?schema=NAME")`` holds runs, points,
summaries, imports, reports, media, artifacts, events, API tokens and the team server's
sync counters in the tables of one schema (``public`` unless the URL names one with
``schema=NAME`` or ``options=-csearch_path%3DNAME``), created and upgraded by the named
migrations of :mod:`~expbook.store.postgres_schema`.

As in the SQLite store, points live in compressed chunks (:mod:`expbook.store.codec`) with
per-chunk sketches, and a per-(run, key) summary is kept current in the same transaction as
every write, so reads never scan points. Text columns compare byte-wise (``COLLATE "C"``),
as SQLite's do, so every listing comes out in the same order on both stores.

Where their SQL is the same, the two stores share code: this class reuses the SQLite
store's read methods (their ``?`` placeholders are translated by
:class:`~expbook.store.postgres_core.PgConnection`) and defines everything that differs:
opening, writes (upserts, identity columns, advisory locks, binary ``COPY`` for many rows),
and media and artifact files, whose bytes are kept in the ``blobs`` table and copied to a
local cache folder (``files_dir``) when read.

One connection per store object, in autocommit mode outside :meth:`atomic` (a transaction;
nested calls join it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..errors import StoreError, UsageError
from .base import STATUSES, MetricSummary, PointBatch, RunRecord, _this_host, iter_batches
from .postgres_core import (
    PgConnection,
    PgCore,
    _one_line,
    _reads,
    is_postgres_url,
    parse_url,
)
from .postgres_schema import migrate, tables
from .sketch import SKETCH_MIN, sketch_indices
from .sqlite import _ADJ, _NOUN, _RUN_COLUMNS, SQLiteStore, new_id
from .sqlite_core import CHUNK_POINTS, MERGE_BELOW, _dumps, _pick
from .sqlite_read import _values_into
from .sqlite_write import _dedupe, _summarize

__all__ = ["PostgresStore", "is_postgres_url"]

_COPY_FROM = 16  # from this many chunk rows on, a write is one binary COPY

_SUMMARY_COLUMNS = (
    "count, nan_count, first_step, first_value, first_wall, last_step, last_value, "
    "last_wall, min_value, min_step, max_value, max_step"
)

_TOKEN_COLUMNS = "id, project, scope, name, created_at, revoked_at, last_used_at"


class PostgresStore(PgCore, SQLiteStore):  # type: ignore[misc]
    """A store in a PostgreSQL schema. Thread-safe; open one per process and share it."""

    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        readonly: bool = False,
        connect_timeout: float = 10.0,
    ) -> None:
        try:
            import psycopg
        except ImportError as e:  # pragma: no cover - psycopg is in the server extra
            raise StoreError(
                "a PostgreSQL store needs psycopg: pip install 'expbook[server]'"
            ) from e
        conninfo, schema, location = parse_url(str(url))
        self.url = str(url)
        self.schema = schema
        self.location = location
        self.db_path = location  # what error messages name (never the password)
        self.readonly = readonly
        self._lock = threading.RLock()
        self._depth = 0
        self._locked: set[int] = set()  # runs locked in the transaction under way
        self._kids: dict[str, int] = {}
        self._rids: dict[str, int] = {}
        digest = hashlib.sha256(f"{location}#{schema}".encode()).hexdigest()[:16]
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        # a local copy of the store's media and artifact files (their bytes are in blobs)
        self.files_dir = os.path.join(cache, "expbook", "postgres", digest)
        self._conninfo = conninfo
        self._connect_timeout = connect_timeout
        raw = self._open()
        me = weakref.ref(self)  # no cycle: a dropped store closes its session at once

        def reopen() -> Any:
            store = me()
            if store is None:
                raise StoreError(f"store {location} is closed")
            return store._open()

        def in_transaction() -> bool:
            store = me()
            return store is not None and store._depth > 0

        self._conn = PgConnection(raw, location, self._lock, reopen, in_transaction)
        try:
            exists = self._has_store()
            if not exists and (not create or readonly):
                raise StoreError(f"no expbook store at {location}")
            if not readonly:
                migrate(raw, schema)
            self._tables = tables(raw, schema)
        except psycopg.Error as e:
            self.close()
            raise StoreError(f"cannot open store {location}: {_one_line(e)}") from None
        except BaseException:
            self.close()
            raise

    def _open(self) -> Any:
        """A new session: autocommit, the store's schema first in the search path."""
        import psycopg
        from psycopg import sql

        kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in self._conninfo:
            kwargs["connect_timeout"] = max(1, int(self._connect_timeout))
        try:
            raw = psycopg.connect(self._conninfo, **kwargs)
        except psycopg.Error as e:
            raise StoreError(
                f"cannot connect to PostgreSQL store {self.location}: {_one_line(e)}"
            ) from None
        try:
            # reads of many runs sort in memory, and short queries are never JIT-compiled
            stmt = "SET search_path TO {}; SET work_mem = '64MB'; SET jit = off"
            if self.readonly:
                stmt += "; SET default_transaction_read_only = on"
            raw.execute(sql.SQL(stmt).format(sql.Identifier(self.schema)))
        except psycopg.Error as e:
            raw.close()
            raise StoreError(f"cannot open store {self.location}: {_one_line(e)}") from None
        return raw

    def _has_store(self) -> bool:
        row = self._conn.raw.execute(
            "SELECT to_regclass(format('%%I.runs', %s::text))", (self.schema,)
        ).fetchone()
        return row is not None and row[0] is not None

    def check_writable(self) -> None:
        if self.readonly:
            raise StoreError(f"store {self.location} is open read-only")

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
                import secrets

                name = f"{secrets.choice(_ADJ)}-{secrets.choice(_NOUN)}-{count + 1}"
            row = self._conn.execute(
                "INSERT INTO runs (id, name, project, status, created_at, updated_at, "
                "heartbeat_at, host, pid, grp, notes, tags, config, meta, source) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING "
                f"RETURNING rid, {_RUN_COLUMNS}",
                (
                    rid_,
                    name,
                    project,
                    status,
                    created,
                    now,
                    now if status == "running" else None,
                    host if host is not None else (_this_host() if status == "running" else None),
                    pid if pid is not None else (os.getpid() if status == "running" else None),
                    group,
                    notes,
                    _dumps(list(tags)),
                    _dumps(dict(config or {})),
                    _dumps(dict(meta or {})),
                    _dumps(dict(source or {"kind": "logged"})),
                ),
            ).fetchone()
            if row is None:
                raise StoreError(f"a run with id {rid_!r} already exists")
            self._rids[rid_] = int(row[0])
        return self._record(row[1:])  # as get_run reads it, without reading it again

    def heartbeat(self, run_ids: Sequence[str]) -> None:
        ids = list(run_ids)
        if ids:
            self._conn.execute(
                "UPDATE runs SET heartbeat_at=? WHERE id = ANY(?)", (time.time(), ids)
            )

    @_reads
    def data_version(self) -> int:
        """A number that grows whenever a transaction that writes starts on the server (any
        writer of the database: a changed number means the store may have changed)."""
        row = self._conn.execute(
            "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
        ).fetchone()
        return int(row[0])

    def update_run(self, run_id: str, **fields: Any) -> None:
        SQLiteStore.update_run(self, run_id, **fields)
        if fields.get("status", "running") != "running":
            self._upload_run_files(run_id)  # the run ended: its console log is complete

    def delete_runs(self, run_ids: Iterable[str]) -> int:
        ids = list(run_ids)
        with self.atomic():
            for run_id in ids:
                row = self._conn.execute("SELECT rid FROM runs WHERE id=?", (run_id,)).fetchone()
                if row is not None:
                    self._conn.execute("DELETE FROM sync_received WHERE rid=?", (row[0],))
                    self._conn.pg(
                        "DELETE FROM blobs WHERE left(path, %s) = %s",
                        (len(_run_prefix(run_id)), _run_prefix(run_id)),
                    )
            return SQLiteStore.delete_runs(self, ids)

    # -- a run's own files (console log...): local while it runs, kept in blobs after ------
    def _run_path(self, run_id: str) -> str:
        return os.path.join(self.files_dir, "runs", run_id)

    def run_dir(self, run_id: str) -> str:
        """The local folder of a run's own files (``output.log``...); the copies kept in the
        database are fetched into it when it is not there."""
        path = self._run_path(run_id)
        if not os.path.isdir(path) and _safe_id(run_id):
            prefix = _run_prefix(run_id)
            rows = self._conn.pg(
                "SELECT path, data FROM blobs WHERE left(path, %s) = %s",
                (len(prefix), prefix),
            ).fetchall()
            for rel, data in rows:
                full = self._local(rel)
                os.makedirs(os.path.dirname(full), exist_ok=True)
                with open(full, "wb") as f:
                    f.write(bytes(data))
        return path

    def _upload_run_files(self, run_id: str) -> None:
        """Keep the files of a run's local folder in the blobs table (replacing older
        copies), so that every client sees its console log."""
        folder = self._run_path(run_id)
        if not _safe_id(run_id) or not os.path.isdir(folder):
            return
        rows = []
        for root, _dirs, files in os.walk(folder):
            for name in files:
                full = os.path.join(root, name)
                try:
                    if os.path.getsize(full) > _MAX_RUN_FILE:
                        continue
                    with open(full, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                rel = os.path.relpath(full, self.files_dir).replace(os.sep, "/")
                rows.append((rel, len(data), data))
        self._conn.executemany(
            "INSERT INTO blobs (path, size, data) VALUES (?,?,?) ON CONFLICT (path) DO UPDATE "
            "SET size = excluded.size, data = excluded.data",
            rows,
        )

    def _remove_run_dirs(self, run_ids: list[str]) -> None:
        import shutil

        for run_id in run_ids:
            if _safe_id(run_id):
                shutil.rmtree(self._run_path(run_id), ignore_errors=True)

    # -- imports -------------------------------------------------------------------------
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
                "INSERT INTO sources VALUES (?,?,?,?,?,?,?,?) "
                "ON CONFLICT (project, source, external_id) DO UPDATE SET rid=excluded.rid, "
                "format=excluded.format, content_hash=excluded.content_hash, "
                "files=excluded.files, imported_at=excluded.imported_at",
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
        with self.atomic():
            rid = self._rid(run_id)
            self._conn.execute("DELETE FROM artifacts WHERE rid=?", (rid,))
            latest = {p: (k, h) for p, k, h in artifacts}
            self._conn.executemany(
                "INSERT INTO artifacts VALUES (?,?,?,?)",
                [(rid, p, k, h) for p, (k, h) in latest.items()],
            )

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
        path = os.path.abspath(path)
        rid = hashlib.sha256(path.encode()).hexdigest()[:12]
        with self.atomic():
            self._conn.execute("DELETE FROM reports WHERE id=? OR path=?", (rid, path))
            self._conn.execute(
                "INSERT INTO reports VALUES (?,?,?,?,?,?,?,?)",
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
    def stats(self) -> dict[str, int]:
        (runs,) = self._q("SELECT COUNT(*) FROM runs")[0]
        (points,) = self._q("SELECT COALESCE(SUM(n), 0) FROM chunks")[0]
        (size,) = self._conn.pg(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'",
            (self.schema,),
        ).fetchone()
        return {"runs": int(runs), "points": int(points), "bytes": int(size)}

    # -- points --------------------------------------------------------------------------
    def append_values(self, run_id: str, rows: Iterable[tuple[str, int, float, str]]) -> None:
        with self.atomic():
            rid = self._rid(run_id)
            latest: dict[tuple[int, int], tuple[Any, Any]] = {}
            for key, step, wall, text in rows:
                latest[self._kid(key), int(step)] = (wall, text)
            self._conn.executemany(
                "INSERT INTO run_values (rid, kid, step, wall, value) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (rid, kid, step) DO UPDATE SET wall=excluded.wall, "
                "value=excluded.value",
                [(rid, kid, step, w, t) for (kid, step), (w, t) in latest.items()],
            )

    def append_points(
        self,
        run_id: str,
        batches: Mapping[str, PointBatch],
        *,
        encoded: Mapping[str, Sequence[bytes]] | None = None,
    ) -> None:
        """Append points; a step already stored for a key is replaced (last write wins).

        A few round trips whatever the number of keys: the state of every key (its last
        step, its tail chunk) is read in one query, then every key's chunks, sketches and
        summary are written in one pipeline (many chunks at once: binary COPY).
        ``encoded``: as :meth:`SQLiteStore.append_points` (a client's chunks kept as
        they are)."""
        with self.atomic():
            rid = self._rid(run_id)
            self._lock_run(rid)
            items = [
                (self._kid(key), *_dedupe(batch), encoded.get(key) if encoded else None)
                for key, batch in iter_batches(batches)
            ]
            if not items:
                return
            state = self._key_states(rid, [it[0] for it in items])
            plan = _Plan()
            for kid, steps, walls, values, blobs in items:
                self._plan_key(plan, rid, kid, state.get(kid), steps, walls, values, blobs)
            self._apply(plan)

    def set_received_counts(self, run_id: str, counts: Mapping[str, int]) -> None:
        # one statement whatever the number of keys
        with self.atomic():
            rid = self._rid(run_id)
            items = sorted(counts.items())
            self._conn.pg(
                "INSERT INTO sync_received (rid, kid, count) "
                "SELECT %s, k, n FROM unnest(%s::int4[], %s::int8[]) AS u(k, n) "
                "ON CONFLICT (rid, kid) DO UPDATE SET count = excluded.count",
                (rid, [self._kid(k) for k, _ in items], [int(n) for _, n in items]),
            )

    def _key_states(self, rid: int, kids: list[int]) -> dict[int, tuple[Any, ...]]:
        """kid -> (last step, tail seq, tail n, tail step_max, tail data when small)."""
        rows = self._conn.pg(
            "SELECT k.kid, s.last_step, c.seq, c.n, c.step_max, "
            "CASE WHEN c.n < %s THEN c.data END "
            "FROM unnest(%s::int4[]) AS k(kid) "
            "LEFT JOIN metric_summary s ON s.rid = %s AND s.kid = k.kid "
            "LEFT JOIN LATERAL (SELECT seq, n, step_max, data FROM chunks "
            "  WHERE rid = %s AND kid = k.kid ORDER BY seq DESC LIMIT 1) c ON true",
            (MERGE_BELOW, kids, rid, rid),
        ).fetchall()
        return {int(r[0]): tuple(r[1:]) for r in rows}

    def _plan_key(
        self,
        plan: _Plan,
        rid: int,
        kid: int,
        state: tuple[Any, ...] | None,
        steps: Any,
        walls: Any,
        values: Any,
        blobs: Sequence[bytes] | None = None,
    ) -> None:
        from . import codec

        last_step, tail_seq, tail_n, tail_max, tail_data = state or (None,) * 5
        next_seq = tail_seq + 1 if tail_seq is not None else 0
        first = int(steps[0])
        in_order = last_step is None or first > last_step
        grow_tail = tail_seq is not None and tail_n < MERGE_BELOW and first > tail_max
        if not isinstance(steps, list) and (grow_tail or not in_order):
            steps, walls, values = steps.tolist(), walls.tolist(), values.tolist()
        if in_order:
            if grow_tail and tail_data is not None:
                # grow the small tail chunk instead of adding another small one
                s0, w0, v0 = codec.decode_lists(bytes(tail_data))
                plan.deletes.append(
                    (
                        "WITH gone AS (DELETE FROM chunk_sketches WHERE rid=%s AND kid=%s "
                        "AND seq=%s) DELETE FROM chunks WHERE rid=%s AND kid=%s AND seq=%s",
                        (rid, kid, tail_seq, rid, kid, tail_seq),
                    )
                )
                _chunk_rows(plan, rid, kid, tail_seq, s0 + steps, w0 + walls, v0 + values)
            else:
                _chunk_rows(plan, rid, kid, next_seq, steps, walls, values, blobs)
            plan.summaries.append((_MERGE_SUMMARY, (rid, kid, *_summarize(steps, walls, values))))
            return
        # out of order (rare): is any of these steps stored already?
        overlap = self._conn.execute(
            "SELECT data FROM chunks WHERE rid=? AND kid=? AND step_max>=? AND step_min<=?",
            (rid, kid, first, int(steps[-1])),
        ).fetchall()
        wanted = set(steps)
        repeated = any(wanted.intersection(codec.decode_lists(bytes(r[0]))[0]) for r in overlap)
        one = _Plan()
        _chunk_rows(one, rid, kid, next_seq, steps, walls, values)
        self._apply(one)
        if repeated:
            self._recompute_summary(rid, kid)
        else:
            self._merge_summary(rid, kid, _summarize(steps, walls, values))

    def _apply(self, plan: _Plan) -> None:
        """Run a plan's writes in order (tail deletes, chunks and sketches, summaries) in
        one pipeline, or around a binary COPY when there are many chunks."""
        conn = self._conn
        many = len(plan.chunks) >= _COPY_FROM

        def pipelined(statements: list[tuple[str, tuple[Any, ...]]], inserts: bool) -> None:
            raw = conn.raw
            with raw.pipeline(), raw.cursor() as cur:
                for sql, params in statements:
                    cur.execute(sql, params)
                if inserts:
                    for sql, params in _multi_row(_INSERT_CHUNK, plan.chunks):
                        cur.execute(sql, params)
                    for sql, params in _multi_row(_INSERT_SKETCH, plan.sketches):
                        cur.execute(sql, params)
                for sql, params in _summary_statements(plan.summaries):
                    cur.execute(sql, params)

        if not many:
            conn._call(lambda: pipelined(plan.deletes, True))
            return
        for sql, params in plan.deletes:
            conn.pg(sql, params)
        conn.copy_rows("chunks", _CHUNK_COLUMNS, _CHUNK_TYPES, plan.chunks)
        conn.copy_rows("chunk_sketches", _SKETCH_COLUMNS, _SKETCH_TYPES, plan.sketches)
        conn._call(lambda: pipelined([], False))

    def _merge_summary(self, rid: int, kid: int, s: MetricSummary) -> None:
        self._conn.pg(_MERGE_SUMMARY, (rid, kid, *s))

    def _recompute_summary(self, rid: int, kid: int) -> None:
        from . import codec

        merged: dict[int, tuple[float, float]] = {}
        for (blob,) in self._conn.execute(
            "SELECT data FROM chunks WHERE rid=? AND kid=? ORDER BY seq", (rid, kid)
        ).fetchall():
            s, w, v = codec.decode_lists(bytes(blob))
            for step, wall, value in zip(s, w, v):
                merged[step] = (wall, value)
        steps = sorted(merged)
        walls = [merged[k][0] for k in steps]
        values = [merged[k][1] for k in steps]
        self._conn.execute("DELETE FROM metric_summary WHERE rid=? AND kid=?", (rid, kid))
        self._merge_summary(rid, kid, _summarize(steps, walls, values))

    def replace_points(self, run_id: str, batches: Mapping[str, PointBatch]) -> None:
        with self.atomic():
            rid = self._rid(run_id)
            self._lock_run(rid)
            for table in ("chunks", "chunk_sketches", "metric_summary"):
                self._conn.execute(f"DELETE FROM {table} WHERE rid=?", (rid,))
            self.append_points(run_id, batches)

    @_reads
    def metric_summaries(
        self,
        run_ids: Iterable[str] | None = None,
        keys: Iterable[str] | None = None,
        project: str | None = None,
    ) -> dict[str, dict[str, MetricSummary]]:
        where: list[str] = []
        params: list[Any] = []
        if project is not None:
            where.append("r.project = %s")
            params.append(project)
        if run_ids is not None:
            ids = list(run_ids)
            if not ids:
                return {}
            where.append("r.id = ANY(%s)")
            params.append(ids)
        one: str | None = None  # the key's name when one key is asked for
        if keys is None:
            names = dict(self._conn.pg("SELECT kid, name FROM keys").fetchall())
        else:
            ks = list(dict.fromkeys(keys))
            if not ks:
                return {}
            names = dict(
                self._conn.pg("SELECT kid, name FROM keys WHERE name = ANY(%s)", (ks,)).fetchall()
            )
            if not names:
                return {}
            if len(names) == 1:
                # one key: its rows in run order straight from the (kid, rid) index
                ((kid, one),) = names.items()
                where.append("s.kid = %s")
                params.append(kid)
            else:
                where.append("s.kid = ANY(%s)")
                params.append(list(names))
        sql = (
            "SELECT r.id, s.kid, s.count, s.nan_count, s.first_step, s.first_value, "
            "s.first_wall, s.last_step, s.last_value, s.last_wall, s.min_value, s.min_step, "
            "s.max_value, s.max_step FROM metric_summary s JOIN runs r ON r.rid = s.rid"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY s.rid" if one is not None else " ORDER BY s.rid, s.kid"
        rows = self._conn.pg(sql, params).fetchall()
        new = tuple.__new__
        if one is not None:
            return {row[0]: {one: new(MetricSummary, row[2:])} for row in rows}
        out: dict[str, dict[str, MetricSummary]] = {}
        for row in rows:
            got = out.get(row[0])
            if got is None:
                got = out[row[0]] = {}
            name = names.get(row[1])
            if name is None:  # a key another writer added since the names were read
                names.update(self._conn.pg("SELECT kid, name FROM keys").fetchall())
                name = names[row[1]]
            got[name] = new(MetricSummary, row[2:])
        return out

    # the pushed-down reads (rank_runs, get_runs, pivot_cells) of the SQLite store, in
    # PostgreSQL's dialect: NaN is a value here, run ids as one array
    _NOT_NAN = " AND {col} <> 'NaN'::float8"
    _RUN_IDS = "SELECT unnest(?::text[])"

    def _ids_param(self, ids: list[str]) -> Any:
        return ids

    @_reads
    def pivot_cells(
        self,
        keys: Sequence[str],
        value: str,
        agg: str,
        *,
        split: int,
        project: str | None = None,
    ) -> dict[str, Any] | None:
        """As the SQLite store's, with the runs grouped by their config text here: one row
        per distinct config with its runs' values (``first``/``last``, which need every
        value in run order, read one row per run)."""
        if agg in ("first", "last"):
            return super().pivot_cells(keys, value, agg, split=split, project=project)
        from ..analysis.sweep import group_cells
        from .sqlite_read import _Fallback, _like_key, _pick_config, _plain_key

        keys = list(keys)
        if not all(_plain_key(k) for k in [*keys, value]):
            return None
        kid = self._kid_or_none(value)
        like = _like_key(value)
        where_p, pp = (" AND r.project = %s", [project]) if project is not None else ("", [])
        # runs whose value is their logged key's last value, grouped by config text (with
        # each group's first run, for first-seen order: its created_at; the rid too only
        # when two groups start at the same time, as building arrays costs); then, one by
        # one, the others: an explicit summary that may hold the value, or no points of it
        sql = (
            "SELECT {first} AS first, r.config AS config, array_agg(s.last_value) AS vals "
            "FROM runs r JOIN metric_summary s ON s.rid = r.rid AND s.kid = %s "
            f"WHERE NOT (r.summary LIKE %s ESCAPE '\\'){where_p} GROUP BY r.config"
        )
        # the keys' members of each distinct config, read by the database (the json type
        # keeps a member's text as written, which decodes as the whole config does); when it
        # cannot read a config (NaN), the configs come whole and are decoded here
        members = ", ".join("(x.j -> %s::text)::text" for _ in keys)
        by_member = (
            f"SELECT g.first, {members}, g.vals FROM ({sql}) g "
            "CROSS JOIN LATERAL (SELECT g.config::json AS j) x"
        )
        params: list[Any] = [*keys, kid, like, *pp]
        first: list[Any] = []
        if kid is not None:
            import psycopg

            try:
                first = self._conn.pg(by_member.format(first="min(r.created_at)"), params)
                first = first.fetchall()
            except psycopg.DataError:
                by_member, params = sql, [kid, like, *pp]
                first = self._conn.pg(by_member.format(first="min(r.created_at)"), params)
                first = first.fetchall()
        (total,) = self._conn.pg(f"SELECT count(*) FROM runs r WHERE true{where_p}", pp).fetchone()
        odd: list[Any] = []
        if total != sum(len(g[-1]) for g in first):
            odd = self._conn.pg(
                "SELECT ARRAY[r.created_at, r.rid::float8], r.config, s.rid, s.last_value, "
                "s.last_step, CASE WHEN r.summary LIKE %s ESCAPE '\\' THEN r.summary END "
                "FROM runs r LEFT JOIN metric_summary s ON s.rid = r.rid AND s.kid = %s "
                f"WHERE (s.rid IS NULL OR r.summary LIKE %s ESCAPE '\\'){where_p}",
                [like, -1 if kid is None else kid, like, *pp],
            ).fetchall()
        if len({g[0] for g in first} | {o[0][0] for o in odd}) == len(first) + len(odd):
            first = [([g[0]], *g[1:]) for g in first]
        else:
            exact = by_member.format(first="min(ARRAY[r.created_at, r.rid::float8])")
            first = self._conn.pg(exact, params).fetchall()
        grouped: list[Any] = []
        extracted: list[Any] = []
        if by_member is sql:
            grouped = first
        elif first:
            got = _members(first, len(keys))
            if got is None:
                return None
            extracted = got
        picked: dict[str, tuple[tuple, Any]] = {}
        items: list[tuple[list[float], tuple, list[Any]]] = []
        try:
            for pos, text, values in grouped:
                got = picked.get(text)
                if got is None:
                    got = picked[text] = _pick_config(text, keys, value)
                items.append((pos, got[0], values))
            items.extend(extracted)
            for pos, text, has_row, last, last_step, explicit in odd:
                got = picked.get(text)
                if got is None:
                    got = picked[text] = _pick_config(text, keys, value)
                v = self._run_value(value, got[1], has_row, last, last_step, explicit, False)
                items.append((pos, got[0], [v]))
        except _Fallback:
            return None
        items.sort(key=lambda t: t[0])  # by each group's first run: first-seen key order
        return group_cells(
            ((k, vs) for _, k, vs in items),
            split,
            agg,
            bool(grouped or extracted) or any(o[2] is not None for o in odd),
            ordered=False,
        )

    @_reads
    def metric_keys(self, project: str | None = None) -> dict[str, list[str]]:
        """run id -> the keys it has points for (sorted). Each run's key ids are grouped on
        the server; runs logging the same keys share one decoding."""
        names = dict(self._conn.pg("SELECT kid, name FROM keys").fetchall())
        sql = (
            "SELECT r.id, s.kids FROM (SELECT rid, array_agg(kid)::text AS kids "
            "FROM metric_summary GROUP BY rid) s JOIN runs r ON r.rid = s.rid"
        )
        params: tuple[Any, ...] = ()
        if project:
            sql += " WHERE r.project = %s"
            params = (project,)
        rows = self._conn.pg(sql + " ORDER BY r.rid", params).fetchall()
        decoded: dict[str, list[str]] = {}
        out: dict[str, list[str]] = {}
        for run_id, kids in rows:
            got = decoded.get(kids)
            if got is None:
                ids = [int(k) for k in kids[1:-1].split(",")]
                if not all(k in names for k in ids):  # a key added since names were read
                    names.update(self._conn.pg("SELECT kid, name FROM keys").fetchall())
                got = decoded[kids] = sorted(names[k] for k in ids)
            out[run_id] = list(got)
        return out

    @_reads
    def values_at(
        self,
        key: str,
        step: int,
        run_ids: Iterable[str] | None = None,
        project: str | None = None,
    ) -> dict[str, float]:
        step = int(step)
        sql = (
            "SELECT r.id, c.seq, c.step_min, c.step_max, c.data FROM runs r "
            "JOIN chunks c ON c.rid = r.rid JOIN keys k ON k.kid = c.kid "
            "WHERE k.name = %s AND c.step_min <= %s AND c.step_max >= %s"
        )
        params: list[Any] = [key, step, step]
        if project is not None:
            sql += " AND r.project = %s"
            params.append(project)
        if run_ids is not None:
            ids = list(dict.fromkeys(run_ids))
            if not ids:
                return {}
            sql += " AND r.id = ANY(%s)"
            params.append(ids)
        rows = self._conn.pg(sql + " ORDER BY r.rid, c.seq", params).fetchall()
        by_run: dict[str, list[tuple[int, int, int, bytes]]] = {}
        for run_id, seq, smin, smax, blob in rows:
            by_run.setdefault(run_id, []).append((seq, smin, smax, bytes(blob)))
        out: dict[str, float] = {}
        _values_into(list(by_run.items()), step, out)
        return out

    # -- tokens (the team server's; the store keeps what it is given) --------------------
    def add_token(
        self,
        *,
        token_id: str,
        project: str,
        scope: str,
        name: str | None,
        secret_hash: str,
        created_at: float,
    ) -> None:
        import psycopg

        try:
            self._conn.execute(
                "INSERT INTO tokens (id, project, scope, name, secret_hash, created_at) "
                "VALUES (?,?,?,?,?,?)",
                (token_id, project, scope, name, secret_hash, created_at),
            )
        except psycopg.errors.UniqueViolation as e:
            raise StoreError(f"a token with id {token_id!r} (or that secret) exists") from e

    @_reads
    def tokens(self) -> list[dict[str, Any]]:
        rows = self._q(f"SELECT {_TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id")
        return [_token(r) for r in rows]

    @_reads
    def token_by_hash(self, secret_hash: str) -> dict[str, Any] | None:
        rows = self._q(f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE secret_hash=?", (secret_hash,))
        return _token(rows[0]) if rows else None

    def revoke_token(self, token_id: str) -> bool:
        cur = self._conn.execute(
            "UPDATE tokens SET revoked_at=? WHERE id=? AND revoked_at IS NULL",
            (time.time(), token_id),
        )
        if cur.rowcount:
            return True
        return bool(self._q("SELECT 1 FROM tokens WHERE id=?", (token_id,)))

    def touch_token(self, token_id: str, when: float) -> None:
        self._conn.execute("UPDATE tokens SET last_used_at=? WHERE id=?", (when, token_id))

    # -- media and artifacts: the files' bytes live in the blobs table ---------------------
    def _upload(self, paths: Iterable[str]) -> None:
        """Keep the bytes of these files (paths under files_dir) in the blobs table."""
        todo = sorted(set(p for p in paths if p))
        if not todo:
            return
        have = {r[0] for r in self._conn.pg("SELECT path FROM blobs WHERE path = ANY(%s)", (todo,))}
        for rel in todo:
            if rel in have:
                continue
            full = self._local(rel)
            try:
                with open(full, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise StoreError(f"cannot keep {rel} in store {self.location}: {e}") from e
            self._conn.execute(
                "INSERT INTO blobs (path, size, data) VALUES (?,?,?) ON CONFLICT DO NOTHING",
                (rel, len(data), data),
            )

    def _local(self, rel: str) -> str:
        root = os.path.realpath(self.files_dir)
        full = os.path.realpath(os.path.join(root, rel))
        if not full.startswith(root + os.sep):
            raise StoreError(f"bad file path {rel!r} in store {self.location}")
        return full

    def fetch_files(self, paths: Iterable[str]) -> None:
        """Copy the stored bytes of these files (paths under files_dir) into the local
        ``files_dir`` where they are not there yet."""
        missing = []
        for rel in set(paths):
            if rel and not os.path.exists(self._local(rel)):
                missing.append(rel)
        if not missing:
            return
        for rel, data in self._conn.pg(
            "SELECT path, data FROM blobs WHERE path = ANY(%s)", (sorted(missing),)
        ).fetchall():
            full = self._local(rel)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            tmp = f"{full}.{os.getpid()}.tmp"
            with open(tmp, "wb") as f:
                f.write(bytes(data))
            os.replace(tmp, full)

    def add_media(self, run_id: str, rows: Sequence[Any]) -> None:
        with self.atomic():
            rid = self._rid(run_id)
            self._upload(r[5] for r in rows)
            for key, step in {(r[0], r[1]) for r in rows}:
                self._conn.execute(
                    "DELETE FROM media WHERE rid=? AND key=? AND step=?", (rid, key, step)
                )
            latest = {(r[0], r[1], r[2]): r for r in rows}
            self._conn.executemany(
                "INSERT INTO media VALUES (?,?,?,?,?,?,?,?)",
                [
                    (rid, key, step, idx, wall, typ, path, _dumps(dict(meta)))
                    for key, step, idx, wall, typ, path, meta in latest.values()
                ],
            )

    def read_media(self, run_id: str, key: str | None = None) -> list[dict[str, Any]]:
        rows = SQLiteStore.read_media(self, run_id, key)
        self.fetch_files(r["path"] for r in rows)
        return rows

    def add_artifact_version(
        self,
        *,
        project: str,
        name: str,
        type: str,
        digest: str,
        files: Sequence[tuple[str, str, int, str]],
        run_id: str | None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        aliases: Sequence[str] = (),
    ) -> dict[str, Any]:
        with self.atomic():
            rid = self._rid(run_id) if run_id else None
            self._conn.pg(
                "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", (project, name)
            )
            last = self._conn.execute(
                "SELECT aid, type, digest, version FROM artifact_versions "
                "WHERE project=? AND name=? ORDER BY version DESC LIMIT 1",
                (project, name),
            ).fetchone()
            if last is not None and last[1] != type:
                raise UsageError(
                    f"artifact {name!r} has type {last[1]!r}; log a {type!r} under another name"
                )
            if last is not None and last[2] == digest:
                aid = last[0]
            else:
                self._upload(f[3] for f in files)
                (aid,) = self._conn.execute(
                    "INSERT INTO artifact_versions (project, name, version, type, digest, rid, "
                    "created_at, description, metadata) VALUES (?,?,?,?,?,?,?,?,?) "
                    "RETURNING aid",
                    (
                        project,
                        name,
                        0 if last is None else last[3] + 1,
                        type,
                        digest,
                        rid,
                        time.time(),
                        description,
                        _dumps(dict(metadata or {})),
                    ),
                ).fetchone()
                latest = {p: (sha, size, blob) for p, sha, size, blob in files}
                self._conn.executemany(
                    "INSERT INTO artifact_files VALUES (?,?,?,?,?)",
                    [(aid, p, sha, size, blob) for p, (sha, size, blob) in latest.items()],
                )
            for alias in aliases:
                if alias != "latest":
                    self._conn.execute(
                        "INSERT INTO artifact_aliases VALUES (?,?,?,?) ON CONFLICT "
                        "(project, name, alias) DO UPDATE SET aid=excluded.aid",
                        (project, name, alias, aid),
                    )
        out = self._artifact(aid)
        assert out is not None
        return out

    def record_artifact_use(self, project: str, name: str, version: int, run_id: str) -> None:
        with self.atomic():
            rid = self._rid(run_id)
            row = self._conn.execute(
                "SELECT aid FROM artifact_versions WHERE project=? AND name=? AND version=?",
                (project, name, version),
            ).fetchone()
            if row is not None:
                self._conn.execute(
                    "INSERT INTO artifact_uses VALUES (?,?,?) ON CONFLICT DO NOTHING",
                    (row[0], rid, time.time()),
                )

    def get_artifact(
        self, name: str, version: str | None = None, project: str | None = None
    ) -> dict[str, Any] | None:
        out = SQLiteStore.get_artifact(self, name, version, project)
        if out is not None and not out.get("external"):
            self.fetch_files(f["blob"] for f in out.get("files", []) if f.get("blob"))
        return out

    # -- events --------------------------------------------------------------------------
    def add_event(
        self,
        run_id: str,
        kind: str,
        *,
        level: str | None = None,
        title: str | None = None,
        text: str | None = None,
        data: Any = None,
        wall: float | None = None,
    ) -> int:
        from .sqlite_events import MAX_EVENT_DATA, _cut

        blob = None
        if data is not None:
            blob = json.dumps(data, default=str, allow_nan=True)
            if len(blob) > MAX_EVENT_DATA:
                raise ValueError(f"event data of {len(blob):,} characters is too large")
        with self.atomic():
            rid = self._rid(run_id)
            (eid,) = self._conn.execute(
                "INSERT INTO events (rid, wall, kind, level, title, text, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING eid",
                (
                    rid,
                    time.time() if wall is None else float(wall),
                    kind,
                    level,
                    _cut(title),
                    _cut(text),
                    blob,
                ),
            ).fetchone()
            return int(eid)


def _members(rows: Sequence[Sequence[Any]], n: int) -> list[Any] | None:
    """(first position, key values, values) of config groups whose ``n`` key members came
    as JSON text; None when a config lacks one (read elsewhere: the general path)."""
    decoded: dict[str, Any] = {}
    out = []
    for row in rows:
        vals = []
        for text in row[1 : n + 1]:
            if text is None:
                return None
            v = decoded.get(text, decoded)
            if v is decoded:
                v = decoded[text] = json.loads(text)
            vals.append(v)
        out.append((row[0], tuple(vals), row[n + 1]))
    return out


def _token(row: Sequence[Any]) -> dict[str, Any]:
    return dict(
        zip(("id", "project", "scope", "name", "created_at", "revoked_at", "last_used_at"), row)
    )


_MAX_RUN_FILE = 256 << 20  # a run file larger than this stays local


def _safe_id(run_id: str) -> bool:
    return bool(run_id) and "/" not in run_id and os.sep not in run_id and run_id not in (".", "..")


def _run_prefix(run_id: str) -> str:
    return f"runs/{run_id}/"


class _Plan:
    """The writes of one :meth:`PostgresStore.append_points`, run by ``_apply``."""

    __slots__ = ("chunks", "deletes", "sketches", "summaries")

    def __init__(self) -> None:
        self.deletes: list[tuple[str, tuple[Any, ...]]] = []
        self.chunks: list[tuple[Any, ...]] = []
        self.sketches: list[tuple[Any, ...]] = []
        self.summaries: list[tuple[str, tuple[Any, ...]]] = []


def _chunk_rows(
    plan: _Plan,
    rid: int,
    kid: int,
    seq: int,
    steps: Any,
    walls: Any,
    values: Any,
    blobs: Sequence[bytes] | None = None,
) -> None:
    """Cut points into chunks of at most CHUNK_POINTS (a sketch for each large one); with
    ``blobs`` that hold exactly these points, their cuts and bytes."""
    from . import codec

    for i, j, blob in codec.segments(len(steps), CHUNK_POINTS, blobs):
        s = steps[i:j]
        w = walls[i:j]
        v = values[i:j]
        data = codec.encode(s, w, v) if blob is None else blob
        plan.chunks.append((rid, kid, seq, len(s), int(s[0]), int(s[-1]), data))
        if len(s) >= SKETCH_MIN:
            idx = sketch_indices(v)
            plan.sketches.append((rid, kid, seq, codec.encode(*_pick((s, w, v), idx))))
        seq += 1


_CHUNK_COLUMNS = ("rid", "kid", "seq", "n", "step_min", "step_max", "data")
_CHUNK_TYPES = ("int4", "int4", "int4", "int4", "int8", "int8", "bytea")
_SKETCH_COLUMNS = ("rid", "kid", "seq", "data")
_SKETCH_TYPES = ("int4", "int4", "int4", "bytea")
_INSERT_CHUNK = "INSERT INTO chunks VALUES (%s,%s,%s,%s,%s,%s,%s)"
_INSERT_SKETCH = "INSERT INTO chunk_sketches VALUES (%s,%s,%s,%s)"
_ROWS_A_STATEMENT = 64  # rows of one multi-row INSERT (a statement is prepared per count)


def _multi_row(insert: str, rows: Sequence[tuple[Any, ...]]) -> list[tuple[str, list[Any]]]:
    """``insert`` (``INSERT ... VALUES (%s,...)`` and maybe a tail such as ON CONFLICT) for
    ``rows`` as statements of up to _ROWS_A_STATEMENT rows each: one statement instead of
    one a row costs PostgreSQL one parse, plan and executor start instead of many."""
    return [
        (_rows_sql(insert, len(part)), [x for row in part for x in row])
        for part in (
            rows[i : i + _ROWS_A_STATEMENT] for i in range(0, len(rows), _ROWS_A_STATEMENT)
        )
    ]


@functools.lru_cache(maxsize=256)
def _rows_sql(insert: str, n: int) -> str:
    """``insert`` with ``n`` rows of placeholders after its VALUES."""
    head, rest = insert.split("VALUES", 1)
    one, tail = rest.split(")", 1)
    return f"{head}VALUES {','.join([one.strip() + ')'] * n)}{tail}"


def _summary_statements(
    summaries: Sequence[tuple[str, tuple[Any, ...]]],
) -> list[tuple[str, Sequence[Any]]]:
    """The summaries' statements, the runs of _MERGE_SUMMARY of distinct (run, key) as one
    multi-row statement each (an upsert must not meet one row twice); in order."""
    out: list[tuple[str, Sequence[Any]]] = []
    group: list[tuple[Any, ...]] = []

    def flush() -> None:
        out.extend(_multi_row(_MERGE_SUMMARY, group))
        group.clear()

    for sql, params in summaries:
        if sql is _MERGE_SUMMARY and all(g[:2] != params[:2] for g in group):
            group.append(params)
            continue
        flush()
        if sql is _MERGE_SUMMARY:
            group.append(params)
        else:
            out.append((sql, params))
    flush()
    return out


# a summary merged with the one stored (the SQLite store's rule, in PostgreSQL's words)
_MERGE_SUMMARY = """
    INSERT INTO metric_summary AS m VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)
    ON CONFLICT (rid, kid) DO UPDATE SET
      count = m.count + excluded.count,
      nan_count = m.nan_count + excluded.nan_count,
      first_value = CASE WHEN excluded.first_step < m.first_step
                    THEN excluded.first_value ELSE m.first_value END,
      first_wall = CASE WHEN excluded.first_step < m.first_step
                   THEN excluded.first_wall ELSE m.first_wall END,
      first_step = LEAST(m.first_step, excluded.first_step),
      last_value = CASE WHEN excluded.last_step > m.last_step
                   THEN excluded.last_value ELSE m.last_value END,
      last_wall = CASE WHEN excluded.last_step > m.last_step
                  THEN excluded.last_wall ELSE m.last_wall END,
      last_step = GREATEST(m.last_step, excluded.last_step),
      min_step = CASE WHEN m.min_value IS NULL OR excluded.min_value < m.min_value
                   OR (excluded.min_value = m.min_value AND excluded.min_step < m.min_step)
                 THEN excluded.min_step ELSE m.min_step END,
      min_value = CASE WHEN m.min_value IS NULL OR excluded.min_value < m.min_value
                  THEN excluded.min_value ELSE m.min_value END,
      max_step = CASE WHEN m.max_value IS NULL OR excluded.max_value > m.max_value
                   OR (excluded.max_value = m.max_value AND excluded.max_step < m.max_step)
                 THEN excluded.max_step ELSE m.max_step END,
      max_value = CASE WHEN m.max_value IS NULL OR excluded.max_value > m.max_value
                  THEN excluded.max_value ELSE m.max_value END
"""
