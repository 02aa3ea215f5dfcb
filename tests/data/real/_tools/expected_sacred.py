"""Write expected.json for a Sacred FileStorageObserver run folder with json (not expbook).

Usage: python expected_sacred.py DIR RUN_RELDIR
metrics.json holds {name: {steps, values, timestamps}}: every name is a series on its own
steps; config.json is the run's config as written (run.json: host and status, not checked).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folder: str, rel: str) -> None:
    run = Path(folder) / rel
    raw = json.loads((run / "metrics.json").read_text())
    metrics = {
        name: {
            "points": len(m["values"]),
            "last": float(m["values"][-1]),
            "min": float(min(m["values"])),
            "last_step": m["steps"][-1],
        }
        for name, m in raw.items()
    }
    config = json.loads((run / "config.json").read_text())
    out = {"runs": 1, "step": "steps", "metrics": metrics, "config": config}
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
