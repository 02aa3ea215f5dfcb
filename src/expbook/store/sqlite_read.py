"""The read path of the SQLite store: summaries, series (whole, ranges, tails, overviews),
values at a step, and values that are not numbers. Every public method is wrapped by
:func:`~expbook.store.sqlite_core._reads`, so a damaged database is a StoreError."""

from __future__ import annotations

import json
import os
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from typing import Any

from . import codec
from .base import (
    MetricSummary,
    Series,
)
from .sketch import sketch_indices
from .sqlite_core import _FEW_RUNS, _THREADS_FROM, StoreCore, _loads, _nan_if_none, _reads


class ReadPath(StoreCore):
    """Reading points and values (mixed into :class:`SQLiteStore`)."""

    @_reads
    def values_counts(self, run_ids: list[str]) -> dict[str, int]:
        """run id -> how many non-numeric values it has (runs with none are left out)."""
        return self._rows_per_run("run_values", run_ids)

    @_reads
    def read_values(
        self, run_id: str, key: str | None = None
    ) -> list[tuple[str, int, float | None, Any]]:
        """The non-numeric values of a run (of one key), ``(key, step, wall, value)`` in step
        order, values decoded from JSON."""
        if "run_values" not in self._tables:  # a store from before 0003_values, read-only
            return []
        sql = (
            "SELECT k.name, v.step, v.wall, v.value FROM run_values v "
            "JOIN keys k ON k.kid = v.kid JOIN runs r ON r.rid = v.rid WHERE r.id = ?"
        )
        args: list[Any] = [run_id]
        if key is not None:
            sql += " AND k.name = ?"
            args.append(key)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY k.name, v.step", args).fetchall()
        return [(k, step, wall, json.loads(text)) for k, step, wall, text in rows]

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
    def read_overviews(
        self, run_ids: Sequence[str], keys: Sequence[str]
    ) -> dict[tuple[str, str], Series]:
        """A light view of every (run, key) of ``run_ids`` x ``keys`` that has points, in one
        read: each chunk's stored sketch (min, max and last of every 64 points,
        :mod:`expbook.store.sketch`) where it has one, else the chunk's points (a chunk of
        fewer than 1,024 points has no sketch, so a short series comes back whole). The global
        min and max of each series are kept. A (run, key) whose chunks overlap in steps
        (out-of-order writes) is read point by point, as :meth:`read_series` does. For many
        curves at once (the dashboard's workspace), where one :meth:`read_overview` each would
        cost a few queries per curve."""
        import numpy as np

        ids = list(dict.fromkeys(run_ids))
        names = list(dict.fromkeys(keys))
        if not ids or not names:
            return {}
        sketches = "chunk_sketches" in self._tables
        kid_rows = self._q(
            f"SELECT kid, name FROM keys WHERE name IN ({','.join('?' * len(names))})", names
        )
        kname = dict(kid_rows)
        if not kname:
            return {}
        sql = (
            "SELECT c.rid, c.kid, c.seq, c.step_min, c.step_max, "
            + ("s.data, CASE WHEN s.data IS NULL THEN c.data END " if sketches else "NULL, c.data ")
            + "FROM chunks c "
            + (
                "LEFT JOIN chunk_sketches s ON s.rid=c.rid AND s.kid=c.kid AND s.seq=c.seq "
                if sketches
                else ""
            )
            + f"WHERE c.kid IN ({','.join('?' * len(kname))}) AND c.rid IN (%s)"
        )
        rid_of: dict[int, str] = {}
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            rid_of.update(
                self._q(f"SELECT rid, id FROM runs WHERE id IN ({','.join('?' * len(part))})", part)
            )
        rows: list[Any] = []
        if rid_of:
            lo, hi = min(rid_of), max(rid_of)
            if hi - lo < 2 * len(rid_of):
                # runs close together (a page, a sweep): one range scan of the primary key,
                # which reads far fewer pages than a seek per run and key
                ranged = sql.replace("c.rid IN (%s)", "c.rid BETWEEN ? AND ?")
                rows = [r for r in self._q(ranged, [*kname, lo, hi]) if r[0] in rid_of]
            else:
                rids = list(rid_of)
                for i in range(0, len(rids), 500):
                    part_r = rids[i : i + 500]
                    rows += self._q(sql % ",".join("?" * len(part_r)), [*kname, *part_r])
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        grouped: dict[tuple[str, str], list[Any]] = {}
        for rid, kid, _seq, smin, smax, sketch, data in rows:
            grouped.setdefault((rid_of[rid], kname[kid]), []).append((smin, smax, sketch, data))
        out: dict[tuple[str, str], Series] = {}
        for (run_id, key), chunks in grouped.items():
            if any(chunks[i][0] <= chunks[i - 1][1] for i in range(1, len(chunks))):
                got = self.read_series(run_id, [key]).get(key)
                if got is not None:
                    out[run_id, key] = got
                continue
            parts = [codec.decode_arrays(sk if sk is not None else d) for _, _, sk, d in chunks]
            if len(parts) == 1:
                out[run_id, key] = Series(*parts[0])
            else:
                out[run_id, key] = Series(
                    np.concatenate([p[0] for p in parts]),
                    np.concatenate([p[1] for p in parts]),
                    np.concatenate([p[2] for p in parts]),
                )
        return out

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

    # -- pushed-down reads of many runs (leaderboard, pivot) -------------------------------
    # Dialect hooks, overridden by the PostgreSQL store: a value that is a number to rank
    # by (SQLite keeps NaN as NULL), run ids as one bound parameter.
    _NOT_NAN = ""
    _RUN_IDS = "SELECT value FROM json_each(?)"

    def _ids_param(self, ids: list[str]) -> Any:
        return json.dumps(ids)

    def _kid_or_none(self, key: str) -> int | None:
        rows = self._q("SELECT kid FROM keys WHERE name = ?", (key,))
        return int(rows[0][0]) if rows else None

    @_reads
    def rank_runs(
        self,
        key: str,
        by: str = "min",
        *,
        desc: bool = False,
        project: str | None = None,
        limit: int = 10,
    ) -> dict[str, Any]:
        """The runs of ``project`` ranked by ``key``'s per-run summary, only as far as a
        leaderboard's first ``limit`` rows need (see :meth:`Backend.rank_runs`)."""
        col = _RANK_COLUMNS.get(by)
        if col is None:
            raise ValueError(f"by must be one of {', '.join(_RANK_COLUMNS)}, not {by!r}")
        limit = max(0, int(limit))
        kid = self._kid_or_none(key)
        kid = -1 if kid is None else kid
        like = _like_key(key)
        where_p, pp = (" AND r.project = ?", [project]) if project is not None else ("", [])
        good = f"s.{col} IS NOT NULL" + self._NOT_NAN.format(col=f"s.{col}")
        join = "FROM runs r LEFT JOIN metric_summary s ON s.rid = r.rid AND s.kid = ?"
        plain = "s.rid IS NULL AND NOT (r.summary LIKE ? ESCAPE '\\')"
        # counts from the summary table alone (its rows of one key); the runs without a row
        # are counted with a join only when there are some
        (total,) = self._q(f"SELECT count(*) FROM runs r WHERE 1 = 1{where_p}", pp)[0]
        rows_of = "FROM metric_summary s" + (" JOIN runs r ON r.rid = s.rid" if pp else "")
        any_row, scored, with_row = self._q(
            f"SELECT count(*), count(*) FILTER (WHERE s.count > 0 AND {good}), "
            f"count(*) FILTER (WHERE s.count > 0) {rows_of} WHERE s.kid = ?{where_p}",
            [kid, *pp],
        )[0]
        n_plain = 0
        if total > any_row:
            (n_plain,) = self._q(
                f"SELECT count(*) {join} WHERE {plain}{where_p}", [kid, like, *pp]
            )[0]
        ranked = "FROM metric_summary s JOIN runs r ON r.rid = s.rid WHERE s.kid = ?"
        top = unscored = plain_first = []
        if scored and limit:
            order = f"s.{col}{' DESC' if desc else ''}"
            bound: list[Any] = []
            if not pp and scored > limit:
                # the limit-th value, from the summary table alone: only runs up to it (ties
                # included) are joined to their run for the tie order
                (edge,) = self._q(
                    f"SELECT s.{col} FROM metric_summary s WHERE s.kid = ? AND s.count > 0 "
                    f"AND {good} ORDER BY {order} LIMIT 1 OFFSET ?",
                    [kid, limit - 1],
                )[0]
                bound = [edge]
            top = self._q(
                f"SELECT r.id {ranked} AND s.count > 0 AND {good}{where_p}"
                + (f" AND s.{col} {'>=' if desc else '<='} ?" if bound else "")
                + f" ORDER BY {order}, r.created_at, r.rid LIMIT ?",
                [kid, *pp, *bound, limit],
            )
        if with_row > scored and limit:
            unscored = self._q(
                f"SELECT r.id {ranked} AND s.count > 0 AND NOT ({good}){where_p} "
                "ORDER BY r.created_at, r.rid LIMIT ?",
                [kid, *pp, limit],
            )
        if n_plain and limit:
            plain_first = self._q(
                f"SELECT r.id {join} WHERE {plain}{where_p} ORDER BY r.created_at, r.rid LIMIT ?",
                [kid, like, *pp, limit],
            )
        candidates = []
        if total - with_row - n_plain > 0:
            candidates = self._q(
                f"SELECT r.id {join} WHERE (s.count = 0 OR (s.rid IS NULL AND "
                f"r.summary LIKE ? ESCAPE '\\')){where_p} ORDER BY r.created_at, r.rid",
                [kid, like, *pp],
            )
        return {
            "total": int(total),
            "scored": int(scored),
            "unscored": int(with_row - scored),
            "plain": int(n_plain),
            "top": [r[0] for r in top],
            "unscored_first": [r[0] for r in unscored],
            "plain_first": [r[0] for r in plain_first],
            "candidates": [r[0] for r in candidates],
        }

    @_reads
    def get_runs(self, run_ids: Iterable[str]) -> list[Any]:
        """The records of the runs ``run_ids`` (exact ids; unknown ones left out), in the
        order :meth:`list_runs` gives them."""
        ids = list(dict.fromkeys(run_ids))
        if not ids:
            return []
        from .sqlite import _BY_CREATED, _RUN_COLUMNS

        rows = self._q(
            f"SELECT {_RUN_COLUMNS}, rid FROM runs WHERE id IN ({self._RUN_IDS})",
            [self._ids_param(ids)],
        )
        rows.sort(key=_BY_CREATED)
        return [self._record(r) for r in rows]  # type: ignore[attr-defined]

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
        """A pivot's aggregated cells, read from each run's config and one summary row
        (see :meth:`Backend.pivot_cells`); None where the store cannot answer exactly."""
        from ..analysis.sweep import group_cells

        try:
            got = self._pivot_rows(list(keys), value, project)
        except _Fallback:
            return None
        rows, has_metric = got
        return group_cells(((t[:-1], t[-1:]) for t in rows), split, agg, has_metric)

    def _pivot_rows(
        self, keys: list[str], value: str, project: str | None
    ) -> tuple[list[tuple], bool]:
        """Per run, in run order: the config values of ``keys`` and the value of ``value``
        as :func:`~expbook.analysis.keys.getter` reads them (param first for keys, metric
        first for the value), and whether some run logged ``value``. Raises
        :class:`_Fallback` where that needs more than a config member (a key missing from a
        config, a dotted path) or NaN keys (which never group)."""
        if not all(_plain_key(k) for k in [*keys, value]):
            raise _Fallback
        kid = self._kid_or_none(value)
        where_p, pp = (" WHERE r.project = ?", [project]) if project is not None else ("", [])
        rows = self._q(
            "SELECT r.config, s.rid, s.last_value, s.last_step, "
            "CASE WHEN r.summary LIKE ? ESCAPE '\\' THEN r.summary END "
            "FROM runs r LEFT JOIN metric_summary s ON s.rid = r.rid AND s.kid = ?"
            f"{where_p} ORDER BY r.created_at, r.rid",
            [_like_key(value), -1 if kid is None else kid, *pp],
        )
        picked: dict[str, tuple[tuple, Any]] = {}
        out = []
        logged = False  # whether some run has points of value (so pivot knows the key)
        nan_fix = not self._NOT_NAN
        for text, has_row, last, last_step, explicit in rows:
            if has_row is not None:
                logged = True
            got = picked.get(text)
            if got is None:
                got = picked[text] = _pick_config(text, keys, value)
            out.append(
                (
                    *got[0],
                    self._run_value(value, got[1], has_row, last, last_step, explicit, nan_fix),
                )
            )
        return out, logged

    @staticmethod
    def _run_value(
        value: str,
        from_config: Any,
        has_row: Any,
        last: Any,
        last_step: Any,
        explicit: Any,
        nan_fix: bool,
    ) -> Any:
        """``run.summary.get(value)``, else the config's: explicit summary values first,
        then the logged key's last value."""
        if explicit is not None:
            d = _loads(explicit)
            if isinstance(d, dict) and value in d:
                return d[value]
        if has_row is not None:
            return _nan_if_none(last_step, last) if nan_fix else last
        if from_config is _DOTTED:
            raise _Fallback
        return None if from_config is _MISS else from_config


_RANK_COLUMNS = {"min": "min_value", "max": "max_value", "last": "last_value"}
_MISS: Any = object()
_DOTTED: Any = object()  # not a member of the config: a dotted path would be tried


class _Fallback(Exception):
    """The pushed-down pivot cannot promise the general path's answer."""


def _has_nan(v: Any) -> bool:
    if type(v) is float:
        return v != v
    if isinstance(v, list):
        return any(_has_nan(x) for x in v)
    if isinstance(v, dict):
        return any(_has_nan(x) for x in v.values())
    return False


def _pick_config(text: str, keys: list[str], value: str) -> tuple[tuple, Any]:
    """(the values of ``keys`` in the config ``text``, its value of ``value``: _MISS when
    absent, _DOTTED when only a dotted path could find it)."""
    d = _loads(text)
    if type(d) is not dict:
        raise _Fallback
    vals = []
    for k in keys:
        v = d.get(k, _MISS)
        if v is _MISS or _has_nan(v):
            raise _Fallback  # looked up elsewhere, or NaN (never equal: no group)
        vals.append(v)
    own = d.get(value, _MISS)
    if own is _MISS and "." in value:
        own = _DOTTED
    return tuple(vals), own


def _like_key(key: str) -> str:
    """A LIKE pattern that the JSON text of every summary holding ``key`` matches (and
    maybe more: a candidate, checked after decoding)."""
    if key and all(32 <= ord(c) < 127 for c in key) and '"' not in key and "\\" not in key:
        return '%"' + key.replace("%", "\\%").replace("_", "\\_") + '"%'
    return "%"


def _plain_key(key: str) -> bool:
    """A key the pushed-down pivot reads as one config member: not a run field, not
    prefixed (config., summary., run.), not a list index, JSON-path safe."""
    from ..analysis.keys import RUN_FIELDS

    return (
        bool(key)
        and key not in RUN_FIELDS
        and not key.startswith(("config.", "summary.", "run."))
        and not key.isdigit()
        and all(32 <= ord(c) < 127 for c in key)
        and '"' not in key
        and "\\" not in key
    )


def _chunks_ordered(chunks: Sequence[tuple[int, int, bytes]]) -> bool:
    """True when each chunk's steps all come after the previous chunk's (no step repeats)."""
    return all(chunks[i][0] > chunks[i - 1][1] for i in range(1, len(chunks)))


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
