"""``wandb.sdk.lib.config_util.ConfigError``: what a client catches around
``config.update``. expbook's config accepts changed values, so it is never raised by it."""

from ...errors import ConfigError

__all__ = ["ConfigError"]
