"""Helpers shared by the benchmark scripts: child-process environment, statistics, the
results table and a fingerprint of the code measured.

Every script runs as ``python bench/<script>.py``, so this module is imported as ``_common``.
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# This project's shells export PYTHONDONTWRITEBYTECODE=1: children would recompile expbook on
# every start (about 50 ms), which no installed package does. They share this cache instead.
PYCACHE = Path(tempfile.gettempdir()) / "expbook-bench-pycache"


def child_env(pure_python: bool = False) -> dict[str, str]:
    """The environment of a measured child process."""
    env = dict(os.environ)
    for var in ("EXPBOOK_STORE", "EXPBOOK_PROJECT", "PYTHONDONTWRITEBYTECODE"):
        env.pop(var, None)
    if pure_python:
        env["EXPBOOK_PURE_PYTHON"] = "1"
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def expbook_cmd() -> list[str]:
    """The installed ``expbook`` script next to this interpreter, else ``python -m expbook``."""
    script = Path(sys.executable).parent / "expbook"
    return [str(script)] if script.exists() else [sys.executable, "-m", "expbook"]


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(xs: list[float], fmt: str = "{:.3g}") -> str:
    """``median [min-max]`` of repeated measurements."""
    if not xs:
        return "-"
    if len(xs) == 1:
        return fmt.format(xs[0])
    return f"{fmt.format(med(xs))} [{fmt.format(min(xs))}-{fmt.format(max(xs))}]"


def log_progress(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def src_fingerprint() -> dict[str, Any]:
    """What code was measured: git HEAD plus a hash of the working-tree sources (other people
    edit the tree while benchmarks run)."""
    h = hashlib.sha256()
    for p in sorted((ROOT / "src" / "expbook").rglob("*.py")):
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes())
    head = None
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"git_head": head, "src_sha256": h.hexdigest()[:16]}


def print_results(rows: list[dict[str, Any]]) -> None:
    """The Markdown table of results: benchmark, expbook, floor, ratio, target, met."""
    head = ("benchmark", "expbook", "floor (same run)", "ratio", "target", "met")
    body = []
    for r in rows:
        met = r.get("met")
        cells = [
            r["name"],
            r["ours"],
            r["floor"],
            f"{r['ratio']:.2f}x" if "ratio" in r else "",
            r["target"],
            ("yes" if met else "NO") if met is not None else "",
        ]
        if r.get("ok") is False:
            cells[5] += " (DATA CHECK FAILED)"
        body.append(cells)
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for b in body:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(b, widths)) + " |")
