"""PyTorch Lightning ``CSVLogger`` folders: ``<save_dir>/<name>/version_N/``.

``metrics.csv`` has one column per logged key plus ``step`` (and ``epoch`` with a Trainer);
training and validation values land on different rows, so a blank cell is a missing value,
not a zero. Every column but ``step`` becomes a series over ``step`` (``epoch`` included).
``hparams.yaml`` becomes the config, typed (Python tags read as data, numpy scalars as
numbers, tuples as lists: see :mod:`expbook.importers.configs`). Checkpoints under
``checkpoints/`` are listed as artifacts (not read). Lightning writes no times and no
status: runs come out ``finished``.

Plain files, read with :mod:`csv` and PyYAML: Lightning itself is not needed.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from typing import Any

import yaml

from expbook import _yaml
from expbook.importers import common
from expbook.importers.model import Artifact, ImportedRun, ParseError, SourceFile

FORMAT = "lightning"
ALIASES = ("pytorch-lightning", "pl", "csvlogger")

_METRICS = "metrics.csv"
_HPARAMS = "hparams.yaml"
_VERSION = re.compile(r"^version_")


def _header(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            line = f.readline()
    except (OSError, UnicodeDecodeError):
        return []
    return [c.strip() for c in next(csv.reader([line]), [])]


def _is_version_dir(path: str) -> bool:
    metrics = os.path.join(path, _METRICS)
    if not os.path.isfile(metrics) or "step" not in _header(metrics):
        return False
    has_hparams = os.path.isfile(os.path.join(path, _HPARAMS))
    return has_hparams or bool(_VERSION.match(os.path.basename(os.path.normpath(path))))


def claim_dir(path: str) -> bool:
    """A ``version_N`` folder (or one with ``hparams.yaml``) whose ``metrics.csv`` has ``step``."""
    return os.path.isdir(path) and _is_version_dir(path)


def sniff_file(path: str, head: bytes) -> int:
    """``metrics.csv`` with a ``step`` column inside a Lightning version folder."""
    if os.path.basename(path) != _METRICS:
        return 0
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    cols = [c.strip() for c in next(csv.reader([first]), [])]
    if "step" not in cols:
        return 0
    return 85 if _is_version_dir(os.path.dirname(os.path.abspath(path))) else 30


def parse(path: str, opts: Any = None) -> list[ImportedRun]:
    """Read a version folder, its ``metrics.csv``, or every version folder below ``path``."""
    return common.guarded_parse(_parse, path, opts)


def _parse(path: str) -> list[ImportedRun]:
    path = os.path.abspath(path)
    if os.path.isfile(path):
        if os.path.basename(path) != _METRICS:
            raise ParseError(f"not a Lightning metrics.csv: {os.path.basename(path)}")
        return [_read_version(os.path.dirname(path))]
    if not os.path.isdir(path):
        raise ParseError(f"no such file or folder: {path}")
    if os.path.isfile(os.path.join(path, _METRICS)):
        return [_read_version(path)]
    # <save_dir>/<name>/version_N: look two levels down
    folders: list[str] = []
    for sub in common.subdirs(path, _natural):
        if os.path.isfile(os.path.join(sub, _METRICS)) and _is_version_dir(sub):
            folders.append(sub)
        else:
            folders.extend(d for d in common.subdirs(sub, _natural) if _is_version_dir(d))
    if not folders:
        raise ParseError(f"no Lightning CSVLogger folders (version_N/metrics.csv) under {path}")
    return [_read_version(f) for f in folders]


def _natural(name: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _read_version(folder: str) -> ImportedRun:
    metrics = os.path.join(folder, _METRICS)
    parent = os.path.basename(os.path.dirname(folder))
    name = f"{parent}/{os.path.basename(folder)}" if parent else os.path.basename(folder)
    run = ImportedRun(name=name, format=FORMAT, source=folder)
    if not os.path.isfile(metrics):
        raise ParseError(f"no {_METRICS} in {folder}")
    try:
        with open(metrics, "rb") as f:
            data = f.read()
        text = data.decode("utf-8-sig")
    except OSError as e:
        raise ParseError(f"cannot read {metrics}: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise ParseError(f"{_METRICS} is not UTF-8 text (byte {e.start})") from e
    if "\x00" in text:
        raise ParseError(f"{_METRICS} is binary, not CSV")
    if not text.strip():
        raise ParseError(f"{_METRICS} is empty")
    run.files.append(SourceFile.of(metrics))
    _read_metrics(text, run)

    hparams = os.path.join(folder, _HPARAMS)
    if os.path.isfile(hparams):
        config, warning = read_hparams_yaml(hparams)
        run.config = config
        if warning:
            run.warnings.append(warning)
        run.files.append(SourceFile.of(hparams))

    ckpt_dir = os.path.join(folder, "checkpoints")
    if os.path.isdir(ckpt_dir):
        for entry in sorted(os.scandir(ckpt_dir), key=lambda e: e.name):
            if entry.is_file() and entry.name.endswith(".ckpt"):
                run.artifacts.append(Artifact(path=entry.path, kind="checkpoint"))
    return run


def _read_metrics(text: str, run: ImportedRun) -> None:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")) and len(lines) > 1:
        # a row cut off while Lightning was still writing it
        lines.pop()
        run.warnings.append(
            f"{_METRICS}: dropped an incomplete last line (file still being written?)"
        )
    try:
        _read_rows(csv.reader(io.StringIO("".join(lines), newline="")), run)
    except csv.Error as e:
        raise ParseError(f"{_METRICS} is not a readable CSV file: {e}") from None


def _read_rows(rows: Any, run: ImportedRun) -> None:
    header = [c.strip() for c in next(rows, [])]
    if "step" not in header:
        raise ParseError(f"{_METRICS} has no 'step' column: not a Lightning CSVLogger file")
    step_col = header.index("step")
    last_epoch: dict[int, float] = {}
    bad_cells = 0
    short_rows = 0
    for row in rows:
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            short_rows += 1
        try:
            step = int(float(row[step_col]))
        except (ValueError, IndexError, OverflowError):
            run.skipped_lines += 1
            continue
        for col, cell in zip(header, row):
            if col == "step" or not col:
                continue
            cell = cell.strip()
            if not cell:
                continue  # the value belongs to another row (train vs val)
            try:
                value = float(cell)
            except ValueError:
                bad_cells += 1
                continue
            if math.isinf(value) and cell.lstrip("+-").lower() not in ("inf", "infinity"):
                bad_cells += 1  # 1e999: too large for a float64, not a number
                continue
            if col == "epoch":
                if last_epoch.get(step) == value:
                    continue  # train and val rows repeat the epoch at one step
                last_epoch[step] = value
            run.add_point(col, step, value)
    if bad_cells:
        run.warnings.append(f"{_METRICS}: {bad_cells} non-numeric cells skipped")
    if short_rows:
        run.warnings.append(f"{_METRICS}: {short_rows} rows had a different number of cells")


def read_hparams_yaml(path: str) -> tuple[dict[str, Any], str | None]:
    """Config from a Lightning ``hparams.yaml``: (config, warning or None)."""
    name = os.path.basename(path)
    from expbook.importers.configs import load_yaml

    try:
        with open(path, encoding="utf-8") as f:
            data = load_yaml(f.read())
    except (OSError, UnicodeDecodeError) as e:
        return {}, f"{name}: cannot read ({type(e).__name__})"
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        why = f"not valid YAML at line {mark.line + 1}" if mark is not None else _yaml.describe(e)
        return {}, f"{name}: {why}; config left empty"
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return {}, f"{name}: expected a mapping, found {type(data).__name__}; config left empty"
    return {str(k): _plain(v) for k, v in data.items()}, None


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)  # dates and the like
