"""Write expected.json for a TensorBoard event file with tensorboard's own reader (not expbook).

Usage: python expected_tfevents.py DIR RELPATH
Every scalar tag is a series on its event steps (the tensorboard package's EventAccumulator,
loading every event: size_guidance 0).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main(folder: str, rel: str) -> None:
    acc = EventAccumulator(str(Path(folder) / rel), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    metrics = {}
    for tag in acc.Tags()["scalars"]:
        events = acc.Scalars(tag)
        metrics[tag] = {
            "points": len(events),
            "last": events[-1].value,
            "min": min(e.value for e in events),
            "last_step": events[-1].step,
        }
    out = {"runs": 1, "step": "step", "metrics": metrics, "config": {}}
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
