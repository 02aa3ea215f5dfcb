"""``expbook server``: the team server (dashboard, read and write API, tokens).

Needs the server extra (``pip install 'expbook[server]'``); nothing here is imported by
``import expbook``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_server"]


def create_server(*args: Any, **kwargs: Any) -> Any:
    """:func:`expbook.server.app.create_server` (imported on first use)."""
    from .app import create_server as create

    return create(*args, **kwargs)
