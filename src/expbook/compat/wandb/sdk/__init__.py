"""``wandb.sdk``: the submodules clients import (``lib``, ``wandb_run``)."""

from . import lib, wandb_run

__all__ = ["lib", "wandb_run"]
