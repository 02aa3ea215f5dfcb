#!/usr/bin/env python3
"""expbook core benchmarks, each next to a floor measured in the same run.

    python bench/bench_core.py                 # full sizes (about 2-3 minutes on 2 cores)
    python bench/bench_core.py --quick         # small sizes, a smoke test (< 30 s)
    python bench/bench_core.py --json out.json # also write every raw measurement

What is measured (sizes are those of ../shared/bench/peers, the peer harness):

* hot loop: ``run.log({4 scalars}, step=i)`` 100,000 times, against the same loop that only
  appends the same dict to a list (floor), and against a Python function call that appends
  (the harness's ``null`` tracker). ``finish()`` is timed on its own.
* paced loop: the hot loop held to 10,000 and 100,000 steps/s (sleeping between bursts of
  1 ms, as a loop waiting on a GPU does) and at full speed for 1,000,000 steps, against the
  same loop appending to a list: the time the loop is busy (not asleep) per step, and the
  share of the loop spent waiting for the writer because the run's buffer was full
  (backpressure). At full speed the loop logs faster than the store can write, so it runs at
  the writer's pace.
* sweep ingest: 200 runs x 2,000 steps x 4 metrics through ``expbook.init``/``log``/``finish``,
  one run after another in one process, until ``finish`` returns, against the raw SQLite floor
  (``metrics(run_id, key, step, value)``, WAL, ``executemany`` of 10k rows, a commit per batch:
  the harness's ``sqlite-raw``).
* leaderboard: min, step of min and last of ``loss`` over those 200 runs, in a new
  ``python -c`` process (interpreter start included), through expbook's read API (the
  per-(run, key) summaries) against the floor's ``GROUP BY`` in a new process.
* series read: the 100,000-point ``loss`` series of the hot-loop run as (step, value) pairs
  (``read_series_lists``, no numpy), in a new process after the store is opened, against
  ``SELECT step, value ... ORDER BY step`` on the floor table; the numpy path (its import
  included) is shown under it.
* store size: bytes per point of the sweep store after a WAL checkpoint, against the floor.

Every measurement runs in a fresh subprocess (this file with ``--child``); floor and expbook
alternate, and the tables show medians with [min-max] over the repetitions.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import child_env, log_progress, med, print_results, run_header, spread

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KEYS = ("loss", "lr", "grad_norm", "acc")
SEED = 20240611  # the peer harness's seed (config.json), so the data is the same
PROJECT = "bench"

SIZES: dict[str, dict[str, int]] = {
    "full": {
        "hot_steps": 100_000,
        "sweep_runs": 200,
        "sweep_steps": 2_000,
        "reps_hot": 7,
        "reps_sweep": 3,
        "reps_proc": 5,
        "paced_s": 2,
        "paced_full_steps": 1_000_000,
    },
    "quick": {
        "hot_steps": 20_000,
        "sweep_runs": 10,
        "sweep_steps": 500,
        "reps_hot": 3,
        "reps_sweep": 2,
        "reps_proc": 3,
        "paced_s": 1,
        "paced_full_steps": 200_000,
    },
}
PACED_RATES = (10_000, 100_000, 0)  # steps/s; 0: as fast as the loop goes

TARGETS = {
    "hot_ratio": 1.5,  # expbook us/iter <= 1.5 x floor
    "ingest_ratio": 1.0,  # expbook points/s >= 1.0 x floor
    "leaderboard_s": 0.3,  # new process, interpreter start included
    "series_ms": 50.0,  # 100k points, in-process after open
    "bytes_per_point": 24.0,
}


# ---------------------------------------------------------------------------- workload data
# The generator of ../shared/bench/peers/workload_data.py, copied so that bench/ stands alone:
# every value is bit-identical to what the peers were fed.
def run_seed(seed: int, run_index: int) -> int:
    return seed * 1_000_003 + run_index


def series(seed: int, run_index: int, n: int) -> tuple[list[float], ...]:
    """4 lists (loss, lr, grad_norm, acc) of length n."""
    rng = random.Random(run_seed(seed, run_index))
    base = 1.5 + rng.random()
    floor = 0.05 + 0.3 * rng.random()
    rate = 2.0 + 4.0 * rng.random()
    loss: list[float] = []
    lr: list[float] = []
    gn: list[float] = []
    acc: list[float] = []
    r = rng.random
    for i in range(n):
        t = i / max(1, n - 1)
        val = floor + base * math.exp(-rate * t) + 0.08 * (r() - 0.5)
        loss.append(val)
        lr.append(1e-3 * 0.5 * (1 + math.cos(math.pi * t)))
        gn.append(0.5 + 2.0 * math.exp(-rate * t) + 0.3 * r())
        acc.append(min(1.0, max(0.0, 1.0 - val / (base + floor) + 0.02 * (r() - 0.5))))
    return loss, lr, gn, acc


def params(seed: int, run_index: int) -> dict[str, Any]:
    rng = random.Random(run_seed(seed, run_index) ^ 0x5EED)
    return {
        "learning_rate": round(10 ** rng.uniform(-5, -2), 8),
        "batch_size": rng.choice([16, 32, 64, 128, 256]),
        "optimizer": rng.choice(["adam", "adamw", "sgd", "lion"]),
        "weight_decay": round(rng.uniform(0, 0.1), 6),
        "dropout": round(rng.uniform(0, 0.5), 4),
        "warmup_steps": rng.randint(0, 2000),
        "num_layers": rng.randint(2, 48),
        "hidden_size": rng.choice([256, 512, 768, 1024, 2048]),
        "seed": run_index,
        "scheduler": rng.choice(["cosine", "linear", "constant"]),
    }


def w1_name() -> str:
    return "w1"


def w2_name(i: int) -> str:
    return f"w2-run-{i:03d}"


def expected_leaderboard(runs: int, steps: int) -> list[tuple[str, float, int, float]]:
    rows = []
    for r in range(runs):
        loss = series(SEED, r, steps)[0]
        mn = min(loss)
        rows.append((w2_name(r), mn, loss.index(mn), loss[-1]))
    rows.sort(key=lambda x: x[1])
    return rows


# ---------------------------------------------------------------------------- child workloads
# Each runs in a fresh interpreter (``bench_core.py --child NAME ARGS_JSON``) and returns a dict.


def child_hot_floor(a: dict[str, Any]) -> dict[str, Any]:
    n = a["steps"]
    loss, lr, gn, acc = series(SEED, 0, n)
    k0, k1, k2, k3 = KEYS
    gc.collect()
    buf: list[Any] = []
    append = buf.append
    t0 = time.perf_counter()
    for i in range(n):
        append({k0: loss[i], k1: lr[i], k2: gn[i], k3: acc[i]})
    t1 = time.perf_counter()
    del buf
    gc.collect()
    buf2: list[Any] = []
    append2 = buf2.append

    def log(data: dict[str, float], step: int | None = None) -> None:
        append2(data)

    t2 = time.perf_counter()
    for i in range(n):
        log({k0: loss[i], k1: lr[i], k2: gn[i], k3: acc[i]}, step=i)
    t3 = time.perf_counter()
    return {"us_append": (t1 - t0) / n * 1e6, "us_call": (t3 - t2) / n * 1e6}


def child_hot_expbook(a: dict[str, Any]) -> dict[str, Any]:
    """The hot loop; ``variant`` "rules": with wandb-style define_metric rules active (every
    key stepped by a ``global_step`` key of the row, as transformers' callback does, and a
    summary rule); "values": a string beside the scalars every 100 steps."""
    n, store = a["steps"], a["store"]
    variant = a.get("variant", "plain")
    loss, lr, gn, acc = series(SEED, 0, n)
    k0, k1, k2, k3 = KEYS
    import expbook

    run = expbook.init(project=PROJECT, name=w1_name(), config=params(SEED, 0), store=store)
    gc.collect()
    log = run.log
    if variant == "rules":
        run.define_metric("global_step")
        run.define_metric("*", step_metric="global_step")
        run.define_metric(k0, summary="min")
        t0 = time.perf_counter()
        for i in range(n):
            log({k0: loss[i], k1: lr[i], k2: gn[i], "global_step": 2 * i})
        t1 = time.perf_counter()
    elif variant == "values":
        t0 = time.perf_counter()
        for i in range(n):
            if i % 100:
                log({k0: loss[i], k1: lr[i], k2: gn[i], k3: acc[i]}, step=i)
            else:
                log({k0: loss[i], k1: lr[i], k2: gn[i], k3: acc[i], "note": "ok"}, step=i)
        t1 = time.perf_counter()
    else:
        t0 = time.perf_counter()
        for i in range(n):
            log({k0: loss[i], k1: lr[i], k2: gn[i], k3: acc[i]}, step=i)
        t1 = time.perf_counter()
    run.finish()
    t2 = time.perf_counter()
    # check (untimed): every point is in the store's summaries, at the step it belongs to
    sums = run._store.metric_summaries([run.id]).get(run.id, {})
    counts = {k: s.count for k, s in sums.items()}
    if variant == "rules":
        want = {k0: n, k1: n, k2: n, "global_step": n}
        ok = counts == want and sums[k0].last_step == 2 * (n - 1)
    elif variant == "values":
        ok = counts == dict.fromkeys(KEYS, n) and len(run._store.read_values(run.id)) == -(
            -n // 100
        )
    else:
        ok = counts == dict.fromkeys(KEYS, n)
    return {
        "impl": "C _speedups.Logger" if run._logger is not None else "pure Python",
        "us_log": (t1 - t0) / n * 1e6,
        "loop_s": t1 - t0,
        "finish_s": t2 - t1,
        "ok": ok,
        "counts": counts,
    }


def child_steady(a: dict[str, Any]) -> dict[str, Any]:
    """The hot loop with some Python work per step (GIL held, as pure-Python training code
    holds it), long enough for the background writer to run while the loop does: the cost
    of logging seen by a training loop, writer included, until the data is durable."""
    n, work, store = a["steps"], a["work"], a.get("store")
    loss, lr, gn, acc = series(SEED, 0, n)
    k0, k1, k2, k3 = KEYS
    if store:
        import expbook

        run = expbook.init(project=PROJECT, name="steady", store=store)
        log = run.log
    else:
        buf: list[Any] = []
        append = buf.append

        def log(data: dict[str, float], step: int | None = None) -> None:
            append(data)

    gc.collect()
    t0 = time.perf_counter()
    for i in range(n):
        x = 0
        for j in range(work):
            x += j
        log({k0: loss[i], k1: lr[i], k2: gn[i], k3: acc[i]}, step=i)
    t1 = time.perf_counter()
    if store:
        run.finish()
    t2 = time.perf_counter()
    return {"us_step": (t2 - t0) / n * 1e6, "loop_s": t1 - t0, "finish_s": t2 - t1}


def child_paced(a: dict[str, Any]) -> dict[str, Any]:
    """The hot loop held to ``rate`` steps/s (0: full speed), to a store or to a list."""
    rate, store = a["rate"], a.get("store")
    n = a["steps"] if not rate else int(rate * a["seconds"])
    m = min(n, 100_000)  # values repeat after 100k steps
    loss, lr, gn, acc = series(SEED, 0, m)
    k0, k1, k2, k3 = KEYS
    if store:
        import expbook

        run = expbook.init(project=PROJECT, name=f"paced-{rate}", store=store)
        log = run.log
    else:
        buf: list[Any] = []
        append = buf.append

        def log(data: dict[str, float], step: int | None = None) -> None:
            append(data)

    burst = max(1, rate // 1000) if rate else n  # steps between sleeps: 1 ms of schedule
    clock, sleep = time.perf_counter, time.sleep
    gc.collect()
    slept = 0.0
    t0 = clock()
    i = 0
    while i < n:
        for j in range(i, min(i + burst, n)):
            k = j % m
            log({k0: loss[k], k1: lr[k], k2: gn[k], k3: acc[k]}, step=j)
        i = min(i + burst, n)
        if rate:
            ahead = t0 + i / rate - clock()
            if ahead > 0:
                ts = clock()
                sleep(ahead)
                slept += clock() - ts
    t1 = clock()
    out = {
        "steps": n,
        "loop_s": t1 - t0,
        "busy_s": t1 - t0 - slept,
        "us_busy": (t1 - t0 - slept) / n * 1e6,
        "steps_per_s": n / (t1 - t0),
    }
    if store:
        run.finish()
        out["finish_s"] = clock() - t1
        waited = getattr(run, "_waited_s", 0.0)  # 0 before the buffer was bounded
        out["waited_s"] = waited
        out["waits"] = getattr(run, "_waits", 0)
        out["backpressure_share"] = waited / (t1 - t0)
        counts = {
            k: s.count for k, s in run._store.metric_summaries([run.id]).get(run.id, {}).items()
        }
        out["ok"] = counts == dict.fromkeys(KEYS, n)
    return out


def _sweep_data(runs: int, steps: int) -> list[tuple[dict[str, Any], tuple[list[float], ...]]]:
    return [(params(SEED, r), series(SEED, r, steps)) for r in range(runs)]


def child_sweep_expbook(a: dict[str, Any]) -> dict[str, Any]:
    runs, steps, store = a["runs"], a["steps"], a["store"]
    data = _sweep_data(runs, steps)
    k0, k1, k2, k3 = KEYS
    import expbook

    gc.collect()
    t0 = time.perf_counter()
    for r, (cfg, (loss, lr, gn, acc)) in enumerate(data):
        run = expbook.init(project=PROJECT, name=w2_name(r), config=cfg, store=store)
        log = run.log
        for i in range(steps):
            log({k0: loss[i], k1: lr[i], k2: gn[i], k3: acc[i]}, step=i)
        run.finish()
    total = time.perf_counter() - t0
    return {"total_s": total, "points_per_s": runs * steps * len(KEYS) / total}


def child_sweep_floor(a: dict[str, Any]) -> dict[str, Any]:
    """The harness's sqlite-raw adapter, inlined."""
    runs, steps, db = a["runs"], a["steps"], a["db"]
    data = _sweep_data(runs, steps)
    k0, k1, k2, k3 = KEYS
    gc.collect()
    t0 = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS metrics (run_id TEXT, key TEXT, step INTEGER, value REAL)"
    )
    conn.execute("CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, config TEXT)")
    conn.commit()
    buf: list[tuple[str, str, int, float]] = []

    def flush() -> None:
        if buf:
            conn.executemany("INSERT INTO metrics VALUES (?,?,?,?)", buf)
            conn.commit()
            buf.clear()

    def log(h: str, step: int, metrics: dict[str, float]) -> None:
        for k, v in metrics.items():
            buf.append((h, k, step, v))
        if len(buf) >= 10_000:
            flush()

    for r, (cfg, (loss, lr, gn, acc)) in enumerate(data):
        name = w2_name(r)
        conn.execute("INSERT INTO runs VALUES (?,?)", (name, json.dumps(cfg)))
        conn.commit()
        for i in range(steps):
            log(name, i, {k0: loss[i], k1: lr[i], k2: gn[i], k3: acc[i]})
        flush()
    total = time.perf_counter() - t0
    conn.close()
    return {"total_s": total, "points_per_s": runs * steps * len(KEYS) / total}


def child_write_floor_w1(a: dict[str, Any]) -> dict[str, Any]:
    """Untimed: the floor's table holding the hot-loop run (for the series-read floor)."""
    n, db = a["steps"], a["db"]
    cols = series(SEED, 0, n)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE metrics (run_id TEXT, key TEXT, step INTEGER, value REAL)")
    rows = [(w1_name(), k, i, col[i]) for k, col in zip(KEYS, cols) for i in range(n)]
    for j in range(0, len(rows), 10_000):
        conn.executemany("INSERT INTO metrics VALUES (?,?,?,?)", rows[j : j + 10_000])
        conn.commit()
    conn.close()
    return {"rows": len(rows)}


def child_series_expbook(a: dict[str, Any]) -> dict[str, Any]:
    store, n = a["store"], a["steps"]
    t0 = time.perf_counter()
    import expbook

    t1 = time.perf_counter()
    book = expbook.open_store(store)
    rid = book.run(w1_name()).id
    t2 = time.perf_counter()
    # what a caller wanting Python numbers does (the CLI, the peer harness): no numpy
    s = book.backend.read_series_lists(rid, ["loss"])["loss"]
    pts = list(zip(s.steps, s.values))
    t3 = time.perf_counter()
    numpy_before = "numpy" in sys.modules
    import numpy  # noqa: F401  (timed apart: read_series imports it on its first call)

    t4 = time.perf_counter()
    sa = book.backend.read_series(rid, ["loss"])["loss"]
    t5 = time.perf_counter()
    pts_a = list(zip(sa.steps.tolist(), sa.values.tolist()))
    t6 = time.perf_counter()
    s2 = book.backend.read_series_lists(rid, ["loss"])["loss"]
    t7 = time.perf_counter()
    loss = series(SEED, 0, n)[0]
    ok = len(s) == n == len(s2) and pts == pts_a == list(enumerate(loss)) and not numpy_before
    out = {
        "import_expbook_ms": (t1 - t0) * 1e3,
        "open_ms": (t2 - t1) * 1e3,
        "read_ms": (t3 - t2) * 1e3,
        "import_numpy_ms": (t4 - t3) * 1e3,
        "read_arrays_ms": (t5 - t4) * 1e3,
        "to_pairs_ms": (t6 - t5) * 1e3,
        "read_again_ms": (t7 - t6) * 1e3,
        "points": len(s),
        "ok": ok,
    }
    if a.get("history"):
        t7 = time.perf_counter()
        import pandas  # noqa: F401

        t8 = time.perf_counter()
        df = book.history(w1_name(), ["loss"])
        t9 = time.perf_counter()
        out.update(import_pandas_ms=(t8 - t7) * 1e3, history_df_ms=(t9 - t8) * 1e3, rows=len(df))
    return out


def child_series_floor(a: dict[str, Any]) -> dict[str, Any]:
    db, n = a["db"], a["steps"]
    t0 = time.perf_counter()
    conn = sqlite3.connect(db)
    t1 = time.perf_counter()
    rows = conn.execute(
        "SELECT step, value FROM metrics WHERE run_id=? AND key=? ORDER BY step",
        (w1_name(), "loss"),
    ).fetchall()
    t2 = time.perf_counter()
    conn.close()
    return {"open_ms": (t1 - t0) * 1e3, "read_ms": (t2 - t1) * 1e3, "ok": len(rows) == n}


CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "hot_floor": child_hot_floor,
    "hot_expbook": child_hot_expbook,
    "steady": child_steady,
    "paced": child_paced,
    "sweep_expbook": child_sweep_expbook,
    "sweep_floor": child_sweep_floor,
    "write_floor_w1": child_write_floor_w1,
    "series_expbook": child_series_expbook,
    "series_floor": child_series_floor,
}

# New-process leaderboards, run as ``python -c CODE STORE METRIC``: interpreter start, imports,
# opening the store and the query are all inside the measured wall time.
LEADERBOARD_EXPBOOK = """\
import json, sys, time
t0 = time.perf_counter()
import expbook
book = expbook.open_store(sys.argv[1])
key = sys.argv[2]
be = book.backend
names = {r.id: r.name for r in be.list_runs()}
rows = sorted(
    ((names[rid], m[key].min_value, m[key].min_step, m[key].last_value)
     for rid, m in be.metric_summaries(keys=[key]).items()),
    key=lambda r: r[1],
)
print(json.dumps({"rows": rows, "in_process_s": time.perf_counter() - t0}))
"""

LEADERBOARD_FLOOR = """\
import json, sqlite3, sys, time
t0 = time.perf_counter()
conn = sqlite3.connect(sys.argv[1])
rows = conn.execute(
    "WITH mins AS (SELECT run_id, MIN(value) AS mn, step AS mstep FROM metrics WHERE key=? "
    "GROUP BY run_id), lasts AS (SELECT run_id, MAX(step) AS lstep, value AS lv FROM metrics "
    "WHERE key=? GROUP BY run_id) SELECT m.run_id, m.mn, m.mstep, l.lv FROM mins m "
    "JOIN lasts l USING (run_id) ORDER BY m.mn", (sys.argv[2], sys.argv[2])).fetchall()
print(json.dumps({"rows": rows, "in_process_s": time.perf_counter() - t0}))
"""


# ---------------------------------------------------------------------------- orchestration
# Bytecode for every child lives in one cache outside the tree: with PYTHONDONTWRITEBYTECODE
# set (as in this project's shells) an editable install would otherwise recompile expbook's
# sources in every new process, which no installed package does. warm_bytecode() fills it.


PURE_PYTHON = False  # --pure-python: children use the pure-Python Run.log


def warm_bytecode() -> None:
    code = "import expbook, expbook.cli, numpy, pandas, sqlite3, json"
    subprocess.run(
        [sys.executable, "-c", code], env=child_env(PURE_PYTHON), check=True, timeout=600
    )


def spawn(name: str, args: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, json.dumps(args)]
    p = subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=child_env(PURE_PYTHON)
    )
    lines = [x for x in p.stdout.splitlines() if x.startswith("RESULT=")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"child {name} failed (rc={p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT=") :])


def wall_of(code: str, *argv: str, drop_caches: bool = False) -> tuple[float, dict[str, Any]]:
    """Wall time of ``python -c code argv...`` and its JSON output (if any)."""
    if drop_caches:
        _drop_caches()
    cmd = [sys.executable, "-c", code, *argv]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=child_env(PURE_PYTHON))
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"python -c failed (rc={p.returncode}):\n{p.stderr[-3000:]}")
    out = p.stdout.strip().splitlines()
    return wall, (json.loads(out[-1]) if out and out[-1].startswith("{") else {})


def _drop_caches() -> None:
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError as e:  # not root
        raise SystemExit(f"--drop-caches needs root: {e}") from e


def checkpoint_size(db: str) -> int:
    """Size of the database file after a full WAL checkpoint (the -wal file is then empty)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = os.path.getsize(db)
    wal = db + "-wal"
    return size + (os.path.getsize(wal) if os.path.exists(wal) else 0)


def leaderboard_matches(got: list[list[Any]], exp: list[tuple[str, float, int, float]]) -> bool:
    if len(got) != len(exp):
        return False
    for g, e in zip(got, exp):
        if g[0] != e[0] or int(g[2]) != e[2]:
            return False
        if not (
            math.isclose(g[1], e[1], rel_tol=1e-12) and math.isclose(g[3], e[3], rel_tol=1e-12)
        ):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test, < 30 s)")
    ap.add_argument("--json", metavar="OUT", help="write every raw measurement to OUT")
    ap.add_argument("--reps", type=int, help="repetitions of every measurement")
    ap.add_argument(
        "--only",
        default="hot,paced,sweep,leaderboard,series",
        help="comma-separated subset of hot,paced,sweep,leaderboard,series (leaderboard and "
        "size need sweep; series needs hot)",
    )
    ap.add_argument(
        "--drop-caches",
        action="store_true",
        help="drop the OS page cache before every new-process read (cold, as the peer "
        "harness does; needs root)",
    )
    ap.add_argument(
        "--pure-python",
        action="store_true",
        help="measure the pure-Python Run.log (EXPBOOK_PURE_PYTHON=1), not the C extension",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temporary stores")
    ap.add_argument("--child", nargs=2, metavar=("NAME", "ARGS"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child:
        name, payload = args.child
        res = CHILDREN[name](json.loads(payload))
        print("RESULT=" + json.dumps(res), flush=True)
        return 0

    global PURE_PYTHON
    PURE_PYTHON = args.pure_python
    size = dict(SIZES["quick" if args.quick else "full"])
    if args.reps:
        size.update(reps_hot=args.reps, reps_sweep=args.reps, reps_proc=args.reps)
    only = set(args.only.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="expbook-bench-"))
    started = time.perf_counter()
    raw: dict[str, Any] = run_header(size, drop_caches=args.drop_caches)
    rows: list[dict[str, Any]] = []  # the final table
    warm_bytecode()
    try:
        if "hot" in only or "series" in only:
            run_hot(size, tmp, raw, rows)
        if "paced" in only:
            run_paced(size, tmp, raw, rows)
        if "sweep" in only or "leaderboard" in only:
            run_sweep(
                size, tmp, raw, rows, leaderboard="leaderboard" in only, drop=args.drop_caches
            )
        if "series" in only:
            run_series(size, tmp, raw, rows, drop=args.drop_caches)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log_progress(f"stores kept in {tmp}")
    raw["elapsed_s"] = time.perf_counter() - started
    raw["host"]["loadavg_end"] = os.getloadavg()
    raw["table"] = rows
    print_table(raw, rows)
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1) + "\n")
    return 0 if all(r.get("ok", True) for r in rows) else 1


def run_hot(size: dict[str, int], tmp: Path, raw: dict[str, Any], rows: list[dict[str, Any]]):
    n = size["hot_steps"]
    floors: list[dict[str, Any]] = []
    ours: list[dict[str, Any]] = []
    for rep in range(size["reps_hot"]):
        log_progress(f"hot loop rep {rep + 1}/{size['reps_hot']} ({n:,} steps)")
        store = tmp / f"hot-r{rep}"
        pair = [
            lambda: floors.append(spawn("hot_floor", {"steps": n})),
            lambda s=store: ours.append(spawn("hot_expbook", {"steps": n, "store": str(s)})),
        ]
        for f in pair if rep % 2 == 0 else pair[::-1]:
            f()
        if rep > 0:
            shutil.rmtree(store, ignore_errors=True)  # rep 0's store is the series-read store
    raw["hot"] = {"floor": floors, "expbook": ours}
    raw["impl"] = sorted({o["impl"] for o in ours})
    fa = [f["us_append"] for f in floors]
    fc = [f["us_call"] for f in floors]
    us = [o["us_log"] for o in ours]
    ratios = [o / f for o, f in zip(us, fa)]
    ok = all(o["ok"] for o in ours)
    rows.append(
        {
            "name": f"hot loop: log(4 scalars, step=i) x {n:,}, us/iter",
            "ours": spread(us),
            "floor": spread(fa),
            "floor_what": "list.append(dict)",
            "ratio": med(us) / med(fa),
            "ratio_reps": ratios,
            "target": f"<= {TARGETS['hot_ratio']}x (per-rep ratios "
            f"{min(ratios):.2f}-{max(ratios):.2f})",
            "met": med(us) / med(fa) <= TARGETS["hot_ratio"],
            "ok": ok,
        }
    )
    rows.append(
        {
            "name": "  same, against a Python call that appends (the harness's null)",
            "ours": spread(us),
            "floor": spread(fc),
            "floor_what": "def log(d, step): buf.append(d)",
            "ratio": med(us) / med(fc),
            "target": "(info)",
        }
    )
    rows.append(
        {
            "name": f"  finish() after {n:,} logs, s",
            "ours": spread([o["finish_s"] for o in ours]),
            "floor": "-",
            "target": "(info)",
        }
    )
    for variant, what in (
        ("rules", "define_metric('*', step_metric='global_step') + a summary rule"),
        ("values", "a string value beside the scalars every 100 steps"),
    ):
        vf: list[dict[str, Any]] = []
        vo: list[dict[str, Any]] = []
        for rep in range(size["reps_hot"]):
            log_progress(f"hot loop ({variant}) rep {rep + 1}/{size['reps_hot']}")
            st = tmp / f"hot-{variant}-r{rep}"
            pair = [
                lambda vf=vf: vf.append(spawn("hot_floor", {"steps": n})),
                lambda s=st, v=variant, vo=vo: vo.append(
                    spawn("hot_expbook", {"steps": n, "store": str(s), "variant": v})
                ),
            ]
            for f in pair if rep % 2 == 0 else pair[::-1]:
                f()
            shutil.rmtree(st, ignore_errors=True)
        raw[f"hot_{variant}"] = {"floor": vf, "expbook": vo}
        vu = [o["us_log"] for o in vo]
        va = [f["us_append"] for f in vf]
        rows.append(
            {
                "name": f"  hot loop with {what}, us/iter",
                "ours": spread(vu),
                "floor": spread(va),
                "floor_what": "list.append(dict)",
                "ratio": med(vu) / med(va),
                "target": f"<= {TARGETS['hot_ratio']}x",
                "met": med(vu) / med(va) <= TARGETS["hot_ratio"],
                "ok": all(o["ok"] for o in vo),
            }
        )
    steady_f: list[dict[str, Any]] = []
    steady_o: list[dict[str, Any]] = []
    work = 300  # ~10-20 us of Python per step on this machine
    for rep in range(size["reps_sweep"]):
        log_progress(f"steady-state loop rep {rep + 1}/{size['reps_sweep']} ({n:,} steps)")
        st = tmp / f"steady-r{rep}"
        steady_f.append(spawn("steady", {"steps": n, "work": work}))
        steady_o.append(spawn("steady", {"steps": n, "work": work, "store": str(st)}))
        shutil.rmtree(st, ignore_errors=True)
    raw["steady"] = {"floor": steady_f, "expbook": steady_o, "work": work}
    so = [o["us_step"] for o in steady_o]
    sf = [f["us_step"] for f in steady_f]
    rows.append(
        {
            "name": "  loop + finish, us/iter",
            "ours": spread([(o["loop_s"] + o["finish_s"]) / n * 1e6 for o in ours]),
            "floor": spread(fa),
            "ratio": med([(o["loop_s"] + o["finish_s"]) / n * 1e6 for o in ours]) / med(fa),
            "target": "(info)",
        }
    )
    rows.append(
        {
            "name": f"  with {work} Python loop iterations of work per step (writer runs "
            "during the loop), loop + finish, us/step",
            "ours": spread(so),
            "floor": spread(sf),
            "ratio": med(so) / med(sf),
            "target": f"(info: +{med(so) - med(sf):.2f} us/step)",
        }
    )


def run_paced(size: dict[str, int], tmp: Path, raw: dict[str, Any], rows: list[dict[str, Any]]):
    raw["paced"] = {}
    for rate in PACED_RATES:
        what = f"{rate:,} steps/s for {size['paced_s']} s" if rate else "full speed"
        args = {"rate": rate, "seconds": size["paced_s"], "steps": size["paced_full_steps"]}
        floors: list[dict[str, Any]] = []
        ours: list[dict[str, Any]] = []
        for rep in range(size["reps_sweep"]):
            log_progress(f"paced loop, {what}, rep {rep + 1}/{size['reps_sweep']}")
            st = tmp / f"paced-{rate}-r{rep}"
            jobs = [(floors, args), (ours, {**args, "store": str(st)})]
            for out, a in jobs if rep % 2 == 0 else jobs[::-1]:
                out.append(spawn("paced", a))
            shutil.rmtree(st, ignore_errors=True)
        raw["paced"][str(rate)] = {"floor": floors, "expbook": ours}
        uo = [o["us_busy"] for o in ours]
        uf = [f["us_busy"] for f in floors]
        share = [o["backpressure_share"] for o in ours]
        n = ours[0]["steps"]
        rows.append(
            {
                "name": f"paced loop at {what} ({n:,} steps), busy us/step"
                if rate
                else f"full-speed loop ({n:,} steps), us/step",
                "ours": spread(uo),
                "floor": spread(uf),
                "floor_what": "list.append(dict)",
                "ratio": med(uo) / med(uf),
                "ratio_reps": [o / f for o, f in zip(uo, uf)],
                "target": f"(info: backpressure {100 * med(share):.1f}% of the loop "
                f"[{100 * min(share):.1f}-{100 * max(share):.1f}], "
                f"{med([o['steps_per_s'] for o in ours]):,.0f} steps/s, "
                f"finish {med([o['finish_s'] for o in ours]):.2f} s)",
                "ok": all(o["ok"] for o in ours),
            }
        )


def run_sweep(
    size: dict[str, int],
    tmp: Path,
    raw: dict[str, Any],
    rows: list[dict[str, Any]],
    leaderboard: bool,
    drop: bool,
) -> None:
    R, S = size["sweep_runs"], size["sweep_steps"]
    pts = R * S * len(KEYS)
    floors: list[dict[str, Any]] = []
    ours: list[dict[str, Any]] = []
    for rep in range(size["reps_sweep"]):
        log_progress(f"sweep ingest rep {rep + 1}/{size['reps_sweep']} ({R} runs x {S} steps)")
        st, db = tmp / f"sweep-r{rep}", tmp / f"sweep-floor-r{rep}.db"
        shutil.rmtree(st, ignore_errors=True)
        if db.exists():
            db.unlink()

        def do_floor(db: Path = db) -> None:
            r = spawn("sweep_floor", {"runs": R, "steps": S, "db": str(db)})
            r["bytes"] = checkpoint_size(str(db))
            floors.append(r)

        def do_ours(st: Path = st) -> None:
            r = spawn("sweep_expbook", {"runs": R, "steps": S, "store": str(st)})
            r["bytes"] = checkpoint_size(str(st / "expbook.db"))
            ours.append(r)

        for f in (do_floor, do_ours) if rep % 2 == 0 else (do_ours, do_floor):
            f()
    raw["sweep"] = {"floor": floors, "expbook": ours, "points": pts}
    po = [o["points_per_s"] for o in ours]
    pf = [f["points_per_s"] for f in floors]
    rows.append(
        {
            "name": f"sweep ingest: {R} runs x {S:,} steps x 4, points/s",
            "ours": spread(po, "{:,.0f}"),
            "floor": spread(pf, "{:,.0f}"),
            "floor_what": "raw SQLite executemany 10k (sqlite-raw)",
            "ratio": med(po) / med(pf),
            "ratio_reps": [o / f for o, f in zip(po, pf)],
            "target": f">= {TARGETS['ingest_ratio']}x",
            "met": med(po) / med(pf) >= TARGETS["ingest_ratio"],
        }
    )
    rows.append(
        {
            "name": "  total s",
            "ours": spread([o["total_s"] for o in ours]),
            "floor": spread([f["total_s"] for f in floors]),
            "target": "(info)",
        }
    )
    bo = [o["bytes"] / pts for o in ours]
    bf = [f["bytes"] / pts for f in floors]
    rows.append(
        {
            "name": "store size after WAL checkpoint, bytes/point",
            "ours": spread(bo, "{:.2f}"),
            "floor": spread(bf, "{:.2f}"),
            "ratio": med(bo) / med(bf),
            "target": f"<= {TARGETS['bytes_per_point']:.0f}",
            "met": med(bo) <= TARGETS["bytes_per_point"],
        }
    )
    if not leaderboard:
        return
    exp = expected_leaderboard(R, S)
    store, db = str(tmp / "sweep-r0"), str(tmp / "sweep-floor-r0.db")
    lo: list[float] = []
    lf: list[float] = []
    lq: list[float] = []
    lqf: list[float] = []
    base: list[float] = []
    imp: list[float] = []
    correct = True
    for rep in range(size["reps_proc"]):
        log_progress(f"leaderboard rep {rep + 1}/{size['reps_proc']}")
        w, out = wall_of(LEADERBOARD_EXPBOOK, store, "loss", drop_caches=drop)
        correct &= leaderboard_matches(out["rows"], exp)
        lo.append(w)
        lq.append(out["in_process_s"])
        w, out = wall_of(LEADERBOARD_FLOOR, db, "loss", drop_caches=drop)
        correct &= leaderboard_matches(out["rows"], exp)
        lf.append(w)
        lqf.append(out["in_process_s"])
        base.append(wall_of("pass", drop_caches=drop)[0])
        imp.append(wall_of("import expbook", drop_caches=drop)[0])
    raw["leaderboard"] = {
        "expbook_wall_s": lo,
        "expbook_in_process_s": lq,
        "floor_wall_s": lf,
        "floor_in_process_s": lqf,
        "python_c_pass_s": base,
        "python_c_import_expbook_s": imp,
        "correct": correct,
    }
    rows.append(
        {
            "name": f"leaderboard over {R} runs, new process (python -c), wall s",
            "ours": spread(lo),
            "floor": spread(lf),
            "floor_what": "GROUP BY on the raw table, new process",
            "ratio": med(lo) / med(lf),
            "target": f"< {TARGETS['leaderboard_s']} s",
            "met": med(lo) < TARGETS["leaderboard_s"],
            "ok": correct,
        }
    )
    rows.append(
        {
            "name": "  of which in-process (import + open + query), s",
            "ours": spread(lq),
            "floor": spread(lqf),
            "ratio": med(lq) / med(lqf),
            "target": "(info)",
        }
    )
    rows.append(
        {
            "name": "  python -c pass / python -c 'import expbook', wall s",
            "ours": spread(imp),
            "floor": spread(base),
            "target": "(info)",
        }
    )


def run_series(
    size: dict[str, int], tmp: Path, raw: dict[str, Any], rows: list[dict[str, Any]], drop: bool
) -> None:
    n = size["hot_steps"]
    store = tmp / "hot-r0"
    db = tmp / "w1-floor.db"
    spawn("write_floor_w1", {"steps": n, "db": str(db)})
    checkpoint_size(str(db))
    checkpoint_size(str(store / "expbook.db"))
    ours: list[dict[str, Any]] = []
    floors: list[dict[str, Any]] = []
    for rep in range(size["reps_proc"]):
        log_progress(f"series read rep {rep + 1}/{size['reps_proc']} ({n:,} points)")
        if drop:
            _drop_caches()
        ours.append(spawn("series_expbook", {"store": str(store), "steps": n, "history": rep == 0}))
        if drop:
            _drop_caches()
        floors.append(spawn("series_floor", {"db": str(db), "steps": n}))
    raw["series"] = {"expbook": ours, "floor": floors}
    ro = [o["read_ms"] for o in ours]
    rf = [f["read_ms"] for f in floors]
    rows.append(
        {
            "name": f"series read, {n:,} points as (step, value) pairs, new process after open, ms",
            "ours": spread(ro),
            "floor": spread(rf),
            "floor_what": "SELECT step, value ... ORDER BY step (no index)",
            "ratio": med(ro) / med(rf),
            "target": f"< {TARGETS['series_ms']:.0f} ms",
            "met": med(ro) < TARGETS["series_ms"],
            "ok": all(o["ok"] for o in ours) and all(f["ok"] for f in floors),
        }
    )
    cold_np = [o["import_numpy_ms"] + o["read_arrays_ms"] + o["to_pairs_ms"] for o in ours]
    rows.append(
        {
            "name": "  the same through numpy (import numpy + read_series + tolist), ms",
            "ours": spread(cold_np),
            "floor": spread(rf),
            "ratio": med(cold_np) / med(rf),
            "target": "(info)",
        }
    )
    rows.append(
        {
            "name": "  second read in the same process (lists), ms",
            "ours": spread([o["read_again_ms"] for o in ours]),
            "floor": "-",
            "target": "(info)",
        }
    )
    rows.append(
        {
            "name": "  import numpy (read_series_lists does not), ms",
            "ours": spread([o["import_numpy_ms"] for o in ours]),
            "floor": "-",
            "target": "(info)",
        }
    )
    rows.append(
        {
            "name": "  open_store + run lookup, ms",
            "ours": spread([o["open_ms"] for o in ours]),
            "floor": spread([f["open_ms"] for f in floors]) + " (connect)",
            "target": "(info)",
        }
    )
    if "history_df_ms" in ours[0]:
        rows.append(
            {
                "name": "  book.history(run, ['loss']) DataFrame (n=1; pandas import apart), ms",
                "ours": f"{ours[0]['history_df_ms']:.3g} (import pandas "
                f"{ours[0]['import_pandas_ms']:.0f})",
                "floor": "-",
                "target": "(info)",
            }
        )


def print_table(raw: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    print()
    print(
        f"expbook core benchmarks, {raw['date']}, code {raw['code']['git_head']} "
        f"(src sha {raw['code']['src_sha256']}), Python {raw['host']['python']}, "
        f"SQLite {raw['host']['sqlite']}, {raw['host']['cpus']} CPUs, "
        f"load {raw['host']['loadavg_start'][0]:.2f}->{raw['host']['loadavg_end'][0]:.2f}"
    )
    print(
        f"median [min-max] of the repetitions: hot {raw['sizes']['reps_hot']}, "
        f"sweep {raw['sizes']['reps_sweep']}, new-process reads {raw['sizes']['reps_proc']}; "
        f"{'cold (page cache dropped)' if raw['drop_caches'] else 'warm page cache'}; "
        f"Run.log: {', '.join(raw.get('impl', ['not measured']))}; "
        f"{raw['elapsed_s']:.0f} s in all"
    )
    print()
    print_results(rows)
    floors = {r["floor_what"] for r in rows if r.get("floor_what")}
    if floors:
        print()
        print("floors: " + "; ".join(sorted(floors)))


if __name__ == "__main__":
    sys.exit(main())
