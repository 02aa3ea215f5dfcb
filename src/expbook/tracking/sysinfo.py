"""Facts about the process a run is logged from: host, command, Python, git state."""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any


def process_info() -> dict[str, Any]:
    """Cheap facts, gathered at ``init``."""
    import platform  # here, not at import: every CLI command imports this module
    import socket

    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "python": platform.python_version(),
        "executable": sys.executable,
    }


@lru_cache(maxsize=8)
def git_info(cwd: str) -> dict[str, Any]:
    """Commit, branch and dirty flag of the git checkout holding ``cwd`` ({} outside one).

    Runs git, so it is called from the writer thread, never from ``init`` itself.
    """
    import subprocess

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status),
    }


MAX_DIFF_BYTES = 1 << 20  # of a git diff kept in the store; a larger one is kept as a file


@lru_cache(maxsize=1)
def packages() -> dict[str, str]:
    """The installed distributions, ``{name: version}`` sorted by name (what ``pip freeze``
    lists), read once per process."""
    from importlib import metadata

    out: dict[str, str] = {}
    for dist in metadata.distributions():
        try:
            name = dist.metadata["Name"]
        except Exception:  # a damaged dist-info
            continue
        if name and name not in out:
            out[name] = dist.version or ""
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


def environment() -> dict[str, Any]:
    """The Python that runs: version, implementation, platform."""
    import platform

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


@lru_cache(maxsize=8)
def git_diff(cwd: str) -> str:
    """``git diff HEAD`` of the checkout holding ``cwd`` (tracked files, staged or not);
    "" outside a checkout or when clean. Runs git: call it from the writer thread."""
    import subprocess

    try:
        out = subprocess.run(
            ["git", "diff", "HEAD", "--no-color", "--no-ext-diff"],
            cwd=cwd,
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    if out.returncode != 0:
        return ""
    return out.stdout.decode("utf-8", "replace")
