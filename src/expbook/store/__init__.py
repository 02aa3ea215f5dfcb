"""Stores: where runs, configs and points live.

:func:`resolve_location` decides which store a command or a script uses;
:func:`connect` opens it: the embedded SQLite store (a folder or a ``.db`` file), a
PostgreSQL store (``postgresql://...``, :mod:`expbook.store.postgres`) or a team server
(``http(s)://...``, read through its API: :mod:`expbook.store.remote`). URLs are passed
through unchanged, never turned into paths.
"""

from __future__ import annotations

import os

from ..errors import StoreError
from .base import Backend, MetricSummary, PointBatch, RunRecord, Series
from .sqlite import STORE_DIR, SQLiteStore, resolve_db_path

_PG_SCHEMES = ("postgresql://", "postgres://")
_HTTP_SCHEMES = ("http://", "https://")

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
    "is_url",
    "resolve_location",
]


def is_url(location: str | os.PathLike[str] | None) -> bool:
    """True when ``location`` names a PostgreSQL database or a server, not a path."""
    return location is not None and str(location).startswith(_PG_SCHEMES + _HTTP_SCHEMES)


def resolve_location(path: str | os.PathLike[str] | None = None, start: str | None = None) -> str:
    """Which store to use: the store ``path`` names if given, else the one
    ``$EXPBOOK_STORE`` names, else the nearest ``.expbook/`` folder from ``start`` (the
    working directory) upwards, else ``./.expbook`` (created on first write).

    A URL (``postgresql://``, ``postgres://``, ``http://``, ``https://``) is returned as
    it is. A named path follows one rule (:func:`~expbook.store.sqlite.resolve_db_path`), whoever
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


def _named(path: str) -> str:
    if is_url(path):
        return path
    p = os.path.abspath(os.path.expanduser(path))
    db = resolve_db_path(p)
    return db if db == p else os.path.dirname(db)


def connect(
    path: str | os.PathLike[str] | None = None, *, create: bool = True, readonly: bool = False
) -> SQLiteStore:
    """Open (and with ``create``, create) the store at :func:`resolve_location` ``(path)``:
    a :class:`SQLiteStore`, a ``PostgresStore`` for a ``postgresql://`` URL, or a
    ``RemoteStore`` (read-only) for an ``http(s)://`` URL."""
    location = resolve_location(path)
    if location.startswith(_PG_SCHEMES):
        from .postgres import PostgresStore

        return PostgresStore(location, create=create, readonly=readonly)
    if location.startswith(_HTTP_SCHEMES):
        from .remote import RemoteStore  # type: ignore[import-not-found,unused-ignore]

        token = os.environ.get("EXPBOOK_TOKEN")
        return RemoteStore(location, token=token)  # type: ignore[no-any-return,return-value,unused-ignore]
    if os.path.exists(location) and not os.path.isdir(location) and not location.endswith(".db"):
        # a plain file given as --store: only acceptable if it is a SQLite database
        with open(location, "rb") as f:
            if f.read(16) != b"SQLite format 3\x00":
                raise StoreError(f"{location} is not an expbook store (not a SQLite database)")
    return SQLiteStore(location, create=create, readonly=readonly)
