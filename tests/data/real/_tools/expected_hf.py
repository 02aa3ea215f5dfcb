"""Write expected.json for a Hugging Face Trainer output folder with the json module (not expbook).

Usage: python expected_hf.py DIR
Series: every numeric key of trainer_state.json's log_history entries that carry a per-step
value (entries with train_runtime are the end-of-training summary, not points).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folder: str) -> None:
    root = Path(folder)
    state = json.loads((root / "trainer_state.json").read_text())
    series: dict[str, list[tuple[int, float]]] = {}
    for entry in state["log_history"]:
        if "train_runtime" in entry:
            continue
        for key, value in entry.items():
            if key in ("step", "epoch") or not isinstance(value, (int, float)):
                continue
            series.setdefault(key, []).append((entry["step"], float(value)))
    metrics = {
        k: {"points": len(v), "last": v[-1][1], "min": min(x for _, x in v), "last_step": v[-1][0]}
        for k, v in series.items()
    }
    # the Trainer's run settings trainer_state.json keeps at its top level
    config = {k: state[k] for k in ("train_batch_size", "num_train_epochs") if k in state}
    out = {"runs": 1, "step": "step", "metrics": metrics, "config": config}
    results = root / "all_results.json"
    if results.is_file():
        out["summary"] = json.loads(results.read_text())
    (root / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
