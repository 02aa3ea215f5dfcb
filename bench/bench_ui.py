#!/usr/bin/env python3
"""Dashboard benchmarks (issue 6), in-process through starlette's TestClient.

    python bench/bench_ui.py            # 10,000 runs, a 1,000,000-point series (about 1 min)
    python bench/bench_ui.py --quick    # 1,000 runs, 100,000 points (a few seconds)

* runs page data: ``GET /api/runs`` (first page, 50 rows, default sort and columns) on a
  store of 10,000 runs (6 params, 3 metrics each). A page with no filter, search or grouping
  sorted by a run field is read straight from SQL (one page); *first request* is the first
  of a new app (while it builds its snapshot of every run in a background thread), *again*
  a later one. *sorted by a metric* and *filtered* use that snapshot, which is rebuilt in the
  background when the store changed (stale while revalidating). Floor: a
  plain ``SELECT ... ORDER BY created_at DESC LIMIT 50`` on the same database plus
  ``json.dumps`` of the rows. Target: under 200 ms.
* series: ``GET /api/runs/{id}/series/loss`` of a 1,000,000-point series with one spike up
  and one dip down; must return at most ~2,000 points including the global max and min.
  *first view* is the first request of a new app: a view this wide is drawn from the sketches
  stored with the chunks (min, max and last of every 64 points, see
  ``expbook.store.sketch``), so it reads about 5% of the data; *zoom* (1% of the steps) reads
  the points of the chunks in range; *live tail* (``after_step``) reads only the last
  chunks. Floor: ``read_series`` of the whole series (reading and decoding every point, no
  downsampling, no JSON), what a first view cost before sketches. Target: < 100 ms.

Medians with [min-max] over the repetitions. Exit status 1 when a data check fails.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def timed(fn: Callable[[], Any], reps: int) -> tuple[list[float], Any]:
    out: list[float] = []
    result = None
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out, result


def fmt(ms: list[float]) -> str:
    return f"{statistics.median(ms):8.1f} ms  [{min(ms):.1f}-{max(ms):.1f}]"


def build(path: Path, n_runs: int, n_points: int) -> str:
    """The store: ``n_runs`` small runs and one run with an ``n_points`` loss series."""
    from expbook.store import PointBatch, SQLiteStore

    rng = random.Random(6)
    with SQLiteStore(path) as st:
        with st.atomic():
            for i in range(n_runs):
                rec = st.create_run(
                    name=f"sweep-{i:05d}",
                    project="bench" if i % 10 else "other",
                    status="finished",
                    config={
                        "lr": rng.choice([1e-4, 3e-4, 1e-3, 3e-3]),
                        "batch": rng.choice([32, 64, 128]),
                        "model": {"width": rng.choice([128, 256, 512]), "depth": rng.randint(2, 8)},
                        "optim": rng.choice(["adam", "sgd"]),
                        "seed": i,
                    },
                    tags=["sweep", f"w{i % 7}"],
                    created_at=1_700_000_000.0 + i,
                )
                steps = list(range(0, 100, 10))
                walls = [1_700_000_000.0 + i + s for s in steps]
                base = rng.uniform(0.1, 1.0)
                st.append_points(
                    rec.id,
                    {
                        "loss": PointBatch(steps, walls, [base * math.exp(-s / 50) for s in steps]),
                        "val/loss": PointBatch(steps, walls, [base * 1.1 for _ in steps]),
                        "acc": PointBatch(steps, walls, [1 - base / 2 for _ in steps]),
                    },
                )
        big = st.create_run(name="big", project="bench", status="finished")
        gen = np.random.default_rng(6)
        v = np.exp(-np.arange(n_points) / (n_points / 5)) + gen.normal(0, 0.01, n_points)
        v[int(n_points * 0.61) + 7] = 50.0
        v[int(n_points * 0.27) + 3] = -50.0
        steps_a = np.arange(n_points)
        walls_a = 1_700_000_000.0 + steps_a * 0.01
        chunk = 100_000
        for lo in range(0, n_points, chunk):
            hi = min(lo + chunk, n_points)
            st.append_points(
                big.id,
                {
                    "loss": PointBatch(
                        steps_a[lo:hi].tolist(), walls_a[lo:hi].tolist(), v[lo:hi].tolist()
                    )
                },
            )
        return big.id


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--keep", action="store_true", help="keep the temporary store")
    args = ap.parse_args()
    n_runs, n_points = (1_000, 100_000) if args.quick else (10_000, 1_000_000)

    from starlette.testclient import TestClient

    from expbook.store import SQLiteStore
    from expbook.web import create_app

    tmp = Path(tempfile.mkdtemp(prefix="expbook-bench-ui-"))
    ok = True
    try:
        t0 = time.perf_counter()
        big_id = build(tmp / "store", n_runs, n_points)
        print(
            f"store: {n_runs:,} runs + one {n_points:,}-point series, built in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        print()

        # -- runs page ---------------------------------------------------------------------
        cold: list[float] = []
        for _ in range(max(3, args.reps // 3)):
            with TestClient(create_app(tmp / "store")) as c:
                t = time.perf_counter()
                r = c.get("/api/runs")
                cold.append((time.perf_counter() - t) * 1000)
                ok &= r.status_code == 200 and r.json()["total"] == n_runs + 1
        app = create_app(tmp / "store")
        t = time.perf_counter()
        app.state.ui.snapshots.get()  # the background snapshot of every run, for what follows
        snap_ms = [(time.perf_counter() - t) * 1000]
        with TestClient(app) as c:
            c.get("/api/runs")
            warm, r = timed(lambda: c.get("/api/runs"), args.reps)
            ok &= len(r.json()["runs"]) == 50
            srt, r = timed(lambda: c.get("/api/runs?sort=summary.loss&order=asc"), args.reps)
            ok &= r.status_code == 200
            flt, r = timed(
                lambda: c.get(
                    "/api/runs", params={"filter": 'config.optim == "adam" and loss < 0.3'}
                ),
                args.reps,
            )
            ok &= r.status_code == 200 and 0 < r.json()["total"] < n_runs
            page_html, r = timed(lambda: c.get("/"), args.reps)
            ok &= r.status_code == 200

        db = sqlite3.connect(f"file:{tmp / 'store' / 'expbook.db'}?mode=ro", uri=True)

        def floor_runs() -> str:
            rows = db.execute(
                "SELECT id, name, project, status, created_at, tags, config, summary FROM runs "
                "ORDER BY created_at DESC LIMIT 50"
            ).fetchall()
            return json.dumps(rows)

        floor, _ = timed(floor_runs, args.reps)
        print(f"/api/runs first page ({n_runs:,} runs), target < 200 ms")
        print(f"  first request (new app)  {fmt(cold)}")
        print(f"  again                    {fmt(warm)}")
        print(f"  (all-runs snapshot, built in the background at start: {snap_ms[0]:.0f} ms)")
        print(f"  sorted by a metric       {fmt(srt)}")
        print(f"  filtered                 {fmt(flt)}")
        print(f"  runs page HTML (warm)    {fmt(page_html)}")
        print(f"  floor: SELECT LIMIT 50   {fmt(floor)}")
        print(f"  first request / floor: {statistics.median(cold) / statistics.median(floor):.2f}x")
        print()

        # -- series ------------------------------------------------------------------------
        url = f"/api/runs/{big_id}/series/loss"
        first: list[float] = []
        for _ in range(max(3, args.reps // 3)):
            app = create_app(tmp / "store")
            app.state.ui.snapshots.get()  # not competing with the start-up snapshot build
            with TestClient(app) as c:
                t = time.perf_counter()
                r = c.get(url)
                first.append((time.perf_counter() - t) * 1000)
                ok &= r.json()["returned"] <= 2000
        with TestClient(create_app(tmp / "store")) as c:
            c.get(url)
            ser, r = timed(lambda: c.get(url), args.reps)
            d = r.json()
            vals = [v for v in d["values"] if v is not None]
            has_max, has_min = max(vals) == 50.0, min(vals) == -50.0
            ok &= d["returned"] <= 2000 and has_max and has_min and d["total"] == n_points
            lo, hi = n_points // 2, n_points // 2 + n_points // 100
            zoom, rz = timed(lambda: c.get(url, params={"step_min": lo, "step_max": hi}), args.reps)
            ok &= rz.json()["steps"][0] == lo and rz.json()["steps"][-1] == hi
            tail, rt = timed(lambda: c.get(url, params={"after_step": n_points - 11}), args.reps)
            ok &= len(rt.json()["steps"]) == 10
        with SQLiteStore(tmp / "store", readonly=True) as st:
            fl, _ = timed(lambda: st.read_series(big_id, ["loss"]), args.reps)
        print(f"series endpoint ({n_points:,} points), target < 100 ms and <= ~2,000 points")
        print(
            f"  first view (new app)     {fmt(first)}  (from the chunk sketches)\n"
            f"  whole series again       {fmt(ser)}  -> {d['returned']} points, "
            f"max kept: {has_max}, min kept: {has_min}"
        )
        print(f"  zoom (1% of the steps)   {fmt(zoom)}  -> {rz.json()['returned']} points")
        print(f"  live tail (after_step)   {fmt(tail)}  -> {len(rt.json()['steps'])} points")
        print(f"  floor: read_series (every point) {fmt(fl)}")
        print(f"  first view / floor: {statistics.median(first) / statistics.median(fl):.2f}x")
        print()
        print("checks:", "ok" if ok else "FAILED")
    finally:
        if args.keep:
            print("store kept at", tmp / "store")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
