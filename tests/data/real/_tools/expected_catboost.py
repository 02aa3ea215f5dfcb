"""Write expected.json for a CatBoost train_dir (catboost_info/) with csv and json (not expbook).

Usage: python expected_catboost.py DIR INFO_RELDIR
learn_error.tsv and test_error.tsv ('iter' then one column per metric, tab-separated) are
the series, named '<set>/<metric>' ('learn/Logloss', 'test/AUC': the learn/ and test/ event
files CatBoost writes beside them use the same split); time_left.tsv (Passed, Remaining in
ms) is timing, not checked. catboost_training.json repeats the same values per iteration;
its meta.iteration_count is the planned iteration count (config, when expbook keeps it: not
checked).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def main(folder: str, rel: str) -> None:
    info = Path(folder) / rel
    metrics = {}
    last_step = None
    for split in ("learn", "test"):
        path = info / f"{split}_error.tsv"
        if not path.is_file():
            continue
        rows = list(csv.DictReader(path.read_text().splitlines(), delimiter="\t"))
        last_step = int(rows[-1]["iter"])
        for col in rows[0]:
            if col == "iter":
                continue
            vals = [float(r[col]) for r in rows]
            metrics[f"{split}/{col}"] = {"points": len(vals), "last": vals[-1], "min": min(vals)}
    out = {"runs": 1, "step": "iter", "last_step": last_step, "metrics": metrics, "config": {}}
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
