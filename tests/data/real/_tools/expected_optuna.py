"""Write expected.json for an Optuna study's trials_dataframe() CSV with csv (not expbook).

Usage: python expected_optuna.py DIR FILE
One run, as for scikit-learn's cv_results_: the trial 'number' is the step and the objective
'value' a series over it (trials that did not complete have an empty value: no point). The
params_* columns (empty where a conditional parameter was not sampled), datetimes, duration
and state are per-trial details, not checked here.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def main(folder: str, name: str) -> None:
    rows = list(csv.DictReader((Path(folder) / name).read_text().splitlines()))
    pts = [(int(r["number"]), float(r["value"])) for r in rows if r["value"] != ""]
    out = {
        "runs": 1,
        "step": "number",
        "last_step": pts[-1][0],
        "metrics": {
            "value": {"points": len(pts), "last": pts[-1][1], "min": min(v for _, v in pts)}
        },
        "config": {},
    }
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
