"""MLflow tracking data: a file store (``mlruns/``) or a SQLite tracking database (``*.db``).

Per run:

* experiment name -> ``project``; run name (``runs.name``/``run_name`` or the
  ``mlflow.runName`` tag) -> ``name``; run id -> ``external_id``;
* status FINISHED/FAILED/KILLED/RUNNING -> finished/failed/killed/running (SCHEDULED -> running);
* params -> ``config`` (MLflow keeps strings: numbers, ``True``/``False`` and ``None`` are
  turned back into values; anything else stays a string);
* metric histories -> series, every point with its step and wall time (ms -> seconds);
* tags: ``mlflow.parentRunId`` -> ``parent``, ``mlflow.note.content`` -> ``notes``, other
  ``mlflow.*`` system tags are dropped, user tags become ``key=value`` (or ``key``) tags;
* start/end times -> ``created_at``/``finished_at``. Deleted runs and experiments are skipped.

Both stores are read directly (the file store is plain text and YAML, the database schema is
MLflow's public one, read with :mod:`sqlite3` in read-only mode), so ``mlflow`` is not needed and
nothing is written. ``source`` is the run folder of a file store, or the database path (runs in
one database are told apart by ``external_id``).
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any

import yaml

from expbook import _yaml
from expbook.importers import common
from expbook.importers.model import ImportedRun, ParseError, SourceFile

FORMAT = "mlflow"
ALIASES = ("mlruns",)

_SQLITE_MAGIC = b"SQLite format 3\x00"
_NEEDED_TABLES = ("experiments", "runs", "metrics", "params", "tags")
# RunStatus in the file store's meta.yaml: RUNNING=1, SCHEDULED=2, FINISHED=3, FAILED=4, KILLED=5
_STATUS_BY_NUMBER = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_STATUS = {
    "FINISHED": "finished",
    "FAILED": "failed",
    "KILLED": "killed",
    "RUNNING": "running",
    "SCHEDULED": "running",
}
_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_LITERALS: dict[str, Any] = {
    "True": True,
    "False": False,
    "true": True,
    "false": False,
    "None": None,
}


# ---------------------------------------------------------------- protocol


def claim_dir(path: str) -> bool:
    """An ``mlruns/`` file store, one experiment folder or one run folder of it."""
    if not os.path.isdir(path):
        return False
    meta = _meta(os.path.join(path, "meta.yaml"))
    if meta is not None:
        return _is_run_meta(meta) or _is_experiment_meta(meta)
    return bool(_experiment_dirs(path))


def sniff_file(path: str, head: bytes) -> int:
    """An SQLite file with MLflow's tables (the schema is looked up: it lies past the head)."""
    if not head.startswith(_SQLITE_MAGIC):
        return 0
    try:
        conn = _connect(path)
    except ParseError:
        return 0
    try:
        tables = _tables(conn)
    except sqlite3.Error:
        return 0
    finally:
        conn.close()
    return 95 if all(t in tables for t in _NEEDED_TABLES) else 0


def parse(path: str, opts: Any = None) -> list[ImportedRun]:
    """Read a tracking database, a file store, one experiment folder or one run folder."""
    return common.guarded_parse(_parse, path, opts)


def _parse(path: str) -> list[ImportedRun]:
    path = os.path.abspath(path)
    if os.path.isfile(path):
        if os.path.basename(path) == "meta.yaml":
            return _parse(os.path.dirname(path))
        return _parse_db(path)
    if not os.path.isdir(path):
        raise ParseError(f"no such file or folder: {path}")
    meta = _meta(os.path.join(path, "meta.yaml"))
    if meta is not None and _is_run_meta(meta):
        exp = _meta(os.path.join(os.path.dirname(path), "meta.yaml")) or {}
        exp_file = os.path.join(os.path.dirname(path), "meta.yaml")
        run = _read_file_run(path, meta, exp, exp_file)
        if run is None:
            raise ParseError(f"run {os.path.basename(path)} is deleted")
        return [run]
    if meta is not None and _is_experiment_meta(meta):
        return _read_experiment(path, meta)
    exps = _experiment_dirs(path)
    if exps:
        runs: list[ImportedRun] = []
        for exp_dir, exp_meta in exps:
            runs.extend(_read_experiment(exp_dir, exp_meta))
        return runs
    db = os.path.join(path, "mlflow.db")
    if os.path.isfile(db):
        return _parse_db(db)
    raise ParseError(f"no MLflow experiments or runs in {path}")


# ---------------------------------------------------------------- values


def coerce_param(value: str | None) -> Any:
    """An MLflow param string as the value it most likely was (``"0.1"`` -> 0.1)."""
    if value is None:
        return None
    s = value.strip()
    if len(s) > 18 and _INT.match(s):
        v = common.json_int(s)  # beyond int64: a float while one holds it, else as written
        return value if isinstance(v, str) else v
    if _INT.match(s):
        # keep zero-padded ids ("007") as written
        return value if s.lstrip("+-").startswith("0") and s.lstrip("+-") != "0" else int(s)
    if _FLOAT.match(s):
        f = float(s)
        return value if math.isinf(f) else f
    if s in _LITERALS:
        return _LITERALS[s]
    return value


def _status(raw: Any) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = _STATUS_BY_NUMBER.get(raw, "")
    return _STATUS.get(str(raw or "").upper(), "finished")


def _seconds(ms: Any) -> float | None:
    if ms is None or isinstance(ms, bool):
        return None
    try:
        value = float(ms)
    except (TypeError, ValueError):
        return None
    return value / 1000.0 if value > 0 else None


def _metric_value(value: float, is_nan: Any = 0) -> float:
    if is_nan:
        return math.nan
    # the SQL store saves +-inf as +-DBL_MAX
    if value == sys.float_info.max:
        return math.inf
    if value == -sys.float_info.max:
        return -math.inf
    return float(value)


def _apply_tags(run: ImportedRun, tags: dict[str, str], name_fallback: str) -> None:
    for key, value in sorted(tags.items()):
        if key == "mlflow.parentRunId":
            run.parent = value or None
        elif key == "mlflow.note.content":
            run.notes = value or None
        elif key == "mlflow.runName":
            if not run.name or run.name == name_fallback:
                run.name = value or run.name
        elif not key.startswith("mlflow."):
            run.tags.append(f"{key}={value}" if value else key)


# ---------------------------------------------------------------- file store


def _meta(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            data = _yaml.load(f.read())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data if isinstance(data, dict) else None


def _is_run_meta(meta: dict[str, Any]) -> bool:
    return "run_uuid" in meta or "run_id" in meta


def _is_experiment_meta(meta: dict[str, Any]) -> bool:
    return "experiment_id" in meta and "name" in meta and not _is_run_meta(meta)


def _experiment_dirs(root: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return []
    for e in entries:
        if e.name.startswith(".") or not e.is_dir():  # .trash holds deleted experiments
            continue
        meta = _meta(os.path.join(e.path, "meta.yaml"))
        if meta is not None and _is_experiment_meta(meta):
            found.append((e.path, meta))
    return found


def _read_experiment(exp_dir: str, exp_meta: dict[str, Any]) -> list[ImportedRun]:
    if exp_meta.get("lifecycle_stage") == "deleted":
        return []
    exp_file = os.path.join(exp_dir, "meta.yaml")
    runs: list[ImportedRun] = []
    for e in sorted(os.scandir(exp_dir), key=lambda e: e.name):
        if not e.is_dir():
            continue
        meta = _meta(os.path.join(e.path, "meta.yaml"))
        if meta is None or not _is_run_meta(meta):
            continue
        run = _read_file_run(e.path, meta, exp_meta, exp_file)
        if run is not None:
            runs.append(run)
    runs.sort(key=lambda r: (r.created_at or 0.0, r.name))
    return runs


def _read_kv_dir(folder: str, run: ImportedRun) -> dict[str, str]:
    """params/ or tags/: one file per key, nested folders for keys with '/'."""
    out: dict[str, str] = {}
    for path, key in _walk_keys(folder):
        try:
            with open(path, encoding="utf-8") as f:
                out[key] = f.read()
        except (OSError, UnicodeDecodeError):
            run.warnings.append(f"{os.path.basename(folder)}/{key}: unreadable, skipped")
            continue
        run.files.append(SourceFile.of(path))
    return out


def _walk_keys(folder: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if not os.path.isdir(folder):
        return out
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            out.append((full, os.path.relpath(full, folder).replace(os.sep, "/")))
    return out


def _read_file_run(
    run_dir: str, meta: dict[str, Any], exp_meta: dict[str, Any], exp_file: str
) -> ImportedRun | None:
    if meta.get("lifecycle_stage") == "deleted":
        return None
    run_id = str(meta.get("run_id") or meta.get("run_uuid") or os.path.basename(run_dir))
    name = str(meta.get("run_name") or "") or run_id
    run = ImportedRun(
        name=name,
        format=FORMAT,
        source=run_dir,
        external_id=run_id,
        project=str(exp_meta["name"]) if exp_meta.get("name") is not None else None,
        status=_status(meta.get("status")),
        created_at=_seconds(meta.get("start_time")),
        finished_at=_seconds(meta.get("end_time")),
    )
    run.files.append(SourceFile.of(os.path.join(run_dir, "meta.yaml")))
    if os.path.isfile(exp_file):
        run.files.append(SourceFile.of(exp_file))
    params = _read_kv_dir(os.path.join(run_dir, "params"), run)
    run.config = {k: coerce_param(v) for k, v in params.items()}
    _apply_tags(run, _read_kv_dir(os.path.join(run_dir, "tags"), run), run_id)

    bad = 0
    for path, key in _walk_keys(os.path.join(run_dir, "metrics")):
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError):
            run.warnings.append(f"metrics/{key}: unreadable, skipped")
            continue
        run.files.append(SourceFile.of(path))
        for line in lines:
            parts = line.split()
            if not parts:
                continue
            try:
                # "timestamp value step" (very old stores: "timestamp value")
                wall = int(parts[0]) / 1000.0
                value = float(parts[1])
                step = int(parts[2]) if len(parts) > 2 else 0
            except (ValueError, IndexError, OverflowError):
                bad += 1
                continue
            run.add_point(key, step, value, wall)
    if bad:
        run.warnings.append(f"{bad} malformed metric lines skipped")
        run.skipped_lines += bad
    for points in run.series.values():
        if isinstance(points, list):  # always here: this importer adds points one by one
            points.sort(key=lambda p: (p[0], p[2] or 0.0))
    return run


# ---------------------------------------------------------------- SQLite store


def _connect(path: str) -> sqlite3.Connection:
    try:
        with open(path, "rb") as f:
            magic = f.read(len(_SQLITE_MAGIC))
    except OSError as e:
        raise ParseError(f"cannot read {path}: {e.strerror}") from e
    if magic != _SQLITE_MAGIC:
        raise ParseError(f"{os.path.basename(path)} is not an SQLite database")
    try:
        conn = sqlite3.connect(Path(path).as_uri() + "?mode=ro", uri=True)
        conn.execute("select 1 from sqlite_master limit 1").fetchall()
    except sqlite3.Error as e:
        raise ParseError(f"cannot open {os.path.basename(path)} as SQLite: {e}") from e
    return conn


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f'pragma table_info("{table}")')}


def _parse_db(path: str) -> list[ImportedRun]:
    conn = _connect(path)
    try:
        return _read_db(conn, path)
    except sqlite3.Error as e:
        raise ParseError(f"cannot read {os.path.basename(path)}: {e}") from e
    finally:
        conn.close()


def _read_db(conn: sqlite3.Connection, path: str) -> list[ImportedRun]:
    tables = _tables(conn)
    missing = [t for t in _NEEDED_TABLES if t not in tables]
    if missing:
        raise ParseError(
            f"{os.path.basename(path)} is not an MLflow tracking database "
            f"(no {', '.join(missing)} table{'s' if len(missing) > 1 else ''})"
        )
    files = [SourceFile.of(path)]
    if os.path.isfile(path + "-wal"):
        files.append(SourceFile.of(path + "-wal"))

    exp_cols = _columns(conn, "experiments")
    exp_stage = "lifecycle_stage" if "lifecycle_stage" in exp_cols else "NULL"
    experiments = {
        str(eid): (name, stage)
        for eid, name, stage in conn.execute(
            f"select experiment_id, name, {exp_stage} from experiments"
        )
    }

    cols = _columns(conn, "runs")
    wanted = ["run_uuid", "name", "status", "start_time", "end_time", "lifecycle_stage"]
    wanted.append("experiment_id")
    select = ", ".join(c if c in cols else "NULL" for c in wanted)
    runs: dict[str, ImportedRun] = {}
    for run_id, name, status, start, end, stage, exp_id in conn.execute(
        f"select {select} from runs"
    ):
        exp_name, exp_stage_value = experiments.get(str(exp_id), (None, None))
        if stage == "deleted" or exp_stage_value == "deleted":
            continue
        runs[run_id] = ImportedRun(
            name=str(name or "") or str(run_id),
            format=FORMAT,
            source=path,
            external_id=str(run_id),
            project=exp_name,
            status=_status(status),
            created_at=_seconds(start),
            finished_at=_seconds(end),
            files=list(files),
        )

    for run_id, key, value in conn.execute("select run_uuid, key, value from params"):
        if run_id in runs:
            runs[run_id].config[str(key)] = coerce_param(value)
    tags: dict[str, dict[str, str]] = {}
    for run_id, key, value in conn.execute("select run_uuid, key, value from tags"):
        if run_id in runs:
            tags.setdefault(run_id, {})[str(key)] = "" if value is None else str(value)
    for run_id, run_tags in tags.items():
        _apply_tags(runs[run_id], run_tags, run_id)

    mcols = _columns(conn, "metrics")
    step = "step" if "step" in mcols else "0"
    is_nan = "is_nan" if "is_nan" in mcols else "0"
    order = "run_uuid, key, step, timestamp" if "step" in mcols else "run_uuid, key, timestamp"
    query = (
        f"select run_uuid, key, value, timestamp, {step}, {is_nan} from metrics order by {order}"
    )
    for run_id, key, value, ts, st, nan in conn.execute(query):
        run = runs.get(run_id)
        if run is None:
            continue
        try:
            run.add_point(str(key), int(st), _metric_value(float(value), nan), _seconds(ts))
        except (TypeError, ValueError):
            run.skipped_lines += 1
    for run in runs.values():
        if run.skipped_lines:
            run.warnings.append(f"{run.skipped_lines} malformed metric rows skipped")
    return sorted(runs.values(), key=lambda r: (r.created_at or 0.0, r.name))
