#!/usr/bin/env python3
"""expbook analysis benchmarks (issue 4 targets), each next to floors measured in the same run.

    python bench/bench_analysis.py                 # full size: 10,000 runs x 4 x 1,000 steps
    python bench/bench_analysis.py --quick         # 1,000 runs x 4 x 200 steps (< 60 s)
    python bench/bench_analysis.py --json out.json # also write every raw measurement
    python bench/bench_analysis.py --profile       # also cProfile each command once
    python bench/bench_analysis.py --breakdown     # also CPU seconds of each step of a command

The store: 10,000 runs x 4 metrics (``loss``, ``val_loss``, ``acc``, ``grad_norm``) x 1,000
steps (40 million points), written through the backend (``expbook.store.connect`` +
``create_run`` + ``append_points`` with ``PointBatch``es, as the importers do), with configs
``framework`` (2) x ``pool`` (3) x ``feature`` (3) x ``lr`` (one random value per config) and
``seed`` (5 seeds per config: 2,000 config groups). The same data also goes into a plain
SQLite database for the floors. Both are built once and cached in the temp folder, keyed by
size (``--rebuild`` to redo).

Every measurement is the wall time of a whole new process: ``expbook CMD --store S --format
json`` (interpreter start, imports, open, query, JSON on stdout), next to ``python -c`` floors
using only ``sqlite3`` (each prints its result to stdout too):

* ``raw``: the equivalent GROUP BY over a plain ``points(rid, key, step, value)`` table (no
  index: the peer harness's sqlite-raw layout) joined to ``runs(rid, name, framework, pool,
  feature, seed, lr)``;
* ``summary``: the same query over a per-(run, key) table ``summary(rid, key, count, min_value,
  min_step, last_step, last_value)``, i.e. the least a store that keeps summaries can do;
* ``python -c pass``: the interpreter alone.

Commands: ``leaderboard --metric loss`` (target < 0.5 s), ``leaderboard --metric loss
--at-step 500`` (reads a point of every run), ``pivot --rows framework,pool --cols feature
--value loss`` (< 0.5 s), ``winners --metric loss --by framework`` (< 0.5 s), ``compare A B``
(< 0.2 s), ``runs --format json``. Every JSON output is checked against the floors' results.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from itertools import repeat
from pathlib import Path
from typing import Any

from _common import (
    child_env,
    expbook_cmd,
    log_progress,
    markdown_table,
    med,
    profile_cli,
    python_c,
    run_header,
    spread,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SEED = 20261123
KEYS = ("loss", "val_loss", "acc", "grad_norm")
PROJECT = "bench"
DATA_VERSION = 1  # bump when the generated data changes (invalidates the cache)

SIZES: dict[str, dict[str, int]] = {
    "full": {"runs": 10_000, "steps": 1_000, "reps": 5, "reps_raw": 2},
    "quick": {"runs": 1_000, "steps": 200, "reps": 3, "reps_raw": 1},
}

TARGETS = {  # seconds, whole CLI process
    "leaderboard": 0.5,
    "pivot": 0.5,
    "winners": 0.5,
    "compare": 0.2,
}

FRAMEWORKS = ("jax", "torch")
POOLS = ("mean", "sum", "max")
FEATURES = ("onehot", "deg_lap_pe", "const")
SEEDS = 5


# ---------------------------------------------------------------------------- data
def run_config(i: int) -> tuple[str, dict[str, Any]]:
    """Name and config of run ``i``: 5 consecutive runs are the seeds of one config."""
    import random

    c, seed = divmod(i, SEEDS)
    fw = FRAMEWORKS[c % 2]
    pool = POOLS[(c // 2) % 3]
    feat = FEATURES[(c // 6) % 3]
    lr = round(10 ** random.Random(SEED * 7 + c).uniform(-4.5, -2.0), 7)
    cfg = {"framework": fw, "pool": pool, "feature": feat, "seed": seed, "lr": lr, "layers": 2}
    return f"r{i:05d}-{fw}-{pool}-{feat}-s{seed}", cfg


def run_series(i: int, cfg: dict[str, Any], steps: int) -> dict[str, Any]:
    """The 4 series of run ``i`` (numpy float64 arrays); loss depends on the config."""
    import numpy as np

    rng = np.random.default_rng([SEED, i])
    eff = (
        {"jax": 0.0, "torch": 0.05}[cfg["framework"]]
        + {"mean": 0.0, "sum": 0.1, "max": 0.2}[cfg["pool"]]
        + {"onehot": 0.3, "deg_lap_pe": 0.0, "const": 0.6}[cfg["feature"]]
        + 0.2 * abs(math.log10(cfg["lr"]) + 3.0)
    )
    t = np.arange(steps) / max(1, steps - 1)
    rate = 3.0 + 3.0 * rng.random()
    decay = np.exp(-rate * t)
    loss = 0.2 + eff + 2.0 * decay + 0.03 * rng.standard_normal(steps)
    val = loss + 0.05 + 0.02 * rng.standard_normal(steps)
    acc = np.clip(1.0 - loss / 3.0, 0.0, 1.0)
    grad = 0.5 + 2.0 * decay + 0.3 * rng.random(steps)
    return {"loss": loss, "val_loss": val, "acc": acc, "grad_norm": grad}


def cache_dir(size: dict[str, int]) -> Path:
    return Path(tempfile.gettempdir()) / (
        f"expbook-bench-analysis-{size['runs']}x{size['steps']}-v{DATA_VERSION}"
    )


def build(size: dict[str, int], rebuild: bool) -> dict[str, Any]:
    """The expbook store and the floor database (cached; ``done.json`` is written last)."""
    import numpy as np

    from expbook.store import PointBatch, connect

    d = cache_dir(size)
    done = d / "done.json"
    if done.exists() and not rebuild:
        meta = json.loads(done.read_text())
        try:  # the store must still open with today's code (migrations may have been added)
            connect(d / "store", create=False).close()
            log_progress(f"using the cached stores in {d}")
            return meta
        except Exception as e:
            log_progress(f"cached store unusable ({e}): rebuilding")
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    runs, steps = size["runs"], size["steps"]
    log_progress(f"building {runs:,} runs x {len(KEYS)} x {steps:,} steps in {d} (once)")
    t0 = time.perf_counter()
    be = connect(d / "store")
    fl = sqlite3.connect(d / "floor.db")
    fl.execute("PRAGMA journal_mode=WAL")
    fl.execute(
        "CREATE TABLE runs (rid INTEGER PRIMARY KEY, name TEXT, framework TEXT, pool TEXT, "
        "feature TEXT, seed INTEGER, lr REAL, created_at REAL, finished_at REAL)"
    )
    fl.execute("CREATE TABLE points (rid INTEGER, key TEXT, step INTEGER, value REAL)")
    fl.execute(
        "CREATE TABLE summary (rid INTEGER, key TEXT, count INTEGER, min_value REAL, "
        "min_step INTEGER, last_step INTEGER, last_value REAL)"
    )
    step_arr = np.arange(steps, dtype=np.int64)
    step_list = step_arr.tolist()
    t_store = t_floor = 0.0
    base_time = 1.7e9
    ids: list[str] = []
    batch = 500
    for lo in range(0, runs, batch):
        ta = time.perf_counter()
        floor_rows: list[tuple[Any, ...]] = []
        sum_rows: list[tuple[Any, ...]] = []
        run_rows: list[tuple[Any, ...]] = []
        with be.atomic():
            for i in range(lo, min(runs, lo + batch)):
                name, cfg = run_config(i)
                ser = run_series(i, cfg, steps)
                created = base_time + 3600.0 * i
                walls = created + 0.5 * step_arr
                finished = float(walls[-1])
                rec = be.create_run(
                    name=name, project=PROJECT, status="finished", config=cfg, created_at=created
                )
                be.update_run(rec.id, finished_at=finished)
                be.append_points(
                    rec.id,
                    {k: PointBatch(step_arr, walls, v) for k, v in ser.items()},
                )
                ids.append(rec.id)
                rid = i + 1
                run_rows.append(
                    (
                        rid,
                        name,
                        cfg["framework"],
                        cfg["pool"],
                        cfg["feature"],
                        cfg["seed"],
                        cfg["lr"],
                        created,
                        finished,
                    )
                )
                for k, v in ser.items():
                    vals = v.tolist()
                    floor_rows.append((rid, k, vals))
                    j = int(np.argmin(v))
                    sum_rows.append((rid, k, steps, vals[j], j, steps - 1, vals[-1]))
        tb = time.perf_counter()
        fl.executemany("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?)", run_rows)
        fl.executemany("INSERT INTO summary VALUES (?,?,?,?,?,?,?)", sum_rows)
        for rid, k, vals in floor_rows:
            fl.executemany(
                "INSERT INTO points VALUES (?,?,?,?)", zip(repeat(rid), repeat(k), step_list, vals)
            )
        fl.commit()
        tc = time.perf_counter()
        t_store += tb - ta
        t_floor += tc - tb
        done_n = min(runs, lo + batch)
        if done_n % (10 * batch) == 0 or done_n == runs:
            log_progress(
                f"  {done_n:,}/{runs:,} runs (store {t_store:.0f} s, floor {t_floor:.0f} s)"
            )
    be.close()
    for db in (d / "floor.db", d / "store" / "expbook.db"):
        c = sqlite3.connect(db)
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        c.close()
    fl.close()
    meta = {
        "runs": runs,
        "steps": steps,
        "points": runs * steps * len(KEYS),
        "store_s": t_store,
        "floor_s": t_floor,
        "build_s": time.perf_counter() - t0,
        "store_bytes": os.path.getsize(d / "store" / "expbook.db"),
        "floor_bytes": os.path.getsize(d / "floor.db"),
        "compare": [run_config(0)[0], run_config(1)[0]],
        "at_step": steps // 2,
    }
    done.write_text(json.dumps(meta))
    log_progress(
        f"built in {meta['build_s']:.0f} s: store {meta['store_bytes'] / 1e6:.0f} MB, "
        f"floor {meta['floor_bytes'] / 1e6:.0f} MB"
    )
    return meta


# ---------------------------------------------------------------------------- floors
# ``python -c CODE DB TABLE [ARGS]``: TABLE is ``points`` (raw) or ``summary``; each query
# returns what the matching expbook command shows, printed as JSON (so output costs count).
_FLOOR_HEAD = """\
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
raw = sys.argv[2] == "points"
# per run: best (min) loss and its step, last loss and its step
BEST_LAST_RAW = (
    "WITH b AS (SELECT rid, MIN(value) AS best, step AS best_step, COUNT(*) AS n FROM points "
    "WHERE key=? GROUP BY rid), l AS (SELECT rid, MAX(step) AS last_step, value AS last FROM "
    "points WHERE key=? GROUP BY rid) SELECT rid, best, best_step, last, last_step, n FROM b "
    "JOIN l USING (rid)")
BEST_LAST_SUM = (
    "SELECT rid, min_value AS best, min_step AS best_step, last_value AS last, last_step, "
    "count AS n FROM summary WHERE key=?")
def best_last(key):
    return (BEST_LAST_RAW, (key, key)) if raw else (BEST_LAST_SUM, (key,))
# per run: the last loss only (what pivot and winners aggregate)
LAST_RAW = "SELECT rid, MAX(step) AS last_step, value AS last FROM points WHERE key=? GROUP BY rid"
LAST_SUM = "SELECT rid, last_step, last_value AS last FROM summary WHERE key=?"
def last_only(key):
    return (LAST_RAW if raw else LAST_SUM), (key,)
"""

FLOOR_LEADERBOARD = (
    _FLOOR_HEAD
    + """\
sql, args = best_last("loss")
rows = conn.execute(
    f"SELECT r.name, s.best, s.best_step, s.last, s.last_step, s.n FROM ({sql}) s "
    "JOIN runs r USING (rid) ORDER BY s.best", args).fetchall()
print(json.dumps([list(r) for r in rows]))
"""
)

FLOOR_AT_STEP = """\
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
rows = conn.execute(
    "SELECT r.name, p.value FROM points p JOIN runs r USING (rid) WHERE p.key='loss' AND "
    "p.step=?", (int(sys.argv[3]),)).fetchall()
print(json.dumps(rows))
"""

FLOOR_PIVOT = (
    _FLOOR_HEAD
    + """\
sql, args = last_only("loss")
rows = conn.execute(
    f"SELECT r.framework, r.pool, r.feature, MIN(s.last) FROM ({sql}) s JOIN runs r "
    "USING (rid) GROUP BY r.framework, r.pool, r.feature ORDER BY 1, 2, 3", args).fetchall()
print(json.dumps(rows))
"""
)

FLOOR_WINNERS = (
    _FLOOR_HEAD
    + """\
sql, args = last_only("loss")
groups = conn.execute(
    f"SELECT r.framework, r.pool, r.feature, r.lr, AVG(s.last) AS mean, COUNT(*) FROM ({sql}) s "
    "JOIN runs r USING (rid) GROUP BY r.framework, r.pool, r.feature, r.lr", args).fetchall()
best = min(groups, key=lambda g: g[4])
per = {}
for g in groups:
    if g[0] not in per or g[4] < per[g[0]][4]:
        per[g[0]] = g
print(json.dumps({"overall": best, "by": per}))
"""
)

FLOOR_COMPARE = """\
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
raw = sys.argv[2] == "points"
names = sys.argv[3:5]
runs = conn.execute(
    "SELECT rid, name, framework, pool, feature, seed, lr, created_at, finished_at FROM runs "
    "WHERE name IN (?, ?)", names).fetchall()
rids = [r[0] for r in runs]
if raw:
    rows = conn.execute(
        "WITH b AS (SELECT rid, key, MIN(value) AS best FROM points WHERE rid IN (?, ?) "
        "GROUP BY rid, key), l AS (SELECT rid, key, MAX(step), value AS last FROM points "
        "WHERE rid IN (?, ?) GROUP BY rid, key) SELECT rid, key, best, last FROM b "
        "JOIN l USING (rid, key)", rids + rids).fetchall()
else:
    rows = conn.execute(
        "SELECT rid, key, min_value, last_value FROM summary WHERE rid IN (?, ?)", rids
    ).fetchall()
print(json.dumps({"runs": runs, "metrics": rows}))
"""

FLOOR_RUNS = """\
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
last = {}
for rid, key, value in conn.execute("SELECT rid, key, last_value FROM summary"):
    last.setdefault(rid, {})[key] = value
out = []
for rid, name, fw, pool, feat, seed, lr, c, f in conn.execute("SELECT * FROM runs ORDER BY rid"):
    out.append({"id": rid, "name": name, "project": "bench", "status": "finished",
                "created_at": c, "finished_at": f,
                "config": {"framework": fw, "pool": pool, "feature": feat, "seed": seed,
                           "lr": lr, "layers": 2},
                "summary": dict(sorted(last.get(rid, {}).items()))})
print(json.dumps(out, indent=2))
"""


# Where the CPU time of a command goes (``--breakdown``): the CLI's steps called one by one in
# a fresh process (``python -c BREAKDOWN STORE CMD``), timed with time.process_time (CPU
# seconds: other processes on a busy machine do not inflate them). It uses expbook internals
# (cli.open_backend, backend.list_runs/metric_summaries, _views.StoredRun/_SummaryIndex, the
# analysis functions, _output.to_json); if those change, it says so and the benchmark is
# unaffected.
BREAKDOWN = """\
import json, sys, time
T = time.process_time
t0 = T()
import expbook.cli as cli
from expbook._output import to_json
from expbook._views import StoredRun, _Metrics, _SummaryIndex
from expbook.analysis import leaderboard, pivot, select_runs, winners
out = {"import expbook.cli + analysis": T() - t0}
store, cmd = sys.argv[1], sys.argv[2]
def stage(name, f):
    t = T(); r = f(); out[name] = T() - t; return r
be = stage("open the store", lambda: cli.open_backend(store))
recs = stage("backend.list_runs() (SQL + a RunRecord per run, JSON decoded on use)", be.list_runs)
stage("  (of which the SQL fetch alone)", lambda: be._q("SELECT * FROM runs"))
index = _SummaryIndex(be, None)
sums = stage(
    "metric_summaries(keys=['loss']) (the one key _views reads, on first use)",
    lambda: be.metric_summaries(keys=["loss"]),
)
index._by_key["loss"] = {rid: m["loss"] for rid, m in sums.items()}
stage("  (metric_summaries() of every key, for comparison)", be.metric_summaries)
runs = stage("StoredRun per run", lambda: [StoredRun(r, _Metrics(index, r.id), be) for r in recs])
runs = stage("select_runs", lambda: select_runs(runs, filter=None, names=None, strict=True))
what = "the analysis (pivot/winners: incl. decoding each config)"
if cmd == "leaderboard":
    table = stage(what, lambda: leaderboard(runs, "loss"))
elif cmd == "pivot":
    table = stage(what, lambda: pivot(runs, ["framework", "pool"], ["feature"], value="loss"))
else:
    table = stage(what, lambda: winners(runs, "loss", by=["framework"]))
obj = stage("table.to_jsonable()", table.to_jsonable)
text = stage("_output.to_json (stdout not a terminal: compact, C encoder)", lambda: to_json(obj))
stage("  (json.dumps(indent=2), what a terminal gets)", lambda: json.dumps(obj, indent=2))
out["total CPU, the '(...)' comparisons aside"] = sum(
    v for k, v in out.items() if not k.lstrip().startswith("(")
)
out["JSON bytes"] = len(text)
print(json.dumps(out))
"""


# ---------------------------------------------------------------------------- processes
# Bytecode for every child lives in one cache outside the tree: with PYTHONDONTWRITEBYTECODE
# set (as in this project's shells) an editable install would otherwise recompile expbook's
# sources in every new process, which no installed package does. warm_bytecode() fills it.


def warm_bytecode(store: str) -> None:
    code = "import expbook, expbook.cli, expbook.analysis, expbook._views, numpy, rich, json"
    subprocess.run([sys.executable, "-c", code], env=child_env(), check=True, timeout=600)
    for args in COMMANDS.values():  # every module each command imports
        subprocess.run(
            [*expbook_cmd(), *args, "--store", store, "--top", "1"]
            if args[0] == "leaderboard"
            else [*expbook_cmd(), *args, "--store", store],
            env=child_env(),
            capture_output=True,
            timeout=600,
        )


def run_cli(args: list[str]) -> tuple[float, Any]:
    """Wall time of a whole ``expbook ARGS`` process and its parsed JSON output."""
    t0 = time.perf_counter()
    p = subprocess.run(
        [*expbook_cmd(), *args], capture_output=True, text=True, timeout=1800, env=child_env()
    )
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"expbook {' '.join(args)} failed (rc={p.returncode}):\n{p.stderr}")
    out = p.stdout.strip()
    return wall, json.loads(out) if out.startswith(("{", "[")) else out


def run_py(code: str, *argv: str) -> tuple[float, Any]:
    """Wall time of ``python -c code argv...`` and its JSON output (if any)."""
    wall, out = python_c(code, *argv)
    return wall, json.loads(out) if out.startswith(("{", "[")) else None


# ---------------------------------------------------------------------------- checks
def close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)


def check_leaderboard(out: Any, ref: list[list[Any]]) -> str | None:
    rows = out["rows"]
    if len(rows) != len(ref):
        return f"{len(rows)} rows, want {len(ref)}"
    for i, (r, f) in enumerate(zip(rows, ref)):
        name, best, best_step, last, last_step, n = f
        if (
            r["run"] != name
            or r["rank"] != i + 1
            or not close(r["best"], best)
            or r["best_step"] != best_step
            or not close(r["last"], last)
            or r["last_step"] != last_step
            or r["points"] != n
        ):
            return f"row {i + 1}: {r} != {f}"
    return None


def check_at_step(out: Any, ref: list[list[Any]]) -> str | None:
    want = dict((n, v) for n, v in ref)
    got = {r["run"]: r.get("at_value") for r in out["rows"]}
    if set(got) != set(want):
        return f"{len(got)} runs, want {len(want)}"
    bad = [n for n in want if not close(got[n], want[n])]
    return f"{len(bad)} at_value differ (e.g. {bad[0]})" if bad else None


def check_pivot(out: Any, ref: list[list[Any]]) -> str | None:
    cells = {}
    for row in out["rows"]:
        for feat in FEATURES:
            cells[(row["framework"], row["pool"], feat)] = row.get(feat)
    want = {(a, b, c): v for a, b, c, v in ref}
    if set(cells) != set(want):
        return f"cells {sorted(cells)} != {sorted(want)}"
    bad = [k for k in want if not close(cells[k], want[k])]
    return f"{len(bad)} cells differ (e.g. {bad[0]})" if bad else None


def check_winners(out: Any, ref: dict[str, Any]) -> str | None:
    rows = {r["scope"]: r for r in out["rows"]}

    def same(r: dict[str, Any] | None, g: list[Any]) -> bool:
        return (
            r is not None
            and [r.get("framework"), r.get("pool"), r.get("feature")] == g[:3]
            and close(r.get("lr"), g[3])
            and close(r["value"], g[4])
            and r["n"] == g[5]
        )

    if not same(rows.get("overall"), ref["overall"]):
        return f"overall {rows.get('overall')} != {ref['overall']}"
    for fw, g in ref["by"].items():
        if not same(rows.get(f"framework={fw}"), g):
            return f"framework={fw}: {rows.get(f'framework={fw}')} != {g}"
    if len(rows) != 1 + len(ref["by"]):
        return f"{len(rows)} rows"
    return None


def check_compare(out: Any, ref: dict[str, Any]) -> str | None:
    names = [r[1] for r in sorted(ref["runs"], key=lambda r: r[0])]
    if [r["name"] for r in out["runs"]] != names:
        return f"runs {[r['name'] for r in out['runs']]} != {names}"
    rid_pos = {r[0]: i for i, r in enumerate(sorted(ref["runs"], key=lambda r: r[0]))}
    want: dict[str, list[Any]] = {}
    for rid, key, best, last in ref["metrics"]:
        want.setdefault(key, [None, None, None, None])
        want[key][rid_pos[rid]] = last
        want[key][2 + rid_pos[rid]] = best
    got = {m["key"]: m for m in out["metrics"]}
    if set(got) != set(want):
        return f"metrics {sorted(got)} != {sorted(want)}"
    for k, (l0, l1, b0, b1) in want.items():
        m = got[k]
        if not (close(m["final"][0], l0) and close(m["final"][1], l1)):
            return f"{k} final {m['final']} != {[l0, l1]}"
        if k != "acc" and not (close(m["best"][0], b0) and close(m["best"][1], b1)):
            return f"{k} best {m['best']} != {[b0, b1]}"  # acc is max-is-better in compare
    diff = {d["key"] for d in out["config_diff"]}
    if not {"seed"} <= diff:
        return f"config diff {sorted(diff)} lacks seed"
    return None


def check_top(out: Any, ref: list[list[Any]]) -> str | None:
    return check_leaderboard(out, ref[:10])


def check_text(out: Any, ref: list[list[Any]]) -> str | None:
    """The table output (not JSON): the best run's name comes first, every run is there."""
    text = out if isinstance(out, str) else ""
    first = text.find(ref[0][0])
    if first < 0 or any(text.find(r[0]) < first for r in ref[1:5]):
        return "the table does not start with the best run"
    missing = sum(r[0] not in text for r in ref)
    return f"{missing} runs missing from the table" if missing else None


def check_runs(out: Any, ref: list[dict[str, Any]]) -> str | None:
    if len(out) != len(ref):
        return f"{len(out)} runs, want {len(ref)}"
    got = {r["name"]: r for r in out}
    for f in ref[:: max(1, len(ref) // 200)]:
        r = got.get(f["name"])
        if r is None:
            return f"no run {f['name']}"
        if r["config"] != f["config"]:
            return f"{f['name']} config {r['config']} != {f['config']}"
        if set(r["summary"]) != set(f["summary"]) or not all(
            close(r["summary"][k], v) for k, v in f["summary"].items()
        ):
            return f"{f['name']} summary {r['summary']} != {f['summary']}"
    return None


# ---------------------------------------------------------------------------- helpers
def print_table(raw: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    b = raw["build"]
    print()
    print(
        f"expbook analysis benchmarks, {raw['date']}, code {raw['code']['git_head']} "
        f"(src sha {raw['code']['src_sha256']}), Python {raw['host']['python']}, "
        f"SQLite {raw['host']['sqlite']}, {raw['host']['cpus']} CPUs, "
        f"load {raw['host']['loadavg_start'][0]:.2f}->{raw['host']['loadavg_end'][0]:.2f}"
    )
    print(
        f"store: {b['runs']:,} runs x {len(KEYS)} metrics x {b['steps']:,} steps "
        f"({b['points']:,} points; store {b['store_bytes'] / 1e6:.0f} MB, floor database "
        f"{b['floor_bytes'] / 1e6:.0f} MB); median [min-max] of {raw['sizes']['reps']} new "
        f"processes ({raw['sizes']['reps_raw']} for raw-table floors); warm page cache; "
        f"{raw['elapsed_s']:.0f} s in all"
    )
    print()
    head = (
        "command (whole process, s)",
        "expbook",
        "floor: summary table",
        "ratio",
        "floor: raw points GROUP BY",
        "ratio",
        "target",
        "met",
    )
    body = []
    for r in rows:
        met = r.get("met")
        body.append(
            (
                r["name"],
                spread(r["ours"]),
                spread(r["floor_sum"]) if r["floor_sum"] else "-",
                f"{med(r['ours']) / med(r['floor_sum']):.2f}x" if r["floor_sum"] else "",
                spread(r["floor_raw"]) if r["floor_raw"] else "-",
                f"{med(r['ours']) / med(r['floor_raw']):.3f}x" if r["floor_raw"] else "",
                r["target"],
                ("yes" if met else "NO") if met is not None else "",
            )
        )
        if r.get("problem"):
            body[-1] = (*body[-1][:7], body[-1][7] + " (DATA CHECK FAILED)")
    markdown_table(head, body)
    print()
    print(
        "ratio = expbook / floor. Floors are python -c processes using sqlite3 only, printing "
        "their result as JSON; 'python -c pass' is the interpreter alone."
    )
    bad = [f"{r['name']}: {r['problem']}" for r in rows if r.get("problem")]
    print("checks: " + ("; ".join(bad) if bad else "every expbook output matched the floors"))


def breakdown(store: str, reps: int) -> dict[str, Any]:
    """CPU seconds of each step of leaderboard, pivot and winners (median of ``reps`` fresh
    processes), printed as a table."""
    cmds = ("leaderboard", "pivot", "winners")
    got: dict[str, list[dict[str, float]]] = {c: [] for c in cmds}
    try:
        for c in cmds:
            for rep in range(reps):
                log_progress(f"CPU breakdown of {c}: {rep + 1}/{reps}")
                got[c].append(run_py(BREAKDOWN, store, c)[1])
    except Exception as e:
        print(f"breakdown unavailable (expbook internals changed?): {e}", file=sys.stderr)
        return {}
    print("\nCPU seconds of each step, median of new processes (process_time):")
    stages: dict[str, None] = {}
    for c in cmds:
        stages.update(dict.fromkeys(got[c][0]))
    print(f"  {'step':<72} " + " ".join(f"{c:>12}" for c in cmds))
    for st in stages:
        cells = []
        for c in cmds:
            vals = [g[st] for g in got[c] if st in g]
            if not vals:
                cells.append(f"{'':>12}")
            elif st == "JSON bytes":
                cells.append(f"{int(vals[0]):>12,d}")
            else:
                cells.append(f"{med(vals):>12.3f}")
        print(f"  {st:<72} " + " ".join(cells))
    return got


# ---------------------------------------------------------------------------- main
def measure(
    title: str,
    cli_args: list[str],
    code: str,
    db: str,
    sum_argv: list[str] | None,
    raw_argv: list[str] | None,
    check: Any,
    size: dict[str, int],
) -> dict[str, Any]:
    """``reps`` new processes of the command and of its summary-table floor (alternating which
    goes first), ``reps_raw`` of its raw-table floor; the first output of each is kept and
    expbook's is checked against the floors' result."""
    ours: list[float] = []
    f_sum: list[float] = []
    f_raw: list[float] = []
    got: dict[str, Any] = {}

    def do_ours() -> None:
        w, out = run_cli(cli_args)
        ours.append(w)
        got.setdefault("ours", out)

    def do_sum() -> None:
        w, out = run_py(code, db, *(sum_argv or []))
        f_sum.append(w)
        got.setdefault("sum", out)

    for rep in range(size["reps"]):
        log_progress(f"{title}: rep {rep + 1}/{size['reps']}")
        pair = [do_ours] + ([do_sum] if sum_argv is not None else [])
        for f in pair if rep % 2 == 0 else pair[::-1]:
            f()
        if rep < size["reps_raw"] and raw_argv is not None:
            log_progress(f"  raw-table floor {rep + 1}/{size['reps_raw']}")
            w, out = run_py(code, db, *raw_argv)
            f_raw.append(w)
            got.setdefault("raw", out)
    ref = got.get("sum", got.get("raw"))
    if ref is None and raw_argv is not None:  # no raw floor measured: the reference, untimed
        ref = run_py(code, db, *raw_argv)[1]
    problem = check(got["ours"], ref)
    if (
        problem is None
        and "raw" in got
        and "sum" in got
        and check is check_leaderboard
        and [r[0] for r in got["raw"]] != [r[0] for r in got["sum"]]
    ):
        problem = "the raw-table floor ranks the runs differently"
    return {"name": title, "ours": ours, "floor_sum": f_sum, "floor_raw": f_raw, "problem": problem}


COMMANDS: dict[str, list[str]] = {}  # filled in main (the compare runs and step depend on size)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small store (smoke test, < 60 s)")
    ap.add_argument("--json", metavar="OUT", help="write every raw measurement to OUT")
    ap.add_argument("--reps", type=int, help="new processes per command (expbook, floors)")
    ap.add_argument("--reps-raw", type=int, help="new processes per raw-table floor")
    ap.add_argument("--runs", type=int, help="store size: runs (default 10,000; 1,000 quick)")
    ap.add_argument("--steps", type=int, help="store size: steps per metric (1,000; 200 quick)")
    ap.add_argument("--no-raw", action="store_true", help="skip the raw-table floors (slow)")
    ap.add_argument(
        "--only",
        metavar="NAMES",
        help="comma-separated subset of leaderboard,leaderboard_at,pivot,winners,compare,runs,"
        "leaderboard_top,leaderboard_table,base (python -c pass and expbook --version) and "
        "breakdown (implies --breakdown); default: all commands",
    )
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached stores")
    ap.add_argument(
        "--breakdown",
        action="store_true",
        help="also print the CPU seconds of each step of leaderboard, pivot and winners",
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also run each command once under cProfile (printed on stderr, kept in --json)",
    )
    args = ap.parse_args(argv)

    size = dict(SIZES["quick" if args.quick else "full"])
    for k in ("reps", "reps_raw", "runs", "steps"):
        if getattr(args, k) is not None:
            size[k] = getattr(args, k)
    if args.no_raw:
        size["reps_raw"] = 0
    started = time.perf_counter()
    raw: dict[str, Any] = run_header(size, cli=expbook_cmd())
    meta = build(size, args.rebuild)
    raw["build"] = meta
    d = cache_dir(size)
    store, db = str(d / "store"), str(d / "floor.db")
    a, b = meta["compare"]
    at = str(meta["at_step"])
    js = ["--format", "json"]
    COMMANDS.update(
        {
            "leaderboard": ["leaderboard", "--metric", "loss", *js],
            "leaderboard_at": ["leaderboard", "--metric", "loss", "--at-step", at, *js],
            "pivot": [
                *("pivot", "--rows", "framework,pool", "--cols", "feature", "--value", "loss"),
                *js,
            ],
            "winners": ["winners", "--metric", "loss", "--by", "framework", *js],
            "compare": ["compare", a, b, *js],
            "runs": ["runs", *js],
            "leaderboard_top": ["leaderboard", "--metric", "loss", "--top", "10", *js],
            "leaderboard_table": ["leaderboard", "--metric", "loss"],
        }
    )
    floors: dict[str, tuple[str, list[str] | None, list[str] | None]] = {
        # name: (code, summary-floor argv or None, raw-floor argv or None)
        "leaderboard": (FLOOR_LEADERBOARD, ["summary"], ["points"]),
        "leaderboard_at": (FLOOR_AT_STEP, None, ["points", at]),
        "pivot": (FLOOR_PIVOT, ["summary"], ["points"]),
        "winners": (FLOOR_WINNERS, ["summary"], ["points"]),
        "compare": (FLOOR_COMPARE, ["summary", a, b], ["points", a, b]),
        "runs": (FLOOR_RUNS, ["summary"], None),
        "leaderboard_top": (FLOOR_LEADERBOARD, ["summary"], None),
        "leaderboard_table": (FLOOR_LEADERBOARD, ["summary"], None),
    }
    checks = {
        "leaderboard": check_leaderboard,
        "leaderboard_at": check_at_step,
        "pivot": check_pivot,
        "winners": check_winners,
        "compare": check_compare,
        "runs": check_runs,
        "leaderboard_top": check_top,
        "leaderboard_table": check_text,
    }
    titles = {
        "leaderboard": "leaderboard --metric loss",
        "leaderboard_at": f"leaderboard --metric loss --at-step {at}",
        "pivot": "pivot --rows framework,pool --cols feature --value loss",
        "winners": "winners --metric loss --by framework",
        "compare": "compare A B",
        "runs": "runs --format json",
        "leaderboard_top": "leaderboard --metric loss --top 10 (info)",
        "leaderboard_table": "leaderboard --metric loss, default table format (stdout a pipe)",
    }
    log_progress("warming bytecode")
    warm_bytecode(store)
    rows: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    only = set(args.only.split(",")) if args.only else set(COMMANDS) | {"base"}
    if "breakdown" in only:
        args.breakdown = True
    for name, argv_ in COMMANDS.items():
        if name not in only:
            continue
        code, sum_argv, raw_argv = floors[name]
        row = measure(
            titles[name],
            [*argv_, "--store", store],
            code,
            db,
            sum_argv,
            raw_argv,
            checks[name],
            dict(size, reps=1, reps_raw=0) if name == "leaderboard_table" else size,
        )
        results[name] = {
            "expbook_s": row["ours"],
            "floor_summary_s": row["floor_sum"],
            "floor_raw_s": row["floor_raw"],
            "check": row["problem"] or "ok",
        }
        target = TARGETS.get(name)
        full = size["runs"] == 10_000 and size["steps"] == 1_000  # the size the targets name
        if target is None:
            row["target"], row["met"] = "(info)", None
        elif full:
            row["target"], row["met"] = f"< {target} s", med(row["ours"]) < target
        else:
            row["target"], row["met"] = f"(< {target} s at 10,000 x 1,000)", None
        rows.append(row)
    base = [run_py("pass")[0] for _ in range(size["reps"] if "base" in only else 1)]
    version = [run_cli(["--version"])[0] for _ in range(size["reps"] if "base" in only else 1)]
    rows.append(
        {
            "name": "expbook --version / python -c pass",
            "ours": version,
            "floor_sum": base,
            "floor_raw": [],
            "target": "(info)",
            "met": None,
        }
    )
    results["python_c_pass_s"] = base
    results["expbook_version_s"] = version
    if args.breakdown:
        raw["breakdown"] = breakdown(store, size["reps"])
    if args.profile:
        prof_dir = Path(tempfile.mkdtemp(prefix="expbook-bench-analysis-prof-"))
        raw["profiles"] = {}
        for name, argv_ in COMMANDS.items():
            if name not in only:
                continue
            log_progress(f"profiling {titles[name]}")
            text = profile_cli([*argv_, "--store", store], prof_dir / f"{name}.txt")
            raw["profiles"][name] = text
            print(f"==== {titles[name]}\n{text}", file=sys.stderr)
        log_progress(f"profiles kept in {prof_dir}")
    raw["results"] = results
    raw["elapsed_s"] = time.perf_counter() - started
    raw["host"]["loadavg_end"] = os.getloadavg()
    raw["table"] = [{k: v for k, v in r.items()} for r in rows]
    print_table(raw, rows)
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1) + "\n")
    return 0 if not any(r.get("problem") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
