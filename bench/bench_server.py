"""The team server under load (issue 14, "Done means"): ingest through ``expbook server`` into
PostgreSQL against the raw-PostgreSQL floor and MLflow's server, and "training never waits"
with the server stopped in the middle of a run.

* **Ingest**: C client processes x R runs x S steps x 4 metrics (8 x 25 x 2,000 x 4 = 1.6M
  points). Each client is a training script: ``expbook.init(server=URL)``, ``log()`` in a
  loop, ``finish()`` (which waits for its upload): logged locally, synced by the sync
  thread. Timed from the moment every client has started (interpreter, imports, the
  one scan of installed packages a process makes, and its metric values made, as the
  floor's rows are) to the last client done; then the
  server's counts are checked (every point once). Points/s, and the ratio to the **floor**:
  the same C processes ``COPY`` the same ``(run, key, step, value)`` rows (binary) into an
  unindexed table of the same PostgreSQL, in the same run (timed from the same kind of
  start line to the last commit), and through one connection: the faster of the two is
  the floor. Also printed: the same clients logging with no server (what logging locally
  costs alone), and **upload**: C processes each syncing the runs those clients logged, as
  ``expbook sync`` does (the upload alone, from data on disk, as the floor's rows are in
  memory), with the same floor; not a target of the issue, a measure of the server's path.
* **MLflow peer**: the same workload against ``mlflow server --backend-store-uri
  postgresql://...`` with ``MlflowClient.log_batch`` (1,000 metrics a call, its limit), from
  a separate venv (``--mlflow-venv``, default /tmp/peervenv-mlflow; made with
  ``python3 -m venv /tmp/peervenv-mlflow && /tmp/peervenv-mlflow/bin/pip install mlflow
  psycopg2-binary``). Skipped, and said so, when the venv is missing. Past
  ``--mlflow-timeout`` s its clients are stopped and the rate is what its database holds by
  then.
* **Training never waits**: one process logs 4 metrics a step in a hot loop (a 5 ms pause
  every 100 steps, a stand-in for the GPU) for ``--pre + --outage + --post`` seconds while
  syncing; the server is stopped (SIGTERM) after ``--pre`` s and started again ``--outage``
  s later. The time per ``log()`` in each phase is compared with the same loop with no
  server configured (the append floor, same run). Afterwards every point is on the server
  exactly once (counts, steps, values and times compared with the local store).

::

    python bench/bench_server.py                 # the issue's sizes (a few minutes)
    python bench/bench_server.py --quick         # a small smoke version
    python bench/bench_server.py --pg postgresql://me@host/db --skip-mlflow

Writes ``bench/results/server.json`` (``server-quick.json`` with --quick). The PostgreSQL
schemas and the MLflow database made for the run are dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(HERE))

from _common import child_env as _child_env  # noqa: E402
from _common import log_progress, print_results, run_header  # noqa: E402


def child_env() -> dict[str, str]:
    """A child's environment, with this checkout's expbook first on its path."""
    env = _child_env()
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    return env


KEYS = ("loss", "acc", "lr", "grad_norm")
INGEST_TARGET = 300_000  # points/s
NEVER_WAITS_TARGET = 1.5  # x the append floor


def value(client: int, run: int, step: int, k: int) -> float:
    """The workload's metric values (the same in every system measured)."""
    if k == 0:
        return 1.0 / (step + 1) + 0.001 * client + 0.0001 * run
    if k == 1:
        return step / (step + 10.0)
    if k == 2:
        return 0.001 * (0.999**step)
    return ((step * 7919 + run * 31 + client) % 1000) / 100.0


# -- children ----------------------------------------------------------------------------------
def _start_line() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def child_ingest(
    store: str, url: str, client: int, runs: int, steps: int, project: str = "ingest"
) -> None:
    import http.client  # noqa: F401

    import numpy  # noqa: F401

    import expbook
    import expbook.sync.client
    import expbook.sync.engine
    import expbook.sync.thread
    from expbook.tracking.sysinfo import packages

    packages()  # the one scan of installed packages a process makes (its first run's end)
    import resource

    # the metrics each step logs, made before the start line (as the floor's rows are)
    work = [
        [
            {
                "loss": value(client, r, s, 0),
                "acc": value(client, r, s, 1),
                "lr": value(client, r, s, 2),
                "grad_norm": value(client, r, s, 3),
            }
            for s in range(steps)
        ]
        for r in range(runs)
    ]
    _start_line()
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    for r in range(runs):
        run = expbook.init(
            project=project,
            name=f"c{client}-r{r}",
            store=store,
            server=url or None,
            config={"client": client, "run": r},
        )
        log = run.log
        for metrics in work[r]:
            log(metrics)
        run.finish()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu": cpu}), flush=True)


def child_upload(store: str, url: str) -> None:
    """``expbook sync`` of a store's runs, logged before (the upload part of ingest alone)."""
    import resource

    from expbook.store import connect
    from expbook.sync.client import Client
    from expbook.sync.engine import Engine

    backend = connect(store)
    ids = [r.id for r in backend.list_runs()]
    _start_line()
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    with Client(url, None) as client:
        engine = Engine(backend, client, url)
        for run_id in ids:
            engine.sync_run(run_id)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    backend.close()
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu": cpu}), flush=True)


def child_copy(url: str, table: str, clients: str, runs: int, steps: int) -> None:
    import psycopg

    rows = [
        (f"c{client}-r{r}", key, s, value(client, r, s, k))
        for client in map(int, clients.split(","))
        for r in range(runs)
        for k, key in enumerate(KEYS)
        for s in range(steps)
    ]
    import resource

    with psycopg.connect(url) as conn:
        _start_line()
        t0 = time.perf_counter()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY {table} (run, key, step, value) FROM STDIN (FORMAT BINARY)") as cp,
        ):
            cp.set_types(["text", "text", "int8", "float8"])
            for row in rows:
                cp.write_row(row)
        conn.commit()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu": cpu}), flush=True)


def child_hot(store: str, url: str, seconds: float) -> None:
    import expbook

    run = expbook.init(project="hot", name="hot", store=store, server=url or None)
    log = run.log
    windows = []
    start = time.perf_counter()
    print(json.dumps({"started": time.time()}), flush=True)
    i = 0
    n = 0
    spent = 0.0
    w0 = start
    while True:
        t0 = time.perf_counter()
        for _ in range(100):
            log({"a": i * 0.5, "b": -i, "c": i % 7, "d": 1.0 / (i + 1)})
            i += 1
        t1 = time.perf_counter()
        spent += t1 - t0
        n += 100
        if t1 - w0 >= 0.5:
            windows.append((time.time(), n, spent))
            n, spent, w0 = 0, 0.0, t1
        if t1 - start >= seconds:
            break
        time.sleep(0.005)
    t = time.perf_counter()
    run.finish()
    out = {"run": run.id, "steps": i, "finish_s": time.perf_counter() - t, "windows": windows}
    print(json.dumps(out), flush=True)


MLFLOW_CHILD = r"""
import json, sys, time
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
url, client_i, runs, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
KEYS = ("loss", "acc", "lr", "grad_norm")
def value(client, run, step, k):
    if k == 0:
        return 1.0 / (step + 1) + 0.001 * client + 0.0001 * run
    if k == 1:
        return step / (step + 10.0)
    if k == 2:
        return 0.001 * (0.999 ** step)
    return ((step * 7919 + run * 31 + client) % 1000) / 100.0
c = MlflowClient(url)
exp = c.get_experiment_by_name("ingest")
exp_id = exp.experiment_id if exp else None
while exp_id is None:
    try:
        exp_id = c.create_experiment("ingest")
    except Exception:
        exp = c.get_experiment_by_name("ingest")
        exp_id = exp.experiment_id if exp else None
print("ready", flush=True)
sys.stdin.readline()
t0 = time.perf_counter()
for r in range(runs):
    run = c.create_run(exp_id, run_name=f"c{client_i}-r{r}")
    rid = run.info.run_id
    c.log_batch(rid, params=[], metrics=[])
    buf = []
    for s in range(steps):
        ts = int(time.time() * 1000)
        for k, key in enumerate(KEYS):
            buf.append(Metric(key, value(client_i, r, s, k), ts, s))
        if len(buf) >= 1000:
            c.log_batch(rid, metrics=buf)
            buf = []
    if buf:
        c.log_batch(rid, metrics=buf)
    c.set_terminated(rid)
print(json.dumps({"seconds": time.perf_counter() - t0}), flush=True)
"""


# -- helpers -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0, proc: Any = None) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({proc.returncode})")
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout:g} s")


class Server:
    """``expbook server --db URL`` as a child process on a fixed port."""

    def __init__(self, db: str, port: int, workdir: Path) -> None:
        self.db, self.port = db, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(workdir / f"server-{port}.log", "ab")  # noqa: SIM115
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "expbook", "server", "--db", self.db, "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=child_env(), stdout=self.log, stderr=self.log)
        wait_http(self.url + "/api/v1/store", proc=self.proc)

    def cpu_s(self) -> float | None:
        """CPU seconds the server process has used so far (Linux)."""
        if self.proc is None:
            return None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def close(self) -> None:
        self.stop()
        self.log.close()


def postgres_cpu_s() -> float | None:
    """CPU seconds used so far by this machine's PostgreSQL processes (Linux, a local
    server), with those of its sessions that ended (counted in the postmaster's children's
    time once it reaped them): None when there are none."""
    total, seen = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, _, rest = text.partition(" (")[2].partition(") ")
        if name == "postgres":
            fields = rest.split()
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
            seen = True
    return total / os.sysconf("SC_CLK_TCK") if seen else None


def run_parallel(cmds: list[list[str]], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Start the children, wait until each says ready, release them at once; the wall time
    from the release to the last one done, and what each printed last."""
    procs = [
        subprocess.Popen(
            c,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in cmds
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"a child did not start: {line!r} {p.stderr.read()[-3000:]}")
        t0 = time.perf_counter()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        deadline = time.monotonic() + timeout
        outs = []
        timed_out = False
        for p in procs:
            try:
                out, err = p.communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
                break
            if p.returncode != 0:
                raise RuntimeError(f"a child failed ({p.returncode}): {err[-3000:]}")
            outs.append(out.strip().splitlines()[-1])
            if err.strip():
                log_progress(f"  a child said: {err.strip().splitlines()[-1][:300]}")
        wall = time.perf_counter() - t0
        return {"wall": wall, "outs": outs, "timed_out": timed_out}
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def bench_cmd(mode: str, *args: Any) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", mode, *map(str, args)]


# -- the measurements ----------------------------------------------------------------------------
def ingest(pg_url: str, work: Path, a: argparse.Namespace) -> dict[str, Any]:
    from expbook.store import connect

    schema = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    db = f"{pg_url}{'&' if '?' in pg_url else '?'}schema={schema}"
    connect(db).close()  # the schema, made before the clock starts
    server = Server(db, free_port(), work)
    total = a.clients * a.runs * a.steps * len(KEYS)
    try:
        env = child_env()
        env["EXPBOOK_SYNC_TIMEOUT"] = "300"
        # the same clients logging locally only (no server): what offline-first costs
        alone = run_parallel(
            [
                bench_cmd("ingest", work / f"alone{i}", "", i, a.runs, a.steps, "upload")
                for i in range(a.clients)
            ],
            env,
            timeout=1800,
        )
        server.start()
        cmds = [
            bench_cmd("ingest", work / f"client{i}", server.url, i, a.runs, a.steps)
            for i in range(a.clients)
        ]
        cpu0 = server.cpu_s() or 0.0
        pg0 = postgres_cpu_s()
        got = run_parallel(cmds, env, timeout=1800)
        server_cpu = (server.cpu_s() or 0.0) - cpu0
        pg1 = postgres_cpu_s()
        pg_cpu = pg1 - pg0 if pg0 is not None and pg1 is not None else None
        clients_cpu = sum(json.loads(o).get("cpu", 0.0) for o in got["outs"])
        with connect(db) as s:
            (held,) = s._q("SELECT COALESCE(SUM(count), 0) FROM metric_summary")[0]
            (received,) = s._q("SELECT COALESCE(SUM(count), 0) FROM sync_received")[0]
            statuses = {r.status for r in s.list_runs("ingest")}
            n_runs = len(s.list_runs("ingest"))
            # values of one run compared with the workload's
            c, r = (1, 1) if a.clients > 1 and a.runs > 1 else (0, 0)
            try:
                rec = s.get_run(f"c{c}-r{r}", "ingest")
                series = s.read_series_lists(rec.id)
                values_ok = all(
                    series[key].values == [value(c, r, st, k) for st in range(a.steps)]
                    for k, key in enumerate(KEYS)
                )
            except Exception as e:
                log_progress(f"  the check of run c{c}-r{r} failed: {e}")
                values_ok = False
        # the clients' runs logged with no server, uploaded as `expbook sync` does: the
        # upload alone, from data on disk (as the floor's rows are in memory)
        cpu0, pg0 = server.cpu_s() or 0.0, postgres_cpu_s()
        up = run_parallel(
            [bench_cmd("upload", work / f"alone{i}", server.url) for i in range(a.clients)],
            env,
            timeout=1800,
        )
        up_server = (server.cpu_s() or 0.0) - cpu0
        pg1 = postgres_cpu_s()
        with connect(db) as s:
            (up_held,) = s._q(
                "SELECT COALESCE(SUM(m.count), 0) FROM metric_summary m "
                "JOIN runs r ON r.rid = m.rid WHERE r.project = 'upload'"
            )[0]
            up_runs = s.list_runs("upload")
        upload = {
            "seconds": up["wall"],
            "points_per_s": total / up["wall"],
            "held": int(up_held),
            "ok": int(up_held) == total
            and len(up_runs) == a.clients * a.runs
            and {r.status for r in up_runs} == {"finished"},
            "server_cpu_s": up_server,
            "clients_cpu_s": sum(json.loads(o).get("cpu", 0.0) for o in up["outs"]),
            "postgres_cpu_s": pg1 - pg0 if pg0 is not None and pg1 is not None else None,
        }
        ok = (
            int(held) == total
            and int(received) == total
            and statuses == {"finished"}
            and n_runs == a.clients * a.runs
            and values_ok
        )
        return {
            "points": total,
            "seconds": got["wall"],
            "points_per_s": total / got["wall"],
            "held": int(held),
            "received": int(received),
            "runs": n_runs,
            "ok": ok,
            "server_cpu_s": server_cpu,
            "clients_cpu_s": clients_cpu,
            "postgres_cpu_s": pg_cpu,
            "upload": upload,
            "local_only": {
                "seconds": alone["wall"],
                "clients_cpu_s": sum(json.loads(o).get("cpu", 0.0) for o in alone["outs"]),
            },
        }
    finally:
        server.close()
        import psycopg
        from psycopg import sql

        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def copy_floor(pg_url: str, a: argparse.Namespace) -> dict[str, Any]:
    import psycopg

    table = f"bench_floor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (run text, key text, step bigint, value double precision)"
        )
    total = a.clients * a.runs * a.steps * len(KEYS)
    out: dict[str, Any] = {"points": total}
    try:
        for label, groups in (
            ("parallel", [str(i) for i in range(a.clients)]),  # one connection a client
            ("one_connection", [",".join(str(i) for i in range(a.clients))]),
        ):
            cmds = [bench_cmd("copy", pg_url, table, g, a.runs, a.steps) for g in groups]
            pg0 = postgres_cpu_s()
            got = run_parallel(cmds, child_env(), timeout=1800)
            pg1 = postgres_cpu_s()
            with psycopg.connect(pg_url, autocommit=True) as conn:
                (n,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # type: ignore[misc]
                conn.execute(f"TRUNCATE {table}")
            out[label] = {
                "seconds": got["wall"],
                "points_per_s": total / got["wall"],
                "clients_cpu_s": sum(json.loads(o).get("cpu", 0.0) for o in got["outs"]),
                "postgres_cpu_s": pg1 - pg0 if pg0 is not None and pg1 is not None else None,
            }
            out["ok"] = out.get("ok", True) and int(n) == total
        # the floor: the faster of the two (on a small machine one connection may win)
        best = max(("parallel", "one_connection"), key=lambda k: out[k]["points_per_s"])
        out["floor"] = best
        out["seconds"] = out[best]["seconds"]
        out["points_per_s"] = out[best]["points_per_s"]
        return out
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def mlflow_peer(pg_url: str, work: Path, a: argparse.Namespace) -> dict[str, Any] | None:
    venv = Path(a.mlflow_venv)
    py = venv / "bin" / "python"
    mlflow_bin = venv / "bin" / "mlflow"
    if not py.exists() or not mlflow_bin.exists():
        log_progress(f"MLflow peer skipped: no venv at {venv} (see the module docstring)")
        return None
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    dbname = f"mlflow_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname}")
    info = conninfo_to_dict(pg_url)
    host, port = info.get("host", "127.0.0.1"), info.get("port", "5432")
    user = info.get("user", "postgres")
    pw = f":{info['password']}" if info.get("password") else ""
    backend = f"postgresql+psycopg2://{user}{pw}@{host}:{port}/{dbname}"
    mport = free_port()
    url = f"http://127.0.0.1:{mport}"
    log = open(work / "mlflow-server.log", "ab")  # noqa: SIM115
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "EXPBOOK_"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    server = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--backend-store-uri",
            backend,
            "--default-artifact-root",
            str(work / "mlartifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(mport),
            "--workers",
            str(a.mlflow_workers),
        ],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    total = a.clients * a.runs * a.steps * len(KEYS)
    try:
        wait_http(url + "/health", timeout=180, proc=server)
        cmds = [
            [str(py), "-c", MLFLOW_CHILD, url, str(i), str(a.runs), str(a.steps)]
            for i in range(a.clients)
        ]
        got = run_parallel(cmds, env, timeout=a.mlflow_timeout)
        with psycopg.connect(make_conninfo(pg_url, dbname=dbname)) as conn:
            (held,) = conn.execute("SELECT count(*) FROM metrics").fetchone()  # type: ignore[misc]
        return {
            "points": total,
            "held": int(held),
            "seconds": got["wall"],
            "points_per_s": int(held) / got["wall"],
            "complete": not got["timed_out"] and int(held) == total,
            "workers": a.mlflow_workers,
        }
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def _hot(store: Path, url: str, seconds: float, timeout: float) -> Any:
    env = child_env()
    env["EXPBOOK_SYNC_TIMEOUT"] = "600"
    return subprocess.Popen(
        bench_cmd("hot", store, url, seconds),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def per_log(windows: list[Any], lo: float, hi: float) -> float | None:
    n = sum(w[1] for w in windows if lo <= w[0] < hi)
    s = sum(w[2] for w in windows if lo <= w[0] < hi)
    return s / n if n else None


def never_waits(pg_url: str, work: Path, a: argparse.Namespace) -> dict[str, Any]:
    """The hot loop with no server (the floor), then with the server stopped mid-run."""
    import numpy as np

    from expbook.store import SQLiteStore, connect

    seconds = a.pre + a.outage + a.post
    floor = _hot(work / "hot-floor", "", seconds, 600)
    out, err = floor.communicate(timeout=seconds + 300)
    if floor.returncode != 0:
        raise RuntimeError(f"the floor loop failed: {err[-3000:]}")
    fl = json.loads(out.strip().splitlines()[-1])
    floor_per_log = per_log(fl["windows"], 0, float("inf"))

    schema = f"bench_hot_{uuid.uuid4().hex[:8]}"
    db = f"{pg_url}{'&' if '?' in pg_url else '?'}schema={schema}"
    connect(db).close()
    server = Server(db, free_port(), work)
    try:
        server.start()
        local = work / "hot-sync"
        proc = _hot(local, server.url, seconds, 600)
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())["started"]
        time.sleep(max(0.0, started + a.pre - time.time()))
        stopped_at = time.time()
        server.stop()
        time.sleep(max(0.0, stopped_at + a.outage - time.time()))
        server.start()
        back_at = time.time()
        out, err = proc.communicate(timeout=seconds + 900)
        if proc.returncode != 0:
            raise RuntimeError(f"the synced loop failed: {err[-3000:]}")
        got = json.loads(out.strip().splitlines()[-1])
        w = got["windows"]
        phases = {
            "before": per_log(w, 0, stopped_at),
            "outage": per_log(w, stopped_at, back_at),
            "after": per_log(w, back_at, float("inf")),
            "whole": per_log(w, 0, float("inf")),
        }
        run_id = got["run"]
        with SQLiteStore(local) as mine, connect(db) as theirs:
            a_s = mine.read_series(run_id)
            b_s = theirs.read_series(run_id)
            same = sorted(a_s) == sorted(b_s) and all(
                np.array_equal(a_s[k].steps, b_s[k].steps)
                and np.array_equal(a_s[k].values, b_s[k].values, equal_nan=True)
                and np.array_equal(a_s[k].walls, b_s[k].walls, equal_nan=True)
                for k in a_s
            )
            local_n = sum(s.count for s in mine.metric_summaries([run_id])[run_id].values())
            server_n = sum(s.count for s in theirs.metric_summaries([run_id])[run_id].values())
            received = sum(theirs.received_counts(run_id).values())
            status = theirs.get_run(run_id).status
        return {
            "floor_per_log_us": floor_per_log * 1e6 if floor_per_log else None,
            "per_log_us": {k: (v * 1e6 if v else None) for k, v in phases.items()},
            "ratios": {
                k: (v / floor_per_log if v and floor_per_log else None) for k, v in phases.items()
            },
            "steps": got["steps"],
            "floor_steps": fl["steps"],
            "finish_s": got["finish_s"],
            "local_points": local_n,
            "server_points": server_n,
            "received": received,
            "status": status,
            "ok": bool(same and local_n == server_n == received and status == "finished"),
            "stderr": err.strip().splitlines()[-3:],
        }
    finally:
        server.close()
        import psycopg
        from psycopg import sql

        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# -- main ----------------------------------------------------------------------------------------
def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a small smoke version")
    p.add_argument("--pg", default=os.environ.get("EXPBOOK_TEST_PG"), help="PostgreSQL URL")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--runs", type=int, default=25)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--pre", type=float, default=15.0, help="s of logging before the outage")
    p.add_argument("--outage", type=float, default=30.0, help="s the server is stopped")
    p.add_argument("--post", type=float, default=15.0, help="s of logging after it")
    p.add_argument("--skip-mlflow", action="store_true")
    p.add_argument("--mlflow-venv", default="/tmp/peervenv-mlflow")
    p.add_argument("--mlflow-workers", type=int, default=4)
    p.add_argument("--mlflow-timeout", type=float, default=300.0)
    p.add_argument("--only", choices=["ingest", "never-waits"], help="one part only")
    p.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        mode, *rest = a.child
        if mode == "ingest":
            child_ingest(rest[0], rest[1], int(rest[2]), int(rest[3]), int(rest[4]), *rest[5:])
        elif mode == "upload":
            child_upload(rest[0], rest[1])
        elif mode == "copy":
            child_copy(rest[0], rest[1], rest[2], int(rest[3]), int(rest[4]))
        elif mode == "hot":
            child_hot(rest[0], rest[1], float(rest[2]))
        return 0
    if a.quick:
        a.clients, a.runs, a.steps = min(a.clients, 4), 3, 500
        a.pre, a.outage, a.post = 2.0, 3.0, 2.0
        a.mlflow_timeout = min(a.mlflow_timeout, 120.0)
    pg_url = a.pg or "postgresql://postgres@127.0.0.1:5432/test"
    work = Path(tempfile.mkdtemp(prefix="expbook-bench-server-"))
    results: dict[str, Any] = run_header(
        {
            "clients": a.clients,
            "runs": a.runs,
            "steps": a.steps,
            "metrics": len(KEYS),
            "outage_s": a.outage,
        }
    )
    rows = []
    try:
        if a.only in (None, "ingest"):
            log_progress("ingest through expbook server")
            ours = results["ingest"] = ingest(pg_url, work, a)
            log_progress(f"  {ours['points_per_s']:,.0f} points/s")
            log_progress("the raw-PostgreSQL floor (binary COPY)")
            fl = results["copy_floor"] = copy_floor(pg_url, a)
            log_progress(f"  {fl['points_per_s']:,.0f} points/s")
            ml = None
            if not a.skip_mlflow:
                log_progress("MLflow server with log_batch")
                ml = results["mlflow"] = mlflow_peer(pg_url, work, a)
                if ml:
                    log_progress(f"  {ml['points_per_s']:,.0f} points/s")
            row = {
                "name": f"ingest {ours['points']:,} points, {a.clients} clients (points/s)",
                "ours": f"{ours['points_per_s']:,.0f}",
                "floor": f"{fl['points_per_s']:,.0f} (COPY)",
                "ratio": ours["points_per_s"] / fl["points_per_s"],
                "target": f">= {INGEST_TARGET:,}/s and >= 1.0x",
                "met": ours["points_per_s"] >= INGEST_TARGET
                and ours["points_per_s"] >= fl["points_per_s"],
                "ok": ours["ok"] and fl["ok"],
            }
            if ml:
                row["ratio2"] = ours["points_per_s"] / ml["points_per_s"]
            rows.append(row)
            up = ours["upload"]
            rows.append(
                {
                    "name": f"upload of those runs logged offline, {a.clients} processes "
                    "(points/s)",
                    "ours": f"{up['points_per_s']:,.0f}",
                    "floor": f"{fl['points_per_s']:,.0f} (COPY)",
                    "ratio": up["points_per_s"] / fl["points_per_s"],
                    "target": "(not a target: the sync alone)",
                    "met": None,
                    "ok": up["ok"],
                }
            )
        if a.only in (None, "never-waits"):
            log_progress(
                f"training never waits: {a.pre:g} s, server stopped {a.outage:g} s, {a.post:g} s"
            )
            nw = results["never_waits"] = never_waits(pg_url, work, a)
            ratio = max(r for r in nw["ratios"].values() if r is not None)
            rows.append(
                {
                    "name": "log() with the server stopped mid-run (us/log, worst phase)",
                    "ours": " / ".join(
                        f"{k} {v:.2f}" for k, v in nw["per_log_us"].items() if v is not None
                    ),
                    "floor": f"{nw['floor_per_log_us']:.2f} (no server)",
                    "ratio": ratio,
                    "target": f"<= {NEVER_WAITS_TARGET}x, every point once",
                    "met": ratio <= NEVER_WAITS_TARGET and nw["ok"],
                    "ok": nw["ok"],
                }
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    import contextlib
    import io

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        _summary(results, rows, a)
    print(text.getvalue(), end="")
    name = "server" + ("-quick" if a.quick else "") + (f"-{a.only}" if a.only else "")
    out = HERE / "results" / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    out.with_suffix(".txt").write_text(
        f"{results['date']}  {results['command']}\n{results['host']['cpu']}, "
        f"{results['host']['cpus']} CPUs\n" + text.getvalue()
    )
    print(f"raw results: {out.relative_to(HERE.parent)} (and .txt)")
    bad = [r for r in rows if r.get("ok") is False]
    return 1 if bad else 0


def _summary(results: dict[str, Any], rows: list[dict[str, Any]], a: argparse.Namespace) -> None:
    print()
    print_results(rows, floor_head="floor (same run)", ratio2_head="x MLflow")
    print()
    if "ingest" in results:
        i = results["ingest"]
        check = "ok" if i["ok"] else "FAILED"
        print(
            f"ingest: {i['points']:,} points in {i['seconds']:.2f} s; server holds {i['held']:,} "
            f"(received {i['received']:,}) in {i['runs']} runs; check {check}"
        )
        pg = i.get("postgres_cpu_s")
        pg_text = "" if pg is None else f", PostgreSQL {pg:.1f} s"
        print(
            f"  CPU: server {i['server_cpu_s']:.1f} s, clients {i['clients_cpu_s']:.1f} s "
            f"(from the start line){pg_text}, over {i['seconds']:.1f} s on {os.cpu_count()} CPUs"
        )
        fl = results["copy_floor"]
        print(
            f"COPY floor: {a.clients} connections {fl['parallel']['points_per_s']:,.0f} points/s"
            f" ({fl['parallel']['seconds']:.2f} s), one connection "
            f"{fl['one_connection']['points_per_s']:,.0f} points/s "
            f"({fl['one_connection']['seconds']:.2f} s); the floor is the faster"
        )
        best = fl[fl["floor"]]
        if pg is not None and best.get("postgres_cpu_s") is not None:
            # what the database side costs a point, where the clients run on other machines
            ours = (i["server_cpu_s"] + pg) / i["points"] * 1e6
            floor = (best["clients_cpu_s"] + best["postgres_cpu_s"]) / fl["points"] * 1e6
            print(
                f"  CPU a point: server and PostgreSQL {ours:.2f} us; the floor's COPY clients "
                f"and PostgreSQL {floor:.2f} us ({floor / ours:.2f}x ours); the clients' "
                f"{i['clients_cpu_s'] / i['points'] * 1e6:.2f} us, of which logging locally "
                f"{i['local_only']['clients_cpu_s'] / i['points'] * 1e6:.2f} us (the same "
                f"clients with no server: {i['local_only']['seconds']:.2f} s)"
            )
        up = i["upload"]
        up_pg = up.get("postgres_cpu_s")
        print(
            f"upload: {up['held']:,} points in {up['seconds']:.2f} s (expbook sync of the runs "
            f"logged with no server); CPU: server {up['server_cpu_s']:.1f} s, clients "
            f"{up['clients_cpu_s']:.1f} s"
            + ("" if up_pg is None else f", PostgreSQL {up_pg:.1f} s")
            + f"; check {'ok' if up['ok'] else 'FAILED'}"
        )
        ml = results.get("mlflow")
        if ml:
            print(
                f"mlflow: {ml['held']:,} of {ml['points']:,} points in {ml['seconds']:.1f} s "
                f"({ml['workers']} workers){'' if ml['complete'] else ' (stopped: timeout)'}"
            )
        elif not a.skip_mlflow:
            print("mlflow: skipped (no venv)")
    if "never_waits" in results:
        nw = results["never_waits"]
        print(
            f"never waits: {nw['steps']:,} steps logged, finish() took {nw['finish_s']:.2f} s; "
            f"local {nw['local_points']:,} points, server {nw['server_points']:,} "
            f"(received {nw['received']:,}), status {nw['status']}; "
            f"check {'ok' if nw['ok'] else 'FAILED'}; ratios "
            + ", ".join(f"{k} {v:.2f}x" for k, v in nw["ratios"].items() if v is not None)
        )


if __name__ == "__main__":
    sys.exit(main())
