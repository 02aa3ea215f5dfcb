"""Write expected.json for a Keras History.history dumped as JSON, with json (not expbook).

Usage: python expected_keras_history.py DIR FILE
The file is one object {metric: [value per epoch]} (column-oriented): each key is a series
whose points are on the epoch index 0..n-1 (Keras History keeps no epoch numbers of its own).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folder: str, name: str) -> None:
    hist = json.loads((Path(folder) / name).read_text())
    metrics = {
        k: {"points": len(v), "last": float(v[-1]), "min": float(min(v))} for k, v in hist.items()
    }
    n = max(len(v) for v in hist.values())
    out = {
        "runs": 1,
        "step": "epoch index",
        "last_step": n - 1,
        "metrics": metrics,
        "config": {},
    }
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
