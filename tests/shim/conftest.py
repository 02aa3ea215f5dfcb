"""One virtualenv per test session with the wandb shim installed in it, the way a user
installs it: ``<venv>/bin/python -m expbook shim install wandb``."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import expbook

SRC = str(Path(expbook.__file__).resolve().parents[1])


@pytest.fixture(scope="session")
def shim_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv whose ``import wandb`` is expbook's layer: it sees the test venv's packages
    (torch, transformers, lightning) and this checkout's expbook."""
    venv = tmp_path_factory.mktemp("shimvenv") / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
        check=True,
    )
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # --system-site-packages reaches the base interpreter's packages, not the test venv's:
    # a .pth file adds the test venv's site-packages, then this checkout's source first
    Path(purelib, "_expbook_test_parent.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    done = subprocess.run(
        [str(python), "-m", "expbook", "shim", "install", "wandb"],
        env=client_env(venv_store=None),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert purelib in done.stdout
    return python


def client_env(venv_store: Path | None) -> dict[str, str]:
    """The environment a client runs in: this checkout's expbook first, the store named by
    ``EXPBOOK_STORE``, no wandb mode set (the clients take their online code path)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "EXPBOOK_"))}
    env["PYTHONPATH"] = SRC
    if venv_store is not None:
        env["EXPBOOK_STORE"] = str(venv_store)
    return env
