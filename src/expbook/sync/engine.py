"""Syncing one run of a local store to a server: what the sync thread does every second
for a live run, and what ``expbook sync`` does for runs logged offline or imported.

For a run:

1. Read the local points beyond what the server holds of each key (its counts as this
   client last heard them, from the local store's sync state; none for a run never synced)
   in one read snapshot of the local store: the stored chunks as they are where one starts
   right there, else the points decoded from that position on.
2. ``POST`` them in bounded batches that name their first point's position, the run's
   fields with the first one (one request for a short run). A retried batch is skipped by
   the server where it overlaps what it holds, so an interrupted upload resumes where it
   stopped and a point never arrives twice. A 409 (a gap: the server holds fewer points
   than the client thought) gives the server's counts of every key; the engine sends from
   there. While points are still to go, or before the server has told its counts, a
   finished run is sent as ``running`` (a reader of the server sees a partial upload as
   ``crashed``, never as a finished run that lacks points); its final status goes with its
   last points.
3. Then points rewritten here after the server had them (the local store notes from
   which step of a key, and a number the server's acknowledgement is kept against): sent
   again as batches that replace by step; then its media (rows, and the files the server
   lacks) and its non-numeric values. A run with some of those still to send got
   ``running`` with its points and gets its final status by a ``PUT`` after them. A run
   with nothing to send is ``PUT`` (whose answer has the server's counts), and again when
   its status or fields changed.

What the server confirmed is kept in the local store's sync state (per server), which
``expbook sync --status`` reads. Numeric metrics, config, summary, tags, notes, status and
the run's metadata, media and non-numeric values are synced; saved and artifact files are
not (yet).
"""

from __future__ import annotations

import os
import re
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from ..store.codec import points_in
from .client import Client, Gap, MissingFiles, b64, b64_bytes

BATCH_POINTS = 250_000  # points in one request (about 6 MB of base64): bounded requests
ENV_BATCH = "EXPBOOK_SYNC_BATCH"  # another bound (1 to BATCH_POINTS), for slow links


def batch_points() -> int:
    try:
        n = int(os.environ.get(ENV_BATCH) or BATCH_POINTS)
    except ValueError:
        n = BATCH_POINTS
    return max(1, min(BATCH_POINTS, n))


_GAP_RETRIES = 5
VALUES_BATCH = 5_000  # non-numeric values in one request
MEDIA_BATCH_BYTES = 8 << 20  # bytes of media files in one request (bodies stay under 16 MiB)
MEDIA_FILE_MAX = 12 << 20  # a larger media file is not synced
_MEDIA_PATH = re.compile(r"media/[0-9a-f]{2}/([0-9a-f]{64})((?:\.[A-Za-z0-9]{1,12}){0,2})")


@dataclass
class Outcome:
    """What one sync of a run did."""

    run_id: str
    sent: int = 0  # points the server took from this sync
    pending: int = 0  # points of the run not on the server afterwards
    media: int = 0  # media rows sent by this sync
    media_skipped: int = 0  # media rows that cannot be synced (a file missing or too large)
    values: int = 0  # non-numeric values sent by this sync
    status: str | None = None  # the status the server has now
    created: bool = False  # the run was new on the server
    keys: dict[str, int] = field(default_factory=dict)  # the server's counts afterwards


def run_fields(rec: Any, status: str | None = None) -> dict[str, Any]:
    """The fields of a run the server keeps, as the local store has them."""
    out: dict[str, Any] = {
        "name": rec.name,
        "project": rec.project,
        "status": status or rec.status,
        "config": rec.config,
        "summary": rec.summary,
        "meta": rec.meta,
        "source": rec.source,
        "tags": list(rec.tags),
        "group": rec.group,
        "notes": rec.notes,
        "host": rec.host,
        "created_at": rec.created_at,
        "finished_at": rec.finished_at,
        "heartbeat_at": rec.heartbeat_at,
        "pid": rec.pid,
        "exit_code": rec.exit_code,
    }
    return out


def _time(wall: Any) -> float | None:
    """A wall time as the server takes it: a number, or None for none or NaN."""
    return float(wall) if isinstance(wall, (int, float)) and wall == wall else None


def _behind(local: dict[str, int], known: dict[str, int]) -> bool:
    return any(n > known.get(k, 0) for k, n in local.items())


class Engine:
    """Syncs runs of a local (SQLite) store to one server through ``client``."""

    def __init__(self, store: Any, client: Client, server: str | None = None) -> None:
        self.store = store
        self.client = client
        self.server = server or client.url
        # what the server confirmed in this process, per run: its counts, and the
        # (updated_at, status) of the fields last sent (the first call for a run always
        # sends them, and learns the server's counts from the answer)
        self._counts: dict[str, dict[str, int]] = {}
        # runs whose counts come from the store's sync state, not yet confirmed by the
        # server: their final status waits until the server has said what it holds
        self._guessed: set[str] = set()
        self._sent: dict[str, tuple[float, str]] = {}
        # media rows the server has, per run, as (key, step, index, path); files it has
        self._media: dict[str, set[tuple[Any, ...]]] = {}
        self._files: set[str] = set()
        self._media_done: dict[str, int] = {}  # run -> its media rows done, to record
        # run -> its non-numeric values sent (to record), and per key the last step sent
        self._values_done: dict[str, int] = {}
        self._values_at: dict[str, dict[str, int]] = {}

    def local(self, run_id: str) -> tuple[Any, dict[str, int]]:
        """The run's record and its number of points per key, as the local store has them."""
        with self.store.snapshot():
            rec = self.store.get_run(run_id)
            sums = self.store.metric_summaries([run_id]).get(run_id, {})
        if rec.id != run_id:
            from ..errors import RunNotFound

            raise RunNotFound(f"no run with id {run_id!r}")
        return rec, {k: int(s.count) for k, s in sums.items()}

    def sync_run(self, run_id: str, *, deadline: float | None = None) -> Outcome:
        """Upload what the server lacks of the run (points before a final status). Raises
        the client's errors (:class:`~expbook.sync.client.Unavailable`...); what went
        through before one is kept on both sides, and the next call goes on from there.

        A run this engine has not sent yet goes with its first batch of points (one request
        for a short run: its fields, its points and, when they are all, its final status);
        what the server holds is taken from the store's sync state (0 for a run never
        synced) and corrected by the server's 409 when it holds less."""
        out = Outcome(run_id)
        rec, local = self.local(run_id)
        final = rec.status != "running"
        self._dirty = False
        try:
            known = self._counts.get(run_id)
            if known is None:
                known = self._counts[run_id] = self._recorded(run_id)
                if known:
                    self._guessed.add(run_id)
            if run_id not in self._sent and not _behind(local, known):
                # nothing to send as far as this store knows: the fields, whose answer
                # says what the server holds
                early = "running" if final and any(local.values()) else None
                self._put(run_id, rec, early, out)
                known = self._counts[run_id]
            for _round in range(_GAP_RETRIES):
                if not _behind(local, known):
                    break
                sent = self._upload(run_id, rec, local, deadline, out)
                out.sent += sent
                known = self._counts[run_id]
                if not sent:
                    break
            out.pending = sum(max(0, n - known.get(k, 0)) for k, n in local.items())
            if out.pending == 0:
                self._sync_rewrites(run_id, local, out)
                self._sync_media(run_id, out)
                self._sync_values(run_id, out)
            if (out.pending == 0 or not final) and self._sent.get(run_id) != (
                rec.updated_at,
                rec.status,
            ):
                self._put(run_id, rec, None, out)
        finally:
            if self._dirty:  # what the server confirmed, kept once per sync (even a failed one)
                self._record(run_id)
        sent = self._sent.get(run_id)
        out.status = sent[1] if sent else None
        out.keys = dict(self._counts[run_id])
        return out

    def _recorded(self, run_id: str) -> dict[str, int]:
        """The server's counts of the run as this store last heard them (none: nothing)."""
        state = self.store.sync_state(self.server, [run_id]).get(run_id)
        return {str(k): int(v) for k, v in (state or {}).get("counts", {}).items()}

    # -- media -------------------------------------------------------------------------
    def _sync_media(self, run_id: str, out: Outcome) -> None:
        """Send the run's media rows the server lacks, with the files it does not have."""
        rows = self.store.read_media(run_id)
        if not rows:
            return
        if self._media_done.get(run_id) == len(rows):
            return  # every row done already (in this process)
        have = self._media.get(run_id)
        if have is None:
            have = self._media[run_id] = {
                (r["key"], r["step"], r["index"], r["path"]) for r in self.client.media(run_id)
            }
            self._files.update(r[3] for r in have)
        todo = [r for r in rows if (r["key"], r["step"], r["index"], r["path"]) not in have]
        batch: list[dict[str, Any]] = []
        files: dict[str, bytes] = {}
        size = 0
        for r in todo:
            m = _MEDIA_PATH.fullmatch(str(r["path"]))
            data = None
            if m is not None and r["path"] not in self._files and r["path"] not in files:
                data = self._read_file(r["path"])
                if data is None:
                    out.media_skipped += 1
                    continue
            elif m is None:
                out.media_skipped += 1
                continue
            if data is not None:
                if files and size + len(data) > MEDIA_BATCH_BYTES:
                    self._post_media(run_id, batch, files, out)
                    batch, files, size = [], {}, 0
                files[r["path"]] = data
                size += len(data)
            batch.append(
                {
                    "key": r["key"],
                    "step": r["step"],
                    "index": r["index"],
                    "wall": _time(r["wall"]),
                    "type": r["type"],
                    "sha256": m.group(1),
                    "ext": m.group(2),
                    "meta": r["meta"] or {},
                    "_path": r["path"],
                }
            )
            if len(batch) >= 1000:
                self._post_media(run_id, batch, files, out)
                batch, files, size = [], {}, 0
        if batch:
            self._post_media(run_id, batch, files, out)
        # every row is on the server now, or left out for good (out.media_skipped)
        self._media_done[run_id] = len(rows)
        self._dirty = True

    def _extras_left(self, run_id: str) -> bool:
        """Whether rewritten points, media rows or non-numeric values of the run are still
        to send."""
        media = self.store.media_counts([run_id]).get(run_id, 0)
        values = self.store.values_counts([run_id]).get(run_id, 0)
        return (
            bool(media and self._media_done.get(run_id) != media)
            or bool(values and self._values_done.get(run_id) != values)
            or bool(self._rewrites(run_id))
        )

    # -- rewritten points ----------------------------------------------------------------
    def _rewrites(self, run_id: str) -> dict[str, tuple[int, int]]:
        rewrites = getattr(self.store, "rewrites", None)
        return rewrites(self.server, run_id) if rewrites is not None else {}

    def _sync_rewrites(self, run_id: str, local: dict[str, int], out: Outcome) -> None:
        """Send again the points of keys rewritten here since the server caught up with
        them (a step logged again, as a resumed run does, or one logged between stored
        steps): the points sent by position do not carry those. From the first step
        rewritten on, they go as batches that replace by step; when the server's count of
        the key then differs from this store's, the whole key goes again."""
        marks = self._rewrites(run_id)
        if not marks:
            return
        known = self._counts[run_id]
        done: dict[str, int] = {}
        for key, (step, gen) in sorted(marks.items()):
            if local.get(key, 0) and known.get(key, 0):
                series = self.store.read_series(run_id, [key]).get(key)
                steps = list(series.steps) if series is not None else []
                for start in (bisect_left(steps, step), 0):
                    out.sent += self._replace(run_id, key, series, start)
                    if known.get(key, 0) == len(steps):
                        break
            # else the server has none of it: the points sent by position are all there is
            done[key] = gen
        self.store.ack_rewrites(self.server, run_id, done)
        self._dirty = True

    def _replace(self, run_id: str, key: str, series: Any, start: int) -> int:
        """POST the key's points from position ``start`` on, replacing by step; how many."""
        known = self._counts[run_id]
        most = batch_points()
        n = len(series.steps)
        for i in range(start, n, most):
            j = min(n, i + most)
            got = self.client.post_points(
                run_id,
                [
                    {
                        "key": key,
                        "replace": True,
                        "steps": b64(series.steps[i:j], "<i8"),
                        "values": b64(series.values[i:j], "<f8"),
                        "times": b64(series.walls[i:j], "<f8"),
                    }
                ],
            )
            known.update({str(k): int(v) for k, v in got["received"].items()})
        return max(0, n - start)

    # -- non-numeric values ------------------------------------------------------------
    def _sync_values(self, run_id: str, out: Outcome) -> None:
        """Send the run's non-numeric values the server may lack: in this process, those
        after the last step sent of each key; otherwise (a new process, or a value logged
        at an earlier step) all of them: the server keeps one value a key and step, so a
        value sent again replaces itself. A value that replaced one already sent (the same
        key and step logged twice) is not noticed (rewritten points are: _sync_rewrites)."""
        n = self.store.values_counts([run_id]).get(run_id, 0)
        if not n or self._values_done.get(run_id) == n:
            return
        rows = self.store.read_values(run_id)
        sent_at = self._values_at.get(run_id)
        todo = [r for r in rows if sent_at is None or r[1] > sent_at.get(r[0], -(2**63))]
        if sent_at is not None and len(rows) - len(todo) != self._values_done.get(run_id, 0):
            todo = rows  # a value logged at a step before the last sent: send them all
        for i in range(0, len(todo), VALUES_BATCH):
            part = todo[i : i + VALUES_BATCH]
            self.client.post_values(
                run_id,
                [
                    {
                        "key": key,
                        "step": step,
                        "wall": _time(wall),
                        "value": value,
                    }
                    for key, step, wall, value in part
                ],
            )
            out.values += len(part)
        at: dict[str, int] = {}
        for key, step, _wall, _value in rows:
            at[key] = max(step, at.get(key, step))
        self._values_at[run_id] = at
        self._values_done[run_id] = len(rows)
        self._dirty = True

    def _read_file(self, rel: str) -> bytes | None:
        full = os.path.join(self.store.files_dir, rel)
        try:
            if os.path.getsize(full) > MEDIA_FILE_MAX:
                return None
            with open(full, "rb") as f:
                return f.read()
        except OSError:
            return None

    def _post_media(
        self, run_id: str, batch: list[dict[str, Any]], files: dict[str, bytes], out: Outcome
    ) -> None:
        def body_files(paths: Any) -> list[dict[str, Any]]:
            got = []
            for p in paths:
                m = _MEDIA_PATH.fullmatch(p)
                data = files.get(p)
                if data is None:
                    data = self._read_file(p)
                if m is not None and data is not None:
                    got.append({"sha256": m.group(1), "ext": m.group(2), "data": b64_bytes(data)})
            return got

        rows = [{k: v for k, v in r.items() if k != "_path"} for r in batch]
        try:
            self.client.post_media(run_id, body_files(files), rows)
        except MissingFiles as e:  # the server lost files it had: send them too
            self._files.difference_update(e.missing)
            self.client.post_media(run_id, body_files({*files, *e.missing}), rows)
        self._files.update(files)
        self._media.setdefault(run_id, set()).update(
            (r["key"], r["step"], r["index"], r["_path"]) for r in batch
        )
        out.media += len(batch)

    def _record(self, run_id: str) -> None:
        sent = self._sent.get(run_id)
        self.store.record_sync(
            self.server,
            run_id,
            counts=self._counts.get(run_id),
            status=sent[1] if sent else None,
            updated_at=sent[0] if sent else None,
            media=self._media_done.get(run_id),
            values=self._values_done.get(run_id),
        )

    def _put(self, run_id: str, rec: Any, status: str | None, out: Outcome) -> None:
        got = self.client.put_run(run_id, run_fields(rec, status))
        self._counts[run_id] = {str(k): int(v) for k, v in got["received"].items()}
        self._guessed.discard(run_id)
        self._sent_fields(run_id, rec, status, got, out)

    def _sent_fields(
        self, run_id: str, rec: Any, status: str | None, got: dict[str, Any], out: Outcome
    ) -> None:
        out.created = out.created or bool(got.get("created"))
        # a run sent as running before its points: its final status is still to send
        sent_at = rec.updated_at if status is None else -1.0
        self._sent[run_id] = (sent_at, str(got["status"]))
        self._dirty = True

    def _upload(
        self,
        run_id: str,
        rec: Any,
        local: dict[str, int],
        deadline: float | None,
        out: Outcome,
    ) -> int:
        """POST the points of the keys the server lacks, in bounded batches; returns how
        many points the server took."""
        sent = 0
        for _attempt in range(_GAP_RETRIES):
            known = self._counts[run_id]
            todo = {k: (known.get(k, 0), n) for k, n in local.items() if n > known.get(k, 0)}
            if not todo:
                return sent
            try:
                sent += self._post_tails(run_id, rec, todo, deadline, out)
                return sent
            except Gap as gap:  # the server holds less than this client thought
                self._counts[run_id] = dict(gap.received)  # every key of the run
                self._guessed.discard(run_id)
        return sent

    def _post_tails(
        self,
        run_id: str,
        rec: Any,
        todo: dict[str, tuple[int, int]],
        deadline: float | None,
        out: Outcome,
    ) -> int:
        sent = 0
        batch: list[dict[str, Any]] = []
        size = 0
        most = batch_points()
        known = self._counts[run_id]
        final = rec.status != "running"
        tails = self._tails(run_id, todo, most)
        remaining = sum(t[0] for t in tails.values())
        # media and values go after the points: then the final status waits for them (a
        # PUT after)
        media_left = self._extras_left(run_id)
        posted = 0

        def flush() -> None:
            nonlocal batch, size, sent, posted
            if not batch:
                return
            posted += size
            complete = posted >= remaining
            fields = status = None
            if run_id not in self._sent or (
                complete and self._sent[run_id] != (rec.updated_at, rec.status)
            ):
                # the run's fields go with its points: running until they are all there
                # (and until the server confirmed what it holds of the other keys)
                sure = complete and run_id not in self._guessed and not media_left
                status = "running" if final and not sure else None
                fields = run_fields(rec, status)
            before = sum(known.get(b["key"], 0) for b in batch)
            got = self.client.post_points(run_id, batch, run=fields)
            if fields is not None:  # the counts of every key (one the server lacks: absent)
                known.clear()
            known.update({str(k): int(v) for k, v in got["received"].items()})
            if fields is not None:  # the answer had the counts of every key
                self._sent_fields(run_id, rec, status, got, out)
                self._guessed.discard(run_id)
            after = sum(known.get(b["key"], 0) for b in batch)
            sent += max(0, after - before)
            self._dirty = True
            batch, size = [], 0

        for key, (have, _n) in sorted(todo.items()):
            count, tail = tails[key]
            if isinstance(tail, list):  # the store's chunks, as they are
                pos = have
                group: list[str] = []
                group_n = 0
                for blob in tail:
                    k = points_in(blob)
                    if size and size + k > most:
                        if group:
                            batch.append({"key": key, "start": pos, "chunks": group})
                            pos += group_n
                            group, group_n = [], 0
                        flush()
                    if deadline is not None and time.monotonic() > deadline:
                        if group:
                            batch.append({"key": key, "start": pos, "chunks": group})
                        flush()
                        return sent
                    group.append(b64_bytes(blob))
                    group_n += k
                    size += k
                if group:
                    batch.append({"key": key, "start": pos, "chunks": group})
                if size >= most:
                    flush()
                continue
            steps, walls, values = tail
            for i in range(0, count, most):
                if deadline is not None and time.monotonic() > deadline:
                    flush()
                    return sent
                j = min(count, i + most)
                batch.append(
                    {
                        "key": key,
                        "start": have + i,
                        "steps": b64(steps[i:j], "<i8"),
                        "values": b64(values[i:j], "<f8"),
                        "times": b64(walls[i:j], "<f8"),
                    }
                )
                size += j - i
                if size >= most:
                    flush()
        flush()
        return sent

    def _tails(
        self, run_id: str, todo: dict[str, tuple[int, int]], most: int
    ) -> dict[str, tuple[int, Any]]:
        """key -> (how many points, what to send) for the points of the key from position
        ``have`` on (``todo``: key -> (have, n)), read in one snapshot of the local store.
        What to send is the store's chunks as they are (a list of blobs) where they start
        right at ``have`` and each fits a request, else (steps, walls, values) of positions
        ``have`` to ``n``."""
        store = self.store
        keys = sorted(todo)
        out: dict[str, tuple[int, Any]] = {}
        with store.snapshot():
            sums = store.metric_summaries([run_id], keys).get(run_id, {})
            totals = {k: int(sums[k].count) if k in sums else 0 for k in keys}
            wanted = {k: todo[k][0] for k in keys if totals[k] > todo[k][0]}
            encoded = store.encoded_tails(run_id, wanted) if wanted else {}
            for k, blobs in encoded.items():
                sizes = [points_in(b) for b in blobs]
                if sum(sizes) == totals[k] - todo[k][0] and max(sizes) <= most:
                    out[k] = (sum(sizes), blobs)
            rest = [k for k in keys if k not in out]
            starts = []
            for k in rest:
                need = totals[k] - todo[k][0]
                start = store.tail_start(run_id, [k], need) if need > 0 else None
                starts.append(start)
            low = None if any(x is None for x in starts) else min(starts, default=None)
            got = store.read_series(run_id, rest, step_min=low) if rest else {}
            short = [k for k in rest if len(got.get(k, ())) < totals[k] - todo[k][0]]
            if short:  # out-of-order chunks: read those keys whole
                got.update(store.read_series(run_id, short))
        for k in rest:
            s = got.get(k)
            have, n = todo[k]
            if s is None or totals[k] <= have:
                out[k] = (0, ([], [], []))
                continue
            first = len(s) - (totals[k] - have)  # position `have` in what was read
            last = first + (min(n, totals[k]) - have)
            out[k] = (
                last - first,
                (s.steps[first:last], s.walls[first:last], s.values[first:last]),
            )
        return out
