"""GPU check: system metrics record the GPU, and logging a CUDA scalar syncs only when it logs.

Run on a machine with an NVIDIA GPU, PyTorch built with CUDA and ``nvidia-ml-py``
(``pip install -e '.[gpu]'``)::

    python bench/check_gpu.py [--steps 3000] [--every 100]

It checks, and prints one line per check (exit status 1 when one fails):

1. a run with system metrics on (sampled every 0.5 s) while a CUDA workload runs records
   ``system/gpu.0.utilization`` and ``system/gpu.0.memory_used_mb``, and the utilisation
   was above 0 at some sample;
2. ``run.log({"loss": tensor})`` of a CUDA scalar every ``--every`` steps synchronises only
   at those steps: the other steps run under ``torch.cuda.set_sync_debug_mode("error")``,
   which raises on any synchronising call;
3. the loop's time with that logging against the same loop without it (a ratio, printed;
   a ratio above 1.10 is reported as a failure).

Without a GPU (no CUDA in PyTorch, no torch, or no pynvml) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time


def _skip(reason: str) -> None:
    print(f"check_gpu: skipped: {reason}")
    sys.exit(0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--size", type=int, default=2048, help="matrix size of the workload")
    args = ap.parse_args()
    try:
        import torch
    except ImportError:
        _skip("PyTorch is not installed")
    if not torch.cuda.is_available():
        _skip("no CUDA device (torch.cuda.is_available() is False)")
    try:
        import pynvml

        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
        pynvml.nvmlShutdown()
    except Exception as e:
        _skip(f"pynvml (nvidia-ml-py) cannot read the GPU: {e}")
    if count < 1:
        _skip("pynvml finds no GPU")

    import expbook
    from expbook.store import SQLiteStore

    failures = 0

    def report(ok: bool, what: str) -> None:
        nonlocal failures
        failures += not ok
        print(f"check_gpu: {'ok  ' if ok else 'FAIL'} {what}")

    dev = torch.device("cuda:0")
    a = torch.randn(args.size, args.size, device=dev)
    b = torch.randn(args.size, args.size, device=dev)

    def step() -> torch.Tensor:
        return (a @ b).mean()

    with tempfile.TemporaryDirectory() as tmp:
        store = f"{tmp}/store"
        # 1. GPU system metrics while the GPU works
        run = expbook.init(
            project="gpu", name="gpu-metrics", store=store, system_metrics_interval=0.5
        )
        t_end = time.monotonic() + 4.0
        while time.monotonic() < t_end:
            for _ in range(20):
                step()
            torch.cuda.synchronize()
        run.finish()
        with SQLiteStore(store) as st:
            sums = st.metric_summaries([run.id])[run.id]
        gpu_keys = sorted(k for k in sums if k.startswith("system/gpu.0."))
        report(
            {"system/gpu.0.utilization", "system/gpu.0.memory_used_mb"} <= set(gpu_keys),
            f"GPU keys recorded: {', '.join(gpu_keys) or 'none'}",
        )
        util = sums.get("system/gpu.0.utilization")
        report(
            util is not None and (util.max_value or 0) > 0,
            f"GPU utilisation seen: max {util.max_value if util else None}%",
        )

        # 2. logging syncs only at logging steps
        def loop(log: bool, checked: bool) -> float:
            run = expbook.init(project="gpu", name=f"log-{log}", store=store, system_metrics=log)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for i in range(args.steps):
                logs = log and i % args.every == 0
                if checked and not logs:
                    torch.cuda.set_sync_debug_mode("error")
                loss = step()
                if checked:
                    torch.cuda.set_sync_debug_mode("default")
                if logs:
                    run.log({"loss": loss}, step=i)
            torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            run.finish()
            return dt

        try:
            loop(True, checked=True)
            report(True, f"no synchronisation outside the logging steps (every {args.every})")
        except RuntimeError as e:
            report(False, f"a step that does not log synchronised: {e}")
        finally:
            torch.cuda.set_sync_debug_mode("default")

        # 3. time with and without logging (each twice, the best kept)
        loop(False, checked=False)  # warm-up
        plain = min(loop(False, checked=False) for _ in range(2))
        logged = min(loop(True, checked=False) for _ in range(2))
        ratio = logged / plain
        report(
            ratio <= 1.10,
            f"loop time with logging / without: {ratio:.3f} "
            f"({plain:.3f} s plain, {logged:.3f} s logging every {args.every} steps)",
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
