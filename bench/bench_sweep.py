#!/usr/bin/env python3
"""expbook sweep benchmark (issue 15 target): the scheduler's overhead per trial.

    python bench/bench_sweep.py                # 1,000 trials, 2 workers, 3 repetitions
    python bench/bench_sweep.py --trials 200 --repeat 1   # a smoke test

A: 1,000 trials of a no-op function on the local pool (``function: __main__:noop``, a grid of
one param with 1,000 values), through the whole scheduler: each trial is a run in a fresh
SQLite store (created, marked running, finished), a trial row written as it starts and ends,
the owner's heartbeat. Floor, same run: the same no-op submitted 1,000 times to a bare
``concurrent.futures.ProcessPoolExecutor`` with the same number of worker processes (fork).
Both include starting the pool. Printed: wall times (median of the repetitions), the overhead
per trial ``(sweep - floor) / trials`` and its target (< 20 ms), and the ratio. Verified: every
trial finished, one finished run per trial.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

TARGET_MS = 20.0


def noop(config: dict) -> None:
    return None


def floor(trials: int, workers: int) -> float:
    t0 = time.perf_counter()
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
        futs = [pool.submit(noop, {"i": i}) for i in range(trials)]
        for f in cf.as_completed(futs):
            f.result()
    return time.perf_counter() - t0


def sweep(trials: int, workers: int, folder: str) -> float:
    from expbook.store import connect
    from expbook.sweeps.scheduler import run_sweep
    from expbook.sweeps.spec import parse_spec

    store = os.path.join(folder, "store")
    shutil.rmtree(store, ignore_errors=True)
    spec = parse_spec(
        {
            "name": "bench",
            "function": "__main__:noop",
            "params": {"i": list(range(trials))},
            "workers": workers,
        }
    )
    backend = connect(store)
    t0 = time.perf_counter()
    result = run_sweep(spec, backend)
    took = time.perf_counter() - t0
    assert result["counts"] == {"finished": trials}, result["counts"]
    runs = [r for r in backend.list_runs() if r.status == "finished"]
    assert len(runs) == trials, len(runs)
    backend.close()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="expbook-bench-sweep-")
    try:
        floors, sweeps = [], []
        for _ in range(args.repeat):
            floors.append(floor(args.trials, args.workers))
            sweeps.append(sweep(args.trials, args.workers, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    f, s = statistics.median(floors), statistics.median(sweeps)
    per = (s - f) / args.trials * 1000
    print(f"trials {args.trials}, workers {args.workers}, repetitions {args.repeat}")
    print(f"floor (bare ProcessPoolExecutor): {f:.3f} s  ({f / args.trials * 1000:.2f} ms/trial)")
    print(f"expbook sweep (local pool):       {s:.3f} s  ({s / args.trials * 1000:.2f} ms/trial)")
    print(
        f"overhead per trial: {per:.2f} ms (target < {TARGET_MS:g} ms): "
        f"{'ok' if per < TARGET_MS else 'OVER'}; ratio sweep/floor {s / f:.1f}x"
    )


if __name__ == "__main__":
    main()
