"""Write expected.json for a TF2 Keras TensorBoard log dir (train/ and validation/ event files).

Usage: python expected_tf2_keras.py DIR LOGDIR_REL
TF2 writes scalars as tensor summaries of the 'scalars' plugin (not the TF1 simple_value):
each such tag of LOGDIR/<sub>/events.* is a series named '<sub>/<tag>' ('train/epoch_loss',
'validation/epoch_loss', 'validation/evaluation_loss_vs_iterations'), read with the
tensorboard package's EventAccumulator and tensor_util (not expbook). Weight histograms
(histograms plugin) and the 'keras' model config (text plugin) are not series. 'min' is over
the values that are not NaN and left out when all are (this run's validation loss is NaN at
every epoch; expected.json then holds NaN, as Python's json writes it).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util


def main(folder: str, rel: str) -> None:
    logdir = Path(folder) / rel
    metrics = {}
    for sub in sorted(p for p in logdir.iterdir() if p.is_dir()):
        for events in sorted(sub.glob("events.out.tfevents.*")):
            acc = EventAccumulator(str(events), size_guidance={"tensors": 0})
            acc.Reload()
            for tag in acc.Tags()["tensors"]:
                meta = acc.SummaryMetadata(tag)
                if meta.plugin_data.plugin_name != "scalars":
                    continue
                ev = acc.Tensors(tag)
                vals = [float(tensor_util.make_ndarray(e.tensor_proto)) for e in ev]
                entry = {"points": len(vals), "last": vals[-1], "last_step": ev[-1].step}
                finite = [v for v in vals if not math.isnan(v)]
                if finite:
                    entry["min"] = min(finite)
                metrics[f"{sub.name}/{tag}"] = entry
    out = {"runs": 1, "step": "step", "metrics": metrics, "config": {}}
    (Path(folder) / "expected.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
