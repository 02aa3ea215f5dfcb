#!/usr/bin/env python3
"""Where the time of ``Run.log`` and of the background writer goes (a diagnostic, not a benchmark).

    python bench/profile_log.py [--steps 100000] [--reps 7]

``Run.log`` has two implementations: the C ``expbook._speedups.Logger`` (used when the extension
is compiled) and the pure-Python method in ``src/expbook/_run.py`` (used without a compiler, or
with ``EXPBOOK_PURE_PYTHON=1``). This script times, in one process:

1. The hot loop (``--steps`` calls of ``log({4 scalars}, step=i)``) with the list-append floor,
   the C path and the pure-Python path, each with the writer thread stopped and live.
2. An ablation of the pure-Python ``Run.log``: stand-ins that do one more statement group of
   the method at a time; the differences between rows are the cost of those lines. Plus the
   pure-Python path with the garbage collector off (the share of GC passes: every buffered row
   is a GC-tracked tuple).
3. The background writer's work for ``--steps`` logged rows, for both paths: what it does while
   the training loop runs (holding the GIL for most of it) and what ``finish()`` does when the
   loop was faster than its 0.5 s cycle; timed without a profiler, then broken down by cProfile.

Loops are timed min / median over ``--reps`` (min is the least disturbed by other processes).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

_FAST = frozenset((float, int))
_time = time.time


class Stand:
    """Stand-ins for Run.log, each adding one statement group of the real method.

    The groups are repeated inline on purpose: calling shared helpers would add a call's cost
    to every row, and that cost is what the differences between rows must not contain."""

    def __init__(self) -> None:
        self._buf: list[Any] = []
        self._append = self._buf.append
        self._step = 0

    def call_append(self, data: Any, step: int | None = None, commit: bool = True) -> None:
        self._append(data)

    def validate(self, data: Any, step: int | None = None, commit: bool = True) -> None:
        try:
            for k, v in data.items():
                if v.__class__ not in _FAST or k.__class__ is not str:
                    break
        except AttributeError:
            pass
        self._append(data)

    def validate_copy(self, data: Any, step: int | None = None, commit: bool = True) -> None:
        try:
            for k, v in data.items():
                if v.__class__ not in _FAST or k.__class__ is not str:
                    break
            else:
                data = data.copy()
        except AttributeError:
            pass
        self._append(data)

    def plus_step(self, data: Any, step: int | None = None, commit: bool = True) -> None:
        try:
            for k, v in data.items():
                if v.__class__ not in _FAST or k.__class__ is not str:
                    break
            else:
                data = data.copy()
        except AttributeError:
            pass
        if step is None:
            step = self._step
        elif step.__class__ is not int:
            step = int(step)
        if commit:
            if step >= self._step:
                self._step = step + 1
        elif step > self._step:
            self._step = step
        self._append(data)

    def plus_tuple(self, data: Any, step: int | None = None, commit: bool = True) -> None:
        try:
            for k, v in data.items():
                if v.__class__ not in _FAST or k.__class__ is not str:
                    break
            else:
                data = data.copy()
        except AttributeError:
            pass
        if step is None:
            step = self._step
        elif step.__class__ is not int:
            step = int(step)
        if commit:
            if step >= self._step:
                self._step = step + 1
        elif step > self._step:
            self._step = step
        self._append((step, 0.0, data))

    def plus_time(self, data: Any, step: int | None = None, commit: bool = True) -> None:
        try:
            for k, v in data.items():
                if v.__class__ not in _FAST or k.__class__ is not str:
                    break
            else:
                data = data.copy()
        except AttributeError:
            pass
        if step is None:
            step = self._step
        elif step.__class__ is not int:
            step = int(step)
        if commit:
            if step >= self._step:
                self._step = step + 1
        elif step > self._step:
            self._step = step
        self._append((step, _time(), data))


def data(n: int) -> tuple[list[float], ...]:
    r = random.Random(1)
    return tuple([r.random() for _ in range(n)] for _ in range(4))


def loop_floor(n: int, cols: tuple[list[float], ...]) -> float:
    a, b, c, d = cols
    buf: list[Any] = []
    append = buf.append
    gc.collect()
    t0 = time.perf_counter()
    for i in range(n):
        append({"loss": a[i], "lr": b[i], "grad_norm": c[i], "acc": d[i]})
    return (time.perf_counter() - t0) / n * 1e6


def loop_with(log: Callable[..., None], n: int, cols: tuple[list[float], ...]) -> float:
    a, b, c, d = cols
    gc.collect()
    t0 = time.perf_counter()
    for i in range(n):
        log({"loss": a[i], "lr": b[i], "grad_norm": c[i], "acc": d[i]}, step=i)
    return (time.perf_counter() - t0) / n * 1e6


def new_run(store: str, stop_writer: bool, pure: bool = False) -> Any:
    import expbook
    from expbook.tracking.sysinfo import git_info

    git_info(os.getcwd())  # cached per process: keep git out of what is timed
    run = expbook.init(project="profile", store=store)
    if pure and run._logger is not None:
        # back to the pure-Python Run.log (what EXPBOOK_PURE_PYTHON=1 selects at import)
        run.__dict__.pop("log", None)
        run._step = run._logger.step
        run._logger = None
    if stop_writer:
        run._writer.stop()
        run._writer._thread.join()
    return run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=7)
    a = ap.parse_args()
    n, reps = a.steps, a.reps
    cols = data(n)
    tmp = tempfile.mkdtemp(prefix="expbook-profile-")
    results: dict[str, list[float]] = {}

    def record(name: str, f: Callable[[], float]) -> None:
        results.setdefault(name, []).append(f())

    rows = [
        ("floor: list.append(dict)", lambda: loop_floor(n, cols)),
        (
            "+ method call with step= (body: append)",
            lambda: loop_with(Stand().call_append, n, cols),
        ),
        ("+ type check loop over the 4 items", lambda: loop_with(Stand().validate, n, cols)),
        ("+ data.copy()", lambda: loop_with(Stand().validate_copy, n, cols)),
        ("+ step bookkeeping", lambda: loop_with(Stand().plus_step, n, cols)),
        ("+ append a (step, 0.0, data) tuple", lambda: loop_with(Stand().plus_tuple, n, cols)),
        (
            "+ time.time() in the tuple (= Run.log body)",
            lambda: loop_with(Stand().plus_time, n, cols),
        ),
    ]
    real: list[tuple[str, Callable[[], float]]] = []

    def real_run(stop: bool, pure: bool, gc_off: bool = False) -> float:
        run = new_run(os.path.join(tmp, f"s{len(os.listdir(tmp))}"), stop, pure)
        if gc_off:
            gc.disable()
        try:
            us = loop_with(run.log, n, cols)
        finally:
            gc.enable()
        run._buf.clear()
        if run._logger is not None:
            run._logger.take()
        run.finish()
        return us

    import expbook.tracking.run as _run_mod

    has_c = _run_mod._Logger is not None
    if has_c:
        real.append(("C Logger.log, writer thread stopped", lambda: real_run(True, False)))
        real.append(
            ("C Logger.log, writer thread live (what users get)", lambda: real_run(False, False))
        )
    real.append(("pure-Python Run.log, writer stopped", lambda: real_run(True, True)))
    real.append(("pure-Python Run.log, writer live", lambda: real_run(False, True)))
    real.append(
        ("pure-Python Run.log, writer stopped, gc disabled", lambda: real_run(True, True, True))
    )
    for _ in range(reps):
        for name, f in [*rows, *real]:
            record(name, f)

    print(f"# hot loop: {n:,} iterations x 4 scalars, us/iteration, min / median of {reps}")
    print(
        f"# python {sys.version.split()[0]}, load {os.getloadavg()[0]:.2f}, "
        f"C extension {'compiled and used' if has_c else 'NOT available'}"
    )
    print()
    print("| loop | min us | median us | + over previous row (min) |")
    print("|---|---|---|---|")
    prev = None
    for name, _ in [*rows, *real]:
        xs = results[name]
        mn = min(xs)
        stand = not (name.startswith("C ") or name.startswith("pure"))
        delta = "" if prev is None or not stand else f"{mn - prev:+.3f}"
        print(f"| {name} | {mn:.3f} | {statistics.median(xs):.3f} | {delta} |")
        prev = mn
    floor = results["floor: list.append(dict)"]
    print()
    for name, _ in real:
        if "live" in name:
            xs = results[name]
            print(
                f"ratio {name} / floor = {min(xs) / min(floor):.2f}x (min), "
                f"{statistics.median(xs) / statistics.median(floor):.2f}x (median); "
                "target <= 1.5x"
            )

    # ---- the writer's work for n rows
    for pure in [False, True] if has_c else [True]:
        label = "pure-Python buffer" if pure else "C Logger buffer"
        print()
        print(f"# background writer, {label}: draining {n:,} logged rows (4 keys) in one go")
        times = []
        for _ in range(max(3, reps // 2)):
            run = new_run(os.path.join(tmp, f"s{len(os.listdir(tmp))}"), True, pure)
            loop_with(run.log, n, cols)
            t0 = time.perf_counter()
            run._writer.drain(run)
            times.append(time.perf_counter() - t0)
            run.finish()
        print(
            f"drain, no profiler: min {min(times):.3f} s, median {statistics.median(times):.3f} s "
            f"= {min(times) / n * 1e6:.2f} us per logged row (min)"
        )
        run = new_run(os.path.join(tmp, f"prof{int(pure)}"), True, pure)
        loop_with(run.log, n, cols)
        pr = cProfile.Profile()
        pr.enable()
        run._writer.drain(run)
        pr.disable()
        run.finish()
        print()
        print(
            "cProfile of one drain (tottime = time in the function itself; the profiler "
            "inflates Python-level calls):"
        )
        st = pstats.Stats(pr, stream=sys.stdout)
        st.sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
