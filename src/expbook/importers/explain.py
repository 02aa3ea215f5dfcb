"""Why an import did what it did: ``expbook import --explain FILE`` and the skip reasons.

:func:`explain` reads a file (or folder) exactly as ``expbook import`` would, without opening
any store, and reports for each unit: the reader that took it and why (``--from``,
``--pattern``, the content sniff scores of every reader, or the extension fallback), each run's
keys with their point counts and first/last step, the detected step axis, the config and
summary keys, the warnings, and for text logs the lines that gave nothing (the first few, with
line numbers). When the reader found nothing, :func:`suggest_pattern` derives a ``--pattern``
from the log's first line with numbers (preferring a line whose shape repeats) and says what
it would read.

:func:`skipped_files` lists the files a folder walk passed over, each with a one-line reason,
so that an import never drops a file silently.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

from . import common, registry, walk
from .driver import Skipped, is_empty
from .model import ImportedRun, ParseError

MAX_IGNORED_SHOWN = 10
MAX_SNIFFED_SKIPS = 500  # files beyond this many skipped ones get a reason without a sniff
SUGGEST_MAX_CHARS = 1000  # a suggested pattern reads the numbers of a line's first chars
SUGGEST_MAX_FIELDS = 40


# ---------------------------------------------------------------------------------------------
# which reader, and why


def sniff_scores(path: str) -> list[tuple[str, int]]:
    """(format, score) of every reader that wants ``path`` (score > 0), best first."""
    head = common.read_head(path)
    out = []
    for info in registry.available():
        if not info.can_sniff:
            continue
        try:
            score = int(info.module.sniff_file(path, head))  # type: ignore[union-attr]
        except Exception:
            continue
        if score > 0:
            out.append((info.name, score))
    out.sort(key=lambda x: -x[1])  # stable: ties keep the registry's order, as the walk does
    return out


def _scores_text(scores: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{n} {s}" for n, s in scores)


def why_skipped(path: str, from_format: str | None = None, sniff: bool = True) -> str:
    """One line: why a folder walk took no reader for the file ``path``."""
    ext = os.path.splitext(path)[1].lower()
    if from_format:
        forced = registry.resolve(from_format)
        if ext in common.BINARY_EXTS and forced.module_name in ("textlog", "tabular"):
            return f"binary file type ({ext}), not read as {forced.name}"
        if not forced.can_sniff:
            return f"--from {forced.name} reads folders, not loose files"
        if not sniff:
            return f"not taken by {forced.name}"
        score = dict(sniff_scores(path)).get(forced.name, 0)
        return (
            f"does not look like {forced.name} (score {score}, a walk under --from needs "
            f"{walk.FORCED_MIN_SCORE}); import the file itself to read it anyway"
        )
    if ext in common.BINARY_EXTS:
        return f"binary file type ({ext or 'no extension'})"
    try:
        if os.path.getsize(path) == 0:
            return "empty file"
    except OSError as e:
        return f"cannot read: {e.strerror or e}"
    if not sniff:
        return "no reader recognised it"
    scores = sniff_scores(path)
    if not scores:
        return "no reader recognises its content" + (
            " (binary data)" if common.looks_binary(common.read_head(path, 8192)) else ""
        )
    name, score = scores[0]
    return (
        f"only a weak match for {name} (score {score}, a folder walk needs "
        f"{walk.WALK_MIN_SCORE}); import the file itself or use --from {name}"
    )


def skipped_files(
    paths: Sequence[str],
    units: Sequence[walk.Unit],
    from_format: str | None = None,
    opts: Any = None,
) -> list[Skipped]:
    """The files under the folders in ``paths`` that no unit of the plan ``units`` reads.

    Follows the walk's rules (hidden folders, :data:`walk.SKIP_DIRS` and symlinked folders are
    not visited); folders that are units themselves are read whole by their reader, and run
    tables attached to a unit are read with it."""
    covered_files: set[str] = set()
    covered_dirs: set[str] = set()
    for u in units:
        if os.path.isdir(u.path):
            covered_dirs.add(u.path)
        else:
            covered_files.add(u.path)
        covered_files.update(u.attach)
    out: list[Skipped] = []
    seen: set[str] = set()
    for p in paths:
        ap = os.path.abspath(p)
        if not os.path.isdir(ap) or ap in covered_dirs:
            continue
        for root, dirs, files in os.walk(ap):
            dirs[:] = sorted(
                d
                for d in dirs
                if not d.startswith(".")
                and d not in walk.SKIP_DIRS
                and not os.path.islink(os.path.join(root, d))
                and os.path.join(root, d) not in covered_dirs
            )
            for f in sorted(files):
                fp = os.path.join(root, f)
                if fp in covered_files or fp in seen or not os.path.isfile(fp):
                    continue
                seen.add(fp)
                sniff = len(out) < MAX_SNIFFED_SKIPS
                try:
                    reason = why_skipped(fp, from_format, sniff=sniff)
                except Exception as e:  # a reason must never break an import
                    reason = common.one_line(f"not taken by any reader ({type(e).__name__})")
                out.append(Skipped(fp, reason))
    return out


def reader_reason(unit: walk.Unit, from_format: str | None, pattern: str | None) -> str:
    """One line: why ``unit`` went to its reader."""
    if unit.error is not None:
        return unit.error
    if from_format:
        return f"--from {from_format}"
    ext = os.path.splitext(unit.path)[1].lower()
    if os.path.isdir(unit.path):
        if unit.module == "folder":
            return "a folder holding run files (config, metrics, summary, logs...): one run"
        return f"the folder is laid out as {unit.format} writes it"
    if pattern and unit.module == "textlog" and ext in walk.PATTERN_EXTS:
        return f"--pattern given and a {ext} file"
    scores = sniff_scores(unit.path)
    if scores and scores[0][0] == unit.format:
        return f"content sniff: {_scores_text(scores)} (the highest score wins)"
    if walk.EXT_FORMATS.get(ext) == unit.module:
        return f"no reader recognised the content; the extension {ext} suggests {unit.format}" + (
            f" (scores: {_scores_text(scores)})" if scores else ""
        )
    if scores:
        return f"content sniff: {_scores_text(scores)}"
    return "chosen by the walk"


# ---------------------------------------------------------------------------------------------
# a --pattern from a log line

_STAMP = re.compile(
    r"^\s*[\[(]?(?:\d{4}-\d{2}-\d{2}[T ])?\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"[\])]?\s*"
)
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\d.])")
_COUNTER = re.compile(r"\b(?:step|global_step|iter|iteration|epoch)\b\s*[:=#]?\s*\d", re.I)
_COUNTER_WORDS = frozenset(("step", "global_step", "iter", "iteration", "epoch"))
# one or two words at the end of the text before a number: "val loss " -> val_loss
_WORDS = re.compile(r"((?:[A-Za-z_][\w.\-]*[ \t])?[A-Za-z_][\w.\-]*)[\s:=#]*$")
_LAST_WORD = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-]*)[^A-Za-z0-9_]*$")
_NAME_OK = re.compile(r"^[A-Za-z_][\w./\-]*$")


def _shape(line: str) -> str:
    return re.sub(r"\d+", "0", line[:SUGGEST_MAX_CHARS].strip())


def _pick_line(lines: Sequence[str]) -> str | None:
    """The line to derive a pattern from: the first line with numbers whose shape repeats and
    that holds a step counter (``iter 10``), else the first whose shape repeats, else the
    first with numbers."""
    with_numbers = [
        ln for ln in lines[:5000] if _NUMBER.search(_STAMP.sub("", ln[:SUGGEST_MAX_CHARS]))
    ]
    if not with_numbers:
        return None
    counts: dict[str, int] = {}
    for ln in with_numbers:
        s = _shape(ln)
        counts[s] = counts.get(s, 0) + 1
    repeated = [ln for ln in with_numbers if counts[_shape(ln)] > 1]
    return next(
        (ln for ln in repeated if _COUNTER.search(ln[:SUGGEST_MAX_CHARS])),
        repeated[0] if repeated else with_numbers[0],
    )


def _literal(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("{", "{{").replace("}", "}}")).replace("||", "|")


def _header_names(lines: Sequence[str], line: str) -> list[str]:
    """Column names for a delimited ``line`` (CSV under a .log name...): the fields of the
    last line before it that has no numbers and as many fields, split the same way."""
    for sep in (",", "\t", ";", "|"):
        if sep not in line:
            continue
        width = len(line.split(sep))
        idx = lines.index(line)
        for prev in reversed(lines[:idx]):
            if not prev.strip():
                continue
            names = [common.norm_key(x) for x in prev.split(sep)]
            if len(names) == width and all(_NAME_OK.match(n) for n in names):
                return names
            break
    return []


def _field_name(before: str, after_number: bool) -> str:
    """A series name from the text before a number (see :func:`pattern_for_line`)."""
    m = _WORDS.search(before)
    if m is not None:
        words = m.group(1).split()
        # a counter word stands alone; a word glued to the previous number is its unit
        if words[-1].lower() in _COUNTER_WORDS or (after_number and m.start() == 0):
            words = words[-1:]
        return common.norm_key("_".join(words)).strip("_.-/")
    w = _LAST_WORD.search(before)
    return common.norm_key(w.group(1)).strip("_.-/") if w else ""


def pattern_for_line(line: str, names: Sequence[str] = ()) -> str | None:
    """A ``--pattern`` that reads the numbers of ``line``: each number is named after the
    word before it (``loss: 0.5`` -> ``loss: {loss}``), or by ``names`` (column names, in
    order) when there are as many; a total after ``/`` is skipped, a leading timestamp is left
    out (a pattern is searched anywhere in the line)."""
    body = _STAMP.sub("", line[:SUGGEST_MAX_CHARS]).rstrip()
    nums = list(_NUMBER.finditer(body))
    if len(nums) > SUGGEST_MAX_FIELDS:  # a pattern is searched anywhere: a prefix will do
        body = body[: nums[SUGGEST_MAX_FIELDS].start()]
    if names and len(names) == len(_NUMBER.findall(body)):
        literals = _NUMBER.split(body)
        return "".join(
            _literal(lit) + ("{" + names[i] + "}" if i < len(names) else "")
            for i, lit in enumerate(literals)
        ).strip()
    parts: list[str] = []
    used: dict[str, int] = {}
    pos = 0
    n_fields = 0
    for m in _NUMBER.finditer(body):
        before = body[pos : m.start()]
        parts.append(_literal(before))
        after_number = pos > 0
        pos = m.end()
        if before.endswith("/"):  # a total: 3/10
            parts.append("{_}")
            continue
        name = _field_name(before, after_number)
        if not name or not _NAME_OK.match(name):
            name = f"v{n_fields + 1}"
        used[name] = used.get(name, 0) + 1
        if used[name] > 1:
            name = f"{name}_{used[name]}"
        parts.append("{" + name + "}")
        n_fields += 1
    if not n_fields:
        return None
    spec = "".join(parts).strip()
    return spec or None


def suggest_pattern(text: str) -> dict[str, Any] | None:
    """A ``--pattern`` derived from ``text`` and what it reads there, or None."""
    from . import pattern as pattern_mod

    lines = text.splitlines()
    line = _pick_line(lines)
    if line is None:
        return None
    spec = pattern_for_line(line, _header_names(lines, line))
    if spec is None:
        return None
    try:
        res = pattern_mod.parse_text(text, spec)
    except ParseError:
        return None
    keys = {k: len(v) for k, v in res.series.items()}
    if not keys and not res.summary and not res.config:
        return None
    return {
        "pattern": spec,
        "from_line": line.strip()[:300],
        "matched_lines": max(keys.values(), default=0),
        "keys": keys,
    }


# ---------------------------------------------------------------------------------------------
# the report


def _first_last(points: Any) -> tuple[Any, Any]:
    if not len(points):
        return None, None
    return int(points[0][0]), int(points[-1][0])


def _run_report(run: ImportedRun) -> dict[str, Any]:
    keys = {}
    for k, pts in sorted(run.series.items()):
        first, last = _first_last(pts)
        keys[k] = {"points": len(pts), "first_step": first, "last_step": last}
    return {
        "name": run.name,
        "format": run.format,
        "status": run.status,
        "empty": is_empty(run),
        "points": run.n_points,
        "keys": keys,
        "config_keys": sorted(str(k) for k in run.config),
        "summary_keys": sorted(str(k) for k in run.summary),
        "warnings": list(run.warnings),
        "skipped_lines": run.skipped_lines,
    }


def _log_details(path: str, opts: Any) -> tuple[dict[str, Any], str | None]:
    """What the text-log reader saw: step axis, ignored lines, attempts; and the text."""
    from . import textlog

    try:
        text, _ = common.decode_text(common.read_bytes(path), "log")
    except ParseError:
        return {}, None
    try:
        res = textlog.parse_text(text, opts)
    except Exception:  # the run's failure line already says what went wrong
        return {}, text
    ignored = list(getattr(res, "ignored", None) or [])
    details: dict[str, Any] = {
        "step_axis": getattr(res, "step_axis", None) or None,
        "lines": res.n_lines,
        "ignored_count": max(res.skipped, len(ignored)),
        "ignored": [
            {"line": int(no), "text": str(txt)[:300]} for no, txt in ignored[:MAX_IGNORED_SHOWN]
        ],
    }
    attempts = getattr(res, "attempts", None)  # how many restarts the log holds (1: none)
    if isinstance(attempts, int) and not isinstance(attempts, bool):
        details["attempts"] = attempts
    return details, text


def _log_like(unit: walk.Unit) -> bool:
    """A file that a ``--pattern`` may fit: read as a text log, or named like a log
    (``train.log``, ``20230101_120000.log.json``, no extension); not a JSON summary."""
    if os.path.isdir(unit.path):
        return False
    name = os.path.basename(unit.path).lower()
    ext = os.path.splitext(name)[1]
    return unit.module == "textlog" or ext in walk.PATTERN_EXTS or not ext or ".log" in name


def explain_unit(unit: walk.Unit, opts: registry.ParseOptions) -> dict[str, Any]:
    """The report for one unit of a plan (see the module doc)."""
    out: dict[str, Any] = {
        "path": unit.path,
        "reader": unit.format or None,
        "why": reader_reason(unit, opts.from_format, opts.pattern),
    }
    if not os.path.isdir(unit.path):
        try:
            out["bytes"] = os.path.getsize(unit.path)
        except OSError:
            out["bytes"] = None
    runs, failures = walk.read(unit, opts)
    out["runs"] = [_run_report(r) for r in runs]
    out["failures"] = [{"path": f.path, "reason": f.reason} for f in failures]
    text = None
    if unit.module == "textlog" and not os.path.isdir(unit.path):
        details, text = _log_details(unit.path, opts)
        out.update(details)
    if "step_axis" not in out:
        out["step_axis"] = None
    # no point at all (a config or summary alone does not make a log read): suggest a pattern
    found_nothing = not runs or all(r.n_points == 0 for r in runs)
    out["pattern_suggestion"] = None
    if found_nothing and _log_like(unit) and unit.error is None:
        if text is None:
            try:
                data = common.read_bytes(unit.path)
                text = None if common.looks_binary(data[:8192]) else common.decode_text(data)[0]
            except ParseError:
                text = None
        try:
            sug = suggest_pattern(text) if text else None
        except Exception as e:  # a suggestion is a help: its failure must not hide the report
            sug = None
            out["suggestion_error"] = common.one_line(f"{type(e).__name__}: {e}")
        if sug is not None:
            ext = os.path.splitext(unit.path)[1].lower()
            sug["needs_from"] = ext not in walk.PATTERN_EXTS
            out["pattern_suggestion"] = sug
    return out


def explain(paths: Sequence[str], opts: registry.ParseOptions) -> dict[str, Any]:
    """``--explain``: what an import of ``paths`` would read, and why; writes nothing."""
    abs_paths = [os.path.abspath(p) for p in paths]
    units = walk.plan(abs_paths, from_format=opts.from_format, opts=opts)
    return {
        "units": [explain_unit(u, opts) for u in units],
        "skipped": [
            s.as_json()
            for s in skipped_files(abs_paths, units, from_format=opts.from_format, opts=opts)
        ],
    }


def importable(report: dict[str, Any]) -> bool:
    """True when the import explained would store at least one run."""
    return any(not r["empty"] for u in report["units"] for r in u["runs"])


def _q(s: str) -> str:
    return "'" + s.replace("'", "'\\''") + "'"


def render(report: dict[str, Any]) -> list[str]:
    """The report as lines of text (for the terminal)."""
    lines: list[str] = []
    for u in report["units"]:
        if lines:
            lines.append("")
        size = f" ({u['bytes']} bytes)" if u.get("bytes") is not None else ""
        lines.append(f"{u['path']}{size}")
        lines.append(f"  reader: {u['reader'] or 'none'} - {u['why']}")
        if u.get("lines") is not None:
            lines.append(f"  lines: {u['lines']}")
        if u.get("step_axis"):
            lines.append(f"  step axis: {u['step_axis']}")
        for f in u["failures"]:
            lines.append(
                f"  failed: {f['reason']}" + (f" ({f['path']})" if f["path"] != u["path"] else "")
            )
        for r in u["runs"]:
            state = "empty (nothing would be stored)" if r["empty"] else r["status"]
            lines.append(
                f"  run {r['name']!r}: {state}, {r['points']} point(s) in {len(r['keys'])} key(s)"
            )
            if r["keys"]:
                width = max(len(k) for k in r["keys"])
                lines.append(f"    {'key'.ljust(width)}  points  first step  last step")
                for k, v in r["keys"].items():
                    lines.append(
                        f"    {k.ljust(width)}  {v['points']:>6}  {v['first_step']!s:>10}"
                        f"  {v['last_step']!s:>9}"
                    )
            lines.append(f"    config keys: {', '.join(r['config_keys']) or '(none)'}")
            lines.append(f"    summary keys: {', '.join(r['summary_keys']) or '(none)'}")
            for w in r["warnings"]:
                lines.append(f"    warning: {w}")
        if u.get("attempts", 1) > 1:
            lines.append(
                f"  attempts: {u['attempts']} (the step went back; the last attempt is kept "
                "for the steps they share)"
            )
        if u.get("ignored_count"):
            shown = u.get("ignored", [])
            lines.append(
                f"  ignored lines: {u['ignored_count']}"
                + (f" (first {len(shown)}):" if shown else " (their text is not recorded)")
            )
            for ig in shown:
                lines.append(f"    line {ig['line']}: {ig['text']}")
        sug = u.get("pattern_suggestion")
        if sug:
            flag = "--from textlog " if sug["needs_from"] else ""
            keys = ", ".join(f"{k} ({n})" for k, n in sug["keys"].items())
            lines.append(
                f"  suggested: expbook import {_q(u['path'])} {flag}--pattern {_q(sug['pattern'])}"
            )
            lines.append(f"    from the line: {sug['from_line']}")
            lines.append(f"    it reads: {keys or 'summary/config values only'}")
    if not report["units"]:
        lines.append("nothing to import")
    if report["skipped"]:
        lines.append("")
        lines.append(f"skipped files: {len(report['skipped'])}")
        for s in report["skipped"]:
            lines.append(f"  {s['path']}: {s['reason']}")
    return lines
