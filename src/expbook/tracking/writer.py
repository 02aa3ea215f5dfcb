"""The background writer: moves logged points from run buffers into the store.

``Run.log`` only appends ``(step, wall, dict)`` to a buffer. One daemon thread per process and
store wakes every :data:`FLUSH_INTERVAL_S` (sooner when points come in fast, at once when a
buffer is full), takes what each live run has buffered, turns the rows into per-key columns
and writes them in one transaction per run. ``finish``, ``atexit``
and signal handlers drain synchronously through the same lock, so no point is written twice
or out of order.

The buffer is bounded. It holds at most about :data:`BATCH_S` of the writer's measured
throughput (between :data:`MIN_POINTS` and :data:`MAX_POINTS` points, and at most
:data:`MAX_BYTES`); a ``log`` that fills it waits until the writer has taken it
(backpressure). So a loop that logs faster than the store can write runs at the store's pace,
memory stays bounded, and a point is on disk about two batches after it was logged.

A failure to write never reaches the training loop: it becomes one warning, and the points
are kept and retried. While the store keeps failing, at most :data:`RETRY_POINTS` points of a
run are kept; later ones are counted as not written (``meta.unwritten_points`` of the run),
and ``finish`` says how many there were.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import warnings
from array import array
from typing import TYPE_CHECKING, Any

from ..store.base import HEARTBEAT_EVERY_S, PointBatch
from .sysinfo import git_info

if TYPE_CHECKING:
    from ..store.sqlite import SQLiteStore
    from .run import Run

FLUSH_INTERVAL_S = 0.5  # the writer wakes at least this often
BATCH_S = 0.3  # a full buffer takes about this long to write
MIN_POINTS = 50_000  # bounds of a run's buffer, in points...
MAX_POINTS = 500_000
START_POINTS = 500_000  # ...and the bound before the writer has measured its throughput
MAX_BYTES = 16 << 20  # ...and in bytes of buffered rows
RETRY_POINTS = 2_000_000  # points of a run kept while the store fails
RETRY_VALUES = 100_000  # non-numeric values of a run kept while the store fails
_SAMPLE_POINTS = 20_000  # smaller writes say little about throughput
# Pure-Python buffer (no C extension): a row is a tuple and a dict, a point a dict entry and
# a float object. Estimates, to turn MAX_BYTES into a number of rows.
PY_ROW_BYTES = 250
PY_POINT_BYTES = 100


def columns(
    rows: list[tuple[int, float, dict[str, float]]],
    step_metrics: tuple[Any, Any, Any] | None = None,
) -> dict[str, PointBatch]:
    """Rows of (step, wall, {key: value}) -> {key: (steps, walls, values)} in log order.

    With ``step_metrics = (step_of, resolve, last)`` (the C ``Logger.set_step_metrics``
    arguments), a key whose step metric is known goes to that metric's last value at or
    before its row."""
    steps_by: dict[str, list[int]] = {}
    walls_by: dict[str, list[float]] = {}
    vals_by: dict[str, list[float]] = {}
    if step_metrics is not None:
        step_of, resolve, last = step_metrics
    for step, wall, data in rows:
        if step_metrics is not None:
            for k, v in data.items():
                if k in last:
                    last[k] = v
        for k, v in data.items():
            vs = vals_by.get(k)
            if vs is None:
                vs = vals_by[k] = []
                steps_by[k] = []
                walls_by[k] = []
            vs.append(v)
            at = step
            if step_metrics is not None:
                metric = step_of.get(k, "")
                if metric == "":
                    metric = step_of[k] = resolve(k)
                if metric is not None:
                    x = last.get(metric)
                    if x is not None and x == x and x == int(x) and abs(x) < 9.0e18:
                        at = int(x)
            steps_by[k].append(at)
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
        # notified when a buffer is taken; re-entrant, as a signal handler that finishes
        # the runs may interrupt a log() waiting on it
        self._room = threading.Condition(threading.RLock())
        self._stopped = False
        self._warned = False
        self._last_beat = 0.0
        self._rate: float | None = None  # points/s of recent writes
        self._in_rate = 0.0  # points/s logged recently (all runs)
        self._taken = 0  # points taken from buffers since the loop last counted
        self.max_points = START_POINTS
        self._thread = threading.Thread(target=self._loop, name="expbook-writer", daemon=True)
        self._thread.start()

    def add(self, run: Run) -> None:
        with self.lock:
            run._set_bound(self.max_points, MAX_BYTES)
            self._runs.append(run)

    def remove(self, run: Run) -> None:
        with self.lock:
            if run in self._runs:
                self._runs.remove(run)

    def _loop(self) -> None:
        last = time.monotonic()
        while not self._stopped:
            self._wake.wait(min(self._timeout(), self._sample_wait()))
            self._wake.clear()
            try:
                with self.lock:
                    runs = list(self._runs)
                    for run in runs:
                        self.drain(run)
                    now_m = time.monotonic()
                    taken, self._taken = self._taken, 0
                    if now_m > last:
                        rate = taken / (now_m - last)
                        self._in_rate = 0.5 * self._in_rate + 0.5 * rate
                    last = now_m
                    now = time.time()
                    if runs and now - self._last_beat >= HEARTBEAT_EVERY_S:
                        self.store.heartbeat([r.id for r in runs])
                        self._last_beat = now
                    # a quarter of a buffer came in while writing: write again at once, so
                    # that log() only waits when it logs faster than the store can write
                    busy = self.max_points // 4
                    if any(r._buffered() >= busy for r in runs):
                        self._wake.set()
            except Exception as e:  # never let the thread die
                self._warn(e)

    def _timeout(self) -> float:
        """How long to sleep: the interval, or less when points come in so fast that a
        wait that long would let a buffer fill up (half a buffer at the recent rate)."""
        if self._in_rate <= 0:
            return self.interval
        return min(self.interval, max(0.01, 0.5 * self.max_points / self._in_rate))

    def _sample_wait(self) -> float:
        """Seconds until the next system-metrics sample of a live run is due."""
        due = [
            r._recorder.sampler.next_at
            for r in list(self._runs)
            if r._recorder is not None and r._recorder.sampler is not None
        ]
        if not due:
            return self.interval
        return max(0.01, min(due) - time.monotonic())

    # -- backpressure ------------------------------------------------------------------
    def make_room(self, run: Run) -> None:
        """Called by ``run.log`` when the run's buffer is full: return once the writer has
        taken it (the writer is woken at once)."""
        t0 = time.perf_counter()
        try:
            if os.getpid() != run._pid or run._finished:
                # a forked child holding its parent's run, or a log() bound before finish():
                # nothing writes these points
                run._discard()
                return
            if self._stopped or threading.current_thread() is self._thread:
                self.drain(run)
                return
            with self._room:
                while run._full() and self._thread.is_alive() and run in self._runs:
                    self._wake.set()
                    self._room.wait(self.interval)
            if run._full():  # no writer thread (after fork): write in this thread
                self.drain(run)
        finally:
            run._waited_s += time.perf_counter() - t0
            run._waits += 1

    # -- writing -----------------------------------------------------------------------
    def drain(self, run: Run, final: bool = False) -> bool:
        """Write what ``run`` has buffered; True when everything reached the store.

        Points the store refused are kept for the next call (up to :data:`RETRY_POINTS`),
        which retries them no sooner than :data:`FLUSH_INTERVAL_S` later unless ``final``."""
        with self.lock:
            started = time.perf_counter()  # the throughput counts taking as well as writing
            was_full = run._full()
            batch, n = run._take()
            self._taken += n
            if n:
                with self._room:
                    self._room.notify_all()
                if run._pending and run._pending_points + n > RETRY_POINTS:
                    self._lose(run, n)  # the store keeps failing: keep what is kept
                else:
                    run._pending.append(batch)
                    run._pending_points += n
            ok = self._write_pending(run, final, was_full, started)
            if run._values or run._media:
                ok = self._write_extras(run) and ok
            if run._recorder is not None:  # console, system metrics, environment
                run._recorder.tick(run, threading.current_thread() is self._thread)
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

    def _write_pending(
        self, run: Run, force: bool, was_full: bool = False, started: float | None = None
    ) -> bool:
        pending = run._pending
        if not pending:
            return True
        if not force and time.monotonic() < run._retry_at:
            return False
        batches = _merge(pending)
        n = run._pending_points
        blind = was_full and self._rate is None and n >= _SAMPLE_POINTS
        if blind:
            # the first write of a full buffer, of unknown length: a loop that fast may
            # fill a small buffer meanwhile, not a second START_POINTS one that would take
            # as long again
            run._set_bound(MIN_POINTS, MAX_BYTES)
        t0 = time.perf_counter() if started is None else started
        try:
            self.store.append_points(run.id, batches)
        except sqlite3.OperationalError as e:  # disk full, I/O error, locked too long: retry
            pending[:] = [batches]  # merged once: the next try does not merge again
            run._retry_at = time.monotonic() + self.interval
            run._last_error = e
            self._warn(e)
            return False
        except Exception as e:  # data the store cannot take (the run was deleted...)
            pending.clear()
            run._pending_points = 0
            run._last_error = e
            self._lose(run, n)
            self._warn(e)
            return False
        else:
            self._measured(n, time.perf_counter() - t0)
        finally:
            if blind:
                run._set_bound(self.max_points, MAX_BYTES)
        pending.clear()
        run._pending_points = 0
        run._retry_at = 0.0
        return True

    def _write_extras(self, run: Run) -> bool:
        """Write the non-numeric values and media ``run`` kept aside."""
        values, media = run._take_extras()
        ok = True
        if values:
            try:
                self.store.append_values(run.id, values)
            except sqlite3.OperationalError as e:  # kept for the next try, as points are
                if len(run._values) + len(values) <= RETRY_VALUES:
                    run._values[:0] = values
                run._last_error = e
                self._warn(e)
                ok = False
            except Exception as e:
                run._last_error = e
                self._warn(e)
                ok = False
        if media:
            try:
                from ..media import write_media
            except ImportError as e:  # pragma: no cover - expbook.media ships with expbook
                self._warn(e)
                return False
            write_media(self.store, run.id, media)  # never raises: it warns once per key
        return ok

    def _measured(self, n: int, seconds: float) -> None:
        """Fit the buffer bound to the throughput of the write that just took ``seconds``."""
        if n < _SAMPLE_POINTS or seconds <= 0:
            return
        rate = n / seconds
        self._rate = rate if self._rate is None else 0.6 * self._rate + 0.4 * rate
        bound = int(min(MAX_POINTS, max(MIN_POINTS, self._rate * BATCH_S)))
        if bound != self.max_points:
            self.max_points = bound
            for r in self._runs:
                r._set_bound(bound, MAX_BYTES)

    def _lose(self, run: Run, n: int) -> None:
        """Count ``n`` points of ``run`` that will never be written."""
        run._unwritten += n
        if run._meta is not None:
            run._meta["unwritten_points"] = run._meta.get("unwritten_points", 0) + n
            run._meta_dirty = True

    def finish(self, run: Run) -> int:
        """The last drain of ``run``: what cannot be written now is counted as not written.
        Returns the number of points of ``run`` never written in this process."""
        with self.lock:
            self.drain(run, final=True)
            if run._pending:
                n = run._pending_points
                run._pending.clear()
                run._pending_points = 0
                self._lose(run, n)
            return run._unwritten

    def _warn(self, e: Exception) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"expbook could not write to {self.store.location}: {e} (points are kept in "
                f"memory and retried, up to {RETRY_POINTS:,} a run; points beyond that are "
                "counted, and finish() says how many were not written)",
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
    """One batch per key out of several, in log order (as typed arrays when they fit)."""
    if len(pending) == 1:
        return pending[0]
    out: dict[str, tuple[Any, Any, Any]] = {}
    for batch in pending:
        for k, b in batch.items():
            cols = out.get(k)
            if cols is None:
                cols = out[k] = (array("q"), array("d"), array("d"))
            steps: Any = b.steps
            if isinstance(cols[0], array) and not isinstance(steps, array):
                try:
                    steps = array("q", steps)
                except (OverflowError, TypeError):  # a step beyond 64 bits: plain lists
                    cols = out[k] = (list(cols[0]), list(cols[1]), list(cols[2]))
            cols[0].extend(steps)
            cols[1].extend(b.walls)
            cols[2].extend(b.values)
    return {k: PointBatch(*cols) for k, cols in out.items()}
