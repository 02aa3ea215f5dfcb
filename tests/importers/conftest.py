"""Shared helpers for the importer tests: where the seed fixtures live."""

from __future__ import annotations

from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]


def fixtures_root() -> Path:
    """The seed documents' raw artifacts, kept in the repository under ``tests/data/seeds``."""
    root = _REPO / "tests" / "data" / "seeds"
    if not (root / "seed000" / "expected.json").is_file():
        raise RuntimeError(f"seed fixtures not found under {root}")
    return root


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return fixtures_root()
