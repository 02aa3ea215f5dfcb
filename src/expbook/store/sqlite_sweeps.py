"""Sweep state in the SQLite store (``expbook sweep``): one row per sweep (its spec, status and
owner process) and one per trial (params, status, attempts, the run of the last attempt).

Six small methods (``sweep_get``, ``sweep_list``, ``sweep_claim``, ``sweep_update``,
``sweep_trials``, ``sweep_put_trials``), all a backend needs for sweeps; the scheduler
(:mod:`expbook.sweeps.scheduler`) holds the logic. Dicts in and out, JSON fields decoded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .sqlite_core import StoreCore, _reads

SWEEP_FIELDS = ("spec", "status", "owner", "pid", "host", "heartbeat_at", "stop", "info")
TRIAL_FIELDS = (
    "params",
    "status",
    "attempts",
    "failures",
    "run_id",
    "pid",
    "host",
    "started_at",
    "finished_at",
    "value",
    "error",
    "stop",
)
_SWEEP_COLS = (
    "name, spec, status, owner, pid, host, heartbeat_at, created_at, updated_at, stop, info"
)
_JSON = {"spec", "info", "params"}


def _enc(k: str, v: Any) -> Any:
    return json.dumps(v, allow_nan=True, default=str) if k in _JSON else v


def _sweep(row: Sequence[Any]) -> dict[str, Any]:
    d = dict(zip([c.strip() for c in _SWEEP_COLS.split(",")], row))
    d["spec"] = json.loads(d["spec"])
    d["info"] = json.loads(d["info"])
    return d


class SweepsPath(StoreCore):
    """Sweeps and their trials (mixed into :class:`SQLiteStore`)."""

    def _no_sweeps(self) -> bool:
        return "sweeps" not in self._tables  # a store from before 0006_sweeps opened read-only

    @_reads
    def sweep_get(self, name: str) -> dict[str, Any] | None:
        """The sweep ``name`` (``spec`` and ``info`` decoded), or None."""
        if self._no_sweeps():
            return None
        rows = self._q(f"SELECT {_SWEEP_COLS} FROM sweeps WHERE name=?", (name,))
        return _sweep(rows[0]) if rows else None

    @_reads
    def sweep_list(self) -> list[dict[str, Any]]:
        """Every sweep, oldest first."""
        if self._no_sweeps():
            return []
        return [_sweep(r) for r in self._q(f"SELECT {_SWEEP_COLS} FROM sweeps ORDER BY created_at")]

    def sweep_claim(
        self,
        name: str,
        *,
        spec: Mapping[str, Any],
        owner: str,
        pid: int,
        host: str,
        expect: str | None,
    ) -> bool:
        """Make ``owner`` the sweep's owner, atomically: create the sweep when it does not exist
        and ``expect`` is None, else take it over only while its owner is still ``expect``
        (what the caller read). False when someone else got there first."""
        now = time.time()
        with self.atomic():
            row = self._conn.execute("SELECT owner FROM sweeps WHERE name=?", (name,)).fetchone()
            if row is None:
                self._conn.execute(
                    "INSERT INTO sweeps (name, spec, status, owner, pid, host, heartbeat_at, "
                    "created_at, updated_at) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                    (name, _enc("spec", dict(spec)), owner, pid, host, now, now, now),
                )
                return True
            if row[0] != expect:
                return False
            self._conn.execute(
                "UPDATE sweeps SET spec=?, status='running', owner=?, pid=?, host=?, "
                "heartbeat_at=?, updated_at=?, stop=0 WHERE name=?",
                (_enc("spec", dict(spec)), owner, pid, host, now, now, name),
            )
            return True

    def sweep_update(self, name: str, owner: str | None = None, **fields: Any) -> bool:
        """Set ``fields`` (of :data:`SWEEP_FIELDS`) of a sweep; with ``owner``, only while it
        is still the owner (False when it is not, or the sweep does not exist)."""
        bad = set(fields) - set(SWEEP_FIELDS)
        if bad:
            raise ValueError(f"cannot update {sorted(bad)} of a sweep")
        sets = [f"{k}=?" for k in fields] + ["updated_at=?"]
        args: list[Any] = [_enc(k, v) for k, v in fields.items()] + [time.time(), name]
        where = "name=?"
        if owner is not None:
            where += " AND owner=?"
            args.append(owner)
        with self.atomic():
            cur = self._conn.execute(f"UPDATE sweeps SET {', '.join(sets)} WHERE {where}", args)
            return cur.rowcount > 0

    @_reads
    def sweep_trials(self, name: str, idx: int | None = None) -> list[dict[str, Any]]:
        """The trials of a sweep (or the one of index ``idx``), by index, ``params`` decoded."""
        if self._no_sweeps():
            return []
        sql = f"SELECT idx, {', '.join(TRIAL_FIELDS)} FROM sweep_trials WHERE sweep=?"
        args: list[Any] = [name]
        if idx is not None:
            sql += " AND idx=?"
            args.append(idx)
        out = []
        for row in self._q(sql + " ORDER BY idx", args):
            d = dict(zip(("idx", *TRIAL_FIELDS), row))
            d["params"] = json.loads(d["params"])
            out.append(d)
        return out

    def sweep_put_trials(self, name: str, trials: Sequence[Mapping[str, Any]]) -> None:
        """Insert or update trials (each a mapping with ``idx`` and any of
        :data:`TRIAL_FIELDS`; a new trial needs ``params`` and ``status``), in one
        transaction."""
        with self.atomic():
            for t in trials:
                fields = {k: v for k, v in t.items() if k != "idx"}
                bad = set(fields) - set(TRIAL_FIELDS)
                if bad:
                    raise ValueError(f"cannot set {sorted(bad)} of a trial")
                cols = list(fields)
                vals = [_enc(k, fields[k]) for k in cols]
                cur = self._conn.execute(
                    f"UPDATE sweep_trials SET {', '.join(c + '=?' for c in cols)} "
                    "WHERE sweep=? AND idx=?",
                    (*vals, name, t["idx"]),
                )
                if cur.rowcount == 0:
                    self._conn.execute(
                        f"INSERT INTO sweep_trials (sweep, idx, {', '.join(cols)}) "
                        f"VALUES (?, ?{', ?' * len(cols)})",
                        (name, t["idx"], *vals),
                    )
