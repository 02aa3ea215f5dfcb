"""Reading a big store through ``expbook server``: ``--store http://...`` against the same
store read locally, in the same run.

Builds N runs (default 100,000; 4 metrics and a small config each) in a SQLite store, serves
it with ``expbook server`` (a subprocess on a free loopback port) and times, each in a fresh
process, median of --reps:

* ``list``: ``RemoteStore.list_runs() + metric_summaries()`` (one request) vs the same two
  calls on ``SQLiteStore``: what every analysis command reads first;
* ``leaderboard``: ``expbook leaderboard --metric loss --format json`` with ``--store URL``
  vs ``--store PATH`` (whole CLI processes).

Prints seconds and the remote/local ratio. Usage::

    .venv/bin/python bench/bench_remote_read.py [--runs 100000] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
ENV.pop("EXPBOOK_TOKEN", None)


def build(store: Path, n: int) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from expbook.store import PointBatch, SQLiteStore

    with SQLiteStore(store) as s, s.atomic():
        for i in range(n):
            rec = s.create_run(
                name=f"r{i}",
                project="big",
                status="finished",
                config={"lr": 10.0 ** -(i % 5), "depth": i % 7, "seed": i % 3},
                created_at=1_700_000_000.0 + i,
            )
            steps = [0, 1, 2]
            walls = [1.0, 2.0, 3.0]
            s.append_points(
                rec.id,
                {
                    k: PointBatch(steps, walls, [1.0 / (i + j + 1) for j in steps])
                    for k in ("loss", "acc", "val/loss", "val/acc")
                },
            )


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, env=ENV, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


LIST = (
    "import sys, time; from expbook.store import connect; s = connect(sys.argv[1]); "
    "t = time.perf_counter(); runs = s.list_runs(); sums = s.metric_summaries(); "
    "assert len(runs) == len(sums) > 0; print(time.perf_counter() - t)"
)


def list_time(location: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", LIST, location], env=ENV, check=True, capture_output=True, text=True
    )
    return float(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        t = time.perf_counter()
        build(store, args.runs)
        print(f"built {args.runs:,} runs in {time.perf_counter() - t:.1f} s")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "expbook", "server", "--db", str(store), "--port", str(port)],
            env=ENV,
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.1)
            rows = []
            for name, local, remote in (
                (
                    "list_runs + metric_summaries",
                    lambda: list_time(str(store)),
                    lambda: list_time(url),
                ),
                (
                    "expbook leaderboard (process)",
                    lambda: timed(_lb(str(store))),
                    lambda: timed(_lb(url)),
                ),
            ):
                lt = statistics.median(local() for _ in range(args.reps))
                rt = statistics.median(remote() for _ in range(args.reps))
                rows.append((name, lt, rt))
        finally:
            server.terminate()
            server.wait(30)
    print(f"{'':32} {'local s':>9} {'server s':>9} {'ratio':>7}")
    for name, lt, rt in rows:
        print(f"{name:32} {lt:9.3f} {rt:9.3f} {rt / lt:6.2f}x")


def _lb(store: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "expbook",
        "leaderboard",
        "--metric",
        "loss",
        "--format",
        "json",
        "--store",
        store,
    ]


if __name__ == "__main__":
    main()
