"""Write expected.json for a stable-baselines3 Monitor file with json and csv (not expbook).

Usage: python expected_monitor.py DIR FILE
Line 1 is '#' and a JSON header (t_start, env_id); then a CSV table r,l,t, one row per episode:
r (return) and l (length) are series on the episode index; t is seconds since t_start (wall
time, not a metric); env_id is config.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def main(folder: str, name: str) -> None:
    lines = (Path(folder) / name).read_text().splitlines()
    header = json.loads(lines[0][1:])
    rows = list(csv.DictReader(lines[1:]))
    metrics = {}
    for col in ("r", "l"):
        vals = [float(r[col]) for r in rows]
        metrics[col] = {"points": len(vals), "last": vals[-1], "min": min(vals)}
    out = {
        "runs": 1,
        "step": "episode (row index)",
        "last_step": len(rows) - 1,
        "metrics": metrics,
        "config": {"env_id": header["env_id"]},
    }
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
