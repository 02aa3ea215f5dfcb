"""The ``backend`` fixture of the Backend contract tests: every test of this folder runs once
per store kind in :data:`FACTORIES`, with the same assertions.

A factory is a context manager taking pytest's ``tmp_path`` and yielding ``(writer,
reader)``: the store the test writes through and the one it reads back through. For the
embedded and PostgreSQL stores they are one object. A read-only kind (the team server's
remote store) adds an entry to FACTORIES in this file, yielding a writable store on the
server's side as ``writer`` and the remote store as ``reader``, and lists itself in
:data:`READ_ONLY`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from expbook.store import SQLiteStore, connect
from pg_support import fresh_schema


@contextmanager
def sqlite_backend(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    store = SQLiteStore(tmp_path / "store")
    try:
        yield store, store
    finally:
        store.close()


@contextmanager
def postgres_backend(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    with fresh_schema("contract") as url:
        store = connect(url)
        try:
            yield store, store
        finally:
            store.close()
            shutil.rmtree(store.files_dir, ignore_errors=True)  # its local copies of files


Factory = Callable[[Path], AbstractContextManager[tuple[Any, Any]]]

# name -> factory; the server's tests add "remote" (see the module docstring)
FACTORIES: dict[str, Factory] = {
    "sqlite": sqlite_backend,
    "postgres": postgres_backend,
}

READ_ONLY: set[str] = set()  # kinds whose reader refuses writes

# the team server's remote store: a server on a writable store, read through its HTTP API
from server.remote_factory import remote_backend  # noqa: E402

FACTORIES["remote"] = remote_backend
READ_ONLY.add("remote")


@pytest.fixture(params=sorted(FACTORIES))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def pair(kind: str, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    with FACTORIES[kind](tmp_path) as got:
        yield got


@pytest.fixture
def backend(pair: tuple[Any, Any]) -> Any:
    """The store a test writes to."""
    return pair[0]


@pytest.fixture
def reader(pair: tuple[Any, Any]) -> Any:
    """The store a test reads back from (the same one, except for read-only kinds)."""
    return pair[1]
