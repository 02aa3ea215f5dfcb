"""``wandb.util``: the small helpers scripts call."""

from __future__ import annotations

import secrets


def generate_id(length: int = 8) -> str:
    """A random lowercase id, as wandb's run ids look."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


__all__ = ["generate_id"]
