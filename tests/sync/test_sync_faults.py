"""Faults of syncing (issue 14): a server that is down and comes back, a client killed
mid-upload, a server killed mid-batch, PostgreSQL restarted mid-ingest, a token revoked
mid-run. After each, every point is on the server exactly once (counts, steps, values and
times compared with the local store)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import expbook
from expbook.store import SQLiteStore, connect

from .conftest import (
    ServerProc,
    assert_same_run,
    child_env,
    free_port,
    log_offline,
    make_token,
    run_cli,
)
from .private_pg import private_postgres

# a training script: logs n steps of two metrics in bursts, syncing to the server
CHILD = """
import sys, time, expbook
store, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
run = expbook.init(project="p", name="child", store=store, server=url)
print(run.id, flush=True)
for i in range(n):
    run.log({"a": i * 0.5, "b": -i})
    if i % 1000 == 999:
        time.sleep(0.05)
run.finish()
print("done", flush=True)
"""


def _received(db: str, run_id: str) -> int:
    try:
        with connect(db, create=False) as s:
            return sum(s.received_counts(run_id).values())
    except Exception:
        return 0


def _wait_partial(db: str, run_id: str, total: int, timeout: float = 30.0) -> int:
    """Wait until the server holds some but not all of the run's points."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = _received(db, run_id)
        if 0 < got < total:
            return got
        assert got < total, "the upload ended before the fault could be injected"
        time.sleep(0.005)
    raise AssertionError("no upload seen")


@pytest.mark.parametrize("server_db", ["sqlite"], indirect=True)
def test_init_with_the_server_down_then_up(
    server_db: str, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """Training starts while the server is down: log() goes on, one warning, and once the
    server answers everything arrives once; finish() waits for it."""
    monkeypatch.setenv("EXPBOOK_SYNC_TIMEOUT", "30")
    srv = ServerProc(server_db)
    local = tmp_path / "local"
    run = expbook.init(project="p", name="offline-first", store=str(local), server=srv.url)
    try:
        for i in range(2000):
            run.log({"loss": 1.0 / (i + 1), "acc": i / 2000})
        time.sleep(1.5)  # the sync thread tries, fails, backs off
        srv.start()
        for i in range(2000, 4000):
            run.log({"loss": 1.0 / (i + 1), "acc": i / 2000})
        run.finish()
        assert_same_run(local, server_db, run.id)
        with connect(server_db) as s:
            assert s.get_run(run.id).status == "finished"
            assert s.metric_summaries([run.id])[run.id]["loss"].count == 4000
    finally:
        if not run.finished:
            run.finish()
        srv.kill()
    err = capfd.readouterr().err
    assert err.count("cannot sync to") == 1, err
    assert "not fully on" not in err


@pytest.mark.parametrize("server_db", ["sqlite"], indirect=True)
def test_client_killed_mid_upload_then_sync_completes(server: ServerProc, tmp_path: Path) -> None:
    local = tmp_path / "local"
    run_id = log_offline(local, n=60_000, keys=3)
    total = 180_000
    cmd = [sys.executable, "-m", "expbook", "sync", "--server", server.url, "--store", str(local)]
    proc = subprocess.Popen(
        cmd,
        env=child_env(EXPBOOK_SYNC_BATCH="1000"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        partial = _wait_partial(server.db, run_id, total)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert 0 < partial < total
    with connect(server.db) as s:
        assert s.get_run(run_id).status == "running"  # sent as running until its points are
    got = run_cli("sync", "--server", server.url, "--store", str(local), "--format", "json")
    assert got.returncode == 0, got.stderr
    assert_same_run(local, server.db, run_id)


@pytest.mark.parametrize("server_db", ["postgres"], indirect=True)
def test_server_killed_mid_batch_then_restarted(server_db: str, tmp_path: Path) -> None:
    local = tmp_path / "local"
    run_id = log_offline(local, n=60_000, keys=3)
    total = 180_000
    srv = ServerProc(server_db).start()
    try:
        cmd = [sys.executable, "-m", "expbook", "sync", "--server", srv.url, "--store", str(local)]
        proc = subprocess.Popen(
            cmd,
            env=child_env(EXPBOOK_SYNC_BATCH="1000"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait_partial(server_db, run_id, total)
            srv.kill()  # SIGKILL, requests in flight
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 1
        assert err.startswith("expbook: error:") and err.count("\n") == 1, err
        assert 0 < _received(server_db, run_id) < total
        srv.start()  # the same port
        got = run_cli("sync", "--server", srv.url, "--store", str(local))
        assert got.returncode == 0, got.stderr
        assert_same_run(local, server_db, run_id)
    finally:
        srv.kill()


def test_postgres_restarted_mid_ingest(tmp_path: Path) -> None:
    """A live client logs while the server's PostgreSQL restarts: the server answers 503
    meanwhile, the client retries, and every point arrives once."""
    with private_postgres(free_port()) as pg:
        db = pg.url
        with ServerProc(db) as srv:
            local = tmp_path / "local"
            proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(local), srv.url, "40000"],
                env=child_env(EXPBOOK_SYNC_TIMEOUT="30"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                assert proc.stdout is not None
                run_id = proc.stdout.readline().strip()
                _wait_partial(db, run_id, 80_000)
                pg.stop()  # every session is cut; down long enough for uploads to fail
                time.sleep(1.5)
                pg.start()
                out, err = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            assert proc.returncode == 0, err
            assert "done" in out and "not fully on" not in err, err
            # the database was down for a while: the server said 503, the client retried
            assert err.count("cannot sync to") == 1 and "503" in err, err
            assert_same_run(local, db, run_id)


@pytest.mark.parametrize("server_db", ["sqlite"], indirect=True)
def test_token_revoked_mid_run(
    server_db: str, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """The client keeps logging locally, says once why it stopped syncing, and finish()
    does not wait; `expbook sync` with a new token uploads the rest, once."""
    info, secret = make_token(server_db, "p", "write")
    monkeypatch.setenv("EXPBOOK_SYNC_TIMEOUT", "30")
    local = tmp_path / "local"
    with ServerProc(server_db) as srv:
        run = expbook.init(project="p", store=str(local), server=srv.url, token=secret)
        try:
            for i in range(1000):
                run.log({"x": float(i)})
            deadline = time.monotonic() + 20
            while _received(server_db, run.id) < 1000:
                assert time.monotonic() < deadline, "the first points never arrived"
                time.sleep(0.05)
            with connect(server_db) as s:
                assert s.revoke_token(info["id"])
            for i in range(1000, 3000):
                run.log({"x": float(i)})
            t0 = time.monotonic()
            run.finish()
            assert time.monotonic() - t0 < 20
        finally:
            if not run.finished:
                run.finish()
        err = capfd.readouterr().err
        assert err.count("stopped syncing") == 1 and "revoked" in err, err
        with SQLiteStore(local) as s:
            assert s.metric_summaries([run.id])[run.id]["x"].count == 3000
            assert s.get_run(run.id).status == "finished"
        assert 1000 <= _received(server_db, run.id) < 3000
        _, fresh = make_token(server_db, "p", "write")
        got = run_cli("sync", "--server", srv.url, "--store", str(local), "--token", fresh)
        assert got.returncode == 0, got.stderr
        assert_same_run(local, server_db, run.id)


# a training script that logs, then hangs until it is killed
HANGS = """
import sys, time, expbook
run = expbook.init(project="p", name="hangs", store=sys.argv[1], server=sys.argv[2])
for i in range(100):
    run.log({"x": float(i)})
print(run.id, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("server_db", ["sqlite"], indirect=True)
def test_a_vanished_client_reads_as_crashed(server: ServerProc, tmp_path: Path) -> None:
    """A client killed mid-run: its run stays ``running`` on the server and reads as
    ``crashed`` (its process is gone; elsewhere, once its heartbeats stop)."""
    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-c", HANGS, str(tmp_path / "local"), server.url],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().strip()
        deadline = time.monotonic() + 20
        while _received(server.db, run_id) < 100:
            assert time.monotonic() < deadline, "the points never arrived"
            time.sleep(0.05)
        with connect(server.db) as s:
            assert s.get_run(run_id).state == "running"
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)  # reaps it and closes its pipe
    with connect(server.db) as s:
        rec = s.get_run(run_id)
        assert rec.status == "running" and rec.state == "crashed"
    # a client on another machine whose heartbeats stopped a while ago: crashed; a
    # heartbeat brings it back
    with httpx.Client(timeout=10) as http:
        old = time.time() - 600
        r = http.put(
            f"{server.url}/api/v1/runs/far00001",
            json={"project": "p", "status": "running", "host": "elsewhere", "heartbeat_at": old},
        )
        assert r.status_code == 200
        with connect(server.db) as s:
            assert s.get_run("far00001").state == "crashed"
        assert http.post(f"{server.url}/api/v1/runs/far00001/heartbeat").status_code == 200
        with connect(server.db) as s:
            assert s.get_run("far00001").state == "running"


@pytest.mark.parametrize("server_db", ["sqlite"], indirect=True)
def test_server_never_back_finish_is_bounded(
    server_db: str, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """The server stays away: finish() waits $EXPBOOK_SYNC_TIMEOUT, says in one line what
    is left, and `expbook sync` uploads it later, once."""
    monkeypatch.setenv("EXPBOOK_SYNC_TIMEOUT", "1")
    srv = ServerProc(server_db)
    local = tmp_path / "local"
    run = expbook.init(project="p", name="away", store=str(local), server=srv.url)
    for i in range(500):
        run.log({"x": float(i)})
    t0 = time.monotonic()
    run.finish()
    assert time.monotonic() - t0 < 5
    err = capfd.readouterr().err
    assert err.count("cannot sync to") == 1, err
    lines = [ln for ln in err.splitlines() if "not fully on" in ln]
    assert len(lines) == 1 and f"expbook sync {run.id}" in lines[0], err
    with SQLiteStore(local) as s:
        assert s.get_run(run.id).status == "finished"
    with srv:
        got = run_cli("sync", run.id, "--server", srv.url, "--store", str(local))
        assert got.returncode == 0, got.stderr
        assert_same_run(local, server_db, run.id)
