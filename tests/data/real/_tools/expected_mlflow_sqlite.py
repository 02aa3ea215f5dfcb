"""Write expected.json for an MLflow SQLite tracking database with sqlite3 (not expbook).

Usage: python expected_mlflow_sqlite.py DIR FILE RUN_NAME
Every run not marked deleted is a run ('runs' counts them), except one that holds nothing
but MLflow's own mlflow.* tags (no metric, param or user tag: a run started and abandoned
before logging anything is not worth a record); the values checked are those of the run
named RUN_NAME (expected.json's run_name): its metric histories from the metrics table (one
point per row, on 'step'), its params as config (text written back as numbers, booleans or
None where it reads as one, as for a file store).
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from pathlib import Path


def _value(text: str) -> object:
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def _holds_something(con: sqlite3.Connection, uuid: str) -> bool:
    for table in ("metrics", "params"):
        if con.execute(f"select 1 from {table} where run_uuid = ?", (uuid,)).fetchone():
            return True
    tags = con.execute("select key from tags where run_uuid = ?", (uuid,)).fetchall()
    return any(not k.startswith("mlflow.") for (k,) in tags)


def main(folder: str, name: str, run_name: str) -> None:
    uri = f"file:{Path(folder) / name}?mode=ro"
    con = sqlite3.connect(uri, uri=True)
    runs = con.execute("select run_uuid, name from runs where lifecycle_stage != 'deleted'")
    runs = [(u, n) for u, n in runs.fetchall() if _holds_something(con, u)]
    (uuid,) = [u for u, n in runs if n == run_name]
    metrics = {}
    keys = con.execute("select distinct key from metrics where run_uuid = ?", (uuid,))
    for (key,) in keys.fetchall():
        rows = con.execute(
            "select step, value from metrics where run_uuid = ? and key = ? "
            "order by step, timestamp",
            (uuid, key),
        ).fetchall()
        metrics[key] = {
            "points": len(rows),
            "last": rows[-1][1],
            "min": min(v for _, v in rows),
            "last_step": rows[-1][0],
        }
    params = con.execute("select key, value from params where run_uuid = ?", (uuid,))
    config = {k: _value(v) for k, v in params.fetchall()}
    out = {
        "runs": len(runs),
        "run_name": run_name,
        "step": "step",
        "metrics": metrics,
        "config": config,
    }
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
