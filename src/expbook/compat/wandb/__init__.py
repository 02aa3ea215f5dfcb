"""wandb's module surface over expbook: what transformers' ``WandbCallback``, Lightning's
``WandbLogger`` and ordinary training scripts import and call.

Names are looked up on :mod:`expbook` when they are first used, so this module imports even
where a piece of expbook (media, artifacts...) is not there: such a name is a placeholder
that fails with one clear message when called.
"""

from __future__ import annotations

import sys
from typing import Any

from ._surface import missing, patch_run

__version__ = "0.21.0"  # see the README: above every floor the clients check

# forwarded to the expbook module at each access (run, config and summary follow the run)
_FORWARD = frozenset(
    {
        "init",
        "log",
        "finish",
        "config",
        "summary",
        "run",
        "define_metric",
        "watch",
        "unwatch",
        "save",
        "login",
        "Settings",
        "setup",
        "require",
        "teardown",
        "termlog",
        "termwarn",
        "termerror",
        "mark_preempting",
        "alert",
        "Image",
        "Histogram",
        "Table",
        "Audio",
        "Video",
        "Html",
        "Object3D",
        "Molecule",
        "plot",
        "Artifact",
        "log_artifact",
        "use_artifact",
        "Api",
        "AlertLevel",
    }
)

_SUBMODULES = (
    "errors",
    "util",
    "env",
    "wandb_run",
    "sdk",
    "sdk.lib",
    "sdk.lib.config_util",
    "sdk.lib.disabled",
    "sdk.wandb_run",
)


def init(*args: Any, **kwargs: Any) -> Any:
    """``expbook.init`` with wandb's meaning of ``dir``: the folder for wandb's own files, so
    it does not choose the store (``$EXPBOOK_STORE``, else the nearest ``.expbook/``, as
    for every expbook command; ``store=`` still names one)."""
    import expbook

    kwargs.pop("dir", None)
    return expbook.init(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _FORWARD:
        import expbook

        if name in ("run", "config", "summary"):
            return getattr(expbook, name)
        value = getattr(expbook, name, None)
        return missing(name) if value is None else value
    if name == "Run":
        from .wandb_run import Run

        return Run
    raise AttributeError(f"module 'wandb' has no attribute {name!r} (expbook's wandb shim)")


def _alias(prefix: str = "wandb") -> None:
    """Make ``prefix`` and its submodules (``wandb.sdk.lib``...) these very modules, so that
    a class reached by two import paths is one class (``isinstance`` checks hold)."""
    import importlib

    me = sys.modules[__name__]
    sys.modules[prefix] = me
    for sub in _SUBMODULES:
        sys.modules[f"{prefix}.{sub}"] = importlib.import_module(f"{__name__}.{sub}")


patch_run()
