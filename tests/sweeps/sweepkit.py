"""What the sweep tests share: the seed-000-like trial script (a tiny numpy model), specs, and
running ``expbook`` in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

SRC = str(Path(__file__).resolve().parents[2] / "src")

# pool x feature x framework x seed, mapped onto the demo's MLP: each grid point trains a
# different model, so the winners are a real result of the runs
TRAIN = textwrap.dedent(
    """
    import argparse, sys, time
    import expbook
    from expbook.demo import train

    p = argparse.ArgumentParser()
    for k in ("pool", "feature", "framework"):
        p.add_argument("--" + k)
    p.add_argument("--seed", type=int)
    p.add_argument("--steps", type=int, default=80)
    p.add_argument("--sleep", type=float, default=0.0)
    a = p.parse_args()
    hidden = {"mean": 4, "sum": 16}[a.pool]
    lr = {"onehot": 0.3, "deg_lap_pe": 1.0}[a.feature]
    lr *= {"torch": 1.0, "jax": 0.5}[a.framework]
    print("trial", a.pool, a.feature, a.framework, a.seed, flush=True)
    with expbook.init(config={"steps": a.steps}) as run:
        train(run, lr, hidden, a.steps, a.seed)
        time.sleep(a.sleep)
    """
)

FUNCS = textwrap.dedent(
    """
    import time
    import expbook
    from expbook.demo import train

    def gnn(cfg):
        hidden = {"mean": 4, "sum": 16}[cfg["pool"]]
        lr = {"onehot": 0.3, "deg_lap_pe": 1.0}[cfg["feature"]]
        lr *= {"torch": 1.0, "jax": 0.5}[cfg["framework"]]
        train(expbook.run, lr, hidden, 60, cfg["seed"])

    def slow(cfg):
        # a loss that falls with the step; the "bad" trials' stays high: the pruner's prey
        for step in range(200):
            loss = cfg["level"] + 1.0 / (step + 1)
            expbook.log({"val_loss": loss}, step=step)
            time.sleep(0.02)
        return {"done": 1}

    def boom(cfg):
        raise RuntimeError("trial exploded")
    """
)

GRID = {
    "pool": ["mean", "sum"],
    "feature": ["onehot", "deg_lap_pe"],
    "framework": ["torch", "jax"],
    "seed": [0, 1, 2],
}


def write_project(folder: Path) -> None:
    (folder / "train_gnn.py").write_text(TRAIN)
    (folder / "sweepfns.py").write_text(FUNCS)


def env(folder: Path, **extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("EXPBOOK_")}
    e["PYTHONPATH"] = os.pathsep.join([SRC, str(folder)])
    e.update(extra)
    return e


def expbook(folder: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "expbook", *args],
        cwd=folder,
        env=env(folder),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(folder: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "expbook", *args],
        cwd=folder,
        env=env(folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(cond: Any, timeout: float = 60.0, every: float = 0.1) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = cond()
        if got:
            return got
        time.sleep(every)
    raise AssertionError("timed out waiting")


def table_rows(md: str, header_start: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table in ``md`` whose header starts with
    ``header_start``."""
    lines = md.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(header_start):
            cols = [c.strip() for c in line.strip("|").split("|")]
            out = []
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                out.append(dict(zip(cols, [c.strip() for c in row.strip("|").split("|")])))
            return out
    raise AssertionError(f"no table starting {header_start!r}")
