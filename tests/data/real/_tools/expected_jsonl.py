"""Write expected.json for a JSON-lines metrics file with the json module (not expbook).

Usage: python expected_jsonl.py DIR RELPATH STEP_KEY [SKIP_KEY ...]
Every numeric key but the step key and the skipped ones is a metric.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folder: str, rel: str, step: str, *skip: str) -> None:
    rows = [json.loads(x) for x in (Path(folder) / rel).read_text().splitlines() if x.strip()]
    series: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            if key == step or key in skip or not isinstance(value, (int, float)):
                continue
            series.setdefault(key, []).append(float(value))
    metrics = {k: {"points": len(v), "last": v[-1], "min": min(v)} for k, v in series.items()}
    out = {"runs": 1, "step": step, "last_step": rows[-1][step], "metrics": metrics, "config": {}}
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
