"""The sync thread of a process that logs with ``expbook.init(..., server=URL)``.

``Run.log`` is untouched: it appends to the run's buffer, the writer thread commits to the
local store as always, and this daemon thread reads what was committed (through its own
connection to the local store) and uploads it about once a second
(:class:`~expbook.sync.engine.Engine`). It never blocks or fails training:

* a server that is slow, down or unreachable: the thread retries with exponential backoff
  (1 s doubling up to :data:`BACKOFF_MAX_S`), warns once on stderr, and catches up when the
  server answers again;
* a token refused (401 revoked or unknown, 403 scope or project): syncing stops, with one
  line saying why; the runs keep logging locally and ``expbook sync`` uploads them later;
* ``finish()`` waits at most ``$EXPBOOK_SYNC_TIMEOUT`` seconds (default 10) for the run's
  last upload, then leaves the rest to ``expbook sync`` and says so in one line.

One thread per (local store, server, token) in a process; it ends a little while after its
last run has finished (and starts again with the next ``init``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

from ..store.base import HEARTBEAT_EVERY_S

ENV_TIMEOUT = "EXPBOOK_SYNC_TIMEOUT"
INTERVAL_S = 1.0  # a live run's new points are uploaded about this often
BACKOFF_MAX_S = 8.0  # retries of an unreachable server at most this far apart
DEFAULT_TIMEOUT_S = 10.0
IDLE_S = 2.0  # with no run to sync for this long, the thread ends

_threads: dict[tuple[str, str, str], SyncThread] = {}
_lock = threading.Lock()


def finish_timeout() -> float:
    raw = os.environ.get(ENV_TIMEOUT)
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        return max(0.0, float(raw))
    except ValueError:
        return DEFAULT_TIMEOUT_S


def _say(message: str) -> None:
    """One line on stderr (never a warning object: a test's warnings-as-errors or a
    training script's filters must not turn a sync problem into a failure)."""
    try:
        sys.stderr.write(f"expbook: {message}\n")
        sys.stderr.flush()
    except Exception:
        pass


def start(location: str, server: str, token: str | None, run_id: str, name: str) -> SyncThread:
    """The sync thread of this store and server (started if needed), syncing ``run_id``."""
    key = (location, server, token or "")
    with _lock:
        t = _threads.get(key)
        if t is None or not t.alive():
            t = _threads[key] = SyncThread(location, server, token)
        t.add(run_id, name)
    return t


class _Live:
    __slots__ = ("beat_at", "done", "due", "final", "name", "pending")

    def __init__(self, name: str) -> None:
        self.name = name
        self.final = False  # the run finished locally: upload the rest, then let go
        self.done = threading.Event()
        self.pending = 0
        self.beat_at = time.monotonic()  # its first upload is a heartbeat too
        # first uploaded a round after it started (or when it finishes, if sooner): a
        # short run goes up in one request, its fields and points together
        self.due = self.beat_at + INTERVAL_S


class SyncThread:
    """Uploads the live runs of one local store to one server."""

    def __init__(self, location: str, server: str, token: str | None) -> None:
        self.location = location
        self.server = server
        self.token = token
        self._runs: dict[str, _Live] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._backoff = 0.0
        self._retry_at = 0.0
        self._warned = False
        self.stopped: str | None = None  # why syncing stopped (a refused token)
        self._thread = threading.Thread(target=self._loop, name="expbook-sync", daemon=True)
        self._started = False
        self._ending = False  # set under the module lock: start() then makes a new thread

    def alive(self) -> bool:
        return not self._ending and (not self._started or self._thread.is_alive())

    def add(self, run_id: str, name: str) -> None:
        live = _Live(name)
        if self.stopped is not None:  # the server refused this token: nothing to wait for
            live.done.set()
        with self._lock:
            self._runs[run_id] = live
        if not self._started:
            self._started = True
            self._thread.start()
        self._wake.set()

    def finish(self, run_id: str, timeout: float | None = None) -> bool:
        """The run finished locally: wait (bounded) until the server has all of it. True
        when it has; otherwise says in one line what is left to ``expbook sync``."""
        with self._lock:
            live = self._runs.get(run_id)
        if live is None:
            return True
        live.final = True
        self._retry_at = 0.0  # try at once, even while backing off
        self._wake.set()
        wait = finish_timeout() if timeout is None else timeout
        ok = live.done.wait(wait) and live.pending == 0 and self.stopped is None
        with self._lock:
            self._runs.pop(run_id, None)
        self._wake.set()
        if not ok and self.stopped is None:
            left = f"{live.pending:,} points and its status" if live.pending else "its status"
            _say(
                f"run {live.name} ({run_id}) is not fully on {self.server} after {wait:g} s "
                f"({left} to go): `expbook sync {run_id}` uploads the rest"
            )
        return ok

    # -- the loop --------------------------------------------------------------------------
    def _loop(self) -> None:
        from ..store import SQLiteStore
        from .client import Client
        from .engine import Engine

        store = client = None
        try:
            store = SQLiteStore(self.location, create=False)
            client = Client(self.server, self.token)
            engine = Engine(store, client, self.server)
            idle_since: float | None = None
            while True:
                with self._lock:
                    runs = list(self._runs.items())
                if not runs:
                    # idle: wait a while for the next run of this process (a script that
                    # logs runs one after another keeps its connections), then end
                    if idle_since is None:
                        idle_since = time.monotonic()
                    elif time.monotonic() - idle_since >= IDLE_S:
                        with _lock, self._lock:
                            if not self._runs:  # nothing came: end (a later init starts anew)
                                self._ending = True
                                return
                    self._wake.wait(0.1)
                    self._wake.clear()
                    continue
                idle_since = None
                now = time.monotonic()
                if self.stopped is None and now >= self._retry_at:
                    self._round(engine, client, runs)
                wait = INTERVAL_S
                if self._retry_at > time.monotonic():
                    wait = self._retry_at - time.monotonic()
                self._wake.wait(wait)
                self._wake.clear()
        except Exception as e:  # never let a sync problem reach the training script
            _say(f"syncing to {self.server} stopped: {e}")
            self.stopped = str(e)
        finally:
            self._ending = True
            with self._lock:
                for live in self._runs.values():
                    live.done.set()
            if client is not None:
                client.close()
            if store is not None:
                store.close()

    def _round(self, engine: Any, client: Any, runs: list[tuple[str, _Live]]) -> None:
        from ..errors import RunNotFound
        from .client import Refused, Rejected, Unavailable

        for run_id, live in runs:
            if live.done.is_set():
                continue
            final = live.final  # read before the local state: a finish after is seen next
            if not final and time.monotonic() < live.due:
                continue
            try:
                got = engine.sync_run(run_id)
                live.pending = got.pending
                now = time.monotonic()
                if not final and now - live.beat_at >= HEARTBEAT_EVERY_S:
                    client.heartbeat(run_id)
                    live.beat_at = now
                self._backoff = 0.0
                if final and got.pending == 0 and got.status not in (None, "running"):
                    live.done.set()
            except Unavailable as e:
                self._backoff = min(BACKOFF_MAX_S, max(1.0, self._backoff * 2))
                self._retry_at = time.monotonic() + self._backoff
                if not self._warned:
                    self._warned = True
                    _say(
                        f"cannot sync to {self.server} ({e}); logging goes on locally and "
                        "the runs upload when it answers"
                    )
                return
            except Refused as e:
                self.stopped = str(e)
                _say(
                    f"stopped syncing to {self.server}: {e}; the runs go on logging locally "
                    "(`expbook sync` uploads them once the token is fixed)"
                )
                for _, other in runs:
                    other.done.set()
                return
            except Rejected as e:
                _say(f"run {live.name} ({run_id}) is not synced: {e}")
                live.done.set()
            except RunNotFound:  # deleted from the local store meanwhile: nothing to send
                live.done.set()
            except Exception as e:  # a local store that is busy, or a bug: retry later
                self._backoff = min(BACKOFF_MAX_S, max(1.0, self._backoff * 2))
                self._retry_at = time.monotonic() + self._backoff
                if not self._warned:
                    self._warned = True
                    _say(f"syncing to {self.server} failed ({type(e).__name__}: {e}); retrying")
                return
