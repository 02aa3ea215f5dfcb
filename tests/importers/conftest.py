"""Shared helpers for the importer tests: where the seed fixtures live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]


def fixtures_root() -> Path:
    """``$EXPBOOK_FIXTURES`` or ``<repo>/../shared/fixtures`` (or ``<repo>/shared/fixtures``)."""
    env = os.environ.get("EXPBOOK_FIXTURES")
    candidates = [Path(env)] if env else []
    candidates += [_REPO.parent / "shared" / "fixtures", _REPO / "shared" / "fixtures"]
    for c in candidates:
        if (c / "seed000" / "expected.json").is_file():
            return c
    raise RuntimeError(
        "seed fixtures not found: set EXPBOOK_FIXTURES to the shared/fixtures folder"
    )


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return fixtures_root()
