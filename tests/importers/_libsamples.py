"""Samples written by the real libraries (TensorBoard, MLflow, W&B, Lightning, Hugging Face)
through the generator scripts in ``tests/data/``, each in its own process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data"


def make(script: str, out: Path, *args: str) -> Path:
    """Run ``tests/data/<script> OUT ARGS...``; a failing generator fails the test."""
    proc = subprocess.run(
        [sys.executable, str(DATA / script), str(out), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        pytest.fail(f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return out
