#!/usr/bin/env python3
"""Speed of the text-like importers (parsing only, no store), next to a floor in the same run.

    python bench/bench_import_parsers.py            # 100 MB per log style, 1,000 folders
    python bench/bench_import_parsers.py --quick    # 10 MB, 200 folders (smoke test)

* text logs: two synthetic logs of the given size, ``textlog.parse`` (bulk fast path) in
  MB/s; the floor reads the file, decodes it and splits it into lines.
  - ``kv``: seed-002 style ``step N/T | loss=.. | val_loss=.. | lr=..e-04 | elapsed=..s``
    with checkpoint lines (6 numbers per ~88-byte line);
  - ``console``: Python-logging timestamps + seed-001 style ``Epoch: 001, Train Loss: ..``
    with warnings and free text (wall times parsed).
* run folders: N copies of a seed-000 run folder (config.json, 20-line metrics.csv,
  summary.txt, 200-row preds.csv): ``walk.plan`` + ``walk.read`` of every unit, seconds; the
  floor reads every file's bytes.

Every measurement runs in a fresh interpreter; the table shows the median of 3 with [min-max].
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_kv_log(path: str, size: int) -> None:
    rnd = random.Random(0)
    n = step = 0
    with open(path, "w") as out:
        out.write("config: dataset=wikitext103 lr=0.0003 batch_size=16\nparams: 25.9M\n")
        while n < size:
            step += 10
            line = (
                f"step {step}/15000000 | loss={rnd.uniform(1, 8):.4f} | "
                f"val_loss={rnd.uniform(1, 8):.6f} | lr={rnd.uniform(0, 3e-4):.2e} | "
                f"elapsed={step * 0.2:.1f}s\n"
            )
            if step % 5000 == 0:
                line += "  saved best -> checkpoints/x.pt_best.pt (val_loss=4.2)\n"
            out.write(line)
            n += len(line)


def make_console_log(path: str, size: int) -> None:
    rnd = random.Random(1)
    n = ep = 0
    with open(path, "w") as out:
        while n < size:
            ep += 1
            line = (
                f"2024-01-02 12:{ep % 60:02d}:{ep % 60:02d},123 - INFO - Epoch: {ep:03d}, "
                f"Train Loss: {rnd.random():.4f}, Test Loss: {rnd.random():.4f}, "
                f"Test Acc: {rnd.random():.4f}, Test F1: {rnd.random():.4f}\n"
            )
            if ep % 1000 == 0:
                line += "WARNING: something odd happened\nsome free text without numbers\n"
            out.write(line)
            n += len(line)


def make_folders(root: str, n: int) -> None:
    rnd = random.Random(2)
    y = [rnd.gauss(10, 4) for _ in range(200)]
    for i in range(n):
        d = os.path.join(root, f"run_{i:04d}")
        os.makedirs(d)
        cfg = {"framework": "jax", "pool": "mean", "layers": 2, "hidden": 64, "seed": i}
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        with open(os.path.join(d, "metrics.csv"), "w") as f:
            f.write("epoch,train_mse\n")
            f.writelines(f"{e},{2 / e:.6f}\n" for e in range(1, 21))
        with open(os.path.join(d, "summary.txt"), "w") as f:
            f.write(f"run=run_{i:04d}\nframework=jax\nepochs=20\ntrain_mse=0.1\ntest_mse=1.5\n")
        with open(os.path.join(d, "preds.csv"), "w") as f:
            f.write("graph_id,y_true,y_pred\n")
            f.writelines(f"{j},{t:.6f},{t + rnd.gauss(0, 1):.6f}\n" for j, t in enumerate(y))


# ---------------------------------------------------------------------------------------------
# children (one measurement each, in a fresh interpreter)


def child(kind: str, path: str) -> float:
    t0 = time.perf_counter()
    if kind == "log":
        from expbook.importers import textlog

        (run,) = textlog.parse(path)
        assert run.n_points > 0
    elif kind == "log-floor":
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8").split("\n")
        assert lines
    elif kind == "folders":
        from expbook.importers import walk

        units = walk.plan([path])
        n = 0
        for u in units:
            runs, failures = walk.read(u)
            assert not failures, failures
            n += len(runs)
        assert n == len(units)
    elif kind == "folders-floor":
        total = 0
        for d in sorted(os.listdir(path)):
            for name in sorted(os.listdir(os.path.join(path, d))):
                with open(os.path.join(path, d, name), "rb") as f:
                    total += len(f.read())
        assert total
    else:
        raise SystemExit(f"unknown child {kind}")
    return time.perf_counter() - t0


def measure(kind: str, path: str, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        proc = subprocess.run(
            [sys.executable, __file__, "--child", kind, path],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")},
        )
        out.append(float(proc.stdout.strip().splitlines()[-1]))
    return out


def fmt(xs: list[float], scale: float | None = None) -> str:
    vals = [scale / x for x in xs] if scale else xs
    med = statistics.median(vals)
    return f"{med:.2f} [{min(vals):.2f}-{max(vals):.2f}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"))
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    if args.child:
        print(child(*args.child))
        return
    size = (10 if args.quick else 100) * 1_000_000
    nfold = 200 if args.quick else 1000
    with tempfile.TemporaryDirectory() as tmp:
        kv = os.path.join(tmp, "kv.log")
        con = os.path.join(tmp, "console.log")
        make_kv_log(kv, size)
        make_console_log(con, size)
        folders = os.path.join(tmp, "folders")
        make_folders(folders, nfold)
        print(f"cpus={os.cpu_count()} python={sys.version.split()[0]}")
        print("| workload | expbook | floor |")
        print("|---|---:|---:|")
        for name, path in (("kv", kv), ("console", con)):
            mb = os.path.getsize(path) / 1e6
            got = measure("log", path, args.reps)
            floor = measure("log-floor", path, args.reps)
            print(f"| text log `{name}` {mb:.0f} MB, MB/s | {fmt(got, mb)} | {fmt(floor, mb)} |")
        got = measure("folders", folders, args.reps)
        floor = measure("folders-floor", folders, args.reps)
        print(f"| {nfold} seed-000 run folders, s | {fmt(got)} | {fmt(floor)} |")


if __name__ == "__main__":
    main()
