"""Write expected.json for a YOLOv5 (v4-era) run folder's results.txt with re and PyYAML.

Usage: python expected_yolov5_txt.py DIR RUN_RELDIR
results.txt has no header: one line per epoch, whitespace-separated: 'epoch/last_epoch',
gpu memory ('1.86G'), train box, obj, cls and total loss, label count, image size,
precision, recall, mAP@0.5, mAP@0.5:0.95, val box, obj and cls loss. The series names are
the ones YOLOv5 gives the same columns in its own TensorBoard file (checked against this
run's event file: train/box_loss ... val/cls_loss); total loss, labels, image size and memory
have no TensorBoard name and are not checked. Config: opt.yaml's run settings (not expbook).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

COLUMNS = {
    2: "train/box_loss",
    3: "train/obj_loss",
    4: "train/cls_loss",
    8: "metrics/precision",
    9: "metrics/recall",
    10: "metrics/mAP_0.5",
    11: "metrics/mAP_0.5:0.95",
    12: "val/box_loss",
    13: "val/obj_loss",
    14: "val/cls_loss",
}
OPT_KEYS = ("epochs", "batch_size", "img_size", "cfg", "data")


def main(folder: str, rel: str) -> None:
    run = Path(folder) / rel
    rows = [line.split() for line in (run / "results.txt").read_text().splitlines() if line]
    steps = [int(r[0].split("/")[0]) for r in rows]
    metrics = {}
    for i, name in COLUMNS.items():
        vals = [float(r[i]) for r in rows]
        metrics[name] = {"points": len(vals), "last": vals[-1], "min": min(vals)}
    opt = yaml.safe_load((run / "opt.yaml").read_text())
    out = {
        "runs": 1,
        "step": "epoch (the number before '/')",
        "last_step": steps[-1],
        "metrics": metrics,
        "config": {k: opt[k] for k in OPT_KEYS},
    }
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
