"""``wandb.sdk.wandb_run.Run``: expbook's run."""

from expbook.tracking.run import Run

__all__ = ["Run"]
