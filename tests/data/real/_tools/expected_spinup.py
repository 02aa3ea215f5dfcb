"""Write expected.json for an OpenAI Spinning Up run folder with csv and json (not expbook).

Usage: python expected_spinup.py DIR RUN_RELDIR
progress.txt is tab-separated with a header; 'Epoch' is the step and every other column a
series (TotalEnvInteracts and Time included, as written). config.json is the run's locals()
as Spinning Up serialises them: the plain hyperparameters in KEYS are the config (objects it
could not serialise become strings or {repr: {...}} and are not checked).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

KEYS = (
    "epochs",
    "steps_per_epoch",
    "gamma",
    "lam",
    "clip_ratio",
    "pi_lr",
    "vf_lr",
    "target_kl",
    "seed",
    "ac_kwargs",
)


def main(folder: str, rel: str) -> None:
    run = Path(folder) / rel
    rows = list(csv.DictReader((run / "progress.txt").read_text().splitlines(), delimiter="\t"))
    metrics = {}
    for col in rows[0]:
        if col == "Epoch":
            continue
        vals = [float(r[col]) for r in rows]
        metrics[col] = {"points": len(vals), "last": vals[-1], "min": min(vals)}
    config = json.loads((run / "config.json").read_text())
    out = {
        "runs": 1,
        "step": "Epoch",
        "last_step": int(rows[-1]["Epoch"]),
        "metrics": metrics,
        "config": {k: config[k] for k in KEYS},
    }
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
