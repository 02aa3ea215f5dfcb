"""Write expected.json for the plain files of a W&B run folder (json and PyYAML, not expbook).

Usage: python expected_wandb_files.py DIR RUN_RELDIR
files/config.yaml holds {key: {desc, value}}: each value is config (wandb's own _wandb entry
is not); files/wandb-summary.json's numeric keys are the summary (its _step, _runtime,
_timestamp and _wandb entries are W&B's bookkeeping). Without the binary .wandb history file
there are no series.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml


def main(folder: str, rel: str) -> None:
    files = Path(folder) / rel / "files"
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
    out = {"runs": 1, "step": "_step", "metrics": {}, "config": config, "summary": summary}
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
