"""Write expected.json for an mmcv (mmdet/mmrotate/mmpose 2.x) *.log.json with json (not expbook).

Usage: python expected_mmcv_logjson.py DIR FILE
JSON lines, each {"mode": "train"|"val", "epoch": e, "iter": i, ...}. The step is the global
training iteration: (e - 1) * I + i for a train line, where I is the number of training
iterations in an epoch (the largest train 'iter'; 'iter' restarts every epoch), and e * I for
a val line (written after epoch e; its own 'iter' counts validation batches, and mmcv's own
TensorBoard hook puts it at e * I + 1: the val series' last step is not checked). Every other
number is a series named '<mode>/<key>' ('train/loss', 'val/mAP'), as the stage column of a
table is; a val line's lr repeats the training lr and is left out. A first line without
'mode' (env_info/config/hook_msgs) holds no points.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

AXES = ("mode", "epoch", "iter")


def main(folder: str, name: str) -> None:
    lines = (Path(folder) / name).read_text().splitlines()
    rows = [r for r in map(json.loads, filter(str.strip, lines)) if "mode" in r]
    per_epoch = max(r["iter"] for r in rows if r["mode"] == "train")
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        if r["mode"] == "train":
            step = (r["epoch"] - 1) * per_epoch + r["iter"]
        else:
            step = r["epoch"] * per_epoch
        for k, v in r.items():
            if k in AXES or not isinstance(v, (int, float)):
                continue
            if r["mode"] != "train" and k == "lr":
                continue
            series.setdefault(f"{r['mode']}/{k}", []).append((step, float(v)))
    metrics: dict[str, dict[str, float | int]] = {}
    for k, v in series.items():
        metrics[k] = {"points": len(v), "last": v[-1][1], "min": min(x for _, x in v)}
        if k.startswith("train/"):
            metrics[k]["last_step"] = v[-1][0]
    out = {"runs": 1, "step": "global iteration", "metrics": metrics, "config": {}}
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
