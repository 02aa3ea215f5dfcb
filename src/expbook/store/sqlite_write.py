"""The write path of the SQLite store: points into compressed chunks, the per-(run, key)
summaries kept current in the same transaction, and values that are not numbers."""

from __future__ import annotations

import math
import operator
from array import array
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any

from . import codec
from .base import (
    MetricSummary,
    PointBatch,
    iter_batches,
)
from .sketch import SKETCH_MIN, sketch_indices
from .sqlite_core import CHUNK_POINTS, MERGE_BELOW, StoreCore, _ndarray, _pick


class WritePath(StoreCore):
    """Writing points and values (mixed into :class:`SQLiteStore`)."""

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

    def append_points(
        self,
        run_id: str,
        batches: Mapping[str, PointBatch],
        *,
        encoded: Mapping[str, Sequence[bytes]] | None = None,
    ) -> None:
        """Append points; a step already stored for a key is replaced (last write wins).

        ``encoded`` (a server taking a client's chunks): key -> chunk blobs holding exactly
        that key's batch, in order; when the points go to new chunks they are stored as
        they are, not encoded again."""
        with self.atomic():
            rid = self._rid(run_id)
            for key, batch in iter_batches(batches):
                blobs = encoded.get(key) if encoded else None
                self._append_key(rid, self._kid(key), *_dedupe(batch), blobs=blobs)

    def _append_key(
        self,
        rid: int,
        kid: int,
        steps: list[int],
        walls: list[float],
        values: list[float],
        blobs: Sequence[bytes] | None = None,
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
                self._write_chunks(rid, kid, next_seq, steps, walls, values, blobs)
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
        self._mark_rewrite(rid, kid, steps[0])
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
        blobs: Sequence[bytes] | None = None,
    ) -> None:
        rows = []
        sketches = []
        for i, j, blob in codec.segments(len(steps), CHUNK_POINTS, blobs):
            s = steps[i:j]
            w = walls[i:j]
            v = values[i:j]
            data = codec.encode(s, w, v) if blob is None else blob
            rows.append((rid, kid, seq, len(s), int(s[0]), int(s[-1]), data))
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

    def _mark_rewrite(self, rid: int, kid: int, step: int) -> None:
        """Points of a key from ``step`` on are no longer only what was appended before
        them: a sync client sends them again (see ``point_rewrites``)."""
        if "point_rewrites" in self._tables:
            self._conn.execute(
                "INSERT INTO point_rewrites (rid, kid, step, gen) VALUES (?,?,?,1) "
                "ON CONFLICT (rid, kid) DO UPDATE SET step = MIN(step, excluded.step), "
                "gen = gen + 1",
                (rid, kid, step),
            )

    def replace_points(self, run_id: str, batches: Mapping[str, PointBatch]) -> None:
        """Drop every point of the run, then write these (one transaction)."""
        with self.atomic():
            rid = self._rid(run_id)
            for (kid,) in self._conn.execute(
                "SELECT kid FROM metric_summary WHERE rid=?", (rid,)
            ).fetchall():
                self._mark_rewrite(rid, kid, _FIRST_STEP)
            for table in ("chunks", "chunk_sketches", "metric_summary"):
                self._conn.execute(f"DELETE FROM {table} WHERE rid=?", (rid,))
            self.append_points(run_id, batches)


_FIRST_STEP = -(2**63)  # below every step: a key's points all rewritten


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
