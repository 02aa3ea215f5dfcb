"""wandb calls that have nothing to do in a local-first tracker, accepted so that scripts
written for wandb run unchanged: ``login``, ``setup``, ``require``, ``Settings`` and the
``term*`` printers."""

from __future__ import annotations

import sys
from typing import Any


def login(*args: Any, **kwargs: Any) -> bool:
    """Accepted and ignored: the local store needs no account. Returns True."""
    return True


def setup(*args: Any, **kwargs: Any) -> None:
    """Accepted and ignored (wandb starts its service process here)."""
    return None


def require(*args: Any, **kwargs: Any) -> None:
    """Accepted and ignored (wandb's feature flags)."""
    return None


def teardown(*args: Any, **kwargs: Any) -> None:
    """Accepted and ignored."""
    return None


class Settings:
    """wandb's ``Settings``: any keyword is kept as an attribute. ``init`` reads ``mode``
    (``"disabled"`` writes nothing); the rest is recorded in nothing and changes nothing."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None

    def update(self, *args: Any, **kwargs: Any) -> None:
        for a in args:
            if isinstance(a, dict):
                self.__dict__.update(a)
        self.__dict__.update(kwargs)

    def __repr__(self) -> str:
        return f"Settings({self.__dict__!r})"


def _term(
    prefix: str, string: str = "", newline: bool = True, repeat: bool = True, prefix_on: bool = True
) -> None:
    end = "\n" if newline else ""
    print((f"expbook: {prefix}" if prefix_on else "") + str(string), end=end, file=sys.stderr)


def termlog(
    string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True
) -> None:
    """Print a line to stderr, as ``wandb.termlog``."""
    _term("", string, newline, repeat, prefix)


def termwarn(
    string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True
) -> None:
    _term("WARNING ", string, newline, repeat, prefix)


def termerror(
    string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True
) -> None:
    _term("ERROR ", string, newline, repeat, prefix)


class Api:
    """wandb's public API reads wandb's server; expbook's is :func:`expbook.open_store`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from ..errors import UsageError

        raise UsageError(
            "expbook has no wandb.Api(): read runs with expbook.open_store() (a Store with "
            "runs(), leaderboard(), compare()...)"
        )
