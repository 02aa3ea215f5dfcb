"""The sync client's transport (the standard library's HTTP client over one kept-alive
connection): what a syncing training process imports, and a connection the server closed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from expbook.sync.client import Client, Unavailable

from .conftest import ServerProc, assert_same_run, child_env


@pytest.mark.parametrize("server_db", ["sqlite"], indirect=True)
def test_a_syncing_process_imports_no_http_library(server: ServerProc, tmp_path: Path) -> None:
    local = tmp_path / "local"
    code = (
        "import json, sys, expbook\n"
        f"run = expbook.init(project='p', name='r', store={str(local)!r}, server={server.url!r})\n"
        "for s in range(3000):\n"
        "    run.log({'loss': 1.0 / (s + 1), 'acc': s / 3000})\n"
        "run.finish()\n"
        "print(json.dumps({'id': run.id, 'loaded': sorted(m for m in "
        "('httpx', 'httpcore', 'h11', 'requests', 'urllib3') if m in sys.modules)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["loaded"] == []
    assert_same_run(local, server.db, got["id"])


@pytest.mark.parametrize("server_db", ["sqlite"], indirect=True)
def test_a_connection_the_server_closed_is_opened_again(server: ServerProc) -> None:
    with Client(server.url) as client:
        assert client.put_run("k1", {"project": "p"})["created"] is True
        kept = client._conn
        server.stop()
        with pytest.raises(Unavailable, match="cannot reach"):
            client.put_run("k1", {"project": "p"})
        assert client._conn is None  # dropped: the next request opens a new one
        server.start()
        assert client.put_run("k1", {"project": "p", "notes": "n"})["created"] is False
        assert client._conn is not None and client._conn is not kept
        # a kept-alive connection closed by a restart in between: opened again, no error
        server.stop()
        server.start()
        assert client.received("k1") == {}
