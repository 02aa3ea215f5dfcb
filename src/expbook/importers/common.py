"""Small helpers shared by the file parsers (reading, decoding, key names, value coercion).

Nothing here touches the store. Everything is cheap to import (no pandas).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from .model import ImportedRun, ParseError, SourceFile

HEAD_BYTES = 64 * 1024
MAX_STRING = 200  # longest string kept as a summary value

# File extensions that never hold a run of a text-like format (skipped by the walker before
# reading a head, unless another module's sniff_file wants them: those modules see every file
# whose extension is not in this set).
BINARY_EXTS = frozenset(
    [
        ".pt",
        ".pth",
        ".ckpt",
        ".bin",
        ".safetensors",
        ".pkl",
        ".pickle",
        ".npy",
        ".npz",
        ".h5",
        ".hdf5",
        ".onnx",
        ".tflite",
        ".pb",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".bmp",
        ".svg",
        ".pdf",
        ".webp",
        ".tif",
        ".tiff",
        ".mp4",
        ".avi",
        ".mov",
        ".wav",
        ".mp3",
        ".flac",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".zst",
        ".tar",
        ".7z",
        ".rar",
        ".whl",
        ".so",
        ".o",
        ".a",
        ".dll",
        ".dylib",
        ".exe",
        ".pyc",
        ".pyo",
        ".parquet",
        ".arrow",
        ".feather",
        ".joblib",
        ".msgpack",
        ".lock",
    ]
)


def read_bytes(path: str) -> bytes:
    """Read a whole file; OSError becomes a one-line ParseError."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except IsADirectoryError:
        raise ParseError("is a directory, not a file") from None
    except OSError as e:
        raise ParseError(f"cannot read file: {e.strerror or e}") from None


def read_head(path: str, n: int = HEAD_BYTES) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def subdirs(folder: str, key: Any = None) -> list[str]:
    """The folders directly in ``folder`` (links not followed), sorted by name (or by
    ``key`` of the name); none when it cannot be listed."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: key(e.name) if key else e.name)
    except OSError:
        return []
    return [e.path for e in entries if e.is_dir(follow_symlinks=False)]


def source_of(path: str, data: bytes) -> SourceFile:
    """A SourceFile from bytes already in memory (no second read)."""
    return SourceFile(
        path=os.path.abspath(path), sha256=hashlib.sha256(data).hexdigest(), size=len(data)
    )


_CTRL_BYTES = bytes([b for b in range(32) if b < 9 or b > 13] + [127])


def looks_binary(head: bytes) -> bool:
    """True for data that is not text (NUL bytes or many control characters)."""
    if not head:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 BOM: text
        return False
    if b"\x00" in head[:8192]:
        return True
    sample = head[:8192]
    ctrl = len(sample) - len(sample.translate(None, _CTRL_BYTES))
    return ctrl > 0.05 * len(sample)


def decode_text(data: bytes, what: str = "file") -> tuple[str, list[str]]:
    """Bytes -> str. Binary data raises ParseError; bad UTF-8 is replaced with a warning."""
    if not data:
        raise ParseError(f"empty {what}")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError:
            raise ParseError("undecodable UTF-16 text") from None
    if looks_binary(data[:8192]):
        raise ParseError(f"binary data, not a text {what}")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="replace")
        bad = text.count("\ufffd")
        return text, [f"not valid UTF-8: {bad} undecodable byte(s) replaced"]


# ---------------------------------------------------------------------------------------------
# key names

_NON_KEY = re.compile(r"[^a-z0-9/.]+")
_MULTI_US = re.compile(r"_+")


@lru_cache(maxsize=4096)
def norm_key(text: str) -> str:
    """Normalise a human-written field name to a lower snake_case key.

    ``Test Acc (non-diag)`` -> ``test_acc_non_diag``; ``val_loss`` -> ``val_loss``;
    ``Train Loss`` -> ``train_loss``; ``train/loss`` stays ``train/loss`` ('/' and '.' are kept).
    """
    k = _NON_KEY.sub("_", text.strip().lower())
    k = _MULTI_US.sub("_", k).strip("_")
    k = re.sub(r"_?([/.])_?", r"\1", k)
    return k.strip("/.") or "value"


def prefix_from_label(label: str) -> str:
    """First word of a label (``Final Results`` -> ``final``), used as a key prefix."""
    m = re.search(r"[A-Za-z][A-Za-z0-9]*", label)
    return m.group(0).lower() if m else ""


# ---------------------------------------------------------------------------------------------
# values

MISSING_TOKENS = frozenset({"", "-", "--", "na", "n/a", "none", "null", "nil", "?"})
_MAG = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}
_NUM_UNIT = re.compile(
    r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity))\s*([A-Za-z%µ/]*)$",
    re.IGNORECASE,
)


INT64_MAX = 2**63 - 1
INF_WORDS = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})


def parse_number(text: str) -> float | int | None:
    """``'3'`` -> 3, ``'0.5'`` -> 0.5, ``'136.7s'`` -> 136.7, ``'25.9M'`` -> 25900000,
    ``'nan'``/``'inf'`` -> float; anything else (including missing markers) -> None.

    A literal too large for a float64 (a 400-digit integer, ``1e999``) is not a number (None);
    integers beyond the int64 range that a float64 can hold come back as floats."""
    t = text.strip()
    if len(t) > 400:
        return None
    m = _NUM_UNIT.match(t)
    if not m:
        return None
    num, unit = m.group(1), m.group(2)
    if unit in _MAG:
        v = float(num) * _MAG[unit]
        if math.isinf(v) and num.lower() not in INF_WORDS:
            return None
        return int(v) if v.is_integer() and abs(v) < 2**53 else v
    if "." not in num and "e" not in num.lower() and num.lstrip("+-").isdigit():
        if len(num) <= 18:
            return int(num)
        big = json_int(num)
        return None if isinstance(big, str) else big
    v = float(num)
    if math.isinf(v) and num.lower() not in INF_WORDS:
        return None
    return v


def json_int(text: str) -> int | float | str:
    """An integer literal (``json.loads(parse_int=...)``): an int within int64, a float beyond
    that while a float64 holds it, else the text itself (not a number)."""
    if len(text) <= 18:
        return int(text)
    v = float(text)
    if math.isinf(v):
        return text
    if abs(v) < 2**63 and len(text) < 30:
        i = int(text)
        if -INT64_MAX - 1 <= i <= INT64_MAX:
            return i
    return v


def json_float(text: str) -> float | str:
    """A float literal (``json.loads(parse_float=...)``): ``1e999`` is not a number (its text)."""
    v = float(text)
    return text if math.isinf(v) else v


def loads_json(text: str | bytes) -> Any:
    """``json.loads`` where numbers no float64 can hold stay strings (see :func:`json_int`)."""
    return json.loads(text, parse_int=json_int, parse_float=json_float)


_NUMERIC_TEXT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def looks_numeric(text: str) -> bool:
    """A plain number literal (``123``, ``1e999``), whatever its size."""
    return _NUMERIC_TEXT.fullmatch(text.strip()) is not None


def as_float(v: float | int) -> float | None:
    """``float(v)``, or None for an int too large for a float64."""
    try:
        return float(v)
    except OverflowError:
        return None


def number_or_none(v: Any) -> float | int | None:
    """A Python number (JSON, YAML) as one the store can hold, or None when it cannot be
    (bools are not numbers; ints beyond int64 become floats, beyond float64 None)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        if -INT64_MAX - 1 <= v <= INT64_MAX:
            return v
        try:
            return float(v)
        except OverflowError:
            return None
    if isinstance(v, float):
        return v
    return None


def coerce_value(text: str) -> Any:
    """A config/summary string -> bool, None, int, float or the (unquoted) string."""
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        return t[1:-1]
    low = t.lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    if low in ("none", "null", "~"):
        return None
    n = parse_number(t)
    if n is not None:
        return n
    return t


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def short_string(v: str) -> str:
    return v if len(v) <= MAX_STRING else v[: MAX_STRING - 1] + "…"


def to_epoch_seconds(v: Any) -> float | None:
    """An ISO 8601 string or a number of seconds/milliseconds since the epoch -> seconds."""
    if is_number(v):
        x = float(v)
        if not math.isfinite(x) or x <= 0:
            return None
        return x / 1000.0 if x > 1e11 else x
    if isinstance(v, str):
        s = v.strip()
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            return None
        if dt.tzinfo is None:
            return dt.timestamp()  # local time
        return dt.astimezone(timezone.utc).timestamp()
    return None


def flatten(d: dict[str, Any], sep: str = "/", prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> one level with joined keys (lists and other values kept as they are)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{sep}{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(flatten(v, sep, key))
        else:
            out[key] = v
    return out


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Merge ``extra`` into ``base`` without overwriting what ``base`` has (base wins)."""
    for k, v in extra.items():
        if k in base:
            if isinstance(base[k], dict) and isinstance(v, dict):
                deep_merge(base[k], v)
        else:
            base[k] = v
    return base


GENERIC_STEMS = frozenset(
    {
        "train",
        "training",
        "console",
        "log",
        "logs",
        "output",
        "out",
        "stdout",
        "stderr",
        "main",
        "run",
        "metrics",
        "history",
        "training_history",
        "eval",
        "results",
        "summary",
        "preds",
        "predictions",
        "config",
        "progress",
    }
)


def run_name_for_file(path: str) -> str:
    """A run name for a single file: its stem, or its folder's name for generic stems."""
    base = os.path.basename(path)
    stem = base.split(".")[0] if not base.startswith(".") else base
    if stem.lower() in GENERIC_STEMS:
        parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
        if parent:
            return parent
    return stem or base


def new_run(path: str, fmt: str, opts: Any = None, name: str | None = None) -> ImportedRun:
    src = os.path.abspath(path)
    run = ImportedRun(
        name=name or run_name_for_file(path),
        format=fmt,
        source=src,
    )
    project = getattr(opts, "project", None)
    if project:
        run.project = project
    return run


MAX_CONFIG_BYTES = 1 << 20  # JSON size of an imported run's config
MAX_SUMMARY_BYTES = 1 << 20  # JSON size of an imported run's summary


def bound_run(run: ImportedRun) -> None:
    """Keep what an imported run writes to the store within bounds, saying what was left out:
    config and summary under :data:`MAX_CONFIG_BYTES`/:data:`MAX_SUMMARY_BYTES` of JSON (the
    first keys that fit are kept), integers beyond int64 as floats (or strings when no float64
    holds them), summary values as numbers, booleans or short strings."""
    if run.dropped_points:
        run.warnings.append(
            f"{run.dropped_points} point(s) with a step outside int64 or a value that is not a "
            "float64 left out"
        )
        run.dropped_points = 0
    try:
        config = _storable(run.config)
    except RecursionError:
        config = {}
        run.warnings.append("config: nested too deeply to keep; left out")
    run.config, dropped = _capped(config, MAX_CONFIG_BYTES)
    if dropped:
        run.warnings.append(
            f"config: {dropped} key(s) left out (over the {MAX_CONFIG_BYTES >> 20} MiB cap)"
        )
    summary: dict[str, Any] = {}
    for k, v in run.summary.items():
        if v is None or isinstance(v, (bool, float)):
            summary[k] = v
        elif isinstance(v, int):
            summary[k] = _storable(v)
        else:
            summary[k] = short_string(v if isinstance(v, str) else str(v))
    run.summary, dropped = _capped(summary, MAX_SUMMARY_BYTES)
    if dropped:
        run.warnings.append(
            f"summary: {dropped} value(s) left out (over the {MAX_SUMMARY_BYTES >> 20} MiB cap)"
        )


def _storable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _storable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_storable(x) for x in v]
    if isinstance(v, int) and not isinstance(v, bool) and not -(2**63) <= v < 2**63:
        f = as_float(v)
        return f if f is not None else short_string(str(v)) if v.bit_length() < 4000 else "…"
    return v


def _capped(d: dict[str, Any], cap: int) -> tuple[dict[str, Any], int]:
    """The first keys of ``d`` whose JSON fits in ``cap`` bytes, and how many were left out."""
    out: dict[str, Any] = {}
    used = 2
    dropped = 0
    for k, v in d.items():
        try:
            n = len(json.dumps(k)) + len(json.dumps(v, default=str)) + 4  # ": ", ", "
        except (ValueError, TypeError, RecursionError):
            dropped += 1
            continue
        if used + n > cap:
            dropped += 1
            continue
        used += n
        out[k] = v
    return out, dropped


def finish_runs(runs: list[ImportedRun], opts: Any) -> list[ImportedRun]:
    """Apply ``--project`` to every run and ``opts.name`` to a unit's only run."""
    project = getattr(opts, "project", None)
    name = getattr(opts, "name", None)
    for r in runs:
        if project:
            r.project = project
    if name and len(runs) == 1:
        runs[0].name = name
    return runs


def one_line(msg: object) -> str:
    s = " ".join(str(msg).split())
    return s if len(s) <= 300 else s[:297] + "..."


def guarded_parse(read: Any, path: str, opts: Any) -> list[ImportedRun]:
    """Run a format's reader so that only ParseError (one line) ever escapes, then apply the
    options every format honours: ``--project`` and, for a single run, a name."""
    try:
        runs: list[ImportedRun] = read(path)
    except ParseError:
        raise
    except OSError as e:
        raise ParseError(f"cannot read {e.filename or path}: {e.strerror or e}") from e
    except Exception as e:  # never let a library's or our own surprise escape as a traceback
        raise ParseError(f"unexpected {type(e).__name__} while reading {path}: {e}") from e
    project = getattr(opts, "project", None)
    name = getattr(opts, "name", None)
    for run in runs:
        run.project = project or run.project
        if name and len(runs) == 1:
            run.name = name
    return runs
