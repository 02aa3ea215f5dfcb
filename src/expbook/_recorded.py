"""What a logged run recorded by itself, read back for ``expbook show`` and the run page:
its failure, system metrics, environment, alerts and console."""

from __future__ import annotations

import os
from typing import Any

CONSOLE_TAIL = 20  # lines of the console shown


def recorded(backend: Any, rec: Any, tail: int = CONSOLE_TAIL) -> dict[str, Any]:
    """``{"error", "system", "env", "alerts", "console"}`` of a run (see the README's
    "What a run records by itself" for the shapes); a part the run did not record is None
    (``alerts`` an empty list)."""
    meta = rec.meta or {}
    events = getattr(backend, "events", None)
    evs = events(rec.id) if events is not None else []
    return {
        "error": _error(meta),
        "system": _system(backend, rec, meta),
        "env": _env(meta, evs),
        "alerts": [
            {"time": _iso(e["wall"]), "level": e["level"], "title": e["title"], "text": e["text"]}
            for e in evs
            if e["kind"] == "alert"
        ],
        "console": _console(backend, rec, meta, tail),
    }


def _iso(t: float | None) -> str | None:
    from ._read import _iso as iso

    return iso(t)


def _error(meta: dict[str, Any]) -> dict[str, Any] | None:
    err = meta.get("error")
    if not isinstance(err, dict):
        return None
    return {k: err.get(k) for k in ("type", "message", "traceback")}


def _system(backend: Any, rec: Any, meta: dict[str, Any]) -> dict[str, Any] | None:
    sums = backend.metric_summaries([rec.id]).get(rec.id, {})
    keys = sorted(k for k in sums if k.startswith("system/"))
    info = meta.get("system_metrics")
    if not keys and not isinstance(info, dict):
        return None
    series = backend.read_series_lists(rec.id, keys) if keys else {}
    metrics = {}
    for k in keys:
        s = series.get(k)
        vals = [v for v in (s.values if s is not None else []) if v == v]
        metrics[k] = {
            "samples": sums[k].count,
            "last": sums[k].last_value,
            "mean": sum(vals) / len(vals) if vals else None,
            "max": sums[k].max_value,
        }
    interval = info.get("interval_s") if isinstance(info, dict) else None
    return {"interval_s": interval, "metrics": metrics}


def _env(meta: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any] | None:
    env = meta.get("env")
    got = [e for e in events if e["kind"] == "env"]
    if not isinstance(env, dict) and not got:
        return None
    data = (got[-1]["data"] or {}) if got else {}
    git: dict[str, Any] = meta["git"] if isinstance(meta.get("git"), dict) else {}
    packages = data.get("packages") or {}
    out = {k: v for k, v in (env or {}).items() if k != "packages"}
    out["package_count"] = len(packages) if packages else (env or {}).get("packages")
    out["packages"] = packages
    out["git"] = {
        "commit": git.get("commit"),
        "branch": git.get("branch"),
        "dirty": git.get("dirty"),
        "diff": data.get("git_diff"),
        "diff_truncated": bool(data.get("git_diff_truncated")),
    }
    return out


def _console(backend: Any, rec: Any, meta: dict[str, Any], tail: int) -> dict[str, Any] | None:
    from .tracking.capture import FILE_NAME
    from .tracking.capture import tail as read_tail

    run_dir = getattr(backend, "run_dir", None)
    if run_dir is None:
        return None
    path = os.path.join(run_dir(rec.id), FILE_NAME)
    if not os.path.isfile(path):
        return None
    info: dict[str, Any] = meta["console"] if isinstance(meta.get("console"), dict) else {}
    return {
        "path": path,
        "bytes": os.path.getsize(path),
        "truncated": bool(info.get("truncated")),
        "tail": read_tail(path, tail),
    }


def meta_shown_elsewhere() -> tuple[str, ...]:
    """Meta keys that :func:`recorded` shows in sections of their own."""
    return ("error", "env", "console", "system_metrics")
