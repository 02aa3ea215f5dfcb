"""Write expected.json for a Hugging Face Trainer output folder with the json module (not expbook).

Usage: python expected_hf.py DIR [CONFIG_KEY ...]
Series: every numeric key of trainer_state.json's log_history entries that carry a per-step
value (entries with train_runtime are the end-of-training summary, not points).
Config: the given top-level keys of trainer_state.json (train_batch_size and num_train_epochs
when none are given) and, when the folder has the model's config.json, its scalar fields
(strings, numbers, booleans, null; not lists or objects) under "model".
Summary: all_results.json's numbers, with trainer_state.json's exact epoch.
A folder with no trainer_state.json of its own but checkpoint-N/ folders is read from its
highest checkpoint (each checkpoint's state holds the whole log_history up to N).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folder: str, *keys: str) -> None:
    root = Path(folder)
    state_dir = root
    if not (root / "trainer_state.json").is_file():
        checkpoints = [p for p in root.glob("checkpoint-*") if p.name[11:].isdigit()]
        state_dir = max(checkpoints, key=lambda p: int(p.name[11:]))
    state = json.loads((state_dir / "trainer_state.json").read_text())
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
    keys = keys or ("train_batch_size", "num_train_epochs")
    config: dict[str, object] = {k: state[k] for k in keys if k in state}
    model = root / "config.json"
    if model.is_file():
        fields = json.loads(model.read_text()).items()
        config["model"] = {k: v for k, v in fields if not isinstance(v, (list, dict))}
    out = {"runs": 1, "step": "step", "metrics": metrics, "config": config}
    results = root / "all_results.json"
    if results.is_file():
        out["summary"] = json.loads(results.read_text())
        # Trainer.save_metrics rounds epoch to 2 decimals; trainer_state.json keeps it exact
        if "epoch" in out["summary"] and "epoch" in state:
            out["summary"]["epoch"] = state["epoch"]
    (root / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
