"""Weights & Biases run folders: ``wandb/offline-run-*`` (and synced ``wandb/run-*``).

The ``run-<id>.wandb`` file is W&B's transaction log: a ``:W&B`` header, then LevelDB-log
framing (32 KiB blocks of CRC-checked record fragments) around protobuf ``Record`` messages.
Records are decoded with W&B's own schema (``wandb.proto.wandb_internal_pb2``). Current wandb
releases ship no Python reader for the framing (the old ``wandb.sdk.internal.datastore`` moved
into the Go core), so the framing is read here from its documented layout.

Per run:

* run record: ``run_id`` -> ``external_id``, ``display_name`` -> name (else the folder name),
  ``project``, ``tags``, ``notes``, ``run_group`` (else the sweep id) -> ``group``,
  ``start_time`` -> ``created_at``;
* config records -> ``config`` (W&B's internal ``_wandb`` key dropped);
* history rows -> series over ``_step`` with ``_timestamp`` as wall time; nested dicts become
  dotted keys; media, tables and strings are skipped (counted in a warning);
* summary records -> ``summary`` (final state; ``_``-keys and media dropped);
* exit record: code 0 -> ``finished``, other -> ``failed``; ``finished_at`` = start + runtime;
  no exit record -> ``crashed`` with a warning.

``files/config.yaml`` and ``files/wandb-summary.json`` fill in whatever the log lacks.
Needs the optional extra: ``pip install 'expbook[wandb]'``.

A run folder without its ``.wandb`` log (only the files W&B syncs: ``files/config.yaml``,
``wandb-summary.json``, ``wandb-metadata.json``; old 0.8 folders hold them, and a plain
``wandb-history.jsonl``, in the run folder itself) is read from those files, without the
optional extra: config unwrapped from ``{value: ..}`` (``_wandb`` and ``wandb_version``
dropped), the summary, history rows as series over ``_step`` (``_timestamp`` as wall time),
``startedAt`` as ``created_at``; the run id and name come from the folder name
(``run-20231210_175258-gu7xnmg8`` -> ``gu7xnmg8``). ``requirements.txt`` and ``output.log`` are
not read. Without an exit record the status stays ``finished`` when a summary was written.
"""

from __future__ import annotations

import math
import os
import re
import struct
import zlib
from typing import Any

import yaml

from expbook import _yaml
from expbook.importers import common
from expbook.importers.model import ImportedRun, ParseError, SourceFile

FORMAT = "wandb"
ALIASES = ("w&b", "weights-and-biases")

_IDENT = b":W&B"
_MAGIC = 0xBEE1
_FILE_HEADER = struct.Struct("<4sHB")  # ident, magic, version
_BLOCK = 32 * 1024
_REC_HEADER = struct.Struct("<IHB")  # crc32 of (type byte + payload), payload length, type
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_RUN_FILE = re.compile(r"^run-.*\.wandb$")
_RUN_DIR = re.compile(r"^(offline-)?run-\d{8}_\d{6}-")
_MAX_SUMMARY_STR = 200


# ---------------------------------------------------------------- protocol


def _run_files(folder: str) -> list[str]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    return [e.path for e in entries if _RUN_FILE.match(e.name) and e.is_file()]


_SYNCED = ("wandb-summary.json", "wandb-metadata.json", "wandb-history.jsonl")


def _synced_files_dir(folder: str, names: list[str] | None = None) -> str | None:
    """Where a W&B run folder without a ``.wandb`` log keeps its synced files: ``files/``
    (or the folder itself, as wandb 0.8 wrote it, or when ``folder`` is ``files/``)."""
    if names is None:
        try:
            names = os.listdir(folder)
        except OSError:
            return None
    cands = []
    if "files" in names:
        cands.append(os.path.join(folder, "files"))
    if any(n in names for n in _SYNCED):
        cands.append(folder)
    for d in cands:
        if any(os.path.isfile(os.path.join(d, n)) for n in _SYNCED):
            return d
    return None


def _is_files_run(folder: str, names: list[str] | None = None) -> bool:
    if names is None:
        try:
            names = os.listdir(folder)
        except OSError:
            return False
    if any(_RUN_FILE.match(n) for n in names) and _run_files(folder):
        return False
    d = _synced_files_dir(folder, names)
    if d is None:
        return False
    named = _RUN_DIR.match(os.path.basename(os.path.abspath(folder))) or (
        os.path.basename(d) == "files"
        and _RUN_DIR.match(os.path.basename(os.path.dirname(os.path.abspath(d))))
    )
    both = sum(os.path.isfile(os.path.join(d, n)) for n in (*_SYNCED, "config.yaml")) >= 2
    return bool(named) or both


def claim_dir(path: str) -> bool:
    """A run folder holding ``run-<id>.wandb``, or only the files W&B syncs."""
    try:
        names = os.listdir(path)
    except OSError:
        return False
    if any(_RUN_FILE.match(n) for n in names) and _run_files(path):
        return True
    return _is_files_run(path, names)


def sniff_file(path: str, head: bytes) -> int:
    """A transaction log starts with ``:W&B`` and the 0xBEE1 magic."""
    if len(head) >= _FILE_HEADER.size and head.startswith(_IDENT):
        _, magic, _ = _FILE_HEADER.unpack_from(head)
        return 100 if magic == _MAGIC else 50
    return 0


def parse(path: str, opts: Any = None) -> list[ImportedRun]:
    """Read a ``.wandb`` file, a run folder, or every run folder below ``path`` (``wandb/``)."""
    return common.guarded_parse(_parse, path, opts)


def _parse(path: str) -> list[ImportedRun]:
    path = os.path.abspath(path)
    if os.path.isfile(path):
        folder = os.path.dirname(path)
        source = folder if _RUN_DIR.match(os.path.basename(folder)) else path
        return [_read_run(path, source)]
    if not os.path.isdir(path):
        raise ParseError(f"no such file or folder: {path}")
    files = _run_files(path)
    if files:
        if len(files) > 1:
            # more than one log (a resumed run): read the largest
            files.sort(key=os.path.getsize)
        return [_read_run(files[-1], path)]
    if _is_files_run(path):
        return [_read_files_run(path)]
    runs: list[ImportedRun] = []
    for folder in _find_run_folders(path):
        logs = sorted(_run_files(folder), key=os.path.getsize)
        runs.append(_read_run(logs[-1], folder))
    if not runs:
        raise ParseError(f"no W&B run folders (run-*.wandb) under {path}")
    return runs


def _find_run_folders(root: str, depth: int = 3) -> list[str]:
    found: list[str] = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return found
    for e in entries:
        # latest-run is a symlink to one of the run folders: skip links
        if not e.is_dir(follow_symlinks=False):
            continue
        if _run_files(e.path):
            found.append(e.path)
        elif depth > 1:
            found.extend(_find_run_folders(e.path, depth - 1))
    return found


# ---------------------------------------------------------------- log framing


def read_records(path: str) -> tuple[list[bytes], str | None]:
    """Payloads of every complete record, and a warning when the log ends early."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ParseError(f"cannot read {path}: {e.strerror}") from e
    name = os.path.basename(path)
    if len(data) == 0:
        raise ParseError(f"{name} is empty")
    if len(data) < _FILE_HEADER.size or not data.startswith(_IDENT):
        raise ParseError(f"{name} is not a W&B transaction log (no :W&B header)")
    _, magic, version = _FILE_HEADER.unpack_from(data)
    if magic != _MAGIC or version != 0:
        raise ParseError(f"{name}: unsupported W&B log (magic {magic:#x}, version {version})")

    records: list[bytes] = []
    pending: list[bytes] | None = None
    pos = _FILE_HEADER.size
    problem: str | None = None
    while pos < len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _REC_HEADER.size:
            pos += left  # block trailer: zero padding
            continue
        if pos + _REC_HEADER.size > len(data):
            problem = "truncated record header"
            break
        crc, length, kind = _REC_HEADER.unpack_from(data, pos)
        if kind == 0 and length == 0 and crc == 0:
            pos += left  # zero-filled rest of a block (preallocated or padded)
            continue
        start = pos + _REC_HEADER.size
        end = start + length
        if length > left - _REC_HEADER.size or kind not in (_FULL, _FIRST, _MIDDLE, _LAST):
            problem = f"bad record header at byte {pos}"
            break
        if end > len(data):
            problem = "truncated record"
            break
        payload = data[start:end]
        if zlib.crc32(payload, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF != crc:
            problem = f"checksum mismatch at byte {pos}"
            break
        pos = end
        if kind == _FULL:
            records.append(payload)
            pending = None
        elif kind == _FIRST:
            pending = [payload]
        elif pending is not None:
            pending.append(payload)
            if kind == _LAST:
                records.append(b"".join(pending))
                pending = None
    if problem is None and pending is not None:
        problem = "log ends inside a record"
    if problem is None:
        return records, None
    return records, (
        f"{name}: read {len(records)} records ({pos} of {len(data)} bytes), then {problem}; "
        "the rest is ignored"
    )


# ---------------------------------------------------------------- records


def _load_pb() -> Any:
    try:
        from wandb.proto import wandb_internal_pb2
    except ImportError as e:
        raise ParseError(
            "reading W&B run files needs the optional extra: pip install 'expbook[wandb]'"
        ) from e
    return wandb_internal_pb2


def _item_key(item: Any) -> list[str]:
    return list(item.nested_key) if len(item.nested_key) else [item.key]


def _item_value(item: Any) -> Any:
    kind = item.WhichOneof("value") if item.DESCRIPTOR.oneofs_by_name.get("value") else None
    if kind == "none":
        return None
    if kind == "json":
        return common.loads_json(item.json)
    if kind is not None:
        return getattr(item, kind)
    return common.loads_json(item.value_json) if item.value_json else None


def _set_path(target: dict[str, Any], keys: list[str], value: Any) -> None:
    for k in keys[:-1]:
        nxt = target.get(k)
        if not isinstance(nxt, dict):
            nxt = target[k] = {}
        target = nxt
    target[keys[-1]] = value


def _del_path(target: dict[str, Any], keys: list[str]) -> None:
    for k in keys[:-1]:
        nxt = target.get(k)
        if not isinstance(nxt, dict):
            return
        target = nxt
    target.pop(keys[-1], None)


def _apply(target: dict[str, Any], record: Any, bad: list[int]) -> None:
    for item in record.update:
        try:
            _set_path(target, _item_key(item), _item_value(item))
        except (ValueError, TypeError, RecursionError):
            bad[0] += 1
    for item in record.remove:
        _del_path(target, _item_key(item))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _flatten(prefix: str, value: Any, out: dict[str, Any], skipped: set[str]) -> None:
    """Numbers (and short strings, for the summary) under dotted keys; media are skipped."""
    if isinstance(value, dict):
        if "_type" in value:
            skipped.add(prefix)
            return
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out, skipped)
        return
    out[prefix] = value


class _Run:
    def __init__(self) -> None:
        self.meta: Any = None
        self.config: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}
        self.exit: Any = None
        self.skipped: set[str] = set()
        self.bad = [0]
        self.last_time: float | None = None


def _read_run(log_path: str, source: str) -> ImportedRun:
    pb = _load_pb()
    payloads, framing_warning = read_records(log_path)
    name = os.path.basename(source if os.path.isdir(source) else os.path.dirname(log_path))
    run = ImportedRun(name=name, format=FORMAT, source=source)
    run.files.append(SourceFile.of(log_path))
    if framing_warning:
        run.warnings.append(framing_warning)
    state = _Run()
    undecodable = 0
    for payload in payloads:
        record = pb.Record()
        try:
            record.ParseFromString(payload)
        except Exception:  # protobuf's DecodeError
            undecodable += 1
            continue
        _take(record, run, state)
    if not payloads or (undecodable == len(payloads)):
        raise ParseError(f"{os.path.basename(log_path)}: no readable W&B records")
    if undecodable:
        run.warnings.append(f"{undecodable} records could not be decoded")
    if state.bad[0]:
        run.warnings.append(f"{state.bad[0]} values were not valid JSON")

    _finish(run, state, source)
    return run


def _take(record: Any, run: ImportedRun, state: _Run) -> None:
    kind = record.WhichOneof("record_type")
    if kind == "run":
        r = record.run
        state.meta = r
        if r.HasField("config"):
            _apply(state.config, r.config, state.bad)
        if r.HasField("summary"):
            _apply(state.summary, r.summary, state.bad)
    elif kind == "config":
        _apply(state.config, record.config, state.bad)
    elif kind == "summary":
        _apply(state.summary, record.summary, state.bad)
    elif kind == "history":
        _take_history(record.history, run, state)
    elif kind == "exit":
        state.exit = record.exit


def _take_history(history: Any, run: ImportedRun, state: _Run) -> None:
    row: dict[str, Any] = {}
    for item in history.item:
        try:
            _set_path(row, _item_key(item), _item_value(item))
        except (ValueError, TypeError, RecursionError):
            state.bad[0] += 1
    step_value = row.pop("_step", None)
    if history.HasField("step"):
        step = int(history.step.num)
    elif _is_number(step_value):
        step = int(step_value)
    else:
        run.skipped_lines += 1
        return
    wall = row.pop("_timestamp", None)
    wall = float(wall) if _is_number(wall) else None
    if wall is not None:
        state.last_time = wall
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if key.startswith("_"):
            continue  # _runtime, _wandb
        _flatten(key, value, flat, state.skipped)
    for key, value in flat.items():
        if _is_number(value):
            run.add_point(key, step, float(value), wall)
        elif value is not None:
            state.skipped.add(key)


def _finish(run: ImportedRun, state: _Run, source: str) -> None:
    meta = state.meta
    files_dir = os.path.join(source, "files") if os.path.isdir(source) else ""
    if meta is not None:
        run.external_id = meta.run_id or None
        run.name = meta.display_name or run.name
        run.project = meta.project or None
        run.tags = list(meta.tags)
        run.notes = meta.notes or None
        run.group = meta.run_group or (f"sweep-{meta.sweep_id}" if meta.sweep_id else None)
        if meta.HasField("start_time"):
            t = meta.start_time
            run.created_at = t.seconds + t.nanos / 1e9 or None
    else:
        run.warnings.append("no run record: name, project and tags are unknown")
        m = re.search(r"run-([^-.]+)\.wandb$", run.files[0].path)
        run.external_id = m.group(1) if m else None

    config = {k: v for k, v in state.config.items() if k != "_wandb"}
    if files_dir:
        _fill_from_files(run, files_dir, config, state.summary)
    run.config = config

    _fill_summary(run, state)

    if state.exit is not None:
        code = int(state.exit.exit_code)
        run.status = "finished" if code == 0 else "failed"
        ends = [state.last_time]
        if run.created_at is not None and state.exit.runtime:
            ends.append(run.created_at + float(state.exit.runtime))  # whole seconds
        run.finished_at = max((t for t in ends if t is not None), default=None)
    else:
        run.status = "crashed"
        run.finished_at = state.last_time
        run.warnings.append("no exit record: the run did not finish (crashed, or still running)")
    for points in run.series.values():
        if isinstance(points, list):  # always here: this importer adds points one by one
            points.sort(key=lambda p: p[0])
    if state.skipped:
        shown = ", ".join(sorted(state.skipped)[:5])
        more = f" and {len(state.skipped) - 5} more" if len(state.skipped) > 5 else ""
        run.warnings.append(f"skipped non-numeric values (media, tables, text): {shown}{more}")


def _fill_summary(run: ImportedRun, state: _Run) -> None:
    """The run's summary from W&B's: flattened, numbers, booleans and short strings only."""
    flat: dict[str, Any] = {}
    summary = {k: v for k, v in state.summary.items() if not str(k).startswith("_")}
    _flatten("", summary, flat, state.skipped)
    for key, value in flat.items():
        short_text = isinstance(value, str) and len(value) <= _MAX_SUMMARY_STR
        if _is_number(value) or isinstance(value, bool) or short_text:
            run.summary[key] = value


def _read_files_run(folder: str) -> ImportedRun:
    """A run folder without a ``.wandb`` log (see the module doc)."""
    files_dir = _synced_files_dir(folder)
    if files_dir is None:
        raise ParseError(f"no W&B run files in {folder}")
    base = os.path.basename(os.path.abspath(folder))
    if base == "files":
        base = os.path.basename(os.path.dirname(os.path.abspath(folder)))
    m = _RUN_DIR.match(base)
    run_id = base[m.end() :] if m else None
    run = ImportedRun(name=run_id or base, format=FORMAT, source=folder)
    run.external_id = run_id or None
    state = _Run()
    history = os.path.join(files_dir, "wandb-history.jsonl")
    if os.path.isfile(history):
        _read_history_jsonl(history, run, state)
    meta_path = os.path.join(files_dir, "wandb-metadata.json")
    if os.path.isfile(meta_path):
        meta = _json_file(meta_path, run)
        if isinstance(meta, dict):
            run.files.append(SourceFile.of(meta_path))
            run.created_at = common.to_epoch_seconds(meta.get("startedAt")) or None
    config: dict[str, Any] = {}
    _fill_from_files(run, files_dir, config, state.summary)
    run.config = config
    _fill_summary(run, state)
    if not run.files:
        raise ParseError(f"no readable W&B run files in {folder}")
    runtime: Any = state.summary.get("_runtime")
    if run.created_at is not None and _is_number(runtime):
        run.finished_at = run.created_at + float(runtime)
    elif state.last_time is not None:
        run.finished_at = state.last_time
    for points in run.series.values():
        if isinstance(points, list):
            points.sort(key=lambda p: p[0])
    if state.skipped:
        shown = ", ".join(sorted(state.skipped)[:5])
        more = f" and {len(state.skipped) - 5} more" if len(state.skipped) > 5 else ""
        run.warnings.append(f"skipped non-numeric values (media, tables, text): {shown}{more}")
    return run


def _json_file(path: str, run: ImportedRun) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return common.loads_json(f.read())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        run.warnings.append(f"{os.path.basename(path)}: unreadable, skipped")
        return None


def _read_history_jsonl(path: str, run: ImportedRun, state: _Run) -> None:
    """``wandb-history.jsonl``: one row per line, ``_step`` (else the row index) the step."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        run.warnings.append(f"wandb-history.jsonl: unreadable ({type(e).__name__}), skipped")
        return
    run.files.append(SourceFile.of(path))
    bad = 0
    for i, line in enumerate(ln for ln in lines if ln.strip()):
        try:
            row = common.loads_json(line)
        except (ValueError, RecursionError):
            bad += 1
            continue
        if not isinstance(row, dict):
            bad += 1
            continue
        step = row.get("_step", i)
        if not _is_number(step) or not math.isfinite(float(step)):
            run.skipped_lines += 1
            continue
        stamp: Any = row.get("_timestamp")
        wall = float(stamp) if _is_number(stamp) else None
        if wall is not None:
            state.last_time = wall if state.last_time is None else max(state.last_time, wall)
        flat: dict[str, Any] = {}
        for key, value in row.items():
            if not str(key).startswith("_"):
                _flatten(str(key), value, flat, state.skipped)
        for key, value in flat.items():
            if _is_number(value):
                run.add_point(key, int(step), float(value), wall)
            elif value is not None:
                state.skipped.add(key)
    if bad:
        run.warnings.append(f"wandb-history.jsonl: {bad} line(s) that are not JSON rows skipped")


def _fill_from_files(
    run: ImportedRun, files_dir: str, config: dict[str, Any], summary: dict[str, Any]
) -> None:
    """``files/config.yaml`` ({key: {value: ..}}) and ``files/wandb-summary.json``."""
    cfg_path = os.path.join(files_dir, "config.yaml")
    if os.path.isfile(cfg_path):
        try:
            with open(cfg_path, encoding="utf-8") as f:
                data = _yaml.load(f.read())
        except (OSError, UnicodeDecodeError) as e:
            run.warnings.append(f"files/config.yaml: unreadable ({type(e).__name__}), skipped")
            data = None
        except yaml.YAMLError as e:
            run.warnings.append(f"files/config.yaml: {_yaml.describe(e)}; skipped")
            data = None
        if isinstance(data, dict):
            run.files.append(SourceFile.of(cfg_path))
            for key, entry in data.items():
                if key in ("_wandb", "wandb_version") or key in config:
                    continue
                config[key] = entry.get("value") if isinstance(entry, dict) else entry
    sum_path = os.path.join(files_dir, "wandb-summary.json")
    if os.path.isfile(sum_path):
        try:
            with open(sum_path, encoding="utf-8") as f:
                data = common.loads_json(f.read())
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            run.warnings.append("files/wandb-summary.json: unreadable, skipped")
            data = None
        if isinstance(data, dict):
            run.files.append(SourceFile.of(sum_path))
            for key, value in data.items():
                summary.setdefault(key, value)
