"""Write expected.json for a Lightning TensorBoardLogger version folder (events + hparams.yaml).

Usage: python expected_lightning_tb.py DIR VERSION_RELDIR CONFIG_KEY...
Series: every scalar tag of the event file, read with the tensorboard package's own reader
(as expected_tfevents.py does). Config: the given top-level keys of hparams.yaml, loaded as
expected_lightning.py does (Python tags dropped, each node's plain value kept; PyYAML, not
expbook).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

sys.path.insert(0, str(Path(__file__).parent))
from expected_lightning import _TagsAsPlain


def main(folder: str, rel: str, *keys: str) -> None:
    version = Path(folder) / rel
    events = next(version.glob("events.out.tfevents.*"))
    acc = EventAccumulator(str(events), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    metrics = {}
    for tag in acc.Tags()["scalars"]:
        ev = acc.Scalars(tag)
        metrics[tag] = {
            "points": len(ev),
            "last": ev[-1].value,
            "min": min(e.value for e in ev),
            "last_step": ev[-1].step,
        }
    hparams = yaml.load((version / "hparams.yaml").read_text(), Loader=_TagsAsPlain)
    out = {"runs": 1, "step": "step", "metrics": metrics, "config": {k: hparams[k] for k in keys}}
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
