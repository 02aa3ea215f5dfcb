"""``wandb.wandb_run.Run`` is expbook's run, so ``isinstance(wandb.run, Run)`` holds."""

from expbook.tracking.run import Run

__all__ = ["Run"]
