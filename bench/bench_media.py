#!/usr/bin/env python3
"""What media logging costs a training loop.

    python bench/bench_media.py            # full size: 10,000 steps, 5 repetitions
    python bench/bench_media.py --quick    # 2,000 steps, 2 repetitions (a smoke test)

The loop of bench_core's paced benchmark, held to 10,000 steps/s (sleeping between bursts of
1 ms, as a loop waiting on a GPU does), logs ``run.log({4 scalars})`` every step. The same
loop then also logs ``{"img": expbook.Image(<256x256x3 uint8 array>)}`` every 100 steps.
Measured: the time the loop is busy (not asleep) in each, and their ratio (target < 1.05:
media logging adds less than 5%). The constructor only copies the array; the PNG is encoded
by the writer thread, while the loop sleeps. Each loop runs in a fresh process; the two
alternate, and the table shows medians with [min-max] over the repetitions. Each run checks
that every point and every image reached the store.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import child_env, log_progress, med, print_results, run_header, spread

SIZES = {"full": {"steps": 10_000, "reps": 5}, "quick": {"steps": 2_000, "reps": 2}}
RATE = 10_000  # steps/s
EVERY = 100  # an image every EVERY steps
SIDE = 256
TARGET = 1.05


def child(a: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    import expbook

    n, media = a["steps"], a["media"]
    run = expbook.init(project="bench", name=f"media-{media}", store=a["store"])
    log = run.log
    pixels = np.random.default_rng(0).integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    Image = expbook.Image
    burst = RATE // 1000
    clock, sleep = time.perf_counter, time.sleep
    gc.collect()
    slept = 0.0
    t0 = clock()
    i = 0
    while i < n:
        for j in range(i, min(i + burst, n)):
            x = 1.0 / (j + 1)
            log({"loss": x, "lr": 0.001, "grad_norm": 2 * x, "acc": 1 - x}, step=j)
            if media and j % EVERY == 0:
                log({"img": Image(pixels)}, step=j)
        i = min(i + burst, n)
        ahead = t0 + i / RATE - clock()
        if ahead > 0:
            ts = clock()
            sleep(ahead)
            slept += clock() - ts
    t1 = clock()
    run.finish()
    finish_s = clock() - t1
    store = run._store
    counts = {k: s.count for k, s in store.metric_summaries([run.id]).get(run.id, {}).items()}
    images = len(store.read_media(run.id, "img"))
    ok = counts == dict.fromkeys(("loss", "lr", "grad_norm", "acc"), n) and images == (
        (n + EVERY - 1) // EVERY if media else 0
    )
    return {
        "busy_s": t1 - t0 - slept,
        "us_busy": (t1 - t0 - slept) / n * 1e6,
        "loop_s": t1 - t0,
        "finish_s": finish_s,
        "images": images,
        "ok": ok,
    }


def spawn(args: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(args)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=child_env())
    lines = [x for x in p.stdout.splitlines() if x.startswith("RESULT=")]
    if p.returncode != 0 or not lines:
        raise RuntimeError(f"child failed (rc={p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT=") :])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small size (smoke test)")
    ap.add_argument("--reps", type=int, help="repetitions")
    ap.add_argument("--steps", type=int, help="steps of each loop (default 10,000)")
    ap.add_argument("--json", metavar="OUT", help="write every raw measurement to OUT")
    ap.add_argument("--child", metavar="ARGS", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print("RESULT=" + json.dumps(child(json.loads(args.child))), flush=True)
        return 0
    size = dict(SIZES["quick" if args.quick else "full"])
    if args.reps:
        size["reps"] = args.reps
    if args.steps:
        size["steps"] = args.steps
    raw: dict[str, Any] = run_header(size)
    tmp = Path(tempfile.mkdtemp(prefix="expbook-bench-media-"))
    plain: list[dict[str, Any]] = []
    media: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        for rep in range(size["reps"]):
            log_progress(f"paced loop with and without images, rep {rep + 1}/{size['reps']}")
            jobs = [(plain, False), (media, True)]
            for out, with_media in jobs if rep % 2 == 0 else jobs[::-1]:
                st = tmp / f"r{rep}-{int(with_media)}"
                out.append(spawn({"steps": size["steps"], "media": with_media, "store": str(st)}))
                shutil.rmtree(st, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    up, um = [p["us_busy"] for p in plain], [m["us_busy"] for m in media]
    ratios = [m / p for m, p in zip(um, up)]
    ratio = med(um) / med(up)
    rows = [
        {
            "name": f"paced loop, {RATE:,} steps/s, {size['steps']:,} steps: 4 scalars a step "
            f"+ a {SIDE}x{SIDE}x3 Image every {EVERY} steps, busy us/step",
            "ours": spread(um),
            "floor": spread(up),
            "ratio": ratio,
            "target": f"< {TARGET:.2f}x (per-rep ratios {min(ratios):.3f}-{max(ratios):.3f}; "
            f"finish {med([m['finish_s'] for m in media]):.2f} s vs "
            f"{med([p['finish_s'] for p in plain]):.2f} s)",
            "met": ratio < TARGET,
            "ok": all(x["ok"] for x in plain + media),
        }
    ]
    raw.update(plain=plain, media=media, ratio=ratio, elapsed_s=time.perf_counter() - started)
    print()
    print(
        f"expbook media benchmark, {raw['date']}, code {raw['code']['git_head']}, "
        f"Python {raw['host']['python']}, {raw['host']['cpus']} CPUs; median [min-max] of "
        f"{size['reps']} repetitions; {raw['elapsed_s']:.0f} s in all"
    )
    print()
    print_results(rows, floor_head="same loop, scalars only")
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1) + "\n")
    return 0 if rows[0]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
