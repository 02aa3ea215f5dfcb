"""Summary files: ``key=value`` / ``key: value`` text (``summary.txt``) and JSON objects
(``eval.json``, ``run.json``, ``results.json``, ``metrics.json``...).

Rules (documented contract):

* every value becomes a **summary** value under its key: numbers as int/float (``nan``/``inf``
  floats; units dropped as in logs: ``12.5s`` -> 12.5), booleans as bool, and strings too
  (``framework=jax``, ``gpu: "NVIDIA A100"``; cut to 200 characters). Strings do not go to
  config: config comes from config files and log headers only, so that a config diff
  compares what was configured, not run metadata. ``-``/``NA``/``null``/empty = missing.
* text keys are normalised like log keys (``Test Acc`` -> ``test_acc``); JSON keys are kept
  as written, nested objects are flattened with ``/`` (``{"test": {"acc": 1}}`` ->
  ``test/acc``); lists are ignored.
* a few top-level JSON keys describe the run rather than results and are taken out of the
  summary: ``status`` (running/finished/failed/crashed/killed) -> the run's status;
  ``started_at``/``start_time``/``created_at`` -> ``created_at``; ``finished_at``/
  ``ended_at``/``end_time`` -> ``finished_at`` (ISO 8601 or epoch seconds). Everything else,
  including ``run_id``, ``gpu_hourly_usd`` and ``train_wall_clock_minutes``, stays in summary.
* Sacred's ``run.json`` keeps only its status, start/stop times and ``result`` (the return
  value, ``result`` or ``result/<key>``); host, experiment and meta are left out.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from . import common
from .model import ImportedRun, ParseError

FORMAT = "summary"

STATUSES = frozenset({"running", "finished", "failed", "crashed", "killed"})
STATUS_ALIASES = {
    "completed": "finished",
    "complete": "finished",
    "success": "finished",
    "succeeded": "finished",
    "done": "finished",
    "error": "failed",
    "errored": "failed",
    "failure": "failed",
    "cancelled": "killed",
    "canceled": "killed",
    "interrupted": "killed",
}
START_KEYS = ("started_at", "start_time", "created_at", "start")
END_KEYS = ("finished_at", "ended_at", "end_time", "completed_at", "end", "stop_time")
NAMES = frozenset(
    [
        "summary.txt",
        "summary.json",
        "eval.json",
        "evaluation.json",
        "results.json",
        "run.json",
        "metrics.json",
        "final_metrics.json",
        "test_results.json",
        "eval_results.json",
        "scores.json",
        "result.json",
        "test_metrics.json",
        "final.json",
        "all_results.json",
        "train_results.json",
        "evaluation_results.json",
        "eval_metrics.json",
    ]
)

# key and value are stripped in code (no lazy group before a \s*: linear in the line)
_KV_LINE = re.compile(r"^\s*([^=:#\s][^=:]*)[=:](.*)$")
_COMMENT = re.compile(r"\s#")
# a log line, not a key: value line: it opens with a date or a time (``2024-04-30 15:21:00 |
# INFO | ...``: the ``:`` of the clock is no separator), or holds ``|``-separated fields
_LOG_LINE = re.compile(r"^\s*(?:\d{4}-\d\d-\d\d|\[?\d{1,2}:\d\d)|.*\|.*\|")
_KV_MULTI = re.compile(r"(?<![\w.\-/])([A-Za-z_][\w.\-/]*)=(\"[^\"]*\"|'[^']*'|\S+)")


@dataclass
class SummaryResult:
    summary: dict[str, Any] = field(default_factory=dict)
    status: str | None = None
    created_at: float | None = None
    finished_at: float | None = None
    warnings: list[str] = field(default_factory=list)

    def apply(self, run: ImportedRun, overwrite: bool = True) -> None:
        for k, v in self.summary.items():
            if overwrite or k not in run.summary:
                run.summary[k] = v
        if self.status:
            run.status = self.status
        if self.created_at is not None:
            run.created_at = self.created_at
        if self.finished_at is not None:
            run.finished_at = self.finished_at
        run.warnings.extend(self.warnings)


def _value(text: str) -> Any:
    t = text.strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        return common.short_string(t[1:-1])
    if t.lower() in common.MISSING_TOKENS:
        return None
    v = common.coerce_value(t)
    if isinstance(v, str):
        return common.short_string(v)
    return v


def parse_text(text: str) -> SummaryResult:
    res = SummaryResult()
    skipped = 0
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith(("#", "//", ";")):
            continue
        pairs = _KV_MULTI.findall(s)
        if len(pairs) >= 2:
            for k, v in pairs:
                val = _value(v)
                if val is not None:
                    res.summary[common.norm_key(k)] = val
            continue
        m = _KV_LINE.match(s)
        if not m:
            skipped += 1
            continue
        key = common.norm_key(m.group(1))
        raw = m.group(2).lstrip()
        c = _COMMENT.search(raw)
        val = _value(raw[: c.start()] if c else raw)
        if val is not None:
            res.summary[key] = val
    if not res.summary:
        raise ParseError("no key=value or key: value lines")
    if skipped:
        res.warnings.append(f"{skipped} line(s) without key=value skipped")
    return res


SACRED_RUN_KEYS = frozenset({"experiment", "host", "meta", "heartbeat", "command"})


def _sacred_run(obj: dict[str, Any]) -> dict[str, Any] | None:
    """Sacred's ``run.json`` (FileStorageObserver): only its status, times and ``result``
    (the run's return value) describe the run; host, experiment and meta are provenance."""
    if not set(obj) >= SACRED_RUN_KEYS:
        return None
    kept: dict[str, Any] = {k: obj[k] for k in ("status", "start_time", "stop_time") if k in obj}
    result = obj.get("result")
    if isinstance(result, dict):
        kept.update({f"result/{k}": v for k, v in common.flatten(result).items()})
    elif result is not None and not isinstance(result, list):
        kept["result"] = result
    return kept


def from_object(obj: dict[str, Any]) -> SummaryResult:
    res = SummaryResult()
    rest: dict[str, Any] = {}
    sacred = _sacred_run(obj)
    if sacred is not None:
        obj = sacred
    for k, v in obj.items():
        lk = str(k).lower()
        if lk == "status" and isinstance(v, str):
            st = v.strip().lower()
            st = STATUS_ALIASES.get(st, st)
            if st in STATUSES:
                res.status = st
                continue
        if lk in START_KEYS and res.created_at is None:
            ts = common.to_epoch_seconds(v)
            if ts is not None:
                res.created_at = ts
                continue
        if lk in END_KEYS and res.finished_at is None:
            ts = common.to_epoch_seconds(v)
            if ts is not None:
                res.finished_at = ts
                continue
        rest[str(k)] = v
    for k, v in common.flatten(rest).items():
        if isinstance(v, bool) or common.is_number(v):
            res.summary[k] = v
        elif isinstance(v, str) and v.strip():
            res.summary[k] = common.short_string(v)
    return res


def parse_json_bytes(data: bytes) -> SummaryResult:
    text, warns = common.decode_text(data, "JSON file")
    try:
        obj = common.loads_json(text)
    except ValueError as e:
        raise ParseError(f"invalid JSON: {common.one_line(e)}") from None
    except RecursionError:
        raise ParseError("JSON nested too deeply to read") from None
    if not isinstance(obj, dict):
        raise ParseError("JSON summary must be an object")
    res = from_object(obj)
    res.warnings[:0] = warns
    if not res.summary and res.status is None:
        raise ParseError("JSON object has no numbers or strings to keep")
    return res


def read(path: str, data: bytes | None = None) -> SummaryResult:
    if data is None:
        data = common.read_bytes(path)
    if path.lower().endswith(".json") or data.lstrip()[:1] == b"{":
        return parse_json_bytes(data)
    text, warns = common.decode_text(data, "summary file")
    res = parse_text(text)
    res.warnings[:0] = warns
    return res


def sniff_file(path: str, head: bytes) -> int:
    base = os.path.basename(path).lower()
    ext = os.path.splitext(base)[1]
    if not head or common.looks_binary(head):
        return 0
    named = base in NAMES or base.split(".")[0] in ("summary", "results", "eval", "scores")
    h = head.lstrip()
    if ext == ".json":
        if not h.startswith(b"{"):
            return 0
        from .tabular import looks_jsonl

        if looks_jsonl(head):
            return 0  # one object per line: per-step records (detectron2's metrics.json)
        return 60 if named else 30
    if ext in (".txt", ".out", ".log", ""):
        try:
            text = head.decode("utf-8", "replace")
        except Exception:  # pragma: no cover
            return 0
        lines = [ln for ln in text.splitlines() if ln.strip()][:50]
        if not lines:
            return 0
        kv = sum(1 for ln in lines if _KV_LINE.match(ln) and not _LOG_LINE.match(ln))
        if kv == len(lines):
            return 70 if named else 45
        return 20 if named and kv * 2 > len(lines) else 0
    return 0


def parse(path: str, opts: Any = None) -> list[ImportedRun]:
    data = common.read_bytes(path)
    res = read(path, data)
    run = common.new_run(path, FORMAT, opts)
    res.apply(run)
    run.files.append(common.source_of(path, data))
    return common.finish_runs([run], opts)
