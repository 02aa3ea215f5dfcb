"""Write expected.json for an MLflow file store (mlruns/) by reading its plain files (not expbook).

Usage: python expected_mlflow.py DIR [PARAM_LEFT_OUT ...]
Each run folder mlruns/<experiment>/<run_id>/ (one with meta.yaml and metrics/) is a run;
metrics/<key> lines are 'timestamp value step'; params/<key> hold strings, written back as
numbers or booleans where they read as one (what MLflow's own logging turned into text).
Expected values are those of the first run in run-id order.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def _value(text: str) -> object:
    if text in ("True", "False"):
        return text == "True"
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def main(folder: str, *left_out: str) -> None:
    root = Path(folder)
    runs = sorted(p.parent for p in root.glob("**/metrics") if (p.parent / "meta.yaml").is_file())
    run = runs[0]
    metrics = {}
    for f in sorted((run / "metrics").rglob("*")):
        if not f.is_file():
            continue
        pts = [line.split() for line in f.read_text().splitlines() if line.strip()]
        vals = [float(p[1]) for p in pts]
        metrics[f.relative_to(run / "metrics").as_posix()] = {
            "points": len(vals),
            "last": vals[-1],
            "min": min(vals),
            "last_step": int(pts[-1][2]),
        }
    config = {}
    for f in sorted((run / "params").rglob("*")):
        key = f.relative_to(run / "params").as_posix()
        if f.is_file() and key not in left_out:
            config[key] = _value(f.read_text().strip())
    out = {"runs": len(runs), "step": "step", "metrics": metrics, "config": config}
    (root / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
