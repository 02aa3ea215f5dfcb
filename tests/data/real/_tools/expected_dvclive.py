"""Write expected.json for a dvclive output folder with csv, json and PyYAML (not expbook).

Usage: python expected_dvclive.py DIR LIVE_RELDIR
plots/metrics/**/<name>.tsv (columns step, <name>[, timestamp]) are the series, named by their
path under plots/metrics without .tsv ('train/loss'); params.yaml is the config;
metrics.json (the latest values) is the summary, nested keys joined with '/', its 'step'
left out (it is the last step, not a metric).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import yaml


def _flat(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def main(folder: str, rel: str) -> None:
    live = Path(folder) / rel
    base = live / "plots" / "metrics"
    metrics = {}
    for tsv in sorted(base.rglob("*.tsv")):
        rows = list(csv.DictReader(tsv.read_text().splitlines(), delimiter="\t"))
        vals = [float(r[tsv.stem]) for r in rows]
        metrics[tsv.relative_to(base).with_suffix("").as_posix()] = {
            "points": len(vals),
            "last": vals[-1],
            "min": min(vals),
            "last_step": int(rows[-1]["step"]),
        }
    out: dict = {"runs": 1, "step": "step", "metrics": metrics}
    params = live / "params.yaml"
    out["config"] = yaml.safe_load(params.read_text()) if params.is_file() else {}
    summary = live / "metrics.json"
    if summary.is_file():
        flat = _flat(json.loads(summary.read_text()))
        out["summary"] = {k: v for k, v in flat.items() if k != "step"}
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
