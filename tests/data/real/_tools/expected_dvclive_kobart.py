"""expected.json for dvclive-yolov8 and kobart-lightning-hparams, read with csv and PyYAML.

Usage: python expected_dvclive_kobart.py   (from tests/data/real)
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

REAL = Path(__file__).resolve().parents[1]


def tsv(path: Path) -> dict[str, float | int]:
    rows = list(csv.DictReader(path.open(newline=""), delimiter="\t"))
    vals = [float(r["box_loss"]) for r in rows]
    return {"points": len(vals), "last": vals[-1], "min": min(vals)}


def main() -> None:
    live = REAL / "dvclive-yolov8" / "dvclive"
    params = yaml.safe_load((live / "params.yaml").read_text())
    out = {
        "runs": 1,
        "step": "step",
        "last_step": 4,
        "metrics": {
            "train/box_loss": tsv(live / "plots/metrics/train/box_loss.tsv"),
            "val/box_loss": tsv(live / "plots/metrics/val/box_loss.tsv"),
        },
        "config": {k: params[k] for k in ("model", "epochs", "batch", "lr0", "cos_lr")},
    }
    (REAL / "dvclive-yolov8" / "expected.json").write_text(json.dumps(out, indent=1) + "\n")
    hp = yaml.safe_load((REAL / "kobart-lightning-hparams" / "hparams.yaml").read_text())
    out = {
        "runs": 1,
        "step": None,
        "metrics": {},
        "config": {
            k: hp[k]
            for k in (
                "lr",
                "batch_size",
                "max_epochs",
                "gradient_clip_val",
                "amp_level",
                "auto_lr_find",
                "train_file",
            )
        },
    }
    (REAL / "kobart-lightning-hparams" / "expected.json").write_text(
        json.dumps(out, indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
