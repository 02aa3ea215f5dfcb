"""What the command modules share: the store and format options, opening the store, the
run-selection options, and printing a result table."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import click

from .._output import FORMATS
from ..errors import ExpbookError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


STORE_OPTION = click.option(
    "--store",
    "store",
    metavar="PATH",
    envvar="EXPBOOK_STORE",
    help="The store: its folder, a folder holding .expbook/, or a .db file (default: "
    "$EXPBOOK_STORE, else the nearest .expbook/ upwards).",
)


def store_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--store`` and ``--format`` on a command."""

    @STORE_OPTION
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format.",
    )
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return f(*args, **kwargs)

    return wrapper


def open_backend(store: str | None, *, create: bool = False) -> Any:
    from ..store import connect, resolve_location

    location = resolve_location(store)
    if not create and "://" not in location and not os.path.exists(location):
        if store is None and not os.environ.get("EXPBOOK_STORE"):
            raise ExpbookError(
                "no expbook store here (no .expbook/ folder in this directory or above): "
                "run `expbook demo`, log a run, or pass --store PATH"
            )
        raise ExpbookError(f"no expbook store at {location}")
    return connect(location, create=create)


def selection_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--project`` and ``--filter`` (run names and globs are positional arguments)."""

    @click.option("--project", "-p", help="Only runs of this project.")
    @click.option(
        "--filter",
        "-f",
        "filter_",
        metavar="EXPR",
        help='Keep runs where EXPR holds, e.g. \'config.framework == "jax" and '
        "test_mse < 2' (grammar in the README).",
    )
    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return f(*args, **kwargs)

    return wrapper


def open_book(store: str | None) -> Any:
    """The :class:`expbook.Store` the analysis commands are a thin layer over."""
    from .._read import Store

    return Store(open_backend(store))


def split_keys(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


DERIVE = click.option(
    "--derive",
    "-d",
    "derive",
    multiple=True,
    metavar="NAME=EXPR",
    help="Add a column computed per run, e.g. 'ppl=exp(val_loss)' (repeatable); point-wise in "
    "logged keys, it is a series (best, best step, value at a step).",
)
