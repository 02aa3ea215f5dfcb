"""Fixtures of the sync tests: a real ``expbook server`` process on a SQLite folder or a
PostgreSQL schema (its own per test, from ``pg_support``), tokens, and helpers that log
runs into a local store and compare what the server holds with it."""

from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from expbook.store import PointBatch, SQLiteStore, connect
from pg_support import fresh_schema
from server.conftest import free_port, make_token  # noqa: F401 (the sync tests' too)

ROOT = Path(__file__).resolve().parent.parent.parent
SRC = ROOT / "src"


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXPBOOK_")}
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class ServerProc:
    """``expbook server --db DB --port P`` as a child process: start, stop (SIGTERM),
    kill (SIGKILL) and start again on the same port."""

    def __init__(self, db: str, port: int | None = None) -> None:
        self.db = db
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ServerProc:
        import httpx

        cmd = [sys.executable, "-m", "expbook", "server", "--db", self.db, "--port", str(self.port)]
        self.proc = subprocess.Popen(
            cmd, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as http:
            while True:
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise AssertionError(f"the server exited: {err[-2000:]}")
                try:
                    http.get(self.url + "/api/v1/store")
                    return self
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the server did not answer in time"
                time.sleep(0.05)

    def _end(self, sig: int) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def __enter__(self) -> ServerProc:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


@pytest.fixture(params=["sqlite", "postgres"])
def server_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store a test's server serves: a SQLite folder, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "server")
        return
    with fresh_schema("sync") as url:
        yield url
        files = _files_dir(url)
        if files:
            shutil.rmtree(files, ignore_errors=True)


def _files_dir(url: str) -> str | None:
    try:
        with connect(url, create=False) as s:
            return str(s.files_dir)
    except Exception:
        return None


@pytest.fixture
def server(server_db: str) -> Iterator[ServerProc]:
    with ServerProc(server_db) as srv:
        yield srv


def log_offline(
    store: Path | str, n: int = 300, project: str = "p", name: str = "r", keys: int = 2
) -> str:
    """A finished run in a local store with ``keys`` metrics of ``n`` points (a NaN and an
    infinity among them); returns its id."""
    with SQLiteStore(store) as s:
        rec = s.create_run(name=name, project=project, config={"lr": 0.1, "nested": {"a": 1}})
        steps = list(range(n))
        walls = [1_700_000_000.0 + i for i in steps]
        batches = {}
        for k in range(keys):
            values = [math.sin(i * (k + 1)) for i in steps]
            if n > 10:
                values[3] = math.nan
                values[7] = math.inf
            batches[f"m{k}"] = PointBatch(steps, walls, values)
        s.append_points(rec.id, batches)
        s.update_run(
            rec.id,
            status="finished",
            finished_at=time.time(),
            summary={"best": 0.5, "worst": math.nan, "top": math.inf},
            exit_code=0,
        )
        return rec.id


def series_of(store: Any, run_id: str) -> dict[str, tuple[list[int], list[float], list[float]]]:
    got = store.read_series_lists(run_id)
    return {k: (list(s.steps), list(s.values), list(s.walls)) for k, s in got.items()}


def same_floats(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(x == y or (x != x and y != y) for x, y in zip(a, b))


def assert_same_run(local_dir: Path | str, db: str, run_id: str) -> None:
    """The server holds every point of the local run exactly once (counts, steps, values
    and times equal), with the counters matching."""
    with SQLiteStore(local_dir) as local, connect(db) as remote:
        mine, theirs = series_of(local, run_id), series_of(remote, run_id)
        assert sorted(mine) == sorted(theirs)
        for key, (steps, values, walls) in mine.items():
            s2, v2, w2 = theirs[key]
            assert s2 == steps, key
            assert same_floats(v2, values), key
            assert same_floats(w2, walls), key
        sums = local.metric_summaries([run_id])[run_id]
        rsums = remote.metric_summaries([run_id])[run_id]
        assert {k: s.count for k, s in rsums.items()} == {k: s.count for k, s in sums.items()}
        assert remote.received_counts(run_id) == {k: s.count for k, s in sums.items()}
        assert remote.get_run(run_id).status == local.get_run(run_id).status


def run_cli(*args: str, timeout: float = 60.0, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "expbook", *args],
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
