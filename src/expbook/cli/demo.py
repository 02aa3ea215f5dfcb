"""``expbook demo``: a small sweep trained into the store."""

from __future__ import annotations

import click

from ._common import (
    CONTEXT,
    store_options,
)


@click.command("demo", context_settings=CONTEXT)
@click.option("--runs", "n_runs", default=8, show_default=True, help="How many runs to train.")
@click.option("--steps", default=300, show_default=True, help="Training steps per run.")
@click.option(
    "--project", default="demo", show_default=True, help="Project the demo runs are logged in."
)
@store_options
def demo_cmd(store: str | None, fmt: str, n_runs: int, steps: int, project: str) -> None:
    """Train a small sweep of tiny numpy models into the store and show a leaderboard. Also
    writes a report, expbook-PROJECT-report.md, into the working directory.

    \b
    Example:
      expbook demo --runs 4 --steps 100 --store /tmp/demo-store
    """
    from ..demo import run_demo

    if n_runs < 1 or steps < 10:
        raise click.BadParameter("need at least 1 run and 10 steps")
    run_demo(store=store, fmt=fmt, n_runs=n_runs, steps=steps, project=project)
