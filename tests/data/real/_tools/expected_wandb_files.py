"""Write expected.json for the plain files of a W&B run folder (json and PyYAML, not expbook).

Usage: python expected_wandb_files.py DIR RUN_RELDIR
The run's plain files are in RUN_RELDIR/files/ (wandb >= 0.10) or in RUN_RELDIR itself (older
versions). config.yaml holds {key: {desc, value}}: each value is config (wandb's own _wandb
entry is not); wandb-summary.json's numeric keys are the summary (its _step, _runtime,
_timestamp and _wandb entries are W&B's bookkeeping). Series come only from a plain
wandb-history.jsonl (wandb < 0.10: one JSON object per log call, on _step; media entries are
objects, not numbers); without it (the binary .wandb file left out) there are none.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def main(folder: str, rel: str) -> None:
    files = Path(folder) / rel / "files"
    if not files.is_dir():
        files = Path(folder) / rel
    raw = yaml.safe_load((files / "config.yaml").read_text())
    config = {
        k: v["value"]
        for k, v in raw.items()
        if not k.startswith("_") and isinstance(v, dict) and "value" in v
    }
    summary = {
        k: v
        for k, v in json.loads((files / "wandb-summary.json").read_text()).items()
        if not k.startswith("_") and isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    series: dict[str, list[tuple[int, float]]] = {}
    history = files / "wandb-history.jsonl"
    if history.is_file():
        for line in history.read_text().splitlines():
            row = json.loads(line)
            for k, v in row.items():
                if k.startswith("_") or not isinstance(v, (int, float)) or isinstance(v, bool):
                    continue
                series.setdefault(k, []).append((row["_step"], float(v)))
    metrics = {
        k: {"points": len(v), "last": v[-1][1], "min": min(x for _, x in v), "last_step": v[-1][0]}
        for k, v in series.items()
    }
    out = {"runs": 1, "step": "_step", "metrics": metrics, "config": config, "summary": summary}
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
