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

* workspace (issue 13): the panels above the runs table. A store of 200 runs x 4 metrics x
  10,000 points (``ws``) and a sweep of 1,000 runs x 4 metrics x 2,000 points whose
  ``config.width`` takes 10 values (``sweep``, 100 seeds each). *series*: the one request the
  page makes for all its panels (``/api/workspace/series``, 200 runs x 4 keys, 150 points a
  curve), on a new app and again; target < 300 ms. *groups*: ``/api/workspace/groups`` of the
  1,000 runs grouped by width into 10 groups, 4 keys; target < 500 ms. Floor: one SQL read of
  the same curves' stored sketches (or points, for chunks without one) and their zlib
  decompression, the least a reader of those curves does. *sweep*: ``/api/sweep`` of the
  1,000-run sweep (params that vary, each run's best ``eval/acc``), on a new app and again
  (no target in the issue). *first full paint*: Debian's Chromium (Playwright, when
  installed) opening ``/?project=ws&limit=200``: from navigation start to the workspace's
  canvas charts drawn and a frame painted (``performance.now()``, which workspace.js writes
  to ``data-painted-ms``), in a browser profile that showed the page before, in a fresh one,
  and in a fresh one on a newly started app (nothing kept by the server); target < 1 s.
  ``--only workspace`` runs this part alone.

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


WS_KEYS = ["train/loss", "train/acc", "eval/loss", "eval/acc"]


def build_workspace(path: Path, n_page: int, page_points: int, n_sweep: int, sweep_points: int):
    """``ws``: ``n_page`` runs x 4 keys x ``page_points``; ``sweep``: ``n_sweep`` runs x 4 keys x
    ``sweep_points``, ``config.width`` in 10 values, a seed each."""
    from expbook.store import PointBatch, SQLiteStore

    gen = np.random.default_rng(13)
    with SQLiteStore(path) as st:
        for project, n_runs, n_points in (
            ("ws", n_page, page_points),
            ("sweep", n_sweep, sweep_points),
        ):
            steps = np.arange(n_points, dtype=np.int64)
            walls = 1_700_000_000.0 + steps * 0.5
            decay = np.exp(-steps / (n_points / 4))
            for i in range(n_runs):
                with st.atomic():
                    rec = st.create_run(
                        name=f"{project}-{i:04d}",
                        project=project,
                        status="finished",
                        config={"width": 64 * (1 + i % 10), "lr": 1e-3, "seed": i},
                        created_at=1_700_000_000.0 + i,
                    )
                    scale = 1 + (i % 10) / 10
                    batches = {}
                    for j, key in enumerate(WS_KEYS):
                        noise = gen.normal(0, 0.01, n_points)
                        v = (
                            (decay * scale + 0.1 * j + noise)
                            if "loss" in key
                            else (1 - decay / scale + noise)
                        )
                        batches[key] = PointBatch(steps, walls, v)
                    st.append_points(rec.id, batches)


def workspace_floor(db_path: Path, run_ids: list[str], keys: list[str]) -> int:
    """The least a reader of these curves does: one read of their sketches (the points of a
    chunk without one) and their decompression. Returns the bytes inflated."""
    import zlib

    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rids = [
            r
            for (r,) in db.execute(
                f"SELECT rid FROM runs WHERE id IN ({','.join('?' * len(run_ids))})", run_ids
            )
        ]
        kids = [
            k
            for (k,) in db.execute(
                f"SELECT kid FROM keys WHERE name IN ({','.join('?' * len(keys))})", keys
            )
        ]
        rows = db.execute(
            "SELECT COALESCE(s.data, c.data) FROM chunks c LEFT JOIN chunk_sketches s "
            "ON s.rid=c.rid AND s.kid=c.kid AND s.seq=c.seq "
            f"WHERE c.rid IN ({','.join('?' * len(rids))}) "
            f"AND c.kid IN ({','.join('?' * len(kids))})",
            [*rids, *kids],
        ).fetchall()
        head = 13  # a chunk's header (version, count, first wall: "<BId"), then zlib
        return sum(len(zlib.decompress(b[head:])) for (b,) in rows)
    finally:
        db.close()


def first_paint(store: Path, path: str, reps: int) -> list[tuple[str, float]] | None:
    """ms from navigation start to the workspace painted, in Chromium, as (mode, ms): *warm*
    in a browser profile that has shown the page before, *cold* in a fresh profile (both on
    one app, which has answered the page before), *new* in a fresh profile on a newly
    started app (no views or answers kept yet); None without Chromium."""
    try:
        import uvicorn  # noqa: F401  (the server's)
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    import contextlib
    import socket

    chromium = shutil.which("chromium")
    if not chromium:
        return None

    # the dashboard in a process of its own, as ``expbook ui`` runs it (a server thread in
    # this process would share its interpreter lock with Playwright's event loop)
    serve = (
        "import sys, time, uvicorn; from expbook.web import create_app; "
        "app = create_app(sys.argv[1]); app.state.ui.snapshots.get(); "
        "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')"
    )

    @contextlib.contextmanager
    def serving():
        import os
        import subprocess

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        proc = subprocess.Popen([sys.executable, "-c", serve, str(store), str(port)], env=env)
        try:
            deadline = time.monotonic() + 60
            while True:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the dashboard did not start")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}{path}"
        finally:
            proc.terminate()
            proc.wait(10)

    def painted(context, url: str) -> float:
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("#workspace[data-drawn]", timeout=60_000)
        if page.get_attribute("#workspace", "data-drawn") == "error":
            raise RuntimeError(page.inner_text("#ws-status"))
        ms = float(page.get_attribute("#workspace", "data-painted-ms") or "nan")
        page.close()
        return ms

    out: list[tuple[str, float]] = []
    size = {"viewport": {"width": 1440, "height": 900}}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        with serving() as url:
            user = browser.new_context(**size)
            painted(user, url)  # a warm-up, which fills the user's cache
            for _ in range(reps):
                # a fresh browser profile (a first visit: nothing cached), then the same
                # profile again and again (a user's browser: its scripts compiled and cached)
                fresh = browser.new_context(**size)
                out.append(("cold", painted(fresh, url)))
                fresh.close()
                out.append(("warm", painted(user, url)))
            user.close()
        for _ in range(reps):
            with serving() as url:
                fresh = browser.new_context(**size)
                out.append(("new", painted(fresh, url)))
                fresh.close()
        browser.close()
    return out


def bench_workspace(tmp: Path, quick: bool, reps: int) -> bool:
    from starlette.testclient import TestClient

    from _common import print_results
    from expbook.store import SQLiteStore
    from expbook.web import create_app

    n_page, page_points, n_sweep, sweep_points = (
        (50, 2_000, 100, 500) if quick else (200, 10_000, 1_000, 2_000)
    )
    store = tmp / "ws-store"
    t0 = time.perf_counter()
    build_workspace(store, n_page, page_points, n_sweep, sweep_points)
    print(
        f"workspace store: {n_page} runs x 4 metrics x {page_points:,} points, and a sweep of "
        f"{n_sweep:,} runs x 4 metrics x {sweep_points:,} points, built in "
        f"{time.perf_counter() - t0:.1f} s"
    )
    with SQLiteStore(store, readonly=True) as st:
        page_ids = [r.id for r in st.list_runs(project="ws")]
        sweep_ids = [r.id for r in st.list_runs(project="sweep")]
    ok = True
    series_params = {"ids": ",".join(page_ids), "keys": ",".join(WS_KEYS), "max_points": 150}
    group_params = {"project": "sweep", "group": "config.width", "keys": ",".join(WS_KEYS)}

    sweep_params = {"project": "sweep", "metric": "eval/acc"}
    first: list[float] = []
    gfirst: list[float] = []
    sfirst: list[float] = []
    for _ in range(max(3, reps // 3)):
        app = create_app(store)
        app.state.ui.snapshots.get()
        with TestClient(app) as c:
            # a new app keeps no views yet: these read the store
            t = time.perf_counter()
            rg = c.get("/api/workspace/groups", params=group_params)
            gfirst.append((time.perf_counter() - t) * 1000)
            ok &= rg.status_code == 200 and len(rg.json()["groups"]) == 10
            t = time.perf_counter()
            r = c.get("/api/workspace/series", params=series_params)
            first.append((time.perf_counter() - t) * 1000)
            d = r.json()
            ok &= r.status_code == 200 and len(d["curves"]) == 4 * n_page
            ok &= all(len(cv["y"]) <= 150 for cv in d["curves"])
            t = time.perf_counter()
            rs = c.get("/api/sweep", params=sweep_params)
            sfirst.append((time.perf_counter() - t) * 1000)
            ok &= rs.status_code == 200 and len(rs.json()["runs"]) == n_sweep
    app = create_app(store)
    app.state.ui.snapshots.get()
    with TestClient(app) as c:
        again, r = timed(lambda: c.get("/api/workspace/series", params=series_params), reps)
        size = len(r.content)
        grp, rg = timed(lambda: c.get("/api/workspace/groups", params=group_params), reps)
        dg = rg.json()
        ok &= rg.status_code == 200 and len(dg["groups"]) == 10 and dg["runs"] == n_sweep
        ok &= sorted(g["n"] for g in dg["groups"]) == [n_sweep // 10] * 10
        swp, rs = timed(lambda: c.get("/api/sweep", params=sweep_params), reps)
        ok &= rs.status_code == 200 and rs.json()["metric"] == "eval/acc"
        html, rh = timed(lambda: c.get("/", params={"project": "ws", "limit": n_page}), reps)
        ok &= rh.status_code == 200 and rh.text.count('class="panel"') == 4
    db = store / "expbook.db"
    floor_s, _ = timed(lambda: workspace_floor(db, page_ids, WS_KEYS), reps)
    floor_g, _ = timed(lambda: workspace_floor(db, sweep_ids, WS_KEYS), reps)
    paint = first_paint(store, f"/?project=ws&limit={n_page}", max(3, reps // 3))

    med = statistics.median
    rows = [
        {
            "name": f"series: {n_page} runs x 4 keys, first request (new app)",
            "ours": f"{med(first):.0f} ms [{min(first):.0f}-{max(first):.0f}]",
            "floor": f"{med(floor_s):.0f} ms",
            "ratio": med(first) / med(floor_s),
            "target": "< 300 ms",
            "met": med(first) < 300,
            "ok": ok,
        },
        {
            "name": f"series: again ({size / 1e6:.1f} MB of JSON; the answer kept by the app)",
            "ours": f"{med(again):.0f} ms [{min(again):.0f}-{max(again):.0f}]",
            "floor": f"{med(floor_s):.0f} ms",
            "ratio": med(again) / med(floor_s),
            "target": "< 300 ms",
            "met": med(again) < 300,
        },
        {
            "name": f"groups: {n_sweep:,} runs into 10 groups x 4 keys, first request (new app)",
            "ours": f"{med(gfirst):.0f} ms [{min(gfirst):.0f}-{max(gfirst):.0f}]",
            "floor": f"{med(floor_g):.0f} ms",
            "ratio": med(gfirst) / med(floor_g),
            "target": "< 500 ms",
            "met": med(gfirst) < 500,
        },
        {
            "name": "groups: again (the answer kept by the app)",
            "ours": f"{med(grp):.0f} ms [{min(grp):.0f}-{max(grp):.0f}]",
            "floor": f"{med(floor_g):.0f} ms",
            "ratio": med(grp) / med(floor_g),
            "target": "< 500 ms",
            "met": med(grp) < 500,
        },
        {
            "name": f"sweep: /api/sweep of {n_sweep:,} runs, first request (new app)",
            "ours": f"{med(sfirst):.0f} ms [{min(sfirst):.0f}-{max(sfirst):.0f}]",
            "floor": "",
            "target": "",
        },
        {
            "name": "sweep: again (the answer kept while the store is unchanged)",
            "ours": f"{med(swp):.0f} ms [{min(swp):.0f}-{max(swp):.0f}]",
            "floor": "",
            "target": "",
        },
        {
            "name": f"runs page HTML with the workspace ({n_page} rows)",
            "ours": f"{med(html):.0f} ms",
            "floor": "",
            "target": "",
        },
    ]
    if paint:
        for mode, what in (
            ("warm", "a browser that showed the page before"),
            ("cold", "a fresh browser profile (first visit: nothing cached)"),
            ("new", "a fresh browser profile on a newly started app (no answer kept)"),
        ):
            ms = [x for m, x in paint if m == mode]
            rows.append(
                {
                    "name": f"Chromium: navigation to the workspace painted, {what}",
                    "ours": f"{med(ms):.0f} ms [{min(ms):.0f}-{max(ms):.0f}]",
                    "floor": "",
                    "target": "< 1,000 ms",
                    "met": med(ms) < 1000,
                }
            )
    else:
        print("(no Chromium/Playwright here: first paint not measured)")
    print()
    print_results(rows)
    print()
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--keep", action="store_true", help="keep the temporary store")
    ap.add_argument(
        "--only", choices=["runs", "workspace"], help="one part: runs page and series, or workspace"
    )
    args = ap.parse_args()
    if args.only == "workspace":
        tmp = Path(tempfile.mkdtemp(prefix="expbook-bench-ui-"))
        try:
            ok = bench_workspace(tmp, args.quick, args.reps)
            print("checks:", "ok" if ok else "FAILED")
            return 0 if ok else 1
        finally:
            if args.keep:
                print("store kept at", tmp)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
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
        if args.only is None:
            ok &= bench_workspace(tmp, args.quick, args.reps)
        print("checks:", "ok" if ok else "FAILED")
    finally:
        if args.keep:
            print("store kept at", tmp / "store")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
