"""``expbook demo``: a small real sweep, logged through the public API.

Trains a one-hidden-layer MLP with numpy on a synthetic two-moons classification task, for
every combination of learning rate and width, and logs train loss, validation loss and
accuracy. Takes a few seconds.
"""

from __future__ import annotations

import itertools
import math
import os
from typing import Any

import click

from ._output import emit


def make_data(n: int, seed: int) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    t = rng.uniform(0, math.pi, n)
    label = rng.integers(0, 2, n)
    x: Any = np.where(
        label[:, None] == 0, np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 0.5 - np.sin(t)]
    )
    x = x + rng.normal(0, 0.15, x.shape)
    return x.astype(np.float64), label.astype(np.float64)


def train(run: Any, lr: float, hidden: int, steps: int, seed: int) -> None:
    """Full-batch gradient descent on a ``hidden``-wide tanh MLP."""
    import numpy as np

    x, y = make_data(512, seed)
    xv, yv = make_data(256, seed + 1000)
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 1 / math.sqrt(2), (2, hidden))
    b1 = np.zeros(hidden)
    w2 = rng.normal(0, 1 / math.sqrt(hidden), hidden)
    b2 = 0.0

    def forward(inp: Any) -> tuple[Any, Any]:
        h = np.tanh(inp @ w1 + b1)
        p = 1 / (1 + np.exp(-(h @ w2 + b2)))
        return h, p

    def bce(p: Any, t: Any) -> float:
        p = np.clip(p, 1e-7, 1 - 1e-7)
        return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))

    for step in range(steps):
        h, p = forward(x)
        g = (p - y) / len(y)
        gw2 = h.T @ g
        gb2 = g.sum()
        gh = np.outer(g, w2) * (1 - h**2)
        w1 -= lr * (x.T @ gh)
        b1 -= lr * gh.sum(0)
        w2 -= lr * gw2
        b2 -= lr * gb2
        metrics = {"train_loss": bce(p, y)}
        if step % 10 == 0 or step == steps - 1:
            _, pv = forward(xv)
            metrics["val_loss"] = bce(pv, yv)
            metrics["val_acc"] = float(np.mean((pv > 0.5) == (yv > 0.5)))
        run.log(metrics, step=step)


def run_demo(*, store: str | None, fmt: str, n_runs: int, steps: int, project: str) -> None:
    import expbook

    from .store import resolve_location

    location = resolve_location(store)
    lrs = [0.03, 0.1, 0.3, 1.0, 3.0]
    widths = [4, 16, 64]
    grid = list(itertools.product(widths, lrs))
    configs = [grid[i % len(grid)] for i in range(n_runs)]
    quiet = fmt != "table"
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]training[/bold] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} runs"),
        TimeElapsedColumn(),
        disable=quiet,
        transient=False,
    ) as progress:
        task = progress.add_task("", total=len(configs))
        for i, (hidden, lr) in enumerate(configs):
            name = f"mlp-h{hidden}-lr{lr:g}" + (f"-{i // len(grid)}" if i >= len(grid) else "")
            progress.update(task, description=name)
            with expbook.init(
                project=project,
                name=name,
                store=location,
                config={"model": "mlp", "hidden": hidden, "lr": lr, "steps": steps, "seed": i},
                tags=["demo"],
            ) as run:
                train(run, lr, hidden, steps, seed=i)
            progress.advance(task)

    book = expbook.open_store(location)
    _print_leaderboard(book, project, fmt)
    if fmt == "table":
        rel = os.path.relpath(location)
        store_flag = "" if store is None else f" --store {rel}"
        click.echo(
            "\nTry next:\n"
            f"  expbook runs{store_flag} --project {project}\n"
            f"  expbook show{store_flag} {configs and _best_name(book, project)}\n"
            f"  expbook history{store_flag} {configs and _best_name(book, project)} val_loss\n"
            f"  python -c \"import expbook; print(expbook.open_store('{rel}').runs())\""
        )


def _rows(book: Any, project: str) -> list[list[Any]]:
    recs = book.backend.list_runs(project)
    sums = book.backend.metric_summaries([r.id for r in recs])
    rows = []
    for r in recs:
        m = sums.get(r.id, {})
        vl = m.get("val_loss")
        va = m.get("val_acc")
        rows.append(
            [
                r.name,
                r.id,
                r.config.get("hidden"),
                r.config.get("lr"),
                vl.min_value if vl else None,
                vl.min_step if vl else None,
                vl.last_value if vl else None,
                va.last_value if va else None,
                r.state,
            ]
        )
    rows.sort(key=lambda row: (row[4] is None, row[4] if row[4] is not None else 0))
    return rows


def _best_name(book: Any, project: str) -> str:
    rows = _rows(book, project)
    return str(rows[0][1]) if rows else ""


def _print_leaderboard(book: Any, project: str, fmt: str) -> None:
    rows = _rows(book, project)
    cols = [
        "run",
        "id",
        "hidden",
        "lr",
        "best val_loss",
        "step",
        "last val_loss",
        "val_acc",
        "status",
    ]
    emit(
        fmt,
        columns=cols,
        rows=rows,
        json_obj=[
            dict(
                zip(
                    [
                        "name",
                        "id",
                        "hidden",
                        "lr",
                        "best_val_loss",
                        "best_step",
                        "last_val_loss",
                        "last_val_acc",
                        "status",
                    ],
                    r,
                )
            )
            for r in rows
        ],
        title=f"leaderboard: {project} (lowest validation loss first)",
    )
