"""``wandb.errors``: the exception names clients catch. Each is an expbook error too."""

from expbook import errors as _errors


class Error(_errors.UsageError):
    """wandb's base error."""


class CommError(Error):
    """A network error (expbook does not talk to a server)."""


class UsageError(Error):
    """A call used wrongly."""


class ConfigError(Error):
    """A config value could not be set."""


__all__ = ["CommError", "ConfigError", "Error", "UsageError"]
