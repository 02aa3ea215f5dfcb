"""A generic run folder: the files of one run, merged into one run named after the folder.

A folder is a run folder when it holds at least one *marker*: a config file
(``config.json/.yaml``, ``hparams.yaml``, ``params.*``, ``args.*``), a metrics/history file
(``metrics.csv``, ``metrics.jsonl``, ``history.csv``, ``training_history.csv``,
``epoch_times.csv``, ``progress.csv``, ...), a summary file (``summary.txt``, ``eval.json``,
``run.json``, ``results.json``, ...), a prediction file (``preds.csv``, ``predictions.csv``,
``*_preds.csv``), a log with a generic name (``train.log``, ``console.log``, ``output.log``,
``stdout.txt``, ...) or a Hydra ``.hydra/`` folder.

What each file gives (files of the folder itself, plus ``.hydra/``):

* config files -> config (deep-merged; priority ``.hydra/config.yaml``, then ``config.*``,
  ``hparams.*``, ``params.*``, ``args.*``...: the first file to set a key wins); the log
  header's config fills in keys no config file has;
* metric files (any ``.csv``/``.tsv``/``.jsonl`` that is not a prediction file or a run
  table, ``history.json``, and ``metrics.json`` when it holds records rather than one object)
  -> series, via :mod:`tabular`; ``epoch_times.csv`` also becomes an
  ``Artifact(kind="timing")``; other ``.json``/``.yaml`` files are ignored;
* ``.txt`` files without a telling name are read as a log if they look like one, else as a
  summary if every line is ``key=value``/``key: value``;
* logs (``*.log``, ``*.out``, console/stdout ``.txt`` files) -> series, summary values,
  config, status and skipped lines, via :mod:`textlog` (``--pattern`` applies);
* summary files -> summary values, status and times, via :mod:`summary`;
* prediction files -> ``preds/...`` summary values and an ``Artifact(kind="predictions")``;
* content decides over names: a ``.log``/``.txt`` file holding a CSV table (Keras
  ``CSVLogger``'s ``training.log``) is a metric file (two or more tables named like data sets,
  ``train.log`` and ``valid.log``, prefix their series with that name: ``valid/loss``), a
  ``.json`` holding JSON lines (detectron2's ``metrics.json``) too, and a table's ``#{json}``
  first line (SB3 ``monitor.csv``) gives config;
* dvclive: ``plots/metrics/**.tsv`` (or ``.csv``/``.json``) -> series named by their path under
  ``plots/metrics`` without the extension (``train/box_loss``); ``params.yaml`` is the config
  and ``metrics.json`` the summary, as above;
* TensorBoard event files of the folder itself (ultralytics writes them beside
  ``results.csv`` and ``args.yaml``), of one sub-folder holding only event files
  (test-tube's ``tf/``), or of sub-folders named like data sets (``learn/``, ``test/``: their
  name becomes the tags' prefix): a series also found in a metric file with the same values
  is a duplicate and skipped, points at other steps are added, new tags are added; hparams
  fill in config keys no config file has;
* CatBoost's ``catboost_info/``: ``learn_error.tsv``/``test_error.tsv`` -> ``learn/<metric>``,
  ``test/<metric>`` over ``iter``; ``time_left.tsv`` is an ``Artifact(kind="timing")``, not
  series; ``catboost_training.json`` repeats the tables and is not read;
* YOLOv5's headerless ``results.txt`` (``0/29  1.86G  0.09854 ...``) -> series named as YOLOv5
  names them in its event file (``train/box_loss``, ``metrics/mAP_0.5``...), over the epoch;
  ``opt.yaml`` and ``hyp.yaml`` are config files;
* MMEngine's ``vis_data/``: ``scalars.json`` (see :mod:`tabular`; the ``<timestamp>.json``
  copy beside it is not read), the run named after the timestamp folder above;
* Keras Tuner: each ``trial_<n>/trial.json`` is a run: ``hyperparameters.values`` -> config,
  each metric's observations -> points (the mean over executions), ``score`` and
  ``best_step`` -> summary, ``status`` -> status.

Which folders are run folders, and which sub-folders belong to them, is decided by
:func:`marker_names`, :func:`absorbed_subdirs` and :func:`takes_events` (used by
:mod:`walk`).

Merging: summary files win over prediction metrics, which win over log summaries. A series
from a metric file wins over the same series from a log at the same step (full precision
beats printed precision); log points at other steps are added. A log series that only
repeats a metric-file series under another name at printed precision (console ``Test Acc``
0.6953 vs CSV ``test_accuracy`` 0.69529...) is dropped. The run's status is the worst one
reported (failed > crashed > killed > running > finished).
"""

from __future__ import annotations

import math
import os
import re
import struct
from typing import Any

from . import common, configs, predictions, summary, tabular, textlog
from .model import Artifact, ImportedRun, ParseError, PointArrays

FORMAT = "folder"

CONFIG_NAMES = configs.NAMES
SERIES_NAMES = frozenset(
    [
        "metrics.csv",
        "metrics.tsv",
        "metrics.jsonl",
        "history.csv",
        "history.json",
        "history.jsonl",
        "training_history.csv",
        "train_history.csv",
        "training_log.csv",
        "train_log.csv",
        "log.csv",
        "log.jsonl",
        "progress.csv",
        "epoch_times.csv",
        "losses.csv",
        "loss.csv",
        "scalars.csv",
        "stats.jsonl",
        "metrics_history.csv",
        "scalars.json",  # MMEngine's vis_data/ (its <timestamp>.json copy is not read)
    ]
)
SUMMARY_NAMES = summary.NAMES
LOG_NAMES = frozenset(
    [
        "train.log",
        "training.log",
        "console.log",
        "output.log",
        "stdout.log",
        "run.log",
        "main.log",
        "log.txt",
        "stdout.txt",
        "console.txt",
        "output.txt",
        "train.txt",
        "stdout",
        "stderr.txt",
        "stderr.log",
        "train.out",
        "output.out",
    ]
)
TEXT_LOG_EXTS = frozenset({".log", ".out", ".err"})
TEXT_LOG_STEMS = frozenset({"console", "stdout", "stderr", "output", "log", "train", "training"})
_PRED_RE = re.compile(r"(?:^|[_\-.])(?:preds?|predictions?)(?:$|[_\-.])")
TIMING_NAMES = frozenset({"epoch_times.csv", "timings.csv", "epoch_time.csv", "timing.csv"})
# CatBoost's train_dir (catboost_info/): <set>_error.tsv per evaluation set, time_left.tsv
CATBOOST_SERIES = {"learn_error.tsv": "learn/", "test_error.tsv": "test/"}
CATBOOST_TIMING = "time_left.tsv"
CATBOOST_NAMES = frozenset({"catboost_training.json", CATBOOST_TIMING, *CATBOOST_SERIES})
# Keras Tuner: <project>/trial_<n>/trial.json, one run per trial
KERAS_TUNER_TRIAL = "trial.json"
# sub-folders of event files that split one run by data set: their tags get the name as prefix
SPLIT_NAMES = frozenset(
    {
        "train",
        "training",
        "learn",
        "val",
        "valid",
        "validation",
        "eval",
        "evaluation",
        "test",
        "dev",
    }
)
STATUS_RANK = {"finished": 0, "running": 1, "killed": 2, "crashed": 3, "failed": 4}


def is_pred_name(name: str) -> bool:
    low = name.lower()
    stem, ext = os.path.splitext(low)
    return ext in (".csv", ".tsv") and bool(_PRED_RE.search(stem))


def marker_names(names: list[str] | set[str]) -> list[str]:
    """The names (of one folder's entries) that make it a run folder."""
    out = []
    for n in names:
        low = n.lower()
        if (
            low in CONFIG_NAMES
            or low in SERIES_NAMES
            or low in SUMMARY_NAMES
            or low in LOG_NAMES
            or low == ".hydra"
            or low in CATBOOST_NAMES
            or low == KERAS_TUNER_TRIAL
            or is_pred_name(low)
        ):
            out.append(n)
    return out


def bare_config_markers(path: str, names: list[str]) -> list[str]:
    """Config files without an extension (``hparams``, ``config``...) among ``names`` whose
    content is a mapping: markers too, told by their content."""
    out = []
    for n in names:
        if n.lower() in configs.BARE_NAMES:
            p = os.path.join(path, n)
            if os.path.isfile(p) and configs.looks_config(common.read_head(p, 4096)):
                out.append(n)
    return out


def claim_dir(path: str) -> bool:
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return bool(marker_names(names) or bare_config_markers(path, names))


DVCLIVE_PLOTS = ("plots", "metrics")


def _event_dir(d: str) -> bool:
    """A folder of TensorBoard event files (in it or in split sub-folders), no run markers."""
    try:
        if os.path.islink(d) or not os.path.isdir(d) or marker_names(os.listdir(d)):
            return False
    except OSError:
        return False
    from . import tensorboard

    return tensorboard.claim_dir(d)


def absorbed_subdirs(path: str, subdirs: list[str]) -> list[str]:
    """The sub-folders (names among ``subdirs``) of run folder ``path`` that its run reads:
    dvclive's ``plots/`` when it holds ``metrics/``, and the one sub-folder of event files, or
    several when all are named like data sets (CatBoost's ``learn/`` and ``test/``); other
    sets of several event folders are runs of their own."""
    out = []
    if "plots" in subdirs and os.path.isdir(os.path.join(path, *DVCLIVE_PLOTS)):
        out.append("plots")
    events = [n for n in subdirs if n not in out and _event_dir(os.path.join(path, n))]
    if len(events) == 1 or (events and all(n.lower() in SPLIT_NAMES for n in events)):
        out.extend(events)
    return out


def _own_event_files(names: list[str]) -> list[str]:
    return [n for n in names if "tfevents" in n]


def takes_events(path: str) -> bool:
    """A folder holding event files and run markers and a metric or summary file (ultralytics:
    ``results.csv``, ``args.yaml``, ``events.out.tfevents.*``): one run read here, events
    included, rather than a TensorBoard run that would leave the other files out."""
    try:
        names = [e.name for e in os.scandir(path) if e.is_file()]
    except OSError:
        return False
    if not _own_event_files(names) or not marker_names(names):
        return False
    return any(_role(n) in ("series", "summary", "preds") for n in names)


def _role(name: str) -> str | None:
    low = name.lower()
    stem, ext = os.path.splitext(low)
    if low == KERAS_TUNER_TRIAL:
        return "trial"
    if low in CONFIG_NAMES or (not ext and low in configs.BARE_NAMES):
        return "config"
    if low in SUMMARY_NAMES:
        return "summary"
    if is_pred_name(low):
        return "preds"
    if low in SERIES_NAMES or ext in (".csv", ".tsv", ".jsonl", ".ndjson"):
        return "series"
    if low in LOG_NAMES or ext in TEXT_LOG_EXTS:
        return "log"
    if ext == ".txt":
        if stem in TEXT_LOG_STEMS:
            return "log"
        return "text"  # decided by content
    if not ext and (stem in TEXT_LOG_STEMS or _BARE_LOG.match(stem)):
        return "text"  # log_1531170333 (tensorflow/nmt): decided by content
    return None


_BARE_LOG = re.compile(r"^(?:train_?)?log[_\-.]?\d*$")


def _series_priority(name: str) -> tuple[int, str]:
    low = name.lower()
    if low.startswith("metrics"):
        return (0, low)
    if "history" in low:
        return (1, low)
    return (2, low)


def _rounds_to(full: float, printed: float) -> bool:
    if full == printed or (full != full and printed != printed):
        return True
    return any(round(full, d) == printed for d in range(0, 13))


def _is_duplicate(log_pts: list[tuple[int, float, Any]], table: dict[int, float]) -> bool:
    if not log_pts:
        return False
    for s, v, _ in log_pts:
        t = table.get(s)
        if t is None or not _rounds_to(t, v):
            return False
    return True


def merge_series(
    dst: dict[str, Any],
    src: dict[str, Any],
    drop_renamed: bool = False,
) -> None:
    """Add ``src`` series to ``dst``; ``dst`` wins at equal steps.

    With ``drop_renamed`` (``src`` is a log), a ``src`` series that repeats a ``dst`` series
    of another name at printed precision is dropped."""
    by_step_cache: dict[str, dict[int, float]] = {}

    def by_step(k: str) -> dict[int, float]:
        m = by_step_cache.get(k)
        if m is None:
            m = by_step_cache[k] = {s: v for s, v, _ in dst[k]}
        return m

    table_keys = list(dst)
    for key, pts in src.items():
        if key in dst:
            have = by_step(key)
            extra = [p for p in pts if p[0] not in have]
            if extra:
                merged = dst[key] + extra
                merged.sort(key=lambda p: p[0])
                dst[key] = merged
                by_step_cache.pop(key, None)
            continue
        if drop_renamed and any(_is_duplicate(pts, by_step(k)) for k in table_keys):
            continue
        dst[key] = pts if isinstance(pts, PointArrays) else list(pts)


def _worst(a: str, b: str) -> str:
    return a if STATUS_RANK.get(a, 0) >= STATUS_RANK.get(b, 0) else b


def run_name(path: str) -> str:
    base = os.path.basename(os.path.abspath(path))
    if base == "vis_data":  # MMEngine: work_dirs/<config>/<timestamp>/vis_data
        return os.path.basename(os.path.dirname(os.path.abspath(path))) or base
    if os.path.isdir(os.path.join(path, ".hydra")) and re.fullmatch(r"[\d_\-:.]+", base):
        parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
        return f"{parent}/{base}" if parent else base
    return base


def parse(path: str, opts: Any = None) -> list[ImportedRun]:
    if not os.path.isdir(path):
        raise ParseError("not a folder")
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as e:
        raise ParseError(f"cannot list folder: {e.strerror or e}") from None
    run = common.new_run(path, FORMAT, opts, name=run_name(path))
    files: dict[str, list[str]] = {
        "config": [],
        "summary": [],
        "preds": [],
        "series": [],
        "log": [],
        "text": [],
        "trial": [],
    }
    hydra = False
    subdirs: list[str] = []
    events: list[str] = []
    others: list[str] = []
    for ent in entries:
        try:
            if ent.is_dir():
                if ent.name == ".hydra":
                    hydra = True
                elif not ent.is_symlink():
                    subdirs.append(ent.name)
                continue
            if not ent.is_file():
                continue
        except OSError:
            continue
        if "tfevents" in ent.name:
            events.append(ent.path)
            continue
        role = _role(ent.name)
        if role is None:
            others.append(ent.path)
        if role is not None:
            files[role].append(ent.path)

    warns: list[str] = []
    used = 0

    cache: dict[str, bytes] = {}

    def read(p: str) -> bytes | None:
        if p in cache:
            return cache[p]
        try:
            data = common.read_bytes(p)
        except ParseError as err:
            warns.append(f"{os.path.basename(p)}: {err}")
            return None
        run.files.append(common.source_of(p, data))
        cache[p] = data
        return data

    # config
    config: dict[str, Any] = {}
    if hydra:
        hc, tags, hfiles, hwarns = configs.hydra_config(os.path.join(path, ".hydra"))
        common.deep_merge(config, hc)
        run.tags.extend(tags)
        warns.extend(hwarns)
        for f in hfiles:
            run.files.append(common.source_of(f, common.read_bytes(f)))
        used += 1 if hfiles else 0
    order = {n: i for i, n in enumerate(CONFIG_NAMES)}
    for p in sorted(files["config"], key=lambda p: order.get(os.path.basename(p).lower(), 99)):
        if "." not in os.path.basename(p) and not configs.looks_config(common.read_head(p)):
            continue  # a bare ``config``/``args`` file that is not a mapping
        data = read(p)
        if data is None:
            continue
        try:
            common.deep_merge(config, configs.load_config(p, data))
            used += 1
        except ParseError as err:
            warns.append(f"{os.path.basename(p)}: {err}")

    # text files whose role depends on content; a log that holds a CSV table is a metric file
    for p in list(files["log"]):
        if tabular.looks_csv(common.read_head(p)):
            files["log"].remove(p)
            files["series"].append(p)
    for p in files["text"]:
        head = common.read_head(p)
        if tabular.looks_csv(head) or tabular.looks_yolov5_results(head):
            files["series"].append(p)
        elif textlog.sniff_file(p, head) >= (40 if "." not in os.path.basename(p) else 50):
            files["log"].append(p)
        elif summary.sniff_file(p, head) >= 45:
            files["summary"].append(p)

    # metric files
    series: dict[str, Any] = {}
    run_summary_low: dict[str, Any] = {}
    table_config: dict[str, Any] = {}
    catboost = any(os.path.basename(p).lower() == "catboost_training.json" for p in others) or (
        os.path.basename(path) == "catboost_info"
    )
    # train.log and valid.log tables side by side: each table's series get its name as prefix
    split_tables = [
        p
        for p in files["series"]
        if os.path.splitext(os.path.basename(p))[0].lower() in SPLIT_NAMES
    ]
    by_split = len(split_tables) >= 2
    for p in sorted(files["series"], key=lambda p: _series_priority(os.path.basename(p))):
        data = read(p)
        if data is None:
            continue
        name = os.path.basename(p)
        try:
            t = tabular.read_table(p, data)
            if predictions.find_columns(t.columns) is not None and name.lower() not in SERIES_NAMES:
                files["preds"].append(p)
                continue
            if tabular.is_run_table(t):
                warns.append(f"{name}: a table of {t.nrows} runs, not merged into this run")
                continue
            res = tabular.series_of(t)
        except ParseError as err:
            warns.append(f"{name}: {err}")
            continue
        low = name.lower()
        if low == CATBOOST_TIMING and catboost:
            # seconds passed and left per iteration: timing, not metrics
            run.artifacts.append(
                Artifact(path=os.path.abspath(p), kind="timing", sha256=run.files[-1].sha256)
            )
            used += 1
            continue
        if low in CATBOOST_SERIES and catboost:
            res.series = {CATBOOST_SERIES[low] + k: v for k, v in res.series.items()}
        elif by_split and p in split_tables:
            stem = os.path.splitext(name)[0]
            res.series = {f"{stem}/{k}": v for k, v in res.series.items()}
        merge_series(series, res.series)
        for k, v in res.summary.items():
            run_summary_low.setdefault(k, v)
        for k, v in res.config.items():
            table_config.setdefault(k, v)
        if res.created_at is not None and run.created_at is None:
            run.created_at = res.created_at
        warns.extend(f"{name}: {w}" for w in res.warnings)
        if name.lower() in TIMING_NAMES:
            run.artifacts.append(
                Artifact(path=os.path.abspath(p), kind="timing", sha256=run.files[-1].sha256)
            )
        used += 1
    # dvclive: plots/metrics/<path>.tsv -> series <path>
    absorbed = absorbed_subdirs(path, subdirs)
    if "plots" in absorbed:
        used += _read_dvclive_plots(os.path.join(path, *DVCLIVE_PLOTS), series, read, warns)
    # logs
    status = "finished"
    log_summary: dict[str, Any] = {}
    log_config: dict[str, Any] = {}
    for p in files["log"]:
        data = read(p)
        if data is None:
            continue
        name = os.path.basename(p)
        try:
            text, dw = common.decode_text(data, "log")
            res_log = textlog.parse_text(text, opts)
        except ParseError as err:
            warns.append(f"{name}: {err}")
            continue
        warns.extend(f"{name}: {w}" for w in dw + res_log.warnings)
        if not (res_log.series or res_log.summary or res_log.config):
            continue
        merge_series(series, res_log.series, drop_renamed=True)
        for k, v in res_log.summary.items():
            log_summary.setdefault(k, v)
        common.deep_merge(log_config, res_log.config)
        run.skipped_lines += res_log.skipped
        status = _worst(status, res_log.status)
        used += 1
    common.deep_merge(config, log_config)

    # prediction files
    pred_summary: dict[str, Any] = {}
    for p in files["preds"]:
        data = read(p)
        if data is None:
            continue
        try:
            vals, pw = predictions.evaluate_file(p, data)
        except (ParseError, ValueError) as err:
            warns.append(f"{os.path.basename(p)}: {common.one_line(err)}")
            continue
        pred_summary.update(vals)
        warns.extend(f"{os.path.basename(p)}: {w}" for w in pw)
        run.artifacts.append(predictions.artifact(p, data))
        used += 1

    # Keras Tuner trial.json
    trial_summary: dict[str, Any] = {}
    for p in files["trial"]:
        data = read(p)
        if data is None:
            continue
        try:
            tstatus = _read_keras_tuner_trial(p, data, config, series, trial_summary)
        except ParseError as err:
            warns.append(f"{os.path.basename(p)}: {err}")
            continue
        if tstatus:
            status = _worst(status, tstatus)
        used += 1

    # summary files
    final_summary: dict[str, Any] = {}
    for p in files["summary"]:
        data = read(p)
        if data is None:
            continue
        name = os.path.basename(p)
        try:
            sres = summary.read(p, data)
        except ParseError as err:
            # metrics.json & co may hold per-step records (or JSON lines) instead
            if p.lower().endswith(".json"):
                try:
                    t = tabular.read_table(p, data)
                    tres = tabular.series_of(t)
                    merge_series(series, tres.series)
                    for k, v in tres.config.items():
                        table_config.setdefault(k, v)
                    warns.extend(f"{name}: {w}" for w in tres.warnings)
                    used += 1
                    continue
                except ParseError:
                    pass
            warns.append(f"{name}: {err}")
            continue
        if p.lower().endswith(".json") and not sres.summary and sres.status is None:
            continue
        for k, v in sres.summary.items():
            final_summary.setdefault(k, v)
        if sres.status:
            status = _worst(status, sres.status)
        if sres.created_at is not None:
            run.created_at = sres.created_at
        if sres.finished_at is not None:
            run.finished_at = sres.finished_at
        warns.extend(f"{name}: {w}" for w in sres.warnings)
        used += 1

    # TensorBoard event files: the folder's own, or those of its one folder of event files
    for src in sorted(events):
        used += _read_events(src, run, series, table_config, warns)
    for n in absorbed:
        if n != "plots":
            prefix = f"{n}/" if n.lower() in SPLIT_NAMES else ""
            used += _read_events(os.path.join(path, n), run, series, table_config, warns, prefix)

    if used == 0:
        reason = "; ".join(warns) if warns else "no readable run files"
        raise ParseError(common.one_line(f"no readable run files in folder ({reason})"))

    for k, v in table_config.items():
        config.setdefault(k, v)
    run.config.update(config)
    run.series.update(series)
    merged: dict[str, Any] = {}
    for part in (trial_summary, final_summary, pred_summary, run_summary_low, log_summary):
        for k, v in part.items():
            merged.setdefault(k, v)
    run.summary.update(merged)
    run.status = status
    if run.created_at is None:
        first, last = textlog.wall_span(series)
        if first is not None:
            run.created_at, run.finished_at = first, last
    run.warnings.extend(warns)
    return common.finish_runs([run], opts)


def _read_dvclive_plots(root: str, series: dict[str, Any], read: Any, warns: list[str]) -> int:
    """dvclive's ``plots/metrics`` tree: each table a series named by its path (one value
    column) or ``<path>/<column>`` (several)."""
    used = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            stem, ext = os.path.splitext(fn)
            if ext.lower() not in (".tsv", ".csv", ".json", ".jsonl"):
                continue
            p = os.path.join(dirpath, fn)
            rel = os.path.relpath(os.path.join(dirpath, stem), root).replace(os.sep, "/")
            data = read(p)
            if data is None:
                continue
            try:
                res = tabular.series_of(tabular.read_table(p, data))
            except ParseError as err:
                warns.append(f"plots/metrics/{rel}{ext}: {err}")
                continue
            named = {
                (rel if len(res.series) == 1 or k == stem else f"{rel}/{k}"): pts
                for k, pts in res.series.items()
            }
            merge_series(series, named)
            warns.extend(f"plots/metrics/{rel}{ext}: {w}" for w in res.warnings)
            used += 1
    return used


_F32 = struct.Struct("<f")


def _significant_digits(x: float) -> int:
    digits = repr(x).lower().split("e")[0].lstrip("-").replace(".", "").lstrip("0")
    return max(1, len(digits))


def _same_value(table: float, event: float) -> bool:
    """``event`` (a float32 from an event file) is ``table`` as the table printed it (ultralytics
    writes 5 significant digits), or ``table`` at float32 precision."""
    if table == event or (table != table and event != event):
        return True
    if not (math.isfinite(table) and math.isfinite(event)):
        return False
    try:
        if _F32.pack(table) == _F32.pack(event):
            return True
    except OverflowError:  # beyond float32: the event file cannot hold it
        return False
    sig = _significant_digits(table)
    return sig < 16 and float(f"{event:.{sig}g}") == table


def _same_points(table: Any, events: Any) -> bool:
    """The event file's series holds the table's values, in order (the steps may differ:
    0- or 1-based epochs)."""
    if len(table) != len(events):
        return False
    return all(_same_value(float(a[1]), float(b[1])) for a, b in zip(table, events))


def _read_events(
    src: str,
    run: ImportedRun,
    series: dict[str, Any],
    config: dict[str, Any],
    warns: list[str],
    prefix: str = "",
) -> int:
    """Merge the TensorBoard run at ``src`` into this run (see the module doc), its tags
    prefixed with ``prefix``."""
    from . import tensorboard

    label = os.path.relpath(src, run.source)
    try:
        tb_runs = tensorboard.parse(src, None)
    except ParseError as err:
        warns.append(f"{label}: {err}")
        return 0
    for tb in tb_runs:
        fresh: dict[str, Any] = {}
        for tag, pts in tb.series.items():
            key = prefix + tag
            have = series.get(key)
            if have is not None and _same_points(have, pts):
                continue
            fresh[key] = pts
        merge_series(series, fresh)
        for k, v in tb.config.items():
            config.setdefault(k, v)
        run.files.extend(f for f in tb.files if all(f.path != g.path for g in run.files))
        warns.extend(f"{label}: {w}" for w in tb.warnings)
    return 1 if tb_runs else 0


_TRIAL_STATUS = {"COMPLETED": "finished", "RUNNING": "running", "FAILED": "failed"}


def _read_keras_tuner_trial(
    path: str,
    data: bytes,
    config: dict[str, Any],
    series: dict[str, Any],
    out_summary: dict[str, Any],
) -> str | None:
    """A Keras Tuner ``trial.json``: ``hyperparameters.values`` -> config, each metric's
    observations (the mean of an observation's values, one per execution) -> series on their
    ``step``, ``score`` and ``best_step`` -> summary. Returns the run's status or None."""
    text, _ = common.decode_text(data, "trial file")
    try:
        obj = common.loads_json(text)
    except (ValueError, RecursionError) as e:
        raise ParseError(f"invalid JSON: {common.one_line(e)}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("hyperparameters"), dict):
        raise ParseError("not a Keras Tuner trial (no hyperparameters)")
    values = obj["hyperparameters"].get("values")
    if isinstance(values, dict):
        for k, v in values.items():
            config.setdefault(str(k), configs._clean(v))
    metrics = obj.get("metrics")
    metrics = metrics.get("metrics") if isinstance(metrics, dict) else None
    found: dict[str, list[tuple[int, float, None]]] = {}
    for name, m in (metrics or {}).items():
        obs = m.get("observations") if isinstance(m, dict) else None
        for o in obs if isinstance(obs, list) else []:
            if not isinstance(o, dict) or not isinstance(o.get("step"), int):
                continue
            v = o.get("value")
            vals = v if isinstance(v, list) else [v]
            nums = [
                float(x) for x in vals if isinstance(x, (int, float)) and not isinstance(x, bool)
            ]
            if nums:
                found.setdefault(str(name), []).append((o["step"], sum(nums) / len(nums), None))
    merge_series(series, {k: sorted(v, key=lambda p: p[0]) for k, v in found.items()})
    for key in ("score", "best_step"):
        if common.is_number(obj.get(key)):
            out_summary[key] = obj[key]
    st = obj.get("status")
    return _TRIAL_STATUS.get(st) if isinstance(st, str) else None
