#!/usr/bin/env python3
"""What media logging costs a training loop.

    python bench/bench_media.py            # full size: 10,000 steps, 5 repetitions
    python bench/bench_media.py --quick    # 2,000 steps, 2 repetitions (a smoke test)

Two 10,000-step training loops log ``run.log({4 scalars})`` every step; each is timed without
media (the floor) and with ``{"img": expbook.Image(<256x256x3 uint8 array>)}`` logged every 100
steps as well. The target (issue 10): the image adds less than 5% to the loop's wall time.

* **paced**: the loop of bench_core's paced benchmark, held to 10,000 steps/s by sleeping
  between bursts of 1 ms, as a loop waiting on a GPU does;
* **compute**: every step does real work on the CPU (forward and backward of a small numpy
  MLP, a batch of 32 through two 128x128 layers, about 50-100 us a step, BLAS on one thread),
  so the writer thread's PNG encoding competes with the loop for the GIL and the machine.

Also shown, no target: what an image costs the calling thread (``Image(...)`` plus ``log``,
in us, measured inside the compute loop), next to what encoding that image as PNG costs (what
a tracker that encodes inside ``log`` makes the loop pay). ``Image`` only copies the array; the
PNG is encoded by the writer thread. The time a loop spends in its logging calls alone (about
1 us a step without media) is not the target's floor: a copy of a 196 KB array costs more
than 5% of 100 such calls.

Each loop runs in a fresh process; with and without media alternate, and the table shows
medians with [min-max] over the repetitions. Each run checks that every point and every image
reached the store.
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


def _mlp_step(state: dict[str, Any]) -> float:
    """One step of a small MLP's forward and backward pass (numpy, float32)."""
    import numpy as np

    x, w1, w2 = state["x"], state["w1"], state["w2"]
    h = np.tanh(x @ w1)
    y = h @ w2
    g2 = h.T @ y
    g1 = x.T @ ((y @ w2.T) * (1 - h * h))
    w2 -= 1e-4 * g2
    w1 -= 1e-4 * g1
    return float(y[0, 0])


def child(a: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    import expbook

    n, media, kind = a["steps"], a["media"], a["kind"]
    run = expbook.init(project="bench", name=f"media-{kind}-{media}", store=a["store"])
    log = run.log
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    state = {
        "x": rng.standard_normal((32, 128)).astype(np.float32),
        "w1": (rng.standard_normal((128, 128)) * 0.05).astype(np.float32),
        "w2": (rng.standard_normal((128, 128)) * 0.05).astype(np.float32),
    }
    Image = expbook.Image
    burst = RATE // 1000
    clock, sleep = time.perf_counter, time.sleep
    image_s: list[float] = []
    gc.collect()
    t0 = clock()
    if kind == "paced":
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
                sleep(ahead)
    else:
        for j in range(n):
            y = _mlp_step(state)
            log({"loss": y, "lr": 0.001, "grad_norm": 2 * y, "acc": 1 - y}, step=j)
            if media and j % EVERY == 0:
                ts = clock()
                log({"img": Image(pixels)}, step=j)
                image_s.append(clock() - ts)
    t1 = clock()
    run.finish()
    finish_s = clock() - t1
    encode_s = []
    if media and kind == "compute":  # what encoding in the calling thread would cost
        import io

        from PIL import Image as PILImage

        for _ in range(10):
            ts = clock()
            PILImage.fromarray(pixels).save(io.BytesIO(), format="PNG")
            encode_s.append(clock() - ts)
    store = run._store
    counts = {k: s.count for k, s in store.metric_summaries([run.id]).get(run.id, {}).items()}
    images = len(store.read_media(run.id, "img"))
    ok = counts == dict.fromkeys(("loss", "lr", "grad_norm", "acc"), n) and images == (
        (n + EVERY - 1) // EVERY if media else 0
    )
    return {
        "loop_s": t1 - t0,
        "finish_s": finish_s,
        "image_us": sorted(image_s)[len(image_s) // 2] * 1e6 if image_s else None,
        "encode_us": sorted(encode_s)[len(encode_s) // 2] * 1e6 if encode_s else None,
        "images": images,
        "ok": ok,
    }


def spawn(args: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(args)]
    env = child_env()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"  # one core for the loop's math, as a data-parallel worker has
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
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
    results: dict[tuple[str, bool], list[dict[str, Any]]] = {
        (k, m): [] for k in ("paced", "compute") for m in (False, True)
    }
    started = time.perf_counter()
    try:
        for rep in range(size["reps"]):
            log_progress(f"loops with and without images, rep {rep + 1}/{size['reps']}")
            for kind in ("paced", "compute"):
                order = (False, True) if rep % 2 == 0 else (True, False)
                for with_media in order:
                    st = tmp / f"r{rep}-{kind}-{int(with_media)}"
                    args_ = {"steps": size["steps"], "media": with_media, "kind": kind}
                    results[kind, with_media].append(spawn({**args_, "store": str(st)}))
                    shutil.rmtree(st, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = []
    ratios = {}
    what = {
        "paced": f"paced loop ({RATE:,} steps/s, as on a GPU)",
        "compute": "compute loop (a numpy MLP step on the CPU)",
    }
    for kind in ("paced", "compute"):
        plain, media = results[kind, False], results[kind, True]
        tp, tm = [p["loop_s"] for p in plain], [m["loop_s"] for m in media]
        per = [m / p for m, p in zip(tm, tp)]
        ratios[kind] = ratio = med(tm) / med(tp)
        fin = f"finish {med([m['finish_s'] for m in media]):.2f} s vs "
        fin += f"{med([p['finish_s'] for p in plain]):.2f} s"
        rows.append(
            {
                "name": f"{what[kind]}, {size['steps']:,} steps: 4 scalars a step + a "
                f"{SIDE}x{SIDE}x3 Image every {EVERY} steps, loop wall time s",
                "ours": spread(tm, "{:.3f}"),
                "floor": spread(tp, "{:.3f}"),
                "ratio": ratio,
                "target": f"< {TARGET:.2f}x (per-rep {min(per):.3f}-{max(per):.3f}; {fin})",
                "met": ratio < TARGET,
                "ok": all(x["ok"] for x in plain + media),
            }
        )
    media = results["compute", True]
    img, enc = [m["image_us"] for m in media], [m["encode_us"] for m in media]
    rows.append(
        {
            "name": "an image's cost to the calling thread (Image() + log, median, us), "
            "floor: PNG encoding of the same image in the calling thread",
            "ours": spread(img),
            "floor": spread(enc),
            "ratio": med(img) / med(enc),
            "target": "none (informational)",
            "met": True,
            "ok": True,
        }
    )
    raw.update(
        results={f"{k}-{int(m)}": v for (k, m), v in results.items()},
        ratios=ratios,
        elapsed_s=time.perf_counter() - started,
    )
    print()
    print(
        f"expbook media benchmark, {raw['date']}, code {raw['code']['git_head']}, "
        f"Python {raw['host']['python']}, {raw['host']['cpus']} CPUs; median [min-max] of "
        f"{size['reps']} repetitions; {raw['elapsed_s']:.0f} s in all"
    )
    print()
    print_results(rows, floor_head="same loop, scalars only / encode in caller")
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1) + "\n")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
