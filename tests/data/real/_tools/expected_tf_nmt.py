"""Write expected.json for a tensorflow/nmt model folder with json and re (not expbook).

Usage: python expected_tf_nmt.py DIR
'hparams' (no extension) is one JSON object: the hyperparameters listed in KEYS are the config
(best_bleu and the *_dir paths it also holds are results and locations, not checked).
'log_<time>' (no extension) has lines '  step 100 lr 1 step-time 0.41s wps 13.58K ppl 2122.63
gN 17.76 bleu 0.00, <date>': lr, ppl, gN and bleu are series on the step (step-time and wps
carry units, s and K, and are not checked); the header '# Start step 0, lr 1, <date>' gives lr
its point at step 0; the other '# ...' lines are headers and the final summary. Series are
named as the log labels them, lower-cased (gN -> gn), as for every text log of the corpus.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

KEYS = (
    "num_layers",
    "num_units",
    "unit_type",
    "optimizer",
    "learning_rate",
    "batch_size",
    "num_train_steps",
    "dropout",
    "src",
    "tgt",
    "metrics",
    "attention",
    "random_seed",
)
START = re.compile(r"^# Start step (\d+), lr (\S+),")
LINE = re.compile(
    r"^\s+step (\d+) lr (\S+) step-time \S+ wps \S+ ppl (\S+) gN (\S+) bleu ([0-9.]+),"
)


def main(folder: str) -> None:
    root = Path(folder)
    hp = json.loads((root / "hparams").read_text())
    log = next(p for p in root.iterdir() if p.name.startswith("log_"))
    series: dict[str, list[tuple[int, float]]] = {}
    for line in log.read_text().splitlines():
        s = START.match(line)
        if s:
            series.setdefault("lr", []).append((int(s.group(1)), float(s.group(2))))
            continue
        m = LINE.match(line)
        if not m:
            continue
        step = int(m.group(1))
        for name, text in zip(("lr", "ppl", "gn", "bleu"), m.groups()[1:]):
            series.setdefault(name, []).append((step, float(text)))
    metrics = {
        k: {"points": len(v), "last": v[-1][1], "min": min(x for _, x in v), "last_step": v[-1][0]}
        for k, v in series.items()
    }
    out = {"runs": 1, "step": "step", "metrics": metrics, "config": {k: hp[k] for k in KEYS}}
    (root / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
