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

    from ._views import load_runs
    from .analysis import leaderboard

    book = expbook.open_store(location)
    table = leaderboard(
        load_runs(book.backend, project),
        "val_loss",
        params=["hidden", "lr"],
        columns=["val_acc"],
    )
    table.title = f"leaderboard: {project} (lowest validation loss first)"
    from ._output import emit_table

    emit_table(fmt, table)
    report = _write_report(book, project)
    if fmt == "table":
        from .store import is_url

        if is_url(location):  # a database: its URL (password hidden), quoted for a shell
            import shlex

            plain = book.backend.location
            rel = shlex.quote(plain)
        else:
            plain = rel = os.path.relpath(location)
        click.echo(
            f"\nReport: {os.path.relpath(report)}, in the working directory "
            f"{os.path.dirname(report)} (re-render it with `expbook report "
            f"{os.path.relpath(report)}{' --store ' + rel if store else ''}"
            "` after more runs)"
        )
        flag = "" if store is None else f" --store {rel}"
        best = table.rows[0][table.columns.index("id")] if table.rows else ""
        click.echo(
            "\nTry next:\n"
            f"  expbook runs{flag} --project {project}\n"
            f"  expbook show{flag} {best}\n"
            f"  expbook history{flag} {best} val_loss\n"
            f"  expbook pivot{flag} --project {project} --rows hidden --cols lr --value val_loss\n"
            f"  expbook leaderboard{flag} --project {project} --metric val_acc --mode max "
            "--filter 'config.hidden >= 16'\n"
            f"  python -c \"import expbook; print(expbook.open_store('{plain}').runs())\"\n"
            f"Dashboard (runs, charts and the report above): "
            f"pip install 'expbook[ui]' && expbook ui --store {rel}"
        )


def _write_report(book: Any, project: str) -> str:
    """Write (first time) and render a sweep report in the working directory; returns its
    path."""
    from ._views import load_runs
    from .report import record_rendering, render_file, write_atomic
    from .report.starters import starter

    path = os.path.join(os.getcwd(), f"expbook-{project}-report.md")
    if not os.path.exists(path):
        text = starter("sweep", load_runs(book.backend, project), project)
        try:
            import matplotlib  # noqa: F401
        except ImportError:  # plots need the report extra: leave them out of the demo
            text = text.split("## Curves")[0].rstrip() + (
                "\n\nPlots: `pip install 'expbook[report]'`, then add a block "
                "`plot: {metric: val_loss}`.\n"
            )
        write_atomic(path, text)
    record_rendering(book.backend, path, render_file(path, book.backend), project)
    return path
