"""Fixtures of the team server's tests: a seeded store, tokens, and a real uvicorn server
on a free loopback port."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from expbook.store import PointBatch, SQLiteStore


def seed(store_dir: str | Path) -> dict[str, list[str]]:
    """Two projects, runs with metrics (NaN and infinities among them), a non-numeric
    value and set summary values; returns project -> run ids."""
    out: dict[str, list[str]] = {}
    with SQLiteStore(store_dir) as s:
        for project, n in (("vision", 3), ("nlp", 2)):
            for i in range(n):
                rec = s.create_run(
                    name=f"{project}-{i}",
                    project=project,
                    config={"lr": 10.0**-i, "layers": {"n": i + 1}, "seed": i},
                    tags=["t"] if i else [],
                    created_at=1_700_000_000.0 + 10 * i + (0 if project == "vision" else 100),
                )
                steps = list(range(0, 50))
                loss = [1.0 / (j + 1 + i) for j in steps]
                if i == 1:
                    loss[10] = math.nan
                    loss[20] = math.inf
                acc = [j / 50 + 0.01 * i for j in steps]
                walls = [1_700_000_000.0 + j for j in steps]
                s.append_points(
                    rec.id,
                    {
                        "loss": PointBatch(steps, walls, loss),
                        "val/acc": PointBatch(steps, walls, acc),
                    },
                )
                s.append_values(rec.id, [("note", 3, 1_700_000_003.0, '"hello"')])
                s.update_run(
                    rec.id,
                    status="finished",
                    finished_at=1_700_000_100.0,
                    summary={"final": -i, "weird": math.nan if i == 1 else 1.5},
                )
                out.setdefault(project, []).append(rec.id)
    return out


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def seeded(store_dir: Path) -> dict[str, list[str]]:
    return seed(store_dir)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """``create_server(store)`` served by uvicorn in a thread on a free loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive(), "the server did not start"
            assert time.monotonic() < deadline, "the server did not start in 30 s"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def live(store_dir: Path, seeded: dict[str, list[str]]) -> Iterator[LiveServer]:
    from expbook.server.app import create_server

    with LiveServer(create_server(store_dir)) as server:
        yield server


def make_token(store_dir: Path | str, project: str, scope: str) -> tuple[dict[str, Any], str]:
    from expbook.server._auth import create_token
    from expbook.store import connect

    with connect(str(store_dir)) as s:  # a store folder or a PostgreSQL URL
        return create_token(s, project=project, scope=scope, name=f"{project}-{scope}")
