"""What console capture costs a print: the same print loop with the console plain, under
expbook's tee alone, and inside a run that captures (its writer thread writing output.log).

Each is measured against the plain loop of the same run, on three "terminals": a StringIO
(the cheapest possible stream), a block-buffered file and a line-buffered file (what a
terminal is). Prints ``ratio = captured / plain`` per case (median of ``--reps``).

    python bench/bench_console.py [--prints 200000] [--reps 3]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time


def loop(n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        print("step", i, "loss", 0.5)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prints", type=int, default=200_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    import expbook
    from expbook.tracking import capture

    real = sys.stdout
    terminals = {
        "StringIO": io.StringIO,
        "file": lambda: open(os.devnull, "w"),  # noqa: SIM115
        "line-buffered file": lambda: open(os.devnull, "w", buffering=1),  # noqa: SIM115
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, make in terminals.items():
            plain, tee, run_t = [], [], []
            for _ in range(args.reps):
                sys.stdout = make()
                plain.append(loop(args.prints))
                sink = capture.start(os.path.join(tmp, "tee.log"))
                tee.append(loop(args.prints))
                capture.stop(sink)
                sink.flush(final=True)
                run = expbook.init(
                    project="bench", store=f"{tmp}/store", system_metrics=False, record_env=False
                )
                run_t.append(loop(args.prints))
                run.finish()
                sys.stdout = real
            p = statistics.median(plain)
            rows.append((label, p, statistics.median(tee) / p, statistics.median(run_t) / p))
    print(f"{args.prints:,} prints of 4 values; ratio to the plain loop (median of {args.reps})")
    print(f"{'terminal':<20} {'plain s':>8} {'tee':>6} {'run':>6}")
    for label, p, t, r in rows:
        print(f"{label:<20} {p:8.3f} {t:6.2f} {r:6.2f}")


if __name__ == "__main__":
    main()
