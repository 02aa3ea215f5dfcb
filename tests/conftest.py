"""Shared fixtures: a clean environment and a fresh store per test."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No EXPBOOK_* variable leaks in, and every test runs in its own directory."""
    for k in list(os.environ):
        if k.startswith("EXPBOOK_"):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def reset_api():
    """Finish any run a test left open so the module-level state starts empty."""
    yield
    from expbook import _api

    for run in list(_api._live):
        run.finish()


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    return str(tmp_path / "store")


@pytest.fixture
def cli_run(store_path: str):
    """Run the CLI in-process: returns (exit code, stdout, stderr)."""
    from expbook.cli import main

    def run(*args: str, store: bool = True) -> tuple[int, str, str]:
        import io
        from contextlib import redirect_stderr, redirect_stdout

        out, err = io.StringIO(), io.StringIO()
        argv = list(args)
        if store and "--store" not in argv:
            argv += ["--store", store_path]
        with redirect_stdout(out), redirect_stderr(err):
            code = main(argv)
        return code, out.getvalue(), err.getvalue()

    return run


def python() -> str:
    return sys.executable
