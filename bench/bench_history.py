#!/usr/bin/env python3
"""``expbook history`` on one long run, next to a plain SQLite floor measured in the same run.

    python bench/bench_history.py            # a run of 1,000,000 points of one key
    python bench/bench_history.py --quick    # 200,000 points
    python bench/bench_history.py --json out.json

The store holds one run, ``big``, with ``loss`` at steps 0..N-1, written through the backend
(``SQLiteStore.append_points``, 100,000 points a call). The floor is the same points in a
plain SQLite table ``points(step INTEGER PRIMARY KEY, value REAL)``.

Every measurement is the wall time of a whole new process, stdout to a pipe:

* ``history big --format csv``: every point as CSV; floor: ``python -c`` that selects every
  row of the floor table and writes it with the ``csv`` module;
* ``history big`` (a table; ``LINES=40``): the first and last rows that fit; floor: the same
  ``python -c`` selecting only the first and last 15 rows;
* ``history big --tail 1000 --format csv``: floor: the last 1,000 rows by primary key;
* ``python -c pass``: the interpreter alone.

Each output is checked (row count, first and last step) against the floor's.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    child_env,
    expbook_cmd,
    log_progress,
    med,
    print_results,
    python_c,
    run_header,
    spread,
)

SIZES = {"full": {"points": 1_000_000, "reps": 3}, "quick": {"points": 200_000, "reps": 3}}

FLOOR = """
import csv, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
w = csv.writer(sys.stdout, lineterminator="\\n")
w.writerow(["step", "loss"])
if sys.argv[2] == "all":
    rows = con.execute("SELECT step, value FROM points ORDER BY step")
elif sys.argv[2] == "ends":
    rows = [*con.execute("SELECT step, value FROM points ORDER BY step LIMIT 15"),
            *reversed(con.execute(
                "SELECT step, value FROM points ORDER BY step DESC LIMIT 15").fetchall())]
else:
    rows = reversed(con.execute(
        "SELECT step, value FROM points ORDER BY step DESC LIMIT ?", (int(sys.argv[2]),)
    ).fetchall())
for s, v in rows:
    w.writerow([s, repr(v)])
"""


def build(n: int, folder: Path) -> tuple[Path, Path]:
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    from expbook.store import PointBatch, SQLiteStore

    store, floor = folder / "store", folder / "floor.db"
    steps = np.arange(n, dtype=np.int64)
    values = np.random.default_rng(20261204).normal(size=n)
    walls = 1.7e9 + steps * 0.01
    with SQLiteStore(store) as st:
        rid = st.create_run(name="big", project="bench", run_id="big00001").id
        for i in range(0, n, 100_000):
            part = slice(i, i + 100_000)
            st.append_points(rid, {"loss": PointBatch(steps[part], walls[part], values[part])})
    con = sqlite3.connect(floor)
    con.execute("CREATE TABLE points(step INTEGER PRIMARY KEY, value REAL)")
    con.executemany("INSERT INTO points VALUES (?,?)", zip(steps.tolist(), values.tolist()))
    con.commit()
    con.close()
    return store, floor


def run_cli(args: list[str]) -> tuple[float, str]:
    env = {**child_env(), "LINES": "40", "COLUMNS": "100"}
    t0 = time.perf_counter()
    p = subprocess.run([*expbook_cmd(), *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"expbook {' '.join(args)} failed:\n{p.stderr[-2000:]}")
    return wall, p.stdout


def steps_of(out: str) -> list[int]:
    """The steps in a CSV or table output, in order."""
    lines = out.splitlines()
    if any(line.startswith("│") for line in lines):  # a table: its first column
        cells = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    else:
        cells = [line.split(",")[0] for line in lines]
    return [int(c) for c in cells if c.isdigit()]


def check(ours: str, floor: str) -> bool:
    a, b = steps_of(ours), steps_of(floor)
    return len(a) == len(b) and a[:1] == b[:1] and a[-1:] == b[-1:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", metavar="OUT")
    args = ap.parse_args(argv)
    size = SIZES["quick" if args.quick else "full"]
    n, reps = size["points"], size["reps"]
    raw: dict[str, Any] = run_header(size)
    with tempfile.TemporaryDirectory(prefix="expbook-bench-history-") as tmp:
        log_progress(f"building a run of {n:,} points")
        store, floor = build(n, Path(tmp))
        python_c("pass")  # fill the bytecode cache once
        run_cli(["history", "big", "--store", str(store), "--tail", "1"])
        cases = [
            ("history --format csv (every point)", ["--format", "csv"], "all"),
            ("history (table, 40 lines)", [], "ends"),
            ("history --tail 1000 --format csv", ["--tail", "1000", "--format", "csv"], "1000"),
        ]
        rows = []
        bare = [python_c("pass")[0] for _ in range(reps)]
        for name, flags, floor_arg in cases:
            ours_t, floor_t, ok = [], [], True
            for _ in range(reps):
                t, out = run_cli(["history", "big", "--store", str(store), *flags])
                ft, fout = python_c(FLOOR, str(floor), floor_arg)
                ours_t.append(t)
                floor_t.append(ft)
                ok = ok and check(out, fout)
            log_progress(f"{name}: {med(ours_t):.3f} s, floor {med(floor_t):.3f} s")
            rows.append(
                {
                    "name": name,
                    "ours": spread(ours_t) + " s",
                    "floor": spread(floor_t) + " s",
                    "ratio": med(ours_t) / med(floor_t),
                    "target": "",
                    "met": None,
                    "ok": ok,
                    "raw": {"ours": ours_t, "floor": floor_t},
                }
            )
    print(f"expbook history on a run of {n:,} points; python -c pass: {spread(bare)} s\n")
    print_results(rows, floor_head="sqlite3 + csv floor (same run)")
    raw.update(rows=rows, python_pass=bare)
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1) + "\n")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    os.environ.pop("EXPBOOK_STORE", None)
    sys.exit(main())
