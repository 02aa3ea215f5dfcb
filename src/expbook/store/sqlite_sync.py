"""Syncing to a team server, in the SQLite store (mixed into :class:`SQLiteStore`).

Two sides live here:

* the server's counters (``sync_received``, migration ``0008_sync_received``): how many
  points of each (run, key) the server accepted from clients, the same methods as the
  PostgreSQL store's. A client's batch names the position of its first point; the server
  skips what it holds already and appends the rest, the points and the counter in one
  transaction, so a retried batch never stores a point twice;
* a client's state (``sync_runs`` and ``sync_counts``, migration ``0009_sync_state``):
  per server, what the server confirmed of each run (points per key, the status and the
  ``updated_at`` of the fields last sent) and the last error, which ``expbook sync
  --status`` reads without asking the server.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .sqlite_core import StoreCore, _reads


class SyncPath(StoreCore):
    """Sync counters (server side) and sync state (client side)."""

    # -- the server's side -----------------------------------------------------------------
    @_reads
    def received_counts(self, run_id: str, keys: Iterable[str] | None = None) -> dict[str, int]:
        """How many points of each (run, key) the server accepted from clients (0 for a
        key asked for and never received). Inside :meth:`atomic` the run stays locked until
        it ends, so two uploads of one run never both count the same points."""
        with self._lock:
            rid = self._rid(run_id)
            self._lock_run(rid)
            rows = self._conn.execute(
                "SELECT k.name, s.count FROM sync_received s JOIN keys k ON k.kid = s.kid "
                "WHERE s.rid=?",
                (rid,),
            ).fetchall()
        have = {name: int(n) for name, n in rows}
        if keys is None:
            return dict(sorted(have.items()))
        return {k: have.get(k, 0) for k in dict.fromkeys(keys)}

    def set_received_counts(self, run_id: str, counts: Mapping[str, int]) -> None:
        with self.atomic():
            rid = self._rid(run_id)
            self._conn.executemany(
                "INSERT INTO sync_received (rid, kid, count) VALUES (?,?,?) "
                "ON CONFLICT (rid, kid) DO UPDATE SET count = excluded.count",
                [(rid, self._kid(k), int(n)) for k, n in sorted(counts.items())],
            )

    # -- a client's side -------------------------------------------------------------------
    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that see one state of the store (a read transaction: a writer in another
        connection goes on meanwhile, and what it commits is not seen until the end)."""
        with self._lock:
            if self._depth or self._conn.in_transaction:
                yield  # inside a write transaction already: one state anyway
                return
            self._conn.execute("BEGIN")
            try:
                yield
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    @_reads
    def encoded_tails(self, run_id: str, have: Mapping[str, int]) -> dict[str, list[bytes]]:
        """key -> the stored chunks (blobs as they are) that hold exactly the points of the
        key from position ``have[key]`` on, for the keys whose chunks lie in step order and
        one of which starts at that position; the other keys are left out (a reader
        decodes those). What a sync client sends without decoding and encoding again."""
        keys = [k for k in have if have[k] >= 0]
        if not keys:
            return {}
        with self._lock:
            rid = self._rid(run_id)
            rows = self._conn.execute(
                "SELECT k.name, c.seq, c.n, c.step_min, c.step_max FROM chunks c "
                f"JOIN keys k ON k.kid = c.kid WHERE c.rid=? AND k.name IN "
                f"({','.join('?' * len(keys))}) ORDER BY c.kid, c.seq",
                (rid, *keys),
            ).fetchall()
            first: dict[str, int] = {}  # key -> seq of the chunk starting at have[key]
            bad: set[str] = set()
            pos: dict[str, int] = {}
            last: dict[str, int] = {}
            for key, seq, n, lo, hi in rows:
                if key in bad:
                    continue
                if key in last and lo <= last[key]:  # overlapping or out of order
                    bad.add(key)
                    continue
                last[key] = hi
                at = pos.get(key, 0)
                if at == have[key]:
                    first[key] = seq
                pos[key] = at + n
            out: dict[str, list[bytes]] = {}
            for key, seq in first.items():
                if key in bad:
                    continue
                out[key] = [
                    bytes(r[0])
                    for r in self._conn.execute(
                        "SELECT c.data FROM chunks c JOIN keys k ON k.kid = c.kid "
                        "WHERE c.rid=? AND k.name=? AND c.seq>=? ORDER BY c.seq",
                        (rid, key, seq),
                    )
                ]
        return out

    @_reads
    def sync_state(self, server: str, run_ids: Iterable[str] | None = None) -> dict[str, Any]:
        """run id -> ``{"status", "updated_at", "synced_at", "error", "counts": {key: n},
        "media": n, "values": n}``: what ``server`` confirmed of each run synced to it (runs
        never synced are left out)."""
        sql = (
            "SELECT r.id, s.status, s.updated_at, s.synced_at, s.error FROM sync_runs s "
            "JOIN runs r ON r.rid = s.rid WHERE s.server=?"
        )
        counts_sql = (
            "SELECT r.id, k.name, c.count FROM sync_counts c JOIN runs r ON r.rid = c.rid "
            "JOIN keys k ON k.kid = c.kid WHERE c.server=?"
        )
        wanted = None if run_ids is None else set(run_ids)
        media_sql = (
            "SELECT r.id, m.media, m.text_values FROM sync_extras m JOIN runs r "
            "ON r.rid = m.rid WHERE m.server=?"
        )
        params: list[Any] = [server]
        if wanted is not None and len(wanted) <= 500:  # a few runs: looked up by id
            where = f" AND r.id IN ({','.join('?' * len(wanted))})"
            sql += where
            counts_sql += where
            media_sql += where
            params.extend(sorted(wanted))
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
            counts = self._conn.execute(counts_sql, params).fetchall()
            media = (
                self._conn.execute(media_sql, params).fetchall()
                if "sync_extras" in self._tables
                else []
            )
        out: dict[str, Any] = {}
        for run_id, status, updated, synced, error in rows:
            if wanted is None or run_id in wanted:
                out[run_id] = {
                    "status": status,
                    "updated_at": updated,
                    "synced_at": synced,
                    "error": error,
                    "counts": {},
                    "media": 0,
                    "values": 0,
                }
        for run_id, key, n in counts:
            if run_id in out:
                out[run_id]["counts"][key] = int(n)
        for run_id, n_media, n_values in media:
            if run_id in out:
                out[run_id]["media"] = int(n_media or 0)
                out[run_id]["values"] = int(n_values or 0)
        return out

    @_reads
    def rewrites(self, server: str, run_id: str) -> dict[str, tuple[int, int]]:
        """key -> (step, number) for the keys of the run whose points from ``step`` on were
        rewritten (a step logged again, or between stored ones) since ``server`` last caught
        up with them (:meth:`ack_rewrites`): a sync client sends those points again."""
        if "point_rewrites" not in self._tables:
            return {}
        with self._lock:
            rid = self._rid(run_id)
            rows = self._conn.execute(
                "SELECT k.name, p.step, p.gen FROM point_rewrites p JOIN keys k ON k.kid = p.kid "
                "LEFT JOIN sync_rewrites s ON s.server=? AND s.rid = p.rid AND s.kid = p.kid "
                "WHERE p.rid=? AND p.gen > COALESCE(s.gen, 0)",
                (server, rid),
            ).fetchall()
        return {str(k): (int(step), int(gen)) for k, step, gen in rows}

    def ack_rewrites(self, server: str, run_id: str, gens: Mapping[str, int]) -> None:
        """``server`` holds the points of these keys as they were at these rewrite numbers."""
        if not gens or "sync_rewrites" not in self._tables:
            return
        with self.atomic():
            rid = self._rid(run_id)
            self._conn.executemany(
                "INSERT INTO sync_rewrites (server, rid, kid, gen) VALUES (?,?,?,?) "
                "ON CONFLICT (server, rid, kid) DO UPDATE SET gen = MAX(gen, excluded.gen)",
                [(server, rid, self._kid(k), int(g)) for k, g in sorted(gens.items())],
            )

    def record_sync(
        self,
        server: str,
        run_id: str,
        *,
        counts: Mapping[str, int] | None = None,
        status: str | None = None,
        updated_at: float | None = None,
        error: str | None = None,
        media: int | None = None,
        values: int | None = None,
    ) -> None:
        """Remember what ``server`` confirmed of a run: the counts of some keys, the status
        and ``updated_at`` of the fields last sent (left as they were when None), the last
        error (None clears it), how many of its media rows are done (sent, or left out for
        good) and how many of its non-numeric values were sent."""
        with self.atomic():
            rid = self._rid(run_id)
            self._conn.execute(
                "INSERT INTO sync_runs (server, rid, status, updated_at, synced_at, error) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (server, rid) DO UPDATE SET "
                "status = COALESCE(excluded.status, status), "
                "updated_at = COALESCE(excluded.updated_at, updated_at), "
                "synced_at = COALESCE(excluded.synced_at, synced_at), error = excluded.error",
                (server, rid, status, updated_at, None if error else time.time(), error),
            )
            if counts:
                self._conn.executemany(
                    "INSERT INTO sync_counts (server, rid, kid, count) VALUES (?,?,?,?) "
                    "ON CONFLICT (server, rid, kid) DO UPDATE SET count = excluded.count",
                    [(server, rid, self._kid(k), int(n)) for k, n in sorted(counts.items())],
                )
            if (media is not None or values is not None) and "sync_extras" in self._tables:
                self._conn.execute(
                    "INSERT INTO sync_extras (server, rid, media, text_values) VALUES (?,?,?,?) "
                    "ON CONFLICT (server, rid) DO UPDATE SET "
                    "media = COALESCE(excluded.media, media), "
                    "text_values = COALESCE(excluded.text_values, text_values)",
                    (server, rid, media, values),
                )
