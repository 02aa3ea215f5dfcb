"""``wandb.sdk.lib.disabled.RunDisabled``."""

from expbook.tracking.disabled import DisabledRun as RunDisabled

__all__ = ["RunDisabled"]
