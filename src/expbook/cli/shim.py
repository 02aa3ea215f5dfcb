"""``expbook shim install|uninstall|status wandb``: make ``import wandb`` be expbook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .._output import FORMATS, emit
from ._common import CONTEXT

TARGET = click.option(
    "--target",
    type=click.Path(file_okay=False, path_type=Path),
    help="The site-packages folder (default: the running Python's).",
)
FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)
NAME = click.argument("name", type=click.Choice(["wandb"]), default="wandb")


def _emit(fmt: str, state: Any, message: str) -> None:
    if fmt == "table":
        click.echo(message)
        return
    d = state.to_dict()
    emit(fmt, columns=list(d), rows=[[_cell(v) for v in d.values()]], json_obj=d)


def _cell(v: Any) -> Any:
    return " ".join(v) if isinstance(v, list) else v


@click.group("shim", context_settings=CONTEXT)
def shim_cmd() -> None:
    """Make `import wandb` resolve to expbook, so wandb clients log to the store unmodified.

    \b
    Example:
      expbook shim install wandb && python train.py && expbook runs
    """


@shim_cmd.command("install", context_settings=CONTEXT)
@NAME
@TARGET
@click.option("--force", is_flag=True, help="Move a real wandb aside (uninstall restores it).")
@FORMAT
def install_cmd(name: str, target: Path | None, force: bool, fmt: str) -> None:
    """Install the shim: `import wandb` becomes expbook's wandb layer.

    \b
    Example:
      expbook shim install wandb
    """
    from ..compat import install

    state = install.install(name, target, force=force)
    msg = f"installed the {name} shim (version {state.version}) in {state.target}"
    if state.aside:
        msg += f"; the real {name} was moved into {install.ASIDE}/"
    _emit(fmt, state, msg)


@shim_cmd.command("uninstall", context_settings=CONTEXT)
@NAME
@TARGET
@FORMAT
def uninstall_cmd(name: str, target: Path | None, fmt: str) -> None:
    """Remove exactly what `shim install` wrote (and restore a real wandb it moved aside).

    \b
    Example:
      expbook shim uninstall wandb
    """
    from ..compat import install

    state = install.uninstall(name, target)
    msg = f"removed the {name} shim from {state.target}"
    if state.real:
        msg += f"; the real {name} is back ({state.real})"
    _emit(fmt, state, msg)


@shim_cmd.command("status", context_settings=CONTEXT)
@NAME
@TARGET
@FORMAT
def status_cmd(name: str, target: Path | None, fmt: str) -> None:
    """Say whether the shim is installed, and whether a real wandb is there.

    \b
    Example:
      expbook shim status --format json
    """
    from ..compat import install

    state = install.status(name, target)
    if state.installed:
        msg = f"{name}: expbook shim {state.version} installed in {state.target}"
    else:
        msg = f"{name}: shim not installed in {state.target}"
    if state.real:
        msg += f"; real {name} present ({state.real})"
    if state.aside:
        msg += f"; real {name} moved aside ({', '.join(state.aside)})"
    _emit(fmt, state, msg)
