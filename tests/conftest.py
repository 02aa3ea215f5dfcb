"""Shared fixtures: a clean environment and a fresh store per test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "data" / "seeds"  # the seed documents' raw artifacts
CHROMIUM_INSTALL = "apt-get update && apt-get install -y chromium"


# how every browser test starts Debian's Chromium: headless, and no connection of its own
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_launch() -> dict[str, object]:
    """Keyword arguments for Playwright's ``chromium.launch`` (the browser installed or
    named by :func:`pytest_sessionstart`)."""
    path = _chromium()
    assert path, "Debian's chromium is required (pytest_sessionstart installs it)"
    return {"executable_path": path, "args": CHROMIUM_ARGS}


def _chromium() -> str | None:
    return os.environ.get("EXPBOOK_TEST_CHROMIUM") or shutil.which("chromium")


def pytest_sessionstart(session: pytest.Session) -> None:
    """The browser tests drive Debian's Chromium: install it when it is missing and we may.

    On a fresh machine of the project's kind (Debian, root) the README's test command then works
    as written; elsewhere the run stops at once with the one command that installs it.
    """
    if _chromium():
        return
    can_install = hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")
    if can_install:
        print(f"\nbrowser tests need Debian's chromium; installing it: {CHROMIUM_INSTALL}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        ok = subprocess.run(
            ["sh", "-c", CHROMIUM_INSTALL.replace("-y", "-y -qq") + " >/dev/null"], env=env
        ).returncode == 0
        if ok and _chromium():
            return
    pytest.exit(
        f"browser tests need Debian's chromium; install it with: sudo {CHROMIUM_INSTALL}",
        returncode=3,
    )


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
    from expbook.tracking import state as _state

    for run in list(_state.live):
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
