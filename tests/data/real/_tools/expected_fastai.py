"""Write expected.json for a fastai CSVLogger history.csv with the csv module (not expbook).

Usage: python expected_fastai.py DIR FILE
Columns: epoch, the loss and metric columns, and 'time' (the epoch's duration as mm:ss or
h:mm:ss text). Every column but epoch and time is a series on epoch; time is a duration, not
checked here.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def main(folder: str, name: str) -> None:
    rows = list(csv.DictReader((Path(folder) / name).read_text().splitlines()))
    metrics = {}
    for col in rows[0]:
        if col in ("epoch", "time"):
            continue
        vals = [float(r[col]) for r in rows if r[col] != ""]
        metrics[col] = {"points": len(vals), "last": vals[-1], "min": min(vals)}
    out = {
        "runs": 1,
        "step": "epoch",
        "last_step": int(rows[-1]["epoch"]),
        "metrics": metrics,
        "config": {},
    }
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
