"""A store with two projects whose keys differ, for the dashboard's column and axis tests."""

from __future__ import annotations

import math
from pathlib import Path

from expbook.store import PointBatch, SQLiteStore

LONG_PARAM = "optimizer.schedule.a_really_long_parameter_name_for_the_warmup_fraction"
LONG_NAME = "vision-resnet-depth-50-with-a-very-long-descriptive-run-name-that-goes-on-and-on"


def workspace_store(path: Path) -> dict[str, str]:
    """``vision`` (4 runs: depth and lr vary; val/acc, train/loss, epoch, lr logged) and
    ``text`` (3 runs: heads vary; eval/bleu and loss), plus ``tiny`` in ``scales`` (60 params;
    an lr between 1e-4 and 5e-4, a loss over four decades). Returns name -> id."""
    ids: dict[str, str] = {}
    steps = list(range(100))
    walls = [1000.0 + s for s in steps]
    with SQLiteStore(path) as st:
        for i in range(4):
            name = LONG_NAME if i == 0 else f"vision-{i}"
            rec = st.create_run(
                name=name,
                project="vision",
                status="finished",
                config={
                    "lr": [0.1, 0.01, 0.1, 0.01][i],
                    "depth": [18, 18, 50, 50][i],
                    "dataset": "imagenet",  # the same everywhere: not a default column
                    "out_dir": f"/scratch/runs/{i}",  # different on every run: last
                    "optimizer": {"schedule": {LONG_PARAM.rsplit(".", 1)[1]: 0.05 * i}},
                },
                created_at=1_700_000_000.0 + i,
            )
            st.append_points(
                rec.id,
                {
                    "train/loss": PointBatch(steps, walls, [1 / (s + 1 + i) for s in steps]),
                    "val/acc": PointBatch(
                        steps, walls, [0.5 + 0.004 * s + 0.01 * i for s in steps]
                    ),
                    "epoch": PointBatch(steps, walls, [s // 10 for s in steps]),
                    "lr": PointBatch(steps, walls, [0.1] * 100),
                },
            )
            ids[name] = rec.id
        for i in range(3):
            rec = st.create_run(
                name=f"text-{i}",
                project="text",
                status="finished",
                config={"lr": 3e-4, "heads": [4, 8, 16][i], "tokenizer": "bpe"},
                created_at=1_700_000_100.0 + i,
            )
            st.append_points(
                rec.id,
                {
                    "eval/bleu": PointBatch(steps, walls, [20 + 0.1 * s + i for s in steps]),
                    "loss": PointBatch(steps, walls, [3 - 0.01 * s for s in steps]),
                },
            )
            ids[rec.name] = rec.id
        # many params: a long Columns picker, a wide table in a report
        knobs = {f"knob_{k:02d}": k * 1.5 for k in range(60)}
        rec = st.create_run(
            name="tiny",
            project="scales",
            status="finished",
            config=knobs,
            created_at=1_700_000_200.0,
        )
        st.append_points(
            rec.id,
            {
                "lr": PointBatch(steps, walls, [1e-4 + 4e-4 * s / 99 for s in steps]),
                "loss": PointBatch(steps, walls, [10 * math.exp(-s / 12) for s in steps]),
            },
        )
        ids["tiny"] = rec.id
    return ids
