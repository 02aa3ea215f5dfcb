"""Helpers shared by the benchmark scripts: child-process environment, statistics, the
results table and a fingerprint of the code measured.

Every script runs as ``python bench/<script>.py``, so this module is imported as ``_common``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
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


def git_head() -> str | None:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def src_fingerprint() -> dict[str, Any]:
    """What code was measured: git HEAD plus a hash of the working-tree sources (other people
    edit the tree while benchmarks run)."""
    h = hashlib.sha256()
    for p in sorted((ROOT / "src" / "expbook").rglob("*.py")):
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes())
    return {"git_head": git_head(), "src_sha256": h.hexdigest()[:16]}


def cpu_model() -> str:
    """The CPU's model name (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def host_info() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


def run_header(sizes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The start of a benchmark's raw results: when, the command, the host, the code."""
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "host": host_info(),
        "code": src_fingerprint(),
        "sizes": sizes,
        **extra,
    }


def profile_cli(args: list[str], out_txt: Path, top: int = 25) -> str:
    """cProfile of one ``expbook ARGS`` process; the top functions by cumulative and own
    time, written to ``out_txt`` (the raw profile beside it) and returned."""
    import io
    import pstats

    prof = out_txt.with_suffix(".prof")
    code = (
        "import cProfile, sys; from expbook.cli import entry; sys.argv = ['expbook'] + "
        f"{args!r}; cProfile.run('try:\\n entry()\\nexcept SystemExit: pass', {str(prof)!r})"
    )
    subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=1800, env=child_env())
    buf = io.StringIO()
    st = pstats.Stats(str(prof), stream=buf)
    st.sort_stats("cumulative").print_stats(top)
    st.sort_stats("tottime").print_stats(top)
    text = buf.getvalue()
    out_txt.write_text(text)
    return text


def markdown_table(head: Sequence[str], body: Sequence[Sequence[Any]]) -> None:
    """Print an aligned Markdown table."""
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for b in body:
        print("| " + " | ".join(str(x).ljust(w) for x, w in zip(b, widths)) + " |")


def print_results(
    rows: list[dict[str, Any]],
    floor_head: str = "floor (same run)",
    ratio2_head: str | None = None,
) -> None:
    """The Markdown table of results: benchmark, expbook, floor, ratio, [ratio2,] target, met."""
    head = ["benchmark", "expbook", floor_head, "ratio"]
    if ratio2_head:
        head.append(ratio2_head)
    head += ["target", "met"]
    body = []
    for r in rows:
        met = r.get("met")
        cells = [r["name"], r["ours"], r["floor"], f"{r['ratio']:.2f}x" if "ratio" in r else ""]
        if ratio2_head:
            cells.append(f"{r['ratio2']:.1f}x" if "ratio2" in r else "")
        cells += [r["target"], ("yes" if met else "NO") if met is not None else ""]
        if r.get("ok") is False:
            cells[-1] += " (DATA CHECK FAILED)"
        body.append(cells)
    markdown_table(head, body)


def python_c(code: str, *argv: str, timeout: float = 1800) -> tuple[float, str]:
    """Wall time and stripped stdout of ``python -c code argv...`` in the child environment;
    a failure raises with the end of its stderr."""
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(),
    )
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"python -c failed (rc={p.returncode}):\n{p.stderr[-3000:]}")
    return wall, p.stdout.strip()
