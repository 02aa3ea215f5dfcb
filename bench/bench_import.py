#!/usr/bin/env python3
"""expbook import benchmarks (issue 3 targets), each next to a floor measured in the same run.

    python bench/bench_import.py                 # full sizes (about 3 minutes on 2 cores)
    python bench/bench_import.py --quick         # small sizes, a smoke test (< 60 s)
    python bench/bench_import.py --json out.json # also write every raw measurement
    python bench/bench_import.py --profile       # also cProfile each import once (top functions)
    python bench/bench_import.py --only logs --breakdown   # CPU seconds of each import step

What is measured, always as the wall time of a whole ``expbook import DIR --store S --format
json`` process (interpreter start, imports, walk, parse, write, output), in a fresh store:

* text logs: 100 MB of training logs in the style of ``../shared/fixtures/seed002/raw/logs``
  (20 files of 5 MB: ``step N/M | loss=... | val_loss=... | lr=... | elapsed=...s`` lines,
  ``saved best -> ...`` checkpoint lines, a header, a ``done:`` line; values vary per file and
  per step), in MB/s (target >= 20 MB/s). Floors, each a fresh ``python -c`` process over the
  same files: read the bytes, decode and ``splitlines()``; the same plus one ``re.findall`` of
  every number.
* run folders: 1,000 folders of the seed-000 kind (``config.json``, a 20-line
  ``metrics.csv``, ``summary.txt``, a 200-row ``preds.csv``; shapes of
  ``../shared/fixtures/seed000/raw/results/gen_jax_5to7to8``), in s (target < 10 s). Floor: a
  fresh process that reads every file and parses it with the standard library (json, csv,
  ``key=value`` lines), writing nothing.
* re-import of that unchanged tree (target < 2 s): files whose size and mtime are unchanged are
  not read. Floor: a fresh process that ``os.walk``s the tree and ``stat``s every file.
* re-import after every file's mtime changed but not its content (the hash path: files whose
  mtime moved are read and hashed, not parsed; nothing but the new mtimes is written). Floor: a
  fresh process that reads and sha256es every file.

Every import's JSON output is checked: run counts per status (e.g. 1000 imported, then 1000
unchanged) and the number of points (every step line of every log, 4 series each).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    child_env,
    expbook_cmd,
    log_progress,
    med,
    print_results,
    profile_cli,
    python_c,
    run_header,
    spread,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SEED = 20261123

SIZES: dict[str, dict[str, int]] = {
    "full": {
        "log_files": 20,
        "log_bytes": 5_000_000,  # per file: 100 MB in all
        "folders": 1_000,
        "reps_logs": 3,
        "reps_folders": 3,
        "reps_reimport": 5,
    },
    "quick": {
        "log_files": 4,
        "log_bytes": 2_000_000,
        "folders": 200,
        "reps_logs": 2,
        "reps_folders": 2,
        "reps_reimport": 3,
    },
}

TARGETS = {
    "log_mb_s": 20.0,  # MB/s (10^6 bytes), whole process
    "folders_s": 10.0,  # 1,000 run folders, whole process
    "reimport_s": 2.0,  # unchanged tree of 1,000 runs, whole process
}


# ---------------------------------------------------------------------------- data generation
VARIANTS = [
    "ngt_default",
    "ngt_no_radius",
    "ngt_mass_in_value",
    "ngt_no_repulsion",
    "ngt_repulsion_interval_8",
    "vanilla_25m",
]


def write_log(path: Path, idx: int, target_bytes: int) -> int:
    """One training log of about ``target_bytes`` in seed 002's style; returns its number of
    step lines (each gives 4 points: loss, val_loss, lr, elapsed)."""
    rng = random.Random(SEED * 1_000 + idx)
    variant = VARIANTS[idx % len(VARIANTS)]
    name = f"w3_25m_screen_{variant}_{idx:02d}"
    seed = 42 + idx
    every = 10
    # about 165 bytes per step (a step line, and a checkpoint line most of the time)
    max_steps = every * max(10, target_bytes // 100)
    lr0 = rng.choice([3e-4, 6e-4, 1e-3])
    warmup = 500
    model = "vanilla" if variant.startswith("vanilla") else "ngt"
    head = [
        f"[w3_25m] run={name} cmd: python train.py --model {model} --rsqrt "
        f"--dataset wikitext103 --max-steps {max_steps} --seed {seed}",
        "config: dataset=wikitext103 tokenizer=bpe vocab_size=8192 block_size=512 "
        "hidden_dim=512 coord_dim=64 num_layers=8 num_heads=8 mlp_dim=2048 dropout=0.1 "
        f"optimizer=adamw schedule=cosine warmup_steps={warmup} lr={lr0} batch_size=16 "
        f"gradient_accumulation_steps=2 seed={seed} max_steps={max_steps} model={model}",
        "tokenizer: loaded BPE vocab_size=8192 from data/wikitext103/bpe_8192.json",
        f"params: {rng.uniform(24.0, 27.0):.1f}M",
    ]
    out = ["\n".join(head), "\n"]
    size = sum(len(x) for x in out)
    floor = 4.4 + 0.4 * rng.random()
    rate = 3.0 + 2.0 * rng.random()
    sec_per_step = 1.15 + 0.2 * rng.random()
    best = math.inf
    ckpt = f"checkpoints/w3_25m/{variant}_{idx:02d}.pt"
    elapsed = 0.0
    n = 0
    step = 0
    rnd = rng.random
    while size < target_bytes - 200:
        step += every
        t = step / max_steps
        if step >= max_steps:
            step = max_steps  # keep going past the nominal end if the file is still short
        loss = floor + 3.4 * math.exp(-rate * t) + 0.05 * (rnd() - 0.5)
        val = floor + 0.03 + 3.4 * math.exp(-rate * t) + 0.02 * (rnd() - 0.5)
        lr = lr0 * (step / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * t)))
        elapsed += every * sec_per_step * (0.95 + 0.1 * rnd())
        line = (
            f"step {step}/{max_steps} | loss={loss:.4f} | val_loss={val:.6f} | "
            f"lr={lr:.2e} | elapsed={elapsed:.1f}s\n"
        )
        if val < best or rnd() < 0.5:
            best = min(best, val)
            line += f"  saved best -> {ckpt}_best.pt (val_loss={best:.6f})\n"
        if n % 997 == 996:
            line += f"  warning: gradient norm {10 + 90 * rnd():.1f} clipped to 1.0\n"
        out.append(line)
        size += len(line)
        n += 1
        if step >= max_steps:
            break
    out.append(f"  saved last -> {ckpt}_last.pt (iter={step})\n")
    out.append(f"done: iter={step} total_elapsed={elapsed:.1f}s\n")
    path.write_text("".join(out))
    return n


def make_logs(root: Path, files: int, bytes_each: int) -> dict[str, Any]:
    root.mkdir(parents=True)
    steps = 0
    for i in range(files):
        steps += write_log(root / f"run_{i:02d}.log", i, bytes_each)
    total = sum(p.stat().st_size for p in root.iterdir())
    return {"files": files, "bytes": total, "step_lines": steps, "points": 4 * steps}


FRAMEWORKS = ("jax", "torch")
POOLS = ("mean", "sum", "max")
FEATURES = ("onehot", "deg_lap_pe", "const")


def make_folders(root: Path, n: int) -> dict[str, Any]:
    """``n`` run folders shaped like seed 000's ``gen_jax_5to7to8``."""
    root.mkdir(parents=True)
    rng = random.Random(SEED)
    for i in range(n):
        fw = FRAMEWORKS[i % 2]
        pool = POOLS[(i // 2) % 3]
        feat = FEATURES[(i // 6) % 3]
        seed = (i // 18) % 5
        lr = round(10 ** rng.uniform(-4, -2), 6)
        name = f"gen_{fw}_{pool}_{feat}_{i:04d}"
        d = root / name
        d.mkdir()
        cfg = {
            "framework": fw,
            "pool": pool,
            "feature": feat,
            "layers": 2,
            "hidden": 64,
            "epochs": 20,
            "seed": seed,
            "lr": lr,
            "batch_size": 32,
            "train_sizes": [5, 6, 7],
            "test_sizes": [8],
        }
        (d / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        mse = 2.0 + rng.random()
        lines = ["epoch,train_mse"]
        for e in range(1, 21):
            mse *= 0.8 + 0.1 * rng.random()
            lines.append(f"{e},{mse:.6f}")
        (d / "metrics.csv").write_text("\n".join(lines) + "\n")
        ys = []
        for g in range(200):
            y = rng.uniform(5.0, 15.0)
            ys.append(f"{g},{y:.6f},{y + rng.gauss(0, 2.0):.6f}")
        (d / "preds.csv").write_text("graph_id,y_true,y_pred\n" + "\n".join(ys) + "\n")
        (d / "summary.txt").write_text(
            f"run={name}\nframework={fw}\nepochs=20\ntrain_mse={mse:.6f}\n"
            f"test_mse={rng.uniform(1.5, 30):.6f}\nn_test=200\n"
        )
    return {"folders": n, "files": 4 * n, "points": 20 * n}


def touch_all(root: Path, offset_s: float) -> int:
    """Move every file's mtime (content unchanged): the hash path on the next import."""
    when = time.time() + offset_s
    n = 0
    for dirpath, _, files in os.walk(root):
        for f in files:
            os.utime(os.path.join(dirpath, f), (when, when))
            n += 1
    return n


# ---------------------------------------------------------------------------- floors
# Run as ``python -c CODE ROOT``: fresh processes, like the CLI; each prints its in-process time.
FLOOR_LOG_READ = """\
import json, os, sys, time
t0 = time.perf_counter()
n = b = 0
for f in sorted(os.listdir(sys.argv[1])):
    with open(os.path.join(sys.argv[1], f), 'rb') as fh:
        data = fh.read()
    b += len(data)
    n += len(data.decode('utf-8').splitlines())
print(json.dumps({"lines": n, "bytes": b, "in_process_s": time.perf_counter() - t0}))
"""

FLOOR_LOG_FINDALL = """\
import json, os, re, sys, time
t0 = time.perf_counter()
num = re.compile(r'[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?')
n = b = k = 0
for f in sorted(os.listdir(sys.argv[1])):
    with open(os.path.join(sys.argv[1], f), 'rb') as fh:
        data = fh.read()
    b += len(data)
    text = data.decode('utf-8')
    n += len(text.splitlines())
    k += len(num.findall(text))
print(json.dumps({"lines": n, "bytes": b, "numbers": k, "in_process_s": time.perf_counter() - t0}))
"""

FLOOR_FOLDERS_PARSE = """\
import csv, io, json, os, sys, time
t0 = time.perf_counter()
runs = 0
for d in sorted(os.listdir(sys.argv[1])):
    p = os.path.join(sys.argv[1], d)
    with open(os.path.join(p, 'config.json')) as f:
        cfg = json.load(f)
    with open(os.path.join(p, 'metrics.csv'), newline='') as f:
        rows = [(int(r[0]), float(r[1])) for r in list(csv.reader(f))[1:]]
    with open(os.path.join(p, 'preds.csv'), newline='') as f:
        preds = [(float(r[1]), float(r[2])) for r in list(csv.reader(f))[1:]]
    mse = sum((a - b) ** 2 for a, b in preds) / len(preds)
    with open(os.path.join(p, 'summary.txt')) as f:
        summ = dict(line.strip().split('=', 1) for line in f if '=' in line)
    runs += 1
print(json.dumps({"runs": runs, "in_process_s": time.perf_counter() - t0}))
"""

FLOOR_STAT = """\
import json, os, sys, time
t0 = time.perf_counter()
n = 0
for root, dirs, files in os.walk(sys.argv[1]):
    dirs.sort()
    for f in sorted(files):
        st = os.stat(os.path.join(root, f))
        n += 1
print(json.dumps({"files": n, "in_process_s": time.perf_counter() - t0}))
"""

FLOOR_HASH = """\
import hashlib, json, os, sys, time
t0 = time.perf_counter()
n = 0
for root, dirs, files in os.walk(sys.argv[1]):
    dirs.sort()
    for f in sorted(files):
        with open(os.path.join(root, f), 'rb') as fh:
            hashlib.sha256(fh.read()).hexdigest()
        n += 1
print(json.dumps({"files": n, "in_process_s": time.perf_counter() - t0}))
"""


# Where the CPU time of a text-log import goes (``--breakdown``): the driver's steps called one
# by one in a fresh process, timed with time.process_time (CPU seconds, so other processes on a
# busy machine do not inflate them). It uses expbook internals (importers.walk/driver/textlog,
# store.sqlite/codec), wrapping a few module functions; if those change, it says so and the
# benchmark itself is unaffected.
BREAKDOWN_LOGS = """\
import json, os, shutil, sys, time
T = time.process_time
t0 = T()
import expbook.cli
from expbook.importers import common, driver, textlog, walk
from expbook.importers.registry import ParseOptions
from expbook.store import codec, connect
from expbook.store import sqlite_write as sq
out = {"import expbook.cli + importers": T() - t0}
root, store = sys.argv[1], sys.argv[2]
shutil.rmtree(store, ignore_errors=True)
be = connect(store)
def add(k, v):
    out[k] = out.get(k, 0.0) + v
def timed(mod, name, label):
    f = getattr(mod, name)
    def w(*a, **k):
        t = T(); r = f(*a, **k); add(label, T() - t); return r
    setattr(mod, name, w)
timed(textlog, "_bulk_group", "  parse: _bulk_group (str.replace + np.fromstring per line shape)")
timed(textlog, "_build_series", "  parse: _build_series (numpy arrays per key: PointArrays)")
timed(driver, "_batches", "  write: driver._batches (PointArrays -> PointBatch)")
timed(sq, "_dedupe", "  write: store _dedupe (numpy: sorted check)")
timed(codec, "encode", "  write: codec.encode (numpy deltas, float32 offsets, zlib)")
timed(sq, "_summarize", "  write: _summarize")
t = T(); units = walk.plan([os.path.abspath(root)]); add("walk.plan (scan + sniff)", T() - t)
opts = ParseOptions()
done = []
for u in units:
    t = T(); runs, fails = walk.read(u, opts)
    add("walk.read (read, decode, parse, sha256)", T() - t)
    for r in runs:
        t = T(); done.append(driver.write_run(be, r, "default", os.path.abspath(u.path)))
        add("write_run (one transaction per run)", T() - t)
out["total CPU of the import (in-process, JSON output aside)"] = T() - t0
out = dict(out)  # the wrappers keep counting below: keep the import's numbers
res = out
out = {}
texts = [common.decode_text(common.read_bytes(u.path), "log")[0] for u in units]
def parse_all():
    t = T()
    for tx in texts:
        textlog.parse_text(tx, opts)
    return T() - t
a = min(parse_all() for _ in range(2))
textlog._ckpt = lambda line: None
b = min(parse_all() for _ in range(2))
res["parse_text of every log, again (best of 2)"] = a
res["  checkpoint lines: what stubbing textlog._ckpt saves (< 0: they become metric lines)"] = a - b
res["points"] = sum(o.points for o in done)
print(json.dumps(res))
"""


# ---------------------------------------------------------------------------- processes
# Bytecode for every child lives in one cache outside the tree: with PYTHONDONTWRITEBYTECODE
# set (as in this project's shells) an editable install would otherwise recompile expbook's
# sources in every new process, which no installed package does. warm_bytecode() fills it.


def warm_bytecode() -> None:
    code = (
        "import expbook, expbook.cli, expbook.importers.driver, expbook.importers.walk, "
        "expbook.importers.textlog, expbook.importers.folder, expbook.importers.tabular, "
        "expbook.importers.predictions, numpy, json, csv, re, hashlib"
    )
    subprocess.run([sys.executable, "-c", code], env=child_env(), check=True, timeout=600)
    subprocess.run(
        [*expbook_cmd(), "--version"],
        env=child_env(),
        check=True,
        timeout=600,
        capture_output=True,
    )


def cli(args: list[str], expect_rc: int = 0) -> tuple[float, Any]:
    """Wall time of a whole ``expbook ARGS`` process and its parsed JSON output."""
    t0 = time.perf_counter()
    p = subprocess.run(
        [*expbook_cmd(), *args], capture_output=True, text=True, timeout=1800, env=child_env()
    )
    wall = time.perf_counter() - t0
    if p.returncode != expect_rc:
        raise RuntimeError(f"expbook {' '.join(args)} failed (rc={p.returncode}):\n{p.stderr}")
    return wall, json.loads(p.stdout) if p.stdout.strip().startswith(("{", "[")) else None


def wall_of(code: str, *argv: str) -> tuple[float, dict[str, Any]]:
    """Wall time of ``python -c code argv...`` and the dict it printed last (if any)."""
    wall, out = python_c(code, *argv, timeout=600)
    lines = out.splitlines()
    return wall, (json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {})


def import_args(path: Path, store: Path) -> list[str]:
    return ["import", str(path), "--store", str(store), "--format", "json"]


def counts_of(out: Any) -> dict[str, int]:
    return dict(out.get("counts", {})) if isinstance(out, dict) else {}


def points_of(out: Any) -> int:
    return sum(r.get("points", 0) for r in out.get("runs", [])) if isinstance(out, dict) else 0


# ---------------------------------------------------------------------------- helpers
def print_table(title: str, raw: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    print()
    print(
        f"{title}, {raw['date']}, code {raw['code']['git_head']} "
        f"(src sha {raw['code']['src_sha256']}), Python {raw['host']['python']}, "
        f"SQLite {raw['host']['sqlite']}, {raw['host']['cpus']} CPUs, "
        f"load {raw['host']['loadavg_start'][0]:.2f}->{raw['host']['loadavg_end'][0]:.2f}"
    )
    print(
        "median [min-max] of the repetitions; every number is a whole new process; "
        f"warm page cache; {raw['elapsed_s']:.0f} s in all"
    )
    print()
    print_results(rows)
    floors = [r["floor_what"] for r in rows if r.get("floor_what")]
    if floors:
        print()
        print("floors: " + "; ".join(dict.fromkeys(floors)))
    checks = [r["check"] for r in rows if r.get("check")]
    if checks:
        print("checks: " + "; ".join(checks))


# ---------------------------------------------------------------------------- benchmarks
def run_logs(
    size: dict[str, int],
    tmp: Path,
    raw: dict[str, Any],
    rows: list[dict[str, Any]],
    prof: bool,
    breakdown: bool = False,
) -> None:
    logs = tmp / "logs"
    log_progress(f"writing {size['log_files']} logs of {size['log_bytes'] / 1e6:.0f} MB")
    info = make_logs(logs, size["log_files"], size["log_bytes"])
    mb = info["bytes"] / 1e6
    ours: list[float] = []
    f_read: list[float] = []
    f_find: list[float] = []
    f_read_in: list[float] = []
    f_find_in: list[float] = []
    again: list[float] = []
    touched: list[float] = []
    base: list[float] = []
    ok = True
    problems: list[str] = []
    for rep in range(size["reps_logs"]):
        log_progress(f"text logs rep {rep + 1}/{size['reps_logs']} ({mb:.0f} MB)")
        store = tmp / f"logs-store-r{rep}"

        def do_ours(store: Path = store) -> None:
            nonlocal ok
            w, out = cli(import_args(logs, store))
            c, pts = counts_of(out), points_of(out)
            if c != {"imported": info["files"]} or pts != info["points"]:
                ok = False
                problems.append(f"logs import: counts {c}, points {pts} (want {info['points']})")
            ours.append(w)

        def do_floor() -> None:
            w, o = wall_of(FLOOR_LOG_READ, str(logs))
            f_read.append(w)
            f_read_in.append(o["in_process_s"])
            w, o = wall_of(FLOOR_LOG_FINDALL, str(logs))
            f_find.append(w)
            f_find_in.append(o["in_process_s"])

        for f in (do_ours, do_floor) if rep % 2 == 0 else (do_floor, do_ours):
            f()
        base.append(wall_of("pass")[0])
        # info: re-import unchanged (size + mtime), then after a touch (hash path)
        w, out = cli(import_args(logs, store))
        if counts_of(out) != {"unchanged": info["files"]}:
            ok = False
            problems.append(f"logs re-import: counts {counts_of(out)}")
        again.append(w)
        touch_all(logs, 10.0 * (rep + 1))
        w, out = cli(import_args(logs, store))
        if counts_of(out) != {"unchanged": info["files"]}:
            ok = False
            problems.append(f"logs re-import after touch: counts {counts_of(out)}")
        touched.append(w)
        if rep > 0:
            shutil.rmtree(store, ignore_errors=True)
    if breakdown:
        log_progress("CPU-time breakdown of one text-log import")
        try:
            w, out = wall_of(BREAKDOWN_LOGS, str(logs), str(tmp / "logs-store-breakdown"))
            raw["breakdown_logs"] = out
            print("\nCPU seconds of one text-log import, step by step (fresh process):")
            for k, v in out.items():
                print(f"  {v:9.3f}  {k}" if k != "points" else f"  {v:9,d}  points")
        except Exception as e:
            print(f"breakdown unavailable (expbook internals changed?): {e}", file=sys.stderr)
    if prof:
        log_progress("profiling one text-log import")
        shutil.rmtree(tmp / "logs-store-prof", ignore_errors=True)
        raw["profile_logs"] = profile_cli(
            import_args(logs, tmp / "logs-store-prof"), tmp / "profile_logs.txt"
        )
        print(raw["profile_logs"], file=sys.stderr)
    raw["logs"] = {
        "data": info,
        "expbook_wall_s": ours,
        "floor_read_split_wall_s": f_read,
        "floor_read_split_in_process_s": f_read_in,
        "floor_findall_wall_s": f_find,
        "floor_findall_in_process_s": f_find_in,
        "reimport_unchanged_wall_s": again,
        "reimport_touched_wall_s": touched,
        "python_c_pass_s": base,
        "problems": problems,
    }
    mbs = [mb / w for w in ours]
    fr = [mb / w for w in f_read]
    ff = [mb / w for w in f_find]
    name = f"text logs: {info['files']} x {size['log_bytes'] / 1e6:.0f} MB, MB/s"
    rows.append(
        {
            "name": name,
            "ours": spread(mbs, "{:.3g}"),
            "floor": spread(fr, "{:.3g}"),
            "floor_what": "logs: python -c read + decode + splitlines (whole process)",
            "ratio": med(mbs) / med(fr),
            "target": f">= {TARGETS['log_mb_s']:.0f} MB/s",
            "met": med(mbs) >= TARGETS["log_mb_s"],
            "ok": ok,
            "check": f"logs: {info['files']} imported, {info['points']:,} points "
            f"({info['step_lines']:,} step lines x 4), then {info['files']} unchanged twice"
            + ("" if ok else " FAILED: " + "; ".join(problems)),
        }
    )
    rows.append(
        {
            "name": "  same, against read + splitlines + re.findall(numbers), MB/s",
            "ours": spread(mbs, "{:.3g}"),
            "floor": spread(ff, "{:.3g}"),
            "floor_what": "python -c read + splitlines + one re.findall of every number",
            "ratio": med(mbs) / med(ff),
            "target": "(info)",
        }
    )
    rows.append(
        {
            "name": "  same, as wall s (floor: read + splitlines + re.findall)",
            "ours": spread(ours),
            "floor": spread(f_find),
            "ratio": med(ours) / med(f_find),
            "target": "(info)",
        }
    )
    rows.append(
        {
            "name": "  re-import unchanged logs (size + mtime), s",
            "ours": spread(again),
            "floor": spread(base) + " (python -c pass)",
            "ratio": med(again) / med(base),
            "target": "(info)",
        }
    )
    rows.append(
        {
            "name": "  re-import after touching every log (content same: hashed, not parsed), s",
            "ours": spread(touched),
            "floor": spread(f_find),
            "ratio": med(touched) / med(f_find),
            "target": "(info)",
        }
    )


def run_folders(
    size: dict[str, int], tmp: Path, raw: dict[str, Any], rows: list[dict[str, Any]], prof: bool
) -> None:
    n = size["folders"]
    tree = tmp / "results"
    log_progress(f"writing {n} run folders")
    info = make_folders(tree, n)
    ours: list[float] = []
    floor: list[float] = []
    floor_in: list[float] = []
    ok = True
    problems: list[str] = []
    for rep in range(size["reps_folders"]):
        log_progress(f"run folders rep {rep + 1}/{size['reps_folders']} ({n} folders)")
        store = tmp / f"folders-store-r{rep}"

        def do_ours(store: Path = store) -> None:
            nonlocal ok
            w, out = cli(import_args(tree, store))
            c, pts = counts_of(out), points_of(out)
            if c != {"imported": n} or pts != info["points"]:
                ok = False
                problems.append(f"folders import: counts {c}, points {pts}")
            ours.append(w)

        def do_floor() -> None:
            w, o = wall_of(FLOOR_FOLDERS_PARSE, str(tree))
            floor.append(w)
            floor_in.append(o["in_process_s"])

        for f in (do_ours, do_floor) if rep % 2 == 0 else (do_floor, do_ours):
            f()
        if rep > 0:
            shutil.rmtree(store, ignore_errors=True)
    store = tmp / "folders-store-r0"
    again: list[float] = []
    stat_floor: list[float] = []
    base: list[float] = []
    version: list[float] = []
    for rep in range(size["reps_reimport"]):
        log_progress(f"unchanged re-import rep {rep + 1}/{size['reps_reimport']}")
        w, out = cli(import_args(tree, store))
        if counts_of(out) != {"unchanged": n}:
            ok = False
            problems.append(f"re-import: counts {counts_of(out)}")
        again.append(w)
        stat_floor.append(wall_of(FLOOR_STAT, str(tree))[0])
        base.append(wall_of("pass")[0])
        version.append(cli(["--version"])[0])
    touched: list[float] = []
    after: list[float] = []
    hash_floor: list[float] = []
    for rep in range(size["reps_reimport"]):
        log_progress(f"touched re-import rep {rep + 1}/{size['reps_reimport']}")
        touch_all(tree, 10.0 * (rep + 1))
        w, out = cli(import_args(tree, store))
        if counts_of(out) != {"unchanged": n}:
            ok = False
            problems.append(f"re-import after touch: counts {counts_of(out)}")
        touched.append(w)
        hash_floor.append(wall_of(FLOOR_HASH, str(tree))[0])
        w, out = cli(import_args(tree, store))  # the new mtimes were recorded: fast again
        if counts_of(out) != {"unchanged": n}:
            ok = False
            problems.append(f"re-import after touch, again: counts {counts_of(out)}")
        after.append(w)
    if prof:
        log_progress("profiling one run-folder import, one unchanged and one touched re-import")
        pstore = tmp / "folders-store-prof"
        shutil.rmtree(pstore, ignore_errors=True)
        raw["profile_folders"] = profile_cli(import_args(tree, pstore), tmp / "profile_folders.txt")
        raw["profile_reimport"] = profile_cli(
            import_args(tree, pstore), tmp / "profile_reimport.txt"
        )
        touch_all(tree, 1000.0)
        raw["profile_touched"] = profile_cli(import_args(tree, pstore), tmp / "profile_touched.txt")
        for k in ("profile_folders", "profile_reimport", "profile_touched"):
            print(f"==== {k}\n{raw[k]}", file=sys.stderr)
    raw["folders"] = {
        "data": info,
        "expbook_wall_s": ours,
        "floor_parse_wall_s": floor,
        "floor_parse_in_process_s": floor_in,
        "reimport_unchanged_wall_s": again,
        "floor_stat_wall_s": stat_floor,
        "python_c_pass_s": base,
        "expbook_version_s": version,
        "reimport_touched_wall_s": touched,
        "reimport_after_touch_wall_s": after,
        "floor_hash_wall_s": hash_floor,
        "problems": problems,
    }
    rows.append(
        {
            "name": f"run folders: {n:,} (config + metrics.csv + summary + preds.csv), s",
            "ours": spread(ours),
            "floor": spread(floor),
            "floor_what": "folders: python -c read + json/csv/key=value parse of every file",
            "ratio": med(ours) / med(floor),
            "target": f"< {TARGETS['folders_s'] * n / 1000:.3g} s"
            + ("" if n == 1000 else f" (10 s per 1,000, scaled to {n:,})"),
            "met": med(ours) < TARGETS["folders_s"] * n / 1000,
            "ok": ok,
            "check": f"folders: {n} imported ({info['points']:,} points), then {n} unchanged "
            f"x {3 * size['reps_reimport']}" + ("" if ok else " FAILED: " + "; ".join(problems)),
        }
    )
    rows.append(
        {
            "name": f"re-import of the unchanged {n:,} folders (size + mtime), s",
            "ours": spread(again),
            "floor": spread(stat_floor),
            "floor_what": "re-import: python -c os.walk + stat of every file",
            "ratio": med(again) / med(stat_floor),
            "target": f"< {TARGETS['reimport_s']:.0f} s",
            "met": med(again) < TARGETS["reimport_s"],
        }
    )
    rows.append(
        {
            "name": "  python -c pass / expbook --version, s",
            "ours": spread(version),
            "floor": spread(base),
            "ratio": med(version) / med(base),
            "target": "(info)",
        }
    )
    rows.append(
        {
            "name": "re-import after every file's mtime changed (content same: hash path), s",
            "ours": spread(touched),
            "floor": spread(hash_floor),
            "floor_what": "hash path: python -c read + sha256 of every file",
            "ratio": med(touched) / med(hash_floor),
            "target": "(info; < 2 s would be the unchanged target)",
            "met": None,
        }
    )
    rows.append(
        {
            "name": "  then again (the new mtimes were recorded), s",
            "ours": spread(after),
            "floor": spread(stat_floor),
            "ratio": med(after) / med(stat_floor),
            "target": "(info)",
        }
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test, < 60 s)")
    ap.add_argument("--json", metavar="OUT", help="write every raw measurement to OUT")
    ap.add_argument("--reps", type=int, help="repetitions of every measurement")
    ap.add_argument("--only", default="logs,folders", help="comma-separated subset of logs,folders")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="also run each import once under cProfile (printed on stderr, kept in --json)",
    )
    ap.add_argument(
        "--breakdown",
        action="store_true",
        help="also print where the CPU time of one text-log import goes, step by step",
    )
    ap.add_argument("--keep", action="store_true", help="keep the generated data and stores")
    args = ap.parse_args(argv)

    size = dict(SIZES["quick" if args.quick else "full"])
    if args.reps:
        size.update(reps_logs=args.reps, reps_folders=args.reps, reps_reimport=args.reps)
    only = set(args.only.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="expbook-bench-import-"))
    started = time.perf_counter()
    raw: dict[str, Any] = run_header(size, cli=expbook_cmd())
    rows: list[dict[str, Any]] = []
    warm_bytecode()
    try:
        if "logs" in only:
            run_logs(size, tmp, raw, rows, args.profile, args.breakdown)
        if "folders" in only:
            run_folders(size, tmp, raw, rows, args.profile)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log_progress(f"data and stores kept in {tmp}")
    raw["elapsed_s"] = time.perf_counter() - started
    raw["host"]["loadavg_end"] = os.getloadavg()
    raw["table"] = rows
    print_table("expbook import benchmarks", raw, rows)
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1) + "\n")
    return 0 if all(r.get("ok", True) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
