"""Write real TensorBoard event files for the importer tests.

    python tests/data/make_tensorboard.py            # refresh the committed copy in tensorboard/
    python tests/data/make_tensorboard.py OUT STEPS  # what the tests run (into a temp folder)

Layout written under OUT:

* ``torch_run/``: torch ``SummaryWriter`` (old-style ``simple_value`` scalars), two event files
  (the writer is reopened, as after a resume), ``add_scalars`` sub-folders, a histogram, a
  text summary and ``add_hparams`` (its own timestamp-named sub-folder);
* ``native_run/``: TensorBoard's own ``tensorboard.summary.Writer`` (tensor scalars, float32)
  plus an hparams ``session_start_info`` from ``tensorboard.plugins.hparams.summary_v2``;
* ``keras_style/train`` and ``keras_style/validation``: one run split by phase.

``README.md`` records the library versions that wrote the files.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main(out: str, steps: int) -> None:
    import numpy as np
    import tensorboard
    import torch
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboard.summary import Writer
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
    from torch.utils.tensorboard import SummaryWriter

    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)

    # torch: first session writes the first half, a second writer continues (a new event file)
    logdir = os.path.join(out, "torch_run")
    half = steps // 2
    w = SummaryWriter(logdir)
    for step in range(half):
        w.add_scalar("train/loss", 1.0 / (step + 1), step)
        if step < 20:
            w.add_scalars("lr", {"group0": 0.1, "group1": 0.01}, step)
    w.add_histogram("weights", np.arange(10.0), 0)
    w.add_text("notes", "first session", 0)
    w.close()
    w = SummaryWriter(logdir)
    for step in range(half, steps):
        w.add_scalar("train/loss", 1.0 / (step + 1), step)
        if step % 10 == 0:
            w.add_scalar("val/acc", step / steps, step)
    w.add_hparams(
        {"lr": 0.1, "optimizer": "adam", "layers": 3},
        {"hparam/best_acc": 0.9},
        run_name="1700000000.5",
    )
    w.close()

    # TensorBoard's own writer: tensor scalars as TF2 writes them
    native = os.path.join(out, "native_run")
    events = EventFileWriter(native)
    events.add_event(
        event_pb2.Event(
            wall_time=time.time(),
            step=0,
            summary=hp.hparams_pb({"dropout": 0.25, "activation": "gelu", "use_bias": True}),
        )
    )
    events.close()
    tw = Writer(native)
    for step in range(10):
        tw.add_scalar("loss", 0.1 * (10 - step), step)
    tw.close()

    # Keras layout: logs/train and logs/validation hold the same tag names
    for phase, offset in (("train", 0.0), ("validation", 0.05)):
        kw = Writer(os.path.join(out, "keras_style", phase))
        for epoch in range(5):
            kw.add_scalar("epoch_loss", 1.0 / (epoch + 1) + offset, epoch)
        kw.close()

    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(
            "Written by tests/data/make_tensorboard.py with "
            f"tensorboard=={tensorboard.__version__}, torch=={torch.__version__}, "
            f"numpy=={np.__version__}, Python {platform.python_version()}; steps={steps}.\n"
        )


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "tensorboard")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    main(target, n)
