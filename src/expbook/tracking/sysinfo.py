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
