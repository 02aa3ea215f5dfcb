"""The pieces the wandb layer needs beyond forwarding: placeholders for names expbook does
not have, and the few wandb ``Run`` methods clients call that expbook's run lacks."""

from __future__ import annotations

from typing import Any


def missing(name: str) -> Any:
    """A stand-in for ``wandb.<name>`` where expbook has no such thing: importing it works,
    using it raises one clear error."""

    def fail(*args: Any, **kwargs: Any) -> Any:
        from expbook.errors import UsageError

        raise UsageError(f"wandb.{name} is not available in expbook's wandb shim")

    placeholder = type(name, (), {"__new__": fail, "__call__": fail, "__module__": "wandb"})
    return placeholder


def _label(self: Any, *args: Any, **kwargs: Any) -> None:
    """wandb's usage telemetry (``run._label(code="transformers_trainer")``): nothing to do."""
    return None


def _log_code(self: Any, *args: Any, **kwargs: Any) -> None:
    """wandb saves the source as an artifact; expbook does not (documented no-op)."""
    return None


def _forward(name: str) -> Any:
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        import expbook

        func = getattr(expbook, name, None)
        if func is None:
            from expbook.errors import UsageError

            raise UsageError(f"run.{name}() is not available in expbook's wandb shim")
        return func(*args, **kwargs)

    call.__name__ = name
    call.__doc__ = f"``expbook.{name}`` (wandb's ``run.{name}``)."
    return call


def patch_run() -> None:
    """Give expbook's ``Run`` the wandb methods it lacks (only those it lacks)."""
    from expbook.tracking.run import Run

    extra: dict[str, Any] = {"_label": _label, "log_code": _log_code}
    for name in ("log_artifact", "use_artifact", "save", "alert"):
        extra[name] = _forward(name)
    for name, func in extra.items():
        if not hasattr(Run, name):
            setattr(Run, name, func)
