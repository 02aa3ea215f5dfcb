"""CSV, TSV, JSON and JSONL metric files.

Shapes understood:

* **wide**: one row per step, a step column plus metric columns. The step column is the first
  of ``step, global_step, _step, trainer/global_step, iteration, iter, it, epoch, ep, batch,
  round, update, timestep`` present (case-insensitive) with integer values; without one the
  row index (from 0) is the step. When both a step and an epoch column exist, ``epoch`` is also a
  series. A numeric ``timestamp``/``_timestamp``/``wall_time``/``time`` column holding epoch
  seconds (or ms), or an ISO time column, gives the points' wall time and is not a series.
  Blank cells and ``-``/``NA``/``null``/``None`` are missing (no point), never zero; ``nan`` and
  ``inf`` are floats. Non-numeric columns are not series.
* **stages**: a non-numeric ``stage``/``phase``/``split``/``mode``/``subset`` column. If the step
  restarts when the stage changes, or the same step appears under two stages, every metric is
  split per stage as ``<stage>/<metric>`` (seed003: ``operator/loss``, step = epoch within
  the stage). Otherwise (the step keeps counting across phases, e.g. Adam then LBFGS) the
  series stay whole and the summary gets ``<column>/<stage>/first_step`` and
  ``<column>/<stage>/last_step`` (``phase/lbfgs/first_step``).
* **long**: columns ``key``/``metric``/``name``/``tag`` + ``value`` (+ optional step and time).
* **JSON/JSONL**: one object per line, a list of objects, an object holding such a list under
  ``history``/``log_history``/``records``/``metrics``/``logs``/``data`` (its other scalar
  fields become summary values), or an object of equal-length number lists (Keras
  ``history.json``), or Sacred's ``metrics.json`` (``{name: {steps, values, timestamps}}``).
  Nested objects are flattened with ``/`` (``{"train": {"loss": 1}}`` -> ``train/loss``).
* **MMCV/MMEngine logs**: mmcv's ``*.log.json`` (``mode: train|val`` lines) and MMEngine's
  ``vis_data/scalars.json`` are put on the global iteration (see :func:`_mm_records` and
  :func:`_mmengine_records`).
* **TensorBoard exports**: the CSV (``Wall time,Step,Value``) and JSON (``[[wall, step,
  value], ...]``) downloads of one tag are one series named after the file.
* **run tables** (one row per run): a non-numeric ``run``/``run_name``/``name``/``run_id``/
  ``experiment`` column with distinct values and no step column (seed002 ``results.csv``).
  Imported alone, each row is a run with only summary values (external id = the row's name).
  Walked together with the runs it describes, :func:`expbook.importers.walk.read_all` attaches
  each row to the run of the same name instead (see there). A table with a run column *and* a
  step column holds the series of several runs: one run per distinct name.

Problems: empty, binary or undecodable files, files with no header row, and files where most
rows are ragged raise ParseError; a minority of ragged rows, unparseable cells in a numeric
column, or a truncated last JSONL line give a partial import with a warning saying how much.
A number no float64 can hold (``1e999``, a 400-digit integer; ``inf`` and ``nan`` are values)
is a missing cell, counted in a warning that names the first line (or JSON record); rows
whose step is outside the int64 range are skipped.

Memory: a CSV file is typed :data:`CHUNK_ROWS` rows at a time straight into numpy columns
(a column's strings are kept only while it may turn out to be text: when its first chunk
holds non-numbers), and series come out as :class:`PointArrays`, never a tuple per point.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import common
from .model import ImportedRun, ParseError, PointArrays

FORMAT = "tabular"
ALIASES = ("csv", "tsv", "json", "jsonl")

CSV_EXTS = frozenset({".csv", ".tsv", ".tab"})
JSONL_EXTS = frozenset({".jsonl", ".ndjson"})
JSON_EXTS = frozenset({".json"})
# names that usually hold text logs, but may hold a CSV table (Keras CSVLogger: training.log)
TEXT_TABLE_EXTS = frozenset({".log", ".txt", ".out", ""})

STEP_COLS = (
    "step",
    "global_step",
    "_step",
    "trainer/global_step",
    "iteration",
    "iter",
    "it",
    "epoch",
    "ep",
    "batch",
    "round",
    "update",
    "timestep",
    "timesteps",
    "total_timesteps",
    "time/total_timesteps",
)
WALL_COLS = (
    "timestamp",
    "_timestamp",
    "wall_time",
    "walltime",
    "wall",
    "time",
    "datetime",
    "created_at",
    "wall time",
)
STAGE_COLS = ("stage", "phase", "split", "mode", "subset", "partition")
RUN_COLS = ("run", "run_name", "name", "run_id", "experiment", "exp", "exp_name", "trial")
LONG_KEY_COLS = ("key", "metric", "metric_name", "name", "tag")
RECORD_KEYS = ("log_history", "history", "records", "metrics", "logs", "data", "rows", "entries")

Point = tuple[int, float, "float | None"]
STEP_LIMIT = 2.0**63  # steps are int64: rows with a step outside that range are skipped


@dataclass
class Table:
    """Columns of a table, typed: numbers (with a presence mask) or strings."""

    path: str
    columns: list[str]
    nrows: int
    num: dict[str, np.ndarray] = field(default_factory=dict)
    present: dict[str, np.ndarray] = field(default_factory=dict)
    text: dict[str, list[str | None]] = field(default_factory=dict)
    ints: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    extra_summary: dict[str, Any] = field(default_factory=dict)
    data: bytes = b""
    # from a ``#{json}`` first line (stable-baselines3 Monitor): config values, start time
    config: dict[str, Any] = field(default_factory=dict)
    t_start: float | None = None

    def col(self, *names: str, numeric: bool | None = None) -> str | None:
        """The first column whose lower-cased name is in ``names``."""
        lower = {c.lower(): c for c in self.columns}
        for n in names:
            c = lower.get(n)
            if c is None:
                continue
            if numeric is True and c not in self.num:
                continue
            if numeric is False and c not in self.text:
                continue
            return c
        return None


@dataclass
class RunTable:
    """A table with one row per run (a results/leaderboard CSV)."""

    path: str
    name_col: str
    rows: list[tuple[str, dict[str, Any]]]  # (run name, values)
    data: bytes = b""

    def to_runs(self, opts: Any = None) -> list[ImportedRun]:
        src = common.source_of(self.path, self.data) if self.data else None
        runs = []
        for name, values in self.rows:
            run = common.new_run(self.path, FORMAT, None, name=name)
            run.external_id = name
            if getattr(opts, "project", None):
                run.project = opts.project
            run.summary.update(values)
            if src is not None:
                run.files.append(src)
            runs.append(run)
        return runs


@dataclass
class SeriesResult:
    series: dict[str, list[Point] | PointArrays] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    created_at: float | None = None


# ---------------------------------------------------------------------------------------------
# reading


CHUNK_ROWS = 1 << 16  # CSV rows typed at a time: memory stays near the size of the columns


def _type_cells(
    cells: list[str] | tuple[str, ...],
) -> tuple[np.ndarray, np.ndarray, int, int, list[int]]:
    """Strings -> (values, present, n_ok, n_bad, rows of numbers too large for a float64).

    Missing markers (blank, ``-``, ``NA``...) are neither ok nor bad."""
    n = len(cells)
    try:
        arr = np.array(cells, dtype=np.float64)
        present = np.ones(n, dtype=bool)
        ok, bad = n, 0
    except (ValueError, TypeError):
        arr = np.full(n, np.nan)
        present = np.zeros(n, dtype=bool)
        ok = 0
        bad = 0
        for i, c in enumerate(cells):
            s = c.strip() if isinstance(c, str) else c
            if s is None or (isinstance(s, str) and s.lower() in common.MISSING_TOKENS):
                continue
            try:
                arr[i] = float(s)
                present[i] = True
                ok += 1
            except (ValueError, TypeError):
                bad += 1
    huge: list[int] = []
    inf = np.isinf(arr)
    if inf.any():
        # ``1e999`` or a 400-digit integer parse as inf: not a number, unlike ``inf``
        for i in np.flatnonzero(inf).tolist():
            c = cells[i]
            if isinstance(c, str) and c.strip().lower() not in common.INF_WORDS:
                arr[i] = np.nan
                present[i] = False
                huge.append(i)
        ok -= len(huge)
        bad += len(huge)
    return arr, present, ok, bad, huge


def _sniff_delimiter(first_line: str, ext: str) -> str:
    if ext == ".tsv" or ext == ".tab":
        return "\t"
    counts = {d: first_line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _lines(text: str) -> Any:
    """The lines of ``text`` (with their endings), one at a time: no copy of the whole text."""
    if len(text) < (1 << 20):
        return io.StringIO(text)
    return _iter_lines(text)


def _iter_lines(text: str) -> Any:
    find = text.find
    pos = 0
    n = len(text)
    while pos < n:
        j = find("\n", pos)
        if j < 0:
            yield text[pos:]
            return
        yield text[pos : j + 1]
        pos = j + 1


class _Column:
    """One CSV column typed chunk by chunk (its strings kept only while it may be text)."""

    __slots__ = (
        "bad",
        "finite",
        "huge",
        "huge_line",
        "int_ok",
        "keep_text",
        "nums",
        "ok",
        "present",
        "strings",
    )

    def __init__(self) -> None:
        self.nums: list[np.ndarray] = []
        self.present: list[np.ndarray] = []
        self.strings: list[str | None] = []
        self.keep_text: bool | None = None  # decided by the first chunk
        self.ok = 0
        self.bad = 0
        self.int_ok = True
        self.finite = False
        self.huge = 0  # numbers too large for a float64
        self.huge_line = 0  # the line of the first of them

    def add(self, cells: tuple[str, ...], lines: list[int], strings: dict[str, str]) -> None:
        arr, present, ok, bad, huge = _type_cells(cells)
        if self.keep_text is None:
            self.keep_text = bad > 0 or ok == 0
        if self.keep_text:
            self.strings.extend(strings.setdefault(c, c) if c.strip() else None for c in cells)
        self.nums.append(arr)
        self.present.append(present)
        self.ok += ok
        self.bad += bad
        if ok:
            vals = arr[present]
            finite = vals[np.isfinite(vals)]
            if len(finite):
                self.finite = True
                self.int_ok = self.int_ok and bool(np.all(finite == np.floor(finite)))
        if huge:
            if not self.huge:
                self.huge_line = lines[huge[0]]
            self.huge += len(huge)


def _json_comment(text: str) -> tuple[dict[str, Any] | None, int]:
    """A ``#{...}`` first line (stable-baselines3 ``Monitor`` files): (its object, its length)."""
    if not text.startswith("#{"):
        return None, 0
    end = text.find("\n")
    line = text[1:] if end < 0 else text[1:end]
    try:
        obj = common.loads_json(line)
    except (ValueError, RecursionError):
        return None, 0
    if not isinstance(obj, dict):
        return None, 0
    return obj, len(text) if end < 0 else end + 1


def _apply_meta(t: Table, meta: dict[str, Any]) -> None:
    """The ``#{json}`` line: ``t_start`` is the run's start (and the ``t`` column's origin),
    the other scalar values are config."""
    start = meta.get("t_start")
    if (
        isinstance(start, (int, float))
        and not isinstance(start, bool)
        and math.isfinite(float(start))
        and float(start) > 0
    ):
        t.t_start = float(start)
    for k, v in meta.items():
        if k == "t_start":
            continue
        if v is None or isinstance(v, (str, bool, int, float, list, dict)):
            t.config[str(k)] = v


def read_csv(path: str, data: bytes) -> Table:
    text, warns = common.decode_text(data, "CSV file")
    meta, skip = _json_comment(text)
    if skip:
        text = text[skip:]
    ext = os.path.splitext(path)[1].lower()
    first = text[: text.find("\n")] if "\n" in text else text
    delim = _sniff_delimiter(first, ext)
    reader = csv.reader(_lines(text), delimiter=delim)
    header: list[str] | None = None
    ncol = 0
    n_body = 0
    ragged = 0
    nrows = 0
    cols: list[_Column] = []
    chunk: list[list[str]] = []
    chunk_lines: list[int] = []
    strings: dict[str, str] = {}

    def flush() -> None:
        for col, cells in zip(cols, zip(*chunk)):
            col.add(cells, chunk_lines, strings)
        chunk.clear()
        chunk_lines.clear()

    try:
        for r in reader:
            if not r or not any(r):
                continue
            if header is None:
                header = [h.strip() for h in r]
                if all(common.parse_number(h) is not None for h in header if h):
                    raise ParseError("no header row (the first row holds numbers)")
                ncol = len(header)
                cols = [_Column() for _ in range(ncol)]
                continue
            n_body += 1
            if len(r) != ncol:
                ragged += 1
                continue
            chunk.append(r)
            chunk_lines.append(reader.line_num)
            nrows += 1
            if len(chunk) >= CHUNK_ROWS:
                flush()
    except csv.Error as e:
        raise ParseError(f"unreadable CSV: {e}") from None
    if chunk:
        flush()
    del text, reader
    if header is None:
        raise ParseError("empty CSV file")
    if not n_body:
        raise ParseError("CSV has a header but no data rows")
    if not nrows or ragged * 2 > n_body:
        raise ParseError(
            f"ragged CSV: {ragged} of {n_body} data rows do not have the header's {ncol} fields"
        )
    t = Table(path=path, columns=[], nrows=nrows, data=data)
    t.warnings.extend(warns)
    if meta:
        _apply_meta(t, meta)
    if ragged:
        t.warnings.append(
            f"{ragged} of {n_body} data rows have the wrong number of fields (skipped)"
        )
    seen: set[str] = set()
    bad_cells = 0
    huge = 0
    huge_line = 0
    for j, col in enumerate(cols):
        name = header[j] or f"column_{j}"
        if name in seen:
            name = f"{name}_{j}"
        seen.add(name)
        t.columns.append(name)
        if (col.ok == 0 or col.bad > col.ok) and col.keep_text:
            t.text[name] = col.strings
            continue
        arr = col.nums[0] if len(col.nums) == 1 else np.concatenate(col.nums)
        present = col.present[0] if len(col.present) == 1 else np.concatenate(col.present)
        col.nums.clear()
        col.present.clear()
        bad_cells += col.bad - col.huge
        if col.huge:
            huge += col.huge
            huge_line = min(huge_line or col.huge_line, col.huge_line)
        t.num[name] = arr
        t.present[name] = present
        if col.int_ok and col.finite:
            t.ints.add(name)
    if huge:
        t.warnings.append(
            f"{huge} number(s) too large for a float64 read as missing (first on line {huge_line})"
        )
    if bad_cells:
        t.warnings.append(f"{bad_cells} non-numeric cell(s) in numeric columns read as missing")
    return t


def _records_table(
    path: str,
    records: list[Any],
    data: bytes,
    warns: list[str],
    where: str = "record",
    numbers: list[int] | None = None,
) -> Table:
    """A table from JSON objects. ``where``/``numbers`` name a record in warnings (``line``
    and the line numbers of a JSONL file; default: ``record`` and its position from 1)."""
    cols: dict[str, tuple[list[int], list[Any]]] = {}  # key -> (rows, values): sparse
    n = 0
    skipped = 0
    rec_no: list[int] = []
    for j, rec in enumerate(records):
        if not isinstance(rec, dict):
            skipped += 1
            continue
        for k, v in common.flatten(rec).items():
            col = cols.get(k)
            if col is None:
                col = cols[k] = ([], [])
            col[0].append(n)
            col[1].append(v)
        rec_no.append(numbers[j] if numbers is not None else j + 1)
        n += 1
    if n == 0:
        raise ParseError("no JSON objects (records) found")
    if len(cols) * n > len(data) + 1_000_000:
        raise ParseError(
            f"{len(cols)} distinct keys over {n} records: too sparse to read as a metrics table"
        )
    t = Table(path=path, columns=list(cols), nrows=n, data=data)
    t.warnings.extend(warns)
    if skipped:
        t.warnings.append(f"{skipped} record(s) that are not JSON objects skipped")
    huge = 0
    first_huge = ""
    for name, (rows, values) in cols.items():
        nums = 0
        strs = 0
        for v in values:
            if common.is_number(v):
                nums += 1
            elif isinstance(v, str):
                strs += 1
        if nums and nums >= strs:
            arr = np.full(n, np.nan)
            present = np.zeros(n, dtype=bool)
            for i, v in zip(rows, values):
                pv = v if common.is_number(v) else None
                if isinstance(v, str):
                    pv = common.parse_number(v)
                    if pv is None and common.looks_numeric(v):
                        huge += 1
                        if not first_huge:
                            first_huge = f"{where} {rec_no[i]}, key {name}"
                if pv is None:
                    continue
                fv = common.as_float(pv)
                if fv is None:
                    huge += 1
                    if not first_huge:
                        first_huge = f"{where} {rec_no[i]}, key {name}"
                    continue
                arr[i] = fv
                present[i] = True
            t.num[name] = arr
            t.present[name] = present
            finite = arr[present & np.isfinite(arr)]
            if len(finite) and np.all(finite == np.floor(finite)):
                t.ints.add(name)
        elif strs:
            text: list[str | None] = [None] * n
            for i, v in zip(rows, values):
                if isinstance(v, str):
                    text[i] = v
            t.text[name] = text
    if huge:
        t.warnings.append(f"{huge} number(s) too large for a float64 skipped (first: {first_huge})")
    return t


MM_MODES = ("train", "val")
# long texts in the first line of an mmcv ``*.log.json`` (the environment and the config file)
MM_TEXT_LIMIT = 200


def _mm_records(records: list[Any]) -> tuple[list[Any], dict[str, Any]] | None:
    """mmcv's ``TextLoggerHook`` JSON log (mmdetection, mmrotate, mmsegmentation
    ``*.log.json``), or None.

    Values are prefixed by their line's ``mode`` (``train/loss``, ``val/mAP``). The step is the
    global training iteration: ``iter`` itself when the training lines count through the
    whole file (an iteration-based runner; a val line, whose ``iter`` counts evaluation
    batches, takes the iteration of the training line before it), else, when ``iter``
    restarts at each epoch, ``(epoch - 1) * E + iter`` with ``E`` the largest ``iter`` of a
    training line (the iterations of an epoch when the logging interval divides them), and
    ``epoch * E`` for a val line, the end of its epoch. ``epoch`` stays a series of its own.
    Lines without ``mode`` (the run's metadata, first) give config: short scalars only, not
    the environment dump or the config file's text."""
    modes = [r.get("mode") if isinstance(r, dict) else None for r in records]
    if not any(m == "train" for m in modes) or not all(m in MM_MODES or m is None for m in modes):
        return None
    train = [r for r, m in zip(records, modes) if m == "train"]
    if not all(isinstance(r.get("iter"), int) for r in train):
        return None
    by_epoch = False
    prev: tuple[int, int] | None = None
    for r in train:
        ep, it = r.get("epoch"), r["iter"]
        if prev is not None and it < prev[1] and isinstance(ep, int) and ep > prev[0]:
            by_epoch = True
            break
        prev = (ep if isinstance(ep, int) else 0, it)
    per_epoch = max(r["iter"] for r in train)
    config: dict[str, Any] = {}
    out: list[Any] = []
    last_iter: int | None = None
    for r, m in zip(records, modes):
        if not isinstance(r, dict):
            out.append(r)
            continue
        if m is None:
            for k, v in r.items():
                if isinstance(v, str) and ("\n" in v or len(v) > MM_TEXT_LIMIT):
                    continue
                if v is None or isinstance(v, (str, bool, int, float)):
                    config[str(k)] = v
            continue
        ep, it = r.get("epoch"), r.get("iter")
        step: Any
        if by_epoch:
            if not isinstance(ep, int):
                continue
            step = ep * per_epoch if m == "val" else (ep - 1) * per_epoch + it
        elif m == "train":
            step = last_iter = it
        else:
            step = last_iter if last_iter is not None else it
        if not isinstance(step, int):
            continue
        rec: dict[str, Any] = {"step": step}
        if m == "train" and isinstance(ep, int):
            rec["epoch"] = ep
        for k, v in r.items():
            if k not in ("mode", "iter", "epoch"):
                rec[f"{m}/{k}"] = v
        out.append(rec)
    return out, config


def _mmengine_records(records: list[Any]) -> list[Any] | None:
    """MMEngine's ``vis_data/scalars.json`` (and its ``<timestamp>.json`` copy), or None.

    Training lines carry ``epoch``, ``iter`` and ``step`` (the global iteration); validation
    lines only ``step``, which is then the epoch: they move to the last iteration logged in
    that epoch (else the last one before them). A validation key that training lines also
    have (``data_time``, ``time``) gets a ``val/`` prefix; the others keep their names
    (``accuracy/top1``)."""
    if not records or not all(isinstance(r, dict) and "step" in r for r in records):
        return None
    train = [r for r in records if "iter" in r and "epoch" in r]
    if not train or len(train) == len(records):
        return None
    if not all(isinstance(r["step"], int) and isinstance(r["epoch"], int) for r in train):
        return None
    last_of_epoch: dict[int, int] = {}
    for r in train:
        last_of_epoch[r["epoch"]] = max(last_of_epoch.get(r["epoch"], r["step"]), r["step"])
    train_keys = {k for r in train for k in r}
    out: list[Any] = []
    last: int | None = None
    for r in records:
        if "iter" in r and "epoch" in r:
            last = r["step"]
            out.append({k: v for k, v in r.items() if k != "iter"})
            continue
        ep = r["step"]
        step = last_of_epoch.get(ep, last) if isinstance(ep, int) else last
        if step is None:
            continue
        rec: dict[str, Any] = {"step": step}
        for k, v in r.items():
            if k != "step":
                rec[f"val/{k}" if k in train_keys else k] = v
        out.append(rec)
    return out


def read_jsonl(path: str, data: bytes) -> Table:
    text, warns = common.decode_text(data, "JSONL file")
    records: list[Any] = []
    numbers: list[int] = []
    bad = 0
    lines = [(i, ln) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    last_bad = False
    for k, (no, line) in enumerate(lines):
        try:
            records.append(common.loads_json(line))
            numbers.append(no)
            last_bad = False
        except (ValueError, RecursionError):
            bad += 1
            last_bad = k == len(lines) - 1
    if not lines:
        raise ParseError("empty JSONL file")
    if bad * 2 > len(lines) or not records:
        raise ParseError(f"not JSONL: {bad} of {len(lines)} lines are not valid JSON")
    if bad:
        what = "truncated last line" if bad == 1 and last_bad else "invalid JSON line(s)"
        warns = [*warns, f"{bad} of {len(lines)} lines skipped ({what})"]
    mm = _mm_records(records)
    if mm is not None:
        t = _records_table(path, mm[0], data, warns)
        t.config.update(mm[1])
        return t
    engine = _mmengine_records(records)
    if engine is not None:
        return _records_table(path, engine, data, warns)
    return _records_table(path, records, data, warns, "line", numbers)


def read_json(path: str, data: bytes) -> Table:
    text, warns = common.decode_text(data, "JSON file")
    try:
        obj = common.loads_json(text)
    except ValueError as e:
        raise ParseError(f"invalid JSON: {common.one_line(e)}") from None
    except RecursionError:
        raise ParseError("JSON nested too deeply to read") from None
    if isinstance(obj, list):
        triples = _tb_triples(path, obj)
        return _records_table(path, triples if triples is not None else obj, data, warns)
    if not isinstance(obj, dict):
        raise ParseError("JSON holds neither records nor an object")
    for key in RECORD_KEYS:
        v = obj.get(key)
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            t = _records_table(path, v, data, warns)
            for k, val in common.flatten({k: x for k, x in obj.items() if k != key}).items():
                if common.is_number(val) or isinstance(val, bool):
                    t.extra_summary[k] = val
            return t
    sacred = _sacred_records(obj)
    if sacred is not None:
        return _records_table(path, sacred, data, warns)
    lists = {k: v for k, v in obj.items() if isinstance(v, list) and v}
    if lists and len(lists) == len(obj):
        lengths = {len(v) for v in lists.values()}
        if len(lengths) == 1 and all(
            all(common.is_number(x) or x is None for x in v) for v in lists.values()
        ):
            n = lengths.pop()
            recs = [{k: v[i] for k, v in lists.items()} for i in range(n)]
            return _records_table(path, recs, data, warns)
    raise ParseError("JSON object without per-step records (a summary or config file?)")


def looks_jsonl(head: bytes) -> bool:
    """JSON lines, whatever the file's name: a first line holding one whole JSON object,
    and another line after it that opens one (detectron2's ``metrics.json``)."""
    h = head.lstrip()
    if not h.startswith(b"{"):
        return False
    end = h.find(b"\n")
    if end < 0:
        return False
    first = h[:end].strip()
    if not first.endswith(b"}") or not h[end + 1 :].lstrip().startswith(b"{"):
        return False
    try:
        return isinstance(common.loads_json(first.decode("utf-8")), dict)
    except (ValueError, RecursionError):
        return False


_LIST_OBJECT = re.compile(rb'^\{\s*"[^"\n]{1,200}"\s*:\s*\[\s*(?:-?[\d.]|NaN|null)')


def _looks_column_lists(head: bytes) -> bool:
    """A JSON object of equal-length number lists, one per metric (Keras ``History``)."""
    h = head.strip()
    if not _LIST_OBJECT.match(h):
        return False
    if len(head) >= common.HEAD_BYTES:
        return True  # too long to parse here: its opening is enough
    try:
        obj = common.loads_json(h.decode("utf-8"))
    except (ValueError, RecursionError):
        return False
    if not isinstance(obj, dict) or not obj:
        return False
    lengths = {len(v) if isinstance(v, list) else -1 for v in obj.values()}
    return len(lengths) == 1 and lengths.pop() > 0


def looks_csv(head: bytes) -> bool:
    """A CSV (or TSV) table whatever the file's name (Keras ``CSVLogger``'s ``training.log``):
    a header of two or more names, then rows of as many fields, most of them numbers."""
    text = head.decode("utf-8", "replace")
    lines = text.splitlines()
    if len(head) >= common.HEAD_BYTES and not text.endswith("\n"):
        lines = lines[:-1]  # cut off by the head
    lines = [ln for ln in lines[:40] if ln.strip()][:21]
    if len(lines) < 2:
        return False
    delim = "\t" if lines[0].count("\t") > lines[0].count(",") else ","
    try:
        rows = list(csv.reader(lines, delimiter=delim))
    except csv.Error:
        return False
    header = [h.strip() for h in rows[0]]
    if len(header) < 2 or not all(header):
        return False
    for h in header:
        if common.parse_number(h) is not None or any(c in h for c in "=:[]{}"):
            return False
    for row in rows[1:]:
        if len(row) != len(header):
            return False
        nums = sum(1 for c in row if common.parse_number(c.strip()) is not None)
        if nums * 2 < len(row):
            return False
    return True


def export_name(path: str) -> str:
    """The series name of a TensorBoard export: the file's name without its extension."""
    return os.path.splitext(os.path.basename(path))[0] or "value"


def _tb_triples(path: str, obj: list[Any]) -> list[dict[str, Any]] | None:
    """TensorBoard's JSON export, ``[[wall_time, step, value], ...]``, as records of one
    series named after the file (:func:`export_name`); None for anything else."""
    if not obj:
        return None
    for x in obj:
        if not (isinstance(x, list) and len(x) == 3 and all(common.is_number(v) for v in x)):
            return None
    name = export_name(path)
    return [{"wall_time": w, "step": s, name: v} for w, s, v in obj]


def _sacred_records(obj: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Sacred's ``metrics.json``, ``{name: {"steps": [...], "values": [...], "timestamps":
    [...]}}``, as long records (metric, step, value, timestamp); None for anything else."""
    if not obj:
        return None
    out: list[dict[str, Any]] = []
    for name, m in obj.items():
        if not isinstance(m, dict):
            return None
        st, vals = m.get("steps"), m.get("values")
        if not (isinstance(st, list) and isinstance(vals, list) and len(st) == len(vals)):
            return None
        ts = m.get("timestamps")
        ts = ts if isinstance(ts, list) and len(ts) == len(st) else [None] * len(st)
        out.extend(
            {"metric": str(name), "step": s, "value": v, "timestamp": w}
            for s, v, w in zip(st, vals, ts)
        )
    return out


def _is_tb_csv_export(t: Table) -> bool:
    """TensorBoard's CSV export: exactly ``Wall time,Step,Value``."""
    return [c.strip().lower() for c in t.columns] == ["wall time", "step", "value"]


# YOLOv5's results.txt (2020-21): no header, one line per epoch of 15 fields; the names are
# those YOLOv5 gives the same values in its TensorBoard file (None: not a series)
YOLOV5_FIELDS: tuple[str | None, ...] = (
    None,  # "epoch/last epoch": the step
    None,  # GPU memory ("1.86G")
    "train/box_loss",
    "train/obj_loss",
    "train/cls_loss",
    None,  # the sum of the three losses
    None,  # targets in the last batch
    None,  # image size
    "metrics/precision",
    "metrics/recall",
    "metrics/mAP_0.5",
    "metrics/mAP_0.5:0.95",
    "val/box_loss",
    "val/obj_loss",
    "val/cls_loss",
)
_YOLOV5_LINE = re.compile(rb"^\s*\d+/\d+\s+[\d.]+[KMG]?\s+(?:[-+\d.eE]+|nan|inf)(?:\s+\S+){12}\s*$")


def looks_yolov5_results(head: bytes) -> bool:
    """YOLOv5's headerless ``results.txt`` (``0/29  1.86G  0.09854 ...``)."""
    lines = [ln for ln in head.splitlines()[:20] if ln.strip()]
    if len(head) >= common.HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]
    return bool(lines) and all(_YOLOV5_LINE.match(ln) for ln in lines)


def read_yolov5_results(path: str, data: bytes) -> Table:
    text, warns = common.decode_text(data, "results file")
    records: list[dict[str, Any]] = []
    bad = 0
    for line in text.splitlines():
        cells = line.split()
        if not cells:
            continue
        if len(cells) != len(YOLOV5_FIELDS) or "/" not in cells[0]:
            bad += 1
            continue
        try:
            rec: dict[str, Any] = {"epoch": int(cells[0].split("/", 1)[0])}
        except ValueError:
            bad += 1
            continue
        for name, cell in zip(YOLOV5_FIELDS, cells):
            if name is not None:
                rec[name] = common.parse_number(cell)
        records.append(rec)
    if not records:
        raise ParseError("no YOLOv5 result lines ('epoch/last  mem  losses...')")
    if bad:
        warns = [*warns, f"{bad} line(s) that are not YOLOv5 result lines skipped"]
    return _records_table(path, records, data, warns, "line")


def read_table(path: str, data: bytes | None = None) -> Table:
    if data is None:
        data = common.read_bytes(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".txt" and looks_yolov5_results(data[: common.HEAD_BYTES]):
        return read_yolov5_results(path, data)
    if ext in JSONL_EXTS:
        return read_jsonl(path, data)
    if ext in JSON_EXTS:
        if looks_jsonl(data[: common.HEAD_BYTES * 16]):
            return read_jsonl(path, data)
        return read_json(path, data)
    stripped = data.lstrip()[:1]
    if ext not in CSV_EXTS and stripped in (b"{", b"["):
        if stripped == b"{" and data.count(b"\n") > 1 and data.lstrip().startswith(b'{"'):
            try:
                return read_jsonl(path, data)
            except ParseError:
                pass
        return read_json(path, data)
    return read_csv(path, data)


# ---------------------------------------------------------------------------------------------
# interpretation


def _run_col(t: Table) -> str | None:
    c = t.col(*RUN_COLS, numeric=False)
    if c is None:
        return None
    vals = t.text[c]
    if any(v is None for v in vals):
        return None
    return c


def is_run_table(t: Table) -> bool:
    c = _run_col(t)
    if c is None or _step_col(t) is not None:
        return False
    return len(set(t.text[c])) == t.nrows and bool(t.num)


def run_table(t: Table) -> RunTable:
    c = _run_col(t)
    assert c is not None
    rows: list[tuple[str, dict[str, Any]]] = []
    for i in range(t.nrows):
        name = str(t.text[c][i])
        values: dict[str, Any] = {}
        for col in t.columns:
            if col == c:
                continue
            if col in t.num:
                if t.present[col][i]:
                    v = float(t.num[col][i])
                    values[col] = int(v) if col in t.ints and math.isfinite(v) else v
            elif col in t.text and t.text[col][i] is not None:
                values[col] = common.short_string(str(t.text[col][i]))
        rows.append((name, values))
    return RunTable(path=t.path, name_col=c, rows=rows, data=t.data)


def _col_key(name: str) -> str:
    """A column name compared with :data:`STEP_COLS`: ``Total Timesteps`` -> ``total_timesteps``."""
    return "_".join(name.strip().lower().replace("-", " ").split())


def _step_col(t: Table) -> str | None:
    lower: dict[str, str] = {}
    for c in t.columns:
        lower.setdefault(_col_key(c), c)
    for n in STEP_COLS:
        col = lower.get(n)
        if col is not None and col in t.num and col in t.ints:
            return col
    return None


def _wall(t: Table) -> tuple[str | None, np.ndarray | None]:
    if t.t_start is not None and "t" in t.num:
        # Monitor files: ``t`` is seconds since the ``t_start`` of the ``#{json}`` line
        arr = t.num["t"]
        return "t", np.where(t.present["t"] & np.isfinite(arr), arr + t.t_start, np.nan)
    lower = {c.lower(): c for c in t.columns}
    for n in WALL_COLS:
        c = lower.get(n)
        if c is None:
            continue
        if c in t.num:
            arr = t.num[c]
            ok = t.present[c] & np.isfinite(arr)
            if ok.any() and float(np.median(arr[ok])) > 1e8:
                w = np.where(ok, arr, np.nan)
                if float(np.median(arr[ok])) > 1e11:
                    w = w / 1000.0
                return c, w
        elif c in t.text:
            vals = [common.to_epoch_seconds(v) if v else None for v in t.text[c]]
            if sum(v is not None for v in vals) * 2 >= t.nrows:
                return c, np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
    return None, None


def series_of(t: Table) -> SeriesResult:
    """The series (and stage summary values) of a per-step table."""
    out = SeriesResult()
    out.warnings.extend(t.warnings)
    out.summary.update(t.extra_summary)
    out.config.update(t.config)
    out.created_at = t.t_start
    n = t.nrows
    if n == 0:
        return out
    key_col = t.col(*LONG_KEY_COLS, numeric=False)
    value_col = t.col("value", numeric=True)
    step_col = _step_col(t)
    wall_col, wall = _wall(t)
    if key_col is not None and value_col is not None:
        _long_series(t, key_col, value_col, step_col, wall, out)
        return out
    if _is_tb_csv_export(t) and step_col is not None and value_col is not None:
        ok = t.present[value_col] & t.present[step_col] & np.isfinite(t.num[step_col])
        idx = np.flatnonzero(ok)
        if len(idx):
            steps = np.where(ok, t.num[step_col], 0).astype(np.int64)
            out.series[export_name(t.path)] = _points(steps, t.num[value_col], wall, idx)
        return out
    if step_col is not None:
        sc = t.num[step_col]
        sp = t.present[step_col] & np.isfinite(sc) & (np.abs(sc) < STEP_LIMIT)
        steps = np.where(sp, sc, 0).astype(np.int64)
        if not sp.all():
            out.warnings.append(f"{int((~sp).sum())} row(s) without a {step_col} value skipped")
    else:
        sp = np.ones(n, dtype=bool)
        steps = np.arange(n, dtype=np.int64)
    metric_cols = [
        c
        for c in t.columns
        if c in t.num and c != step_col and c != wall_col and t.present[c].any()
    ]
    stage_col = t.col(*STAGE_COLS, numeric=False)
    prefixes: list[str] | None = None
    stage_arr: np.ndarray | None = None
    if stage_col is not None:
        stages = t.text[stage_col]
        if _stages_need_prefix(steps, sp, stages):
            prefixes = [f"{s}/" if s else "" for s in stages]
            stage_arr = np.array(prefixes, dtype=object)
        else:
            first: dict[str, int] = {}
            last: dict[str, int] = {}
            for i in np.flatnonzero(sp).tolist():
                s = stages[i]
                if s:
                    first.setdefault(s, int(steps[i]))
                    last[s] = int(steps[i])
            for s in first:
                base = f"{common.norm_key(stage_col)}/{s}"
                out.summary[f"{base}/first_step"] = first[s]
                out.summary[f"{base}/last_step"] = last[s]
    for c in metric_cols:
        mask = sp & t.present[c]
        if prefixes is None:
            idx = np.flatnonzero(mask)
            if len(idx):
                out.series[c] = _points(steps, t.num[c], wall, idx)
            continue
        for prefix in dict.fromkeys(prefixes):
            sel = mask & (stage_arr == prefix)
            idx = np.flatnonzero(sel)
            if len(idx):
                out.series[prefix + c] = _points(steps, t.num[c], wall, idx)
    return out


def _points(
    steps: np.ndarray, values: np.ndarray, wall: np.ndarray | None, idx: np.ndarray
) -> PointArrays:
    whole = len(idx) == len(steps)  # every row: share the columns instead of copying them
    w = None
    if wall is not None:
        w = wall if whole else wall[idx]
        if np.isnan(w).all():
            w = None
    if whole:
        return PointArrays(steps, values, w)
    return PointArrays(steps[idx], values[idx], w)


def _stages_need_prefix(steps: np.ndarray, ok: np.ndarray, stages: list[str | None]) -> bool:
    prev_stage: str | None = None
    prev_step: int | None = None
    owner: dict[int, str] = {}
    for i in np.flatnonzero(ok).tolist():
        s = stages[i]
        st = int(steps[i])
        if s is None:
            continue
        if prev_stage is not None and s != prev_stage and prev_step is not None and st <= prev_step:
            return True
        o = owner.setdefault(st, s)
        if o != s:
            return True
        prev_stage, prev_step = s, st
    return False


def _long_series(
    t: Table,
    key_col: str,
    value_col: str,
    step_col: str | None,
    wall: np.ndarray | None,
    out: SeriesResult,
) -> None:
    keys = t.text[key_col]
    vals = t.num[value_col]
    vp = t.present[value_col]
    steps = t.num[step_col] if step_col else None
    sp = t.present[step_col] if step_col else None
    counters: dict[str, int] = {}
    series: dict[str, list[Point]] = {}
    for i in range(t.nrows):
        k = keys[i]
        if not k or not vp[i]:
            continue
        if steps is not None and sp is not None:
            if not sp[i]:
                continue
            st = int(steps[i])
        else:
            st = counters.get(k, 0)
            counters[k] = st + 1
        w = None
        if wall is not None and wall[i] == wall[i]:
            w = float(wall[i])
        series.setdefault(k, []).append((st, float(vals[i]), w))
    out.series.update(series)


def multi_run_col(t: Table) -> str | None:
    """A run column in a per-step table holding several runs, or None."""
    c = _run_col(t)
    if c is None or _step_col(t) is None:
        return None
    return c if len(set(t.text[c])) >= 2 else None


def _subtable(t: Table, rows: np.ndarray) -> Table:
    s = Table(path=t.path, columns=list(t.columns), nrows=len(rows), data=t.data)
    for c, a in t.num.items():
        s.num[c] = a[rows]
        s.present[c] = t.present[c][rows]
    for c, v in t.text.items():
        s.text[c] = [v[i] for i in rows.tolist()]
    s.ints = set(t.ints)
    return s


def interpret(t: Table, opts: Any = None) -> list[ImportedRun] | RunTable:
    """Runs of a table, or a RunTable for a one-row-per-run table."""
    if is_run_table(t):
        return run_table(t)
    path = t.path
    src = common.source_of(path, t.data)
    mc = multi_run_col(t)
    if mc is not None:
        runs = []
        names = t.text[mc]
        order: dict[str, list[int]] = {}
        for i, nm in enumerate(names):
            order.setdefault(str(nm), []).append(i)
        for nm, rows in order.items():
            sub = _subtable(t, np.asarray(rows, dtype=np.int64))
            del sub.text[mc]
            sub.columns.remove(mc)
            res = series_of(sub)
            run = common.new_run(path, FORMAT, None, name=nm)
            run.external_id = nm
            if getattr(opts, "project", None):
                run.project = opts.project
            run.series.update(res.series)
            run.summary.update(res.summary)
            run.warnings.extend(res.warnings)
            run.files.append(src)
            runs.append(run)
        return runs
    res = series_of(t)
    if not res.series:
        raise ParseError("no numeric columns to import as series")
    run = common.new_run(path, FORMAT, opts)
    run.series.update(res.series)
    run.summary.update(res.summary)
    run.config.update(res.config)
    if res.created_at is not None:
        run.created_at = res.created_at
    run.warnings.extend(res.warnings)
    run.files.append(src)
    return [run]


# ---------------------------------------------------------------------------------------------
# plug-in protocol


def sniff_file(path: str, head: bytes) -> int:
    ext = os.path.splitext(path)[1].lower()
    if not head or common.looks_binary(head):
        return 0
    if ext in CSV_EXTS:
        first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip().lower()
        if not first:
            return 0
        cols = [c.strip().strip('"') for c in first.replace("\t", ",").replace(";", ",").split(",")]
        if any(c in STEP_COLS for c in cols):
            return 80
        return 70 if len(cols) >= 2 else 40
    if ext in JSONL_EXTS:
        return 80 if head.lstrip().startswith(b"{") else 0
    if ext in JSON_EXTS:
        if looks_jsonl(head):
            return 85  # JSON lines under a .json name (detectron2, mmcv *.log.json)
        if _looks_column_lists(head):
            return 75  # Keras History.history dumped as JSON
        h = head.lstrip()
        if h.startswith(b"["):
            return 70
        if h.startswith(b"{") and any(b'"' + k.encode() + b'"' in h for k in RECORD_KEYS):
            return 40
    if ext == ".txt" and looks_yolov5_results(head):
        return 80
    if ext in TEXT_TABLE_EXTS and looks_csv(head):
        first = head.split(b"\n", 1)[0].decode("utf-8", "replace").replace("\t", ",")
        names = {_col_key(c.strip('"')) for c in first.split(",")}
        return 85 if names & set(STEP_COLS) else 75
    return 0


def parse(path: str, opts: Any = None) -> list[ImportedRun]:
    t = read_table(path)
    r = interpret(t, opts)
    runs = r.to_runs(opts) if isinstance(r, RunTable) else r
    return common.finish_runs(runs, opts)
