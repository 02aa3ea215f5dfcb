"""TensorBoard event files (``events.out.tfevents.*``).

A *run folder* is a folder that holds event files itself, or whose only sub-folders with event
files are split names (``train/``, ``validation/``... as Keras writes them). All event files in a
run folder and below it make one run:

* tags from the folder itself keep their names (``train/loss``);
* tags from a split sub-folder get it as a prefix (``validation/epoch_loss``);
* torch's ``add_scalars("loss", {"a": ..})`` sub-folders ``loss_a/`` give ``loss/a``;
* torch's ``add_hparams`` sub-folder (named by a timestamp) adds its tags without a prefix.

Every scalar point is kept (no reservoir sampling), with the event's wall time. Hparams come from
the hparams plugin (``_hparams_/session_start_info``; ``session_end_info`` gives the status) and
from a Lightning ``hparams.yaml`` beside the events, whose typed values win (the plugin holds
``'(1, 8, 8)'`` where the YAML holds the tuple). Histograms,
images, text and other plugins are skipped (counted in a warning).

Event files are read with TensorBoard's own record reader (``RawEventFileLoader``) and event
protos (``event_pb2``), imported lazily: ``pip install 'expbook[tensorboard]'``.
"""

from __future__ import annotations

import math
import os
import re
import struct
from typing import Any

from expbook.importers import common
from expbook.importers.model import ImportedRun, ParseError, SourceFile

FORMAT = "tensorboard"
ALIASES = ("tb", "tfevents")

# Sub-folder names that split one run by phase (Keras: logs/train, logs/validation).
_SPLIT_NAMES = frozenset(
    {"train", "training", "val", "valid", "validation", "eval", "evaluation", "test", "dev"}
)
_NUMERIC_DIR = re.compile(r"^\d+(\.\d+)?$")  # torch add_hparams writes to str(time.time())
_F32 = struct.Struct("<f")
_RECORD_OVERHEAD = 16  # TFRecord framing: u64 length, u32 crc, payload, u32 crc
_HPARAMS_START = "_hparams_/session_start_info"
_HPARAMS_END = "_hparams_/session_end_info"
# tensorboard.hparams.Status: UNKNOWN=0, SUCCESS=1, FAILURE=2, RUNNING=3
_END_STATUS = {1: "finished", 2: "failed", 3: "running"}
# Summary.Value kinds older than tensor summaries, all skipped
_OLD_KINDS = {
    "histo": "histograms",
    "image": "images",
    "audio": "audio",
    "obsolete_old_style_histogram": "histograms",
}


def _is_event_file(name: str) -> bool:
    return "tfevents" in name  # TensorBoard's own test (io_wrapper.IsTensorFlowEventsFile)


def _natural(name: str) -> list[Any]:
    """Sort key: events.out.tfevents.<time>.<host>.<pid>.<n> in writing order (n=10 after 9)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _event_files(folder: str) -> list[str]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: _natural(e.name))
    except OSError:
        return []
    return [e.path for e in entries if _is_event_file(e.name) and e.is_file()]


def _is_run_folder(folder: str) -> bool:
    if _event_files(folder):
        return True
    with_events = [d for d in common.subdirs(folder) if _event_files(d)]
    return bool(with_events) and all(_is_split(d) for d in with_events)


def _is_split(d: str) -> bool:
    """A split sub-folder (``train/``...) of one run: not a run folder of its own, such as
    ultralytics' ``runs/detect/train`` with its ``args.yaml`` and ``results.csv``."""
    if os.path.basename(d).lower() not in _SPLIT_NAMES:
        return False
    from expbook.importers.folder import marker_names

    try:
        return not marker_names(os.listdir(d))
    except OSError:
        return True


def claim_dir(path: str) -> bool:
    """A folder with event files (or Keras-style ``train/`` and ``validation/`` ones)."""
    return os.path.isdir(path) and _is_run_folder(path)


def sniff_file(path: str, head: bytes) -> int:
    """Event files are named ``*tfevents*`` and open with a ``brain.Event:N`` version record."""
    if b"brain.Event:" in head[:64]:
        return 100
    return 90 if _is_event_file(os.path.basename(path)) else 0


def parse(path: str, opts: Any = None) -> list[ImportedRun]:
    """Read one run folder, a single event file, or every run folder below ``path``."""
    return common.guarded_parse(_parse, path, opts)


def _parse(path: str) -> list[ImportedRun]:
    path = os.path.abspath(path)
    lib = _Lib.load()
    if os.path.isfile(path):
        parent = os.path.dirname(path)
        run = _read_run(lib, path, [(path, "")], os.path.basename(parent) or path)
        return [run]
    if not os.path.isdir(path):
        raise ParseError(f"no such file or folder: {path}")
    if _is_run_folder(path):
        return [_read_run(lib, path, _files_of_run(path), os.path.basename(path))]
    runs: list[ImportedRun] = []
    failed: list[str] = []
    for folder in _find_run_folders(path):
        rel = os.path.relpath(folder, path)
        try:
            runs.append(_read_run(lib, folder, _files_of_run(folder), rel))
        except ParseError as e:
            failed.append(f"skipped {rel}: {e}")
    if not runs:
        if failed:
            raise ParseError(failed[0])
        raise ParseError(f"no TensorBoard event files under {path}")
    runs[0].warnings.extend(failed)
    return runs


def _find_run_folders(root: str) -> list[str]:
    found: list[str] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        if _is_run_folder(folder):
            found.append(folder)
            continue
        stack.extend(reversed(common.subdirs(folder)))
    return found


def _files_of_run(folder: str) -> list[tuple[str, str]]:
    """(event file, folder relative to the run folder) for every event file in and below it."""
    out: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        rel = os.path.relpath(dirpath, folder)
        rel = "" if rel == "." else rel.replace(os.sep, "/")
        for name in sorted(filenames, key=_natural):
            full = os.path.join(dirpath, name)
            if _is_event_file(name) and os.path.isfile(full):
                out.append((full, rel))
    return out


def _key(tag: str, rel: str) -> str:
    if not rel:
        return tag
    parts = [p for p in rel.split("/") if not _NUMERIC_DIR.match(p)]
    if parts and parts[-1].startswith(tag + "_") and len(parts[-1]) > len(tag) + 1:
        # torch SummaryWriter.add_scalars(main_tag, {sub: v}) writes tag main_tag to main_tag_sub/
        parts[-1] = tag + "/" + parts[-1][len(tag) + 1 :]
        return "/".join(parts)
    return "/".join([*parts, tag])


class _Lib:
    """TensorBoard's modules, imported on first use."""

    def __init__(self) -> None:
        from tensorboard.backend.event_processing import event_file_loader
        from tensorboard.compat.proto import event_pb2
        from tensorboard.plugins.hparams import metadata as hp_metadata
        from tensorboard.util import tensor_util

        self.loader = event_file_loader.RawEventFileLoader
        self.event = event_pb2.Event
        self.hparams = hp_metadata
        self.make_ndarray = tensor_util.make_ndarray

    @classmethod
    def load(cls) -> _Lib:
        try:
            return cls()
        except ImportError as e:
            raise ParseError(
                "reading TensorBoard event files needs the optional extra: "
                "pip install 'expbook[tensorboard]'"
            ) from e


class _State:
    def __init__(self) -> None:
        self.plugin_of: dict[str, str] = {}  # key -> plugin name (TF2 writes metadata once)
        self.skipped: dict[str, set[str]] = {}  # plugin -> keys
        self.hparams: dict[str, Any] = {}
        self.status: str | None = None
        self.start: float | None = None
        self.end: float | None = None
        self.first_wall: float | None = None
        self.last_wall: float | None = None
        self.events = 0


def _read_run(lib: _Lib, source: str, files: list[tuple[str, str]], name: str) -> ImportedRun:
    run = ImportedRun(name=name, format=FORMAT, source=source)
    st = _State()
    readable = 0
    for path, rel in files:
        try:
            run.files.append(SourceFile.of(path))
        except OSError as e:
            run.warnings.append(f"{os.path.basename(path)}: cannot read ({e.strerror})")
            continue
        before = st.events
        _read_file(lib, path, rel, run, st)
        if st.events > before:
            readable += 1
    if not files:
        raise ParseError(f"no TensorBoard event files in {source}")
    if readable == 0:
        raise ParseError(f"no readable TensorBoard events in {source} ({len(files)} file(s))")
    if os.path.isdir(source):
        _hparams_yaml(source, run, st)
    run.config = st.hparams
    if st.status:
        run.status = st.status
    # torch's add_hparams stamps its session start when it is called (often at the end)
    run.created_at = min((t for t in (st.start, st.first_wall) if t is not None), default=None)
    run.finished_at = max((t for t in (st.end, st.last_wall) if t is not None), default=None)
    for points in run.series.values():
        if isinstance(points, list):  # always here: this importer adds points one by one
            points.sort(key=lambda p: p[0])  # stable: keeps file order within one step
    if st.skipped:
        kinds = ", ".join(
            f"{k} ({len(v)} tag{'s' if len(v) > 1 else ''})" for k, v in sorted(st.skipped.items())
        )
        run.warnings.append(f"kept scalars and hparams only; skipped {kinds}")
    return run


def _read_file(lib: _Lib, path: str, rel: str, run: ImportedRun, st: _State) -> None:
    label = (
        os.path.relpath(path, run.source) if os.path.isdir(run.source) else os.path.basename(path)
    )
    size = os.path.getsize(path)
    consumed = 0
    n = 0
    bad = 0
    try:
        for raw in lib.loader(path).Load():
            consumed += len(raw) + _RECORD_OVERHEAD
            try:
                event = lib.event.FromString(raw)
            except Exception:
                bad += 1
                continue
            n += 1
            st.events += 1
            _take_event(lib, event, rel, run, st)
    except Exception as e:  # the reader's own errors (I/O, unexpected framing) end this file
        run.warnings.append(f"{label}: stopped reading after {n} events ({type(e).__name__})")
        return
    if consumed < size:
        run.warnings.append(
            f"{label}: read {n} events ({consumed} of {size} bytes);"
            " the rest is truncated or corrupt"
        )
    if bad:
        run.warnings.append(f"{label}: {bad} records were not valid events")


def _take_event(lib: _Lib, event: Any, rel: str, run: ImportedRun, st: _State) -> None:
    wall = float(event.wall_time) if event.wall_time else None
    if wall is not None:
        st.first_wall = wall if st.first_wall is None else min(st.first_wall, wall)
        st.last_wall = wall if st.last_wall is None else max(st.last_wall, wall)
    if not event.HasField("summary"):
        return
    step = int(event.step)
    for value in event.summary.value:
        key = _key(value.tag, rel)
        kind = value.WhichOneof("value")
        if kind == "simple_value":  # old-style scalar (torch, TF1): a float32
            run.add_point(key, step, _float32(value.simple_value), wall)
            continue
        if kind in _OLD_KINDS:
            st.skipped.setdefault(_OLD_KINDS[kind], set()).add(key)
            continue
        plugin = value.metadata.plugin_data.plugin_name if value.HasField("metadata") else ""
        if plugin:
            st.plugin_of.setdefault(key, plugin)
        else:
            plugin = st.plugin_of.get(key, "")
        if plugin == "hparams":
            _take_hparams(lib, value, st)
        elif plugin == "scalars" or (not plugin and value.HasField("tensor")):
            number = _scalar(lib, value.tensor)
            if number is not None:
                run.add_point(key, step, number, wall)
            else:
                st.skipped.setdefault(plugin or "tensors", set()).add(key)
        else:
            st.skipped.setdefault(plugin or value.WhichOneof("value") or "empty", set()).add(key)


def _float32(x: float) -> float:
    """The shortest decimal that round-trips a float32 (0.1, not 0.10000000149011612)."""
    if not math.isfinite(x):
        return x
    for digits in (6, 7, 8):
        y = float(f"{x:.{digits}g}")
        if _F32.unpack(_F32.pack(y))[0] == x:
            return y
    return float(f"{x:.9g}")  # 9 significant digits always round-trip a float32


def _scalar(lib: _Lib, tensor: Any) -> float | None:
    try:
        arr = lib.make_ndarray(tensor)
    except Exception:
        return None
    if arr.size != 1 or arr.dtype.kind not in "fiub":
        return None
    item = arr.reshape(())[()]
    if arr.dtype.kind == "f" and arr.dtype.itemsize < 8:
        return _float32(float(item))
    return float(item)


def _take_hparams(lib: _Lib, value: Any, st: _State) -> None:
    content = value.metadata.plugin_data.content
    try:
        if value.tag == _HPARAMS_START:
            info = lib.hparams.parse_session_start_info_plugin_data(content)
            for k, v in info.hparams.items():
                st.hparams[k] = _pb_value(v)
            if info.start_time_secs:
                st.start = float(info.start_time_secs)
        elif value.tag == _HPARAMS_END:
            end = lib.hparams.parse_session_end_info_plugin_data(content)
            st.status = _END_STATUS.get(int(end.status), st.status)
            if end.end_time_secs:
                st.end = float(end.end_time_secs)
    except Exception:
        st.skipped.setdefault("unreadable hparams", set()).add(value.tag)


def _pb_value(v: Any) -> Any:
    """A google.protobuf.Value as a plain Python value (integral numbers become ints)."""
    kind = v.WhichOneof("kind")
    if kind == "number_value":
        x = float(v.number_value)
        return int(x) if x.is_integer() and abs(x) < 2**53 else x
    if kind == "string_value":
        return str(v.string_value)
    if kind == "bool_value":
        return bool(v.bool_value)
    if kind == "list_value":
        return [_pb_value(i) for i in v.list_value.values]
    if kind == "struct_value":
        return {k: _pb_value(i) for k, i in v.struct_value.fields.items()}
    return None


def _hparams_yaml(folder: str, run: ImportedRun, st: _State) -> None:
    """Lightning's TensorBoardLogger also writes hparams.yaml beside the events. Its values
    are typed (the hparams plugin holds ``str()`` of a tuple: ``'(1, 8, 8)'``), so they win
    over the plugin's; the plugin's other keys stay."""
    path = os.path.join(folder, "hparams.yaml")
    if not os.path.isfile(path):
        return
    from expbook.importers.lightning import read_hparams_yaml

    config, warning = read_hparams_yaml(path)
    if warning:
        run.warnings.append(warning)
    if config:
        st.hparams.update(config)
        run.files.append(SourceFile.of(path))
