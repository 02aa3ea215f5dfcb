"""expected.json for cifar10-logging-epochs/training.log, read with a regular expression.

Usage: python expected_cifar10_log.py   (any directory)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parents[1] / "cifar10-logging-epochs"
EPOCH = re.compile(r"Epoch (\d+)/\d+, Train Loss: ([\d.]+), Test Acc: ([\d.]+)%")
SETTING = re.compile(r"INFO -   (\w+): (\S+)$")


def main() -> None:
    text = (HERE / "training.log").read_text()
    rows = [(int(e), float(lo), float(a)) for e, lo, a in EPOCH.findall(text)]
    settings = dict(m.groups() for line in text.splitlines() if (m := SETTING.search(line)))
    loss = [r[1] for r in rows]
    acc = [r[2] for r in rows]
    out = {
        "runs": 1,
        "step": "epoch",
        "last_step": rows[-1][0],
        "metrics": {
            "train_loss": {"points": len(loss), "last": loss[-1], "min": min(loss)},
            "test_acc": {"points": len(acc), "last": acc[-1], "min": min(acc)},
        },
        "config": {
            "batch_size": int(settings["batch_size"]),
            "optimizer": settings["optimizer"],
            "learning_rate": float(settings["learning_rate"]),
            "use_l1": settings["use_l1"] == "True",
            "num_epochs": int(settings["num_epochs"]),
        },
    }
    (HERE / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
