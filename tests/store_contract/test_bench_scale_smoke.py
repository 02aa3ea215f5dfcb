"""``bench/bench_server_scale.py`` runs end to end on a small store (no timing asserted: the
benchmark prints times, the test checks that both stores gave the same output)."""

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
    assert "same output on both stores" in out.stdout
    assert out.stdout.count("| `expbook ") == 2
