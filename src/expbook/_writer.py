"""The background writer: moves logged points from run buffers into the store.

``Run.log`` only appends ``(step, wall, dict)`` to a list. One daemon thread per process and
store wakes every :data:`FLUSH_INTERVAL_S`, takes what each live run has buffered, turns the
rows into per-key columns and writes them in one transaction per run. ``finish``, ``atexit``
and signal handlers drain synchronously through the same lock, so no point is written twice
or out of order.

A failure to write never reaches the training loop: it becomes one warning, and the points
are kept and retried on the next cycle.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import warnings
from array import array
from typing import TYPE_CHECKING, Any

from ._sysinfo import git_info
from .store.base import HEARTBEAT_EVERY_S, PointBatch

if TYPE_CHECKING:
    from ._run import Run
    from .store.sqlite import SQLiteStore

FLUSH_INTERVAL_S = 0.5  # points are durable at most about this long after log()


def columns(rows: list[tuple[int, float, dict[str, float]]]) -> dict[str, PointBatch]:
    """Rows of (step, wall, {key: value}) -> {key: (steps, walls, values)} in log order."""
    steps_by: dict[str, list[int]] = {}
    walls_by: dict[str, list[float]] = {}
    vals_by: dict[str, list[float]] = {}
    for step, wall, data in rows:
        for k, v in data.items():
            vs = vals_by.get(k)
            if vs is None:
                vs = vals_by[k] = []
                steps_by[k] = []
                walls_by[k] = []
            vs.append(v)
            steps_by[k].append(step)
            walls_by[k].append(wall)
    return {k: PointBatch(steps_by[k], walls_by[k], vals_by[k]) for k in vals_by}


class Writer:
    """Drains the buffers of the live runs of one store in this process."""

    def __init__(self, store: SQLiteStore, interval: float = FLUSH_INTERVAL_S) -> None:
        self.store = store
        self.interval = interval
        self.lock = threading.RLock()
        self._runs: list[Run] = []
        self._wake = threading.Event()
        self._stopped = False
        self._warned = False
        self._last_beat = 0.0
        self._thread = threading.Thread(target=self._loop, name="expbook-writer", daemon=True)
        self._thread.start()

    def add(self, run: Run) -> None:
        with self.lock:
            self._runs.append(run)

    def remove(self, run: Run) -> None:
        with self.lock:
            if run in self._runs:
                self._runs.remove(run)

    def _loop(self) -> None:
        while not self._stopped:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                with self.lock:
                    runs = list(self._runs)
                    for run in runs:
                        self.drain(run)
                    now = time.time()
                    if runs and now - self._last_beat >= HEARTBEAT_EVERY_S:
                        self.store.heartbeat([r.id for r in runs])
                        self._last_beat = now
            except Exception as e:  # never let the thread die
                self._warn(e)

    def drain(self, run: Run) -> bool:
        """Write what ``run`` has buffered; True when everything reached the store."""
        with self.lock:
            pending = run._pending
            logger = run._logger
            if logger is not None:
                if logger.pending():
                    pending.append(
                        {
                            k: PointBatch(_array("q", s), _array("d", w), _array("d", v))
                            for k, (s, w, v) in logger.take().items()
                        }
                    )
            else:
                buf = run._buf
                n = len(buf)
                if n:
                    rows = buf[:n]
                    del buf[:n]  # appends made meanwhile stay for the next cycle
                    pending.append(columns(rows))
            ok = True
            while pending:
                try:
                    self.store.append_points(run.id, _merge(pending))
                except sqlite3.OperationalError as e:  # disk full, locked too long: retry
                    self._warn(e)
                    ok = False
                    break
                except Exception as e:  # data the store cannot take: drop it, keep going
                    self._warn(e)
                    ok = False
                pending.clear()
            if run._git_pending:
                run._git_pending = False
                info = git_info(os.getcwd())
                if info and run._meta is not None:
                    run._meta["git"] = info
                    run._meta_dirty = True
            if run._meta_dirty:
                try:
                    run._meta_dirty = False
                    self.store.update_run(run.id, **run._meta_fields())
                except Exception as e:
                    run._meta_dirty = True
                    self._warn(e)
                    ok = False
            return ok

    def _warn(self, e: Exception) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"expbook could not write to {self.store.location}: {e} "
                "(points are kept in memory and retried)",
                RuntimeWarning,
                stacklevel=2,
            )

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()


def _array(typecode: str, raw: bytes) -> array:
    a = array(typecode)
    a.frombytes(raw)
    return a


def _merge(pending: list[dict[str, PointBatch]]) -> dict[str, PointBatch]:
    if len(pending) == 1:
        return pending[0]
    out: dict[str, tuple[list[Any], list[Any], list[Any]]] = {}
    for batch in pending:
        for k, b in batch.items():
            s, w, v = out.setdefault(k, ([], [], []))
            s.extend(b.steps)
            w.extend(b.walls)
            v.extend(b.values)
    return {k: PointBatch(*cols) for k, cols in out.items()}
