"""Write expected.json for a Keras Tuner project folder with json (not expbook).

Usage: python expected_keras_tuner.py DIR PROJECT_RELDIR TRIAL_FOLDER
Each trial_<n>/trial.json is a run, named after its folder: hyperparameters.values is the
config, metrics.metrics.<name>.observations the points ({value: [v], step: s}; Keras Tuner
keeps the observation at the trial's best step), score the summary. The values checked are
those of TRIAL_FOLDER (run_name). oracle.json and tuner0.json hold the search state, not runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folder: str, rel: str, trial: str) -> None:
    project = Path(folder) / rel
    trials = sorted(project.glob("trial_*/trial.json"))
    data = json.loads((project / trial / "trial.json").read_text())
    metrics = {}
    for name, m in data["metrics"]["metrics"].items():
        obs = m["observations"]
        vals = [o["value"][0] for o in obs]
        metrics[name] = {
            "points": len(obs),
            "last": vals[-1],
            "min": min(vals),
            "last_step": obs[-1]["step"],
        }
    out = {
        "runs": len(trials),
        "run_name": trial,
        "step": "step",
        "metrics": metrics,
        "config": data["hyperparameters"]["values"],
        "summary": {"score": data["score"]},
    }
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
