"""``bench/bench_server_scale.py`` runs end to end on a small store (no timing asserted: the
benchmark prints times, the test checks that every store, the server's URL included, gave
the same output, and that the dashboard's first page was served)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pg_support import pg_url

ROOT = Path(__file__).resolve().parents[2]


def test_bench_runs_small_and_outputs_agree() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_server_scale.py"), "--runs", "300",
         "--reps", "1", "--pg", pg_url()],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "runs: 300 " in out.stdout
    assert "same output on every store" in out.stdout
    # two commands on PostgreSQL, SQLite and the server; the first page of server and ui
    assert out.stdout.count("| `expbook ") == 6
    assert out.stdout.count(" | server | ") == 2
    assert out.stdout.count("| GET / (expbook ") == 4
