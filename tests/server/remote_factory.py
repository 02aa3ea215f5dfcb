"""The ``remote`` kind of the Backend contract tests (``tests/store_contract``): a SQLite
store written directly, read back through a real ``expbook server`` on a free loopback port
with :class:`~expbook.store.remote.RemoteStore`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from expbook.store import SQLiteStore, connect

from .conftest import LiveServer


@contextmanager
def remote_backend(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    from expbook.server.app import create_server

    writer = SQLiteStore(tmp_path / "store")
    try:
        with LiveServer(create_server(tmp_path / "store")) as live:
            reader = connect(live.url)
            try:
                yield writer, reader
            finally:
                reader.close()
    finally:
        writer.close()
