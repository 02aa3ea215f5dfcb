"""``wandb.sdk.lib``: ``RunDisabled`` (what ``init(mode="disabled")`` returns)."""

from expbook.tracking.disabled import DisabledRun as RunDisabled

from . import config_util, disabled

__all__ = ["RunDisabled", "config_util", "disabled"]
