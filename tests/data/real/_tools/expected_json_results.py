"""Write expected.json for a folder of a run's JSON files (settings and results) with json.

Usage: python expected_json_results.py DIR CONFIG_FILE RESULTS_FILE
CONFIG_FILE's top-level object is the config as written. RESULTS_FILE's numbers (not those
inside lists) are the summary, nested keys joined with '/' as the project flattens a nested
summary ({"metrics": {"accuracy": x}} -> metrics/accuracy), except a top-level "config"
object, which repeats settings. No series: nothing is logged per step. Where the folder also
holds a model's config.json, its place (config under "model", as for a Trainer folder) is
not checked. Read with json (not expbook).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _numbers(d: dict, prefix: str = "") -> dict:
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_numbers(v, f"{prefix}{k}/"))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = v
    return out


def main(folder: str, config_file: str, results_file: str) -> None:
    root = Path(folder)
    config = json.loads((root / config_file).read_text())
    results = json.loads((root / results_file).read_text())
    out = {
        "runs": 1,
        "step": None,
        "metrics": {},
        "config": config,
        "summary": _numbers({k: v for k, v in results.items() if k != "config"}),
    }
    (root / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
