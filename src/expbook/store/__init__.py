"""Stores: where runs, configs and points live.

:func:`resolve_location` decides which store a command or a script uses;
:func:`connect` opens it. The embedded SQLite store is the only backend today.
"""

from __future__ import annotations

import os

from ..errors import StoreError
from .base import Backend, MetricSummary, PointBatch, RunRecord, Series
from .sqlite import STORE_DIR, SQLiteStore, resolve_db_path

ENV_STORE = "EXPBOOK_STORE"

__all__ = [
    "ENV_STORE",
    "STORE_DIR",
    "Backend",
    "MetricSummary",
    "PointBatch",
    "RunRecord",
    "SQLiteStore",
    "Series",
    "connect",
    "resolve_location",
]


def resolve_location(path: str | os.PathLike[str] | None = None, start: str | None = None) -> str:
    """Which store to use: the store ``path`` names if given, else the one
    ``$EXPBOOK_STORE`` names, else the nearest ``.expbook/`` folder from ``start`` (the
    working directory) upwards, else ``./.expbook`` (created on first write).

    A named path follows one rule (:func:`~expbook.store.sqlite.resolve_db_path`), whoever
    names it (``--store``, ``init(store=)``, ``init(dir=)``, ``$EXPBOOK_STORE``). The answer
    is the store folder, or the database file when the path names a file.
    """
    if path is not None and os.fspath(path) != "":
        return _named(os.fspath(path))
    env = os.environ.get(ENV_STORE)
    if env:
        return _named(env)
    from pathlib import Path  # only here: not needed when a store is named

    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / STORE_DIR
        if candidate.is_dir():
            return str(candidate)
    return str(here / STORE_DIR)


def _is_http(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def _named(path: str) -> str:
    if _is_http(path):
        return path  # a server's URL: passed through as it is
    p = os.path.abspath(os.path.expanduser(path))
    db = resolve_db_path(p)
    return db if db == p else os.path.dirname(db)


def connect(
    path: str | os.PathLike[str] | None = None, *, create: bool = True, readonly: bool = False
) -> SQLiteStore:
    """Open (and with ``create``, create) the store at :func:`resolve_location` ``(path)``."""
    location = resolve_location(path)
    if _is_http(location):
        from .remote import RemoteStore

        return RemoteStore(location, token=os.environ.get("EXPBOOK_TOKEN"))  # type: ignore[return-value]
    if os.path.exists(location) and not os.path.isdir(location) and not location.endswith(".db"):
        # a plain file given as --store: only acceptable if it is a SQLite database
        with open(location, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                raise StoreError(f"{location} is not an expbook store (not a SQLite database)")
    return SQLiteStore(location, create=create, readonly=readonly)
