"""The dashboard on PostgreSQL: ``expbook ui --store postgresql://...`` serves, and its JSON
API answers what it answers on the same runs in SQLite."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from expbook.web.app import create_app
from pg_support import fresh_schema

from .twins import Twin

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    with fresh_schema("ui") as url:
        yield Twin("seed002", tmp_path_factory.mktemp("ui") / "store", url)


def test_api_answers_the_same(twin: Twin) -> None:
    lite = TestClient(create_app(twin.stores["sqlite"]))
    pg = TestClient(create_app(twin.stores["postgres"]))
    runs = lite.get("/api/runs").json()
    assert runs["total"] > 1
    ids = [r["id"] for r in runs["runs"]]
    paths = [
        "/api/runs",
        "/api/runs?sort=name&order=asc&limit=3",
        "/api/runs?filter=val_loss%20%3C%2010",
        "/api/runs?q=w3",
        "/api/columns",
        f"/api/compare?ids={ids[0]},{ids[1]}",
        "/api/reports",
    ]
    for rid in ids[:3]:
        paths.append(f"/api/runs/{rid}")
        for key in ("val_loss", "loss"):
            paths.append(f"/api/runs/{rid}/series/{key}")
            paths.append(f"/api/runs/{rid}/series/{key}?step_min=100&step_max=5000")
    for path in paths:
        a, b = lite.get(path), pg.get(path)
        assert (a.status_code, a.json()) == (b.status_code, b.json()), path
        assert a.status_code == 200, path
    for page in ("/", f"/runs/{ids[0]}", f"/compare?ids={ids[0]},{ids[1]}", "/reports"):
        got = pg.get(page)
        assert got.status_code == 200, page
        assert "postgresql://" in pg.get("/").text  # the page names the store it shows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ui_command_serves_postgres(twin: Twin) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("EXPBOOK_STORE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "expbook", "ui", "--store", twin.stores["postgres"],
         "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/runs", timeout=5) as r:
                    body = r.read().decode()
            except OSError:
                assert proc.poll() is None, proc.communicate()[1]
                time.sleep(0.2)
        assert body is not None, "expbook ui did not answer"
        assert '"total":6' in body.replace(" ", "")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
