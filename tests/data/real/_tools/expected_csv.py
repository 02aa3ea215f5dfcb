"""Write expected.json for a CSV artifact by reading it with the csv module (not expbook).

Usage: python expected_csv.py DIR FILE STEP_COLUMN
Every column but the step column whose cells all read as numbers is a metric; empty cells are
no point. A metric whose last point is not on the table's last row gets its own last_step.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def main(folder: str, name: str, step: str) -> None:
    rows = list(csv.DictReader((Path(folder) / name).read_text().splitlines()))
    steps = [int(float(r[step])) for r in rows]
    metrics: dict[str, dict[str, float | int]] = {}
    for col in rows[0]:
        if col == step:
            continue
        vals = [float(r[col]) for r in rows if r[col] != ""]
        metrics[col] = {"points": len(vals), "last": vals[-1], "min": min(vals)}
        last_row = max(i for i, r in enumerate(rows) if r[col] != "")
        if last_row != len(rows) - 1:
            metrics[col]["last_step"] = steps[last_row]
    out = {"runs": 1, "step": step, "last_step": steps[-1], "metrics": metrics, "config": {}}
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
