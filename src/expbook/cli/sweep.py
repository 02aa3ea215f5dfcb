"""``expbook sweep``: run or resume a sweep (``expbook sweep SPEC.yaml``), list its trials
(``expbook sweep status NAME``), stop it (``expbook sweep stop NAME``)."""

from __future__ import annotations

import time
from typing import Any

import click

from .._output import emit_table, to_json, visible
from ._common import CONTEXT, STORE_OPTION, open_backend, store_options


class _SweepGroup(click.Group):
    """A group whose first argument, when it names no subcommand, is a spec to run:
    ``expbook sweep spec.yaml`` is ``expbook sweep run spec.yaml``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args:
            raise click.UsageError(
                "expbook sweep SPEC.yaml runs a sweep; also: status [NAME], stop NAME (-h: help)"
            )
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("sweep", cls=_SweepGroup, context_settings=CONTEXT)
def sweep_cmd() -> None:
    """Run a sweep declared in YAML (grid, random or Optuna; trials on a local process pool or
    a Ray cluster), resume it after a crash, list its trials, stop it.

    \b
    Example:
      expbook sweep sweep.yaml --workers 4
      expbook sweep status gnn-ablation
      expbook sweep stop gnn-ablation
    """


@sweep_cmd.command("run", context_settings=CONTEXT)
@click.argument("spec_path", metavar="SPEC.yaml", type=click.Path(dir_okay=False))
@click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    help="Trials at once (default: the spec's workers, else 1).",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    help="Where trials run (default: the spec's, else local).",
)
@click.option(
    "--ray-address", metavar="ADDRESS", help="The Ray cluster: auto, HOST:PORT or ray://HOST:PORT."
)
@click.option(
    "--report-every",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds between renderings of the report while trials finish.",
)
@store_options
def run_cmd(
    store: str | None,
    fmt: str,
    spec_path: str,
    workers: int | None,
    executor: str | None,
    ray_address: str | None,
    report_every: float,
) -> None:
    """Run a sweep, or resume it: finished trials are kept, failed ones retried (up to the
    spec's retries), interrupted ones run again. Refuses a sweep another live process runs.

    \b
    Example:
      expbook sweep run sweep.yaml --workers 4
    """
    from ..sweeps.scheduler import run_sweep
    from ..sweeps.spec import load_spec

    spec = load_spec(spec_path)
    backend = open_backend(store, create=True)
    quiet = fmt != "table"
    echo = None if quiet else (lambda s: click.echo(visible(s)))
    result = run_sweep(
        spec,
        backend,
        workers=workers,
        executor=executor,
        ray_address=ray_address,
        echo=echo,
        report_every=report_every,
    )
    if fmt == "json":
        click.echo(to_json(result))
    elif fmt == "table":
        counts = ", ".join(f"{n} {s}" for s, n in sorted(result["counts"].items()))
        line = f"sweep {spec.name} {result['status']}: {result['trials']} trials ({counts})"
        best = result.get("best")
        if best is not None:
            line += f"; best: trial {best['trial']} ({spec.metric}={best['value']:.6g})"
        click.echo(visible(line))
        if spec.report:
            click.echo(visible(f"report: {spec.report}"))
        click.echo(f"trials: expbook sweep status {spec.name}")
    else:
        emit_table(fmt, _trials_table(backend, spec.name))
    bad = sum(result["counts"].get(s, 0) for s in ("failed", "crashed", "timeout"))
    if bad or result["status"] != "finished":
        raise SystemExit(1)


def _trials_table(backend: Any, name: str) -> Any:
    from ..analysis import Table
    from ..sweeps.report import _spec_of

    spec = _spec_of(backend, name)
    trials = backend.sweep_trials(name)
    params = [p.name for p in spec.params]
    metric = spec.metric or "value"
    rows = []
    for t in trials:
        dur = None
        if t["started_at"]:
            end = t["finished_at"] if t["status"] != "running" else time.time()
            dur = round((end or time.time()) - t["started_at"], 3)
        rows.append(
            [
                t["idx"],
                t["status"],
                t["attempts"],
                *(t["params"].get(p) for p in params),
                t["value"],
                dur,
                t["run_id"],
                t["error"],
            ]
        )
    row = backend.sweep_get(name)
    table = Table(
        ["trial", "status", "attempts", *params, metric, "seconds", "run", "error"],
        rows,
        kind="sweep",
        title=f"sweep {name}: {row['status'] if row else '?'}",
        meta={
            "name": name,
            "status": row["status"] if row else None,
            "metric": spec.metric,
            "goal": spec.goal,
            "info": row["info"] if row else {},
        },
    )
    counts: dict[str, int] = {}
    for t in trials:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    table.notes.append(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no trials")
    return table


@sweep_cmd.command("status", context_settings=CONTEXT)
@click.argument("name", required=False)
@store_options
def status_cmd(store: str | None, fmt: str, name: str | None) -> None:
    """The trials of sweep NAME (status, params, metric, duration, run), or the store's sweeps
    when no NAME is given.

    \b
    Example:
      expbook sweep status gnn-ablation --format json
    """
    from ..analysis import Table
    from ..sweeps.scheduler import owner_alive

    backend = open_backend(store)
    if name is None:
        rows = []
        for s in backend.sweep_list():
            trials = backend.sweep_trials(s["name"])
            done = sum(t["status"] in ("finished", "pruned") for t in trials)
            state = s["status"]
            if state == "running" and not owner_alive(s):
                state = "crashed"
            rows.append([s["name"], state, len(trials), done, s["pid"], s["host"]])
        emit_table(
            fmt, Table(["sweep", "status", "trials", "done", "pid", "host"], rows, kind="sweeps")
        )
        return
    emit_table(fmt, _trials_table(backend, name))


@sweep_cmd.command("stop", context_settings=CONTEXT)
@click.argument("name")
@STORE_OPTION
def stop_cmd(store: str | None, name: str) -> None:
    """Stop sweep NAME: its owner stops the running trials and exits (they run again when the
    sweep is resumed).

    \b
    Example:
      expbook sweep stop gnn-ablation
    """
    from ..sweeps.scheduler import stop_sweep

    click.echo(visible(stop_sweep(open_backend(store), name)))
