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
* prediction files -> ``preds/...`` summary values and an ``Artifact(kind="predictions")``.

Merging: summary files win over prediction metrics, which win over log summaries. A series
from a metric file wins over the same series from a log at the same step (full precision
beats printed precision); log points at other steps are added. A log series that only
repeats a metric-file series under another name at printed precision (console ``Test Acc``
0.6953 vs CSV ``test_accuracy`` 0.69529...) is dropped. The run's status is the worst one
reported (failed > crashed > killed > running > finished).
"""

from __future__ import annotations

import os
import re
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
            or is_pred_name(low)
        ):
            out.append(n)
    return out


def claim_dir(path: str) -> bool:
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return bool(marker_names(names))


def _role(name: str) -> str | None:
    low = name.lower()
    stem, ext = os.path.splitext(low)
    if low in CONFIG_NAMES:
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
    return None


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
    }
    hydra = False
    for ent in entries:
        try:
            if ent.is_dir():
                if ent.name == ".hydra":
                    hydra = True
                continue
            if not ent.is_file():
                continue
        except OSError:
            continue
        role = _role(ent.name)
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
        data = read(p)
        if data is None:
            continue
        try:
            common.deep_merge(config, configs.load_config(p, data))
            used += 1
        except ParseError as err:
            warns.append(f"{os.path.basename(p)}: {err}")

    # text files whose role depends on content
    for p in files["text"]:
        head = common.read_head(p)
        if textlog.sniff_file(p, head) >= 50:
            files["log"].append(p)
        elif summary.sniff_file(p, head) >= 45:
            files["summary"].append(p)

    # metric files
    series: dict[str, Any] = {}
    run_summary_low: dict[str, Any] = {}
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
        merge_series(series, res.series)
        for k, v in res.summary.items():
            run_summary_low.setdefault(k, v)
        warns.extend(f"{name}: {w}" for w in res.warnings)
        if name.lower() in TIMING_NAMES:
            run.artifacts.append(
                Artifact(path=os.path.abspath(p), kind="timing", sha256=run.files[-1].sha256)
            )
        used += 1
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
            # metrics.json & co may hold per-step records instead
            if p.lower().endswith(".json"):
                try:
                    t = tabular.read_json(p, data)
                    tres = tabular.series_of(t)
                    merge_series(series, tres.series)
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

    if used == 0:
        reason = "; ".join(warns) if warns else "no readable run files"
        raise ParseError(common.one_line(f"no readable run files in folder ({reason})"))

    run.config.update(config)
    run.series.update(series)
    merged: dict[str, Any] = {}
    for part in (final_summary, pred_summary, run_summary_low, log_summary):
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
