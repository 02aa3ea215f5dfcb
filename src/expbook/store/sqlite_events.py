"""Run events in the SQLite store: alerts, and what a run records about itself that is too
large for its meta (the package list and git diff of its environment)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from .sqlite_core import StoreCore, _reads

MAX_EVENT_TEXT = 64 << 10  # characters of an event's title or text kept
MAX_EVENT_DATA = 4 << 20  # characters of an event's data (JSON) kept


class EventsPath(StoreCore):
    """Adding and reading run events (mixed into :class:`SQLiteStore`)."""

    files_dir: str

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
        """Record an event of ``kind`` (``"alert"``, ``"env"``...) for ``run_id``; returns
        its id. Title and text are cut at :data:`MAX_EVENT_TEXT` characters; data (anything
        JSON can hold) larger than :data:`MAX_EVENT_DATA` is refused with ValueError."""
        blob = None
        if data is not None:
            blob = json.dumps(data, default=str, allow_nan=True)
            if len(blob) > MAX_EVENT_DATA:
                raise ValueError(f"event data of {len(blob):,} characters is too large")
        with self.atomic():
            rid = self._rid(run_id)
            cur = self._conn.execute(
                "INSERT INTO events (rid, wall, kind, level, title, text, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    rid,
                    time.time() if wall is None else float(wall),
                    kind,
                    level,
                    _cut(title),
                    _cut(text),
                    blob,
                ),
            )
            return int(cur.lastrowid or 0)

    def run_dir(self, run_id: str) -> str:
        """The folder of a run's own files (``output.log``...): ``<files_dir>/runs/<id>``,
        not created here."""
        return os.path.join(self.files_dir, "runs", run_id)

    def _remove_run_dirs(self, run_ids: list[str]) -> None:
        """Delete the folders of runs just deleted (what cannot be removed stays)."""
        import shutil

        for run_id in run_ids:
            if not run_id or os.sep in run_id or run_id in (".", ".."):
                continue  # ids are short words; never a path outside the runs folder
            shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    @_reads
    def events(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        """The events of a run (of one ``kind``), oldest first: dicts with ``id``, ``wall``,
        ``kind``, ``level``, ``title``, ``text`` and ``data`` (decoded)."""
        if "events" not in self._tables:  # a store from before 0005_events, opened read-only
            return []
        sql = (
            "SELECT e.eid, e.wall, e.kind, e.level, e.title, e.text, e.data FROM events e "
            "JOIN runs r ON r.rid = e.rid WHERE r.id = ?"
        )
        args: list[Any] = [run_id]
        if kind is not None:
            sql += " AND e.kind = ?"
            args.append(kind)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY e.eid", args).fetchall()
        return [
            {
                "id": eid,
                "wall": wall,
                "kind": k,
                "level": level,
                "title": title,
                "text": text,
                "data": json.loads(data) if data is not None else None,
            }
            for eid, wall, k, level, title, text, data in rows
        ]


def _cut(s: str | None) -> str | None:
    if s is None:
        return None
    s = str(s)
    return s if len(s) <= MAX_EVENT_TEXT else s[: MAX_EVENT_TEXT - 1] + "…"
