"""Write expected.json for an MMEngine vis_data folder (scalars.json) with json (not expbook).

Usage: python expected_mmengine.py DIR VISDATA_RELDIR
scalars.json is JSON lines. A training line has 'epoch' and 'iter' and its 'step' is the
global iteration: lr, loss and memory are series on it. A validation line has no 'iter' and
its 'step' is the epoch number: its metrics (here accuracy/top1) are series whose last step
is not checked (on the iteration axis it belongs at the end of that epoch). data_time and
time appear in both kinds of line with different meanings and are not checked. The
<timestamp>.json beside scalars.json is the same content (MMEngine writes both) and
config.py is the Python config (its values are not checked).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TRAIN_KEYS = ("lr", "loss", "memory")


def main(folder: str, rel: str) -> None:
    lines = (Path(folder) / rel / "scalars.json").read_text().splitlines()
    rows = [json.loads(x) for x in lines if x.strip()]
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        if "iter" in r:
            keys: tuple[str, ...] = TRAIN_KEYS
        else:
            keys = tuple(k for k in r if k not in ("step", "data_time", "time"))
        for k in keys:
            series.setdefault(k, []).append((r["step"], float(r[k])))
    metrics: dict[str, dict[str, float | int]] = {}
    for k, v in series.items():
        metrics[k] = {"points": len(v), "last": v[-1][1], "min": min(x for _, x in v)}
        if k in TRAIN_KEYS:
            metrics[k]["last_step"] = v[-1][0]
    out = {"runs": 1, "step": "step (global iteration)", "metrics": metrics, "config": {}}
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
