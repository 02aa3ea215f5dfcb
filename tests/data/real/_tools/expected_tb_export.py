"""Write expected.json for a TensorBoard scalar export (the UI's CSV or JSON download).

Usage: python expected_tb_export.py DIR FILE
CSV: header 'Wall time,Step,Value'; JSON: a list of [wall_time, step, value]. Either is one
series whose name is the file's stem (the tag itself is not in the file), on Step, with the
wall time as the points' time. Read with csv / json (not expbook).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def main(folder: str, name: str) -> None:
    path = Path(folder) / name
    if path.suffix == ".json":
        rows = [(int(s), float(v)) for _, s, v in json.loads(path.read_text())]
    else:
        table = csv.DictReader(path.read_text().splitlines())
        rows = [(int(r["Step"]), float(r["Value"])) for r in table]
    metric = {"points": len(rows), "last": rows[-1][1], "min": min(v for _, v in rows)}
    out = {
        "runs": 1,
        "step": "Step",
        "last_step": rows[-1][0],
        "metrics": {path.stem: metric},
        "config": {},
    }
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
