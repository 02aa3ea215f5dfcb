"""expected.json for ultralytics-yolov8-train and sklearn-svm-cv-results (csv + PyYAML).

Usage: python expected_ultra_sklearn.py   (any directory)
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

REAL = Path(__file__).resolve().parents[1]


def series(rows: list[dict[str, str]], col: str) -> dict[str, float | int]:
    vals = [float(r[col]) for r in rows]
    return {"points": len(vals), "last": vals[-1], "min": min(vals)}


def main() -> None:
    run = REAL / "ultralytics-yolov8-train"
    rows = list(csv.DictReader((run / "results.csv").open(newline="")))
    args = yaml.safe_load((run / "args.yaml").read_text())
    cols = [c for c in rows[0] if c != "epoch"]
    out = {
        "runs": 1,
        "step": "epoch",
        "last_step": int(rows[-1]["epoch"]),
        "metrics": {c: series(rows, c) for c in cols},
        "config": {k: args[k] for k in ("model", "epochs", "batch", "lr0", "device", "amp")},
    }
    (run / "expected.json").write_text(json.dumps(out, indent=1) + "\n")

    cv = REAL / "sklearn-svm-cv-results"
    rows = list(csv.DictReader((cv / "cv_results.csv").open(newline="")))
    cols = [
        "mean_fit_time",
        "mean_test_score",
        "std_test_score",
        "rank_test_score",
        "split0_test_score",
    ]
    out = {
        "runs": 1,
        "step": "candidate index (the unnamed first column)",
        "last_step": int(rows[-1][""]),
        "metrics": {c: series(rows, c) for c in cols},
        "config": {},
    }
    (cv / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
