"""Write real W&B offline run folders for the importer tests.

    python tests/data/make_wandb.py            # refresh the committed copy in wandb/
    python tests/data/make_wandb.py OUT big    # what the tests run (into a temp folder)

Runs (``wandb.init(mode="offline")``), under ``OUT/wandb/``:

* ``expb0001`` "lr-0.01": nested config, tags, notes, group; ``train/loss`` every step,
  ``val/acc`` every 5th step, a nested ``grad`` dict, a histogram (media, skipped on import);
  summary ``best_acc`` set by hand; finished with exit code 0;
* ``expb0002`` "diverged": a few steps, then ``finish(exit_code=1)``;
* with ``big``: ``expb0003`` with a 70 KB note (one record spread over three 32 KiB blocks)
  and 3000 steps.

W&B's local debug logs, ``tmp/`` and ``files/requirements.txt`` (this machine's package list)
are removed. ``README.md`` records the versions.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main(out: str, big: bool = False) -> None:
    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_SILENT"] = "true"
    os.environ["WANDB_DIR"] = out
    import wandb

    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)

    def settings() -> wandb.Settings:
        # a fresh object per run: wandb.init stores tags, notes and group in it
        return wandb.Settings(console="off", x_disable_stats=True, save_code=False)

    run = wandb.init(
        project="expbook-demo",
        id="expb0001",
        name="lr-0.01",
        config={"lr": 0.01, "optimizer": {"name": "adam", "betas": [0.9, 0.999]}, "layers": 4},
        tags=["baseline", "cnn"],
        notes="first try",
        group="sweep-a",
        dir=out,
        settings=settings(),
    )
    for step in range(30):
        row = {"train/loss": 1.0 / (step + 1), "grad": {"norm": 2.0 - step / 30}}
        if step % 5 == 0:
            row["val/acc"] = 0.5 + step / 100
        if step == 10:
            row["weights"] = wandb.Histogram([1, 2, 2, 3])
        run.log(row, step=step)
    run.summary["best_acc"] = 0.75
    run.config.update({"extra": "late"})
    run.finish()

    run = wandb.init(
        project="expbook-demo", id="expb0002", name="diverged", dir=out, settings=settings()
    )
    for step in range(3):
        run.log({"train/loss": 10.0**step})
    run.finish(exit_code=1)

    if big:
        run = wandb.init(
            project="expbook-demo",
            id="expb0003",
            name="long",
            notes="x" * 70_000,
            dir=out,
            settings=settings(),
        )
        for step in range(3000):
            run.log({"train/loss": 1.0 / (step + 1), "lr": 0.001}, step=step)
        run.finish()
    wandb.teardown()

    root = os.path.join(out, "wandb")
    for entry in os.listdir(root):
        path = os.path.join(root, entry)
        if os.path.islink(path) or os.path.isfile(path):
            os.remove(path)  # latest-run link, debug.log, debug-internal.log
            continue
        for junk in ("logs", "tmp", os.path.join("files", "requirements.txt")):
            p = os.path.join(path, junk)
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.remove(p)
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(
            f"Written by tests/data/make_wandb.py with wandb=={wandb.__version__}, "
            f"Python {platform.python_version()}.\n"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1], big=len(sys.argv) > 2 and sys.argv[2] == "big")
    else:
        main(os.path.join(HERE, "wandb"))
