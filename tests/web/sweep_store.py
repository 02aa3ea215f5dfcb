"""A grid sweep for the sweep views' tests, written straight through the backend.

Project ``grid``: lr (5 values, log-spaced) x depth (2, 4, 8) x optimizer (adam, sgd) x
2 seeds = 60 runs. ``val_loss`` is logged as a curve whose minimum falls as lr grows (by 0.2
per decade, far more than depth's 0.01 per layer or the optimizer's 0.02), so lr matters
most and correlates negatively with it; ``acc`` is an explicit summary value only (rising
with lr). Every run also has a constant ``batch`` and its own ``out_dir``. Project ``other``
holds two runs with a metric of its own.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

from expbook.store import PointBatch, SQLiteStore

LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
DEPTHS = [2, 4, 8]
OPTIMIZERS = ["adam", "sgd"]
SEEDS = [0, 1]


def best_loss(lr: float, depth: int, optimizer: str, seed: int) -> float:
    return (
        1.5
        - 0.2 * math.log10(lr / 1e-4)
        + 0.01 * depth
        + (0.02 if optimizer == "sgd" else 0.0)
        + 0.003 * seed
    )


def sweep_store(path: Path) -> dict[str, dict]:
    """Write the store; name -> {"id", "lr", "depth", "optimizer", "seed", "best", "last"}."""
    out: dict[str, dict] = {}
    with SQLiteStore(path) as st:
        grid = itertools.product(LRS, DEPTHS, OPTIMIZERS, SEEDS)
        for n, (lr, depth, opt, seed) in enumerate(grid):
            name = f"lr{lr:g}-d{depth}-{opt}-s{seed}"
            rec = st.create_run(
                name=name,
                project="grid",
                status="finished",
                config={
                    "lr": lr,
                    "model": {"depth": depth},
                    "optimizer": opt,
                    "seed": seed,
                    "batch": 32,
                    "out_dir": f"/tmp/out/{n}",
                },
                created_at=1_700_000_000.0 + n,
            )
            best = best_loss(lr, depth, opt, seed)
            steps = list(range(50))
            # falls to its best at step 40, then rises a little (overfitting): last > best
            loss = [best + 0.5 * abs(s - 40) / 40 for s in steps]
            st.append_points(
                rec.id, {"val_loss": PointBatch(steps, [float(s) for s in steps], loss)}
            )
            st.update_run(rec.id, summary={"acc": 0.5 + 0.1 * math.log10(lr / 1e-4)})
            out[name] = {
                "id": rec.id,
                "lr": lr,
                "depth": depth,
                "optimizer": opt,
                "seed": seed,
                "best": best,
                "last": loss[-1],
            }
        for i in range(2):
            rec = st.create_run(
                name=f"other-{i}", project="other", status="finished", config={"k": i}
            )
            st.update_run(rec.id, summary={"score": float(i)})
    return out
