"""The ``--pattern`` language: read log lines that inference cannot.

A pattern is literal text with ``{fields}``; it is searched for anywhere in each line (a
timestamp or prefix before it does not matter). Lines it does not match are skipped and counted.

Grammar::

    pattern   := alternative ( " || " alternative )*     # first alternative that matches wins
    alternative := ( literal | whitespace | field )+
    field     := "{" [ name ] [ ":" type ] "}"
    name      := letters, digits, "_", ".", "/", "-"   ("_" or empty: an ignored field)
    type      := num (default) | int | str | skip | summary | config
    "{{" and "}}" are literal braces.

* literal text matches itself; any run of whitespace matches one or more whitespace
  characters, and a field may be preceded by any amount of whitespace;
* ``{name}`` / ``{name:num}``: a number (``1``, ``-0.5``, ``3e-4``, ``nan``, ``inf``; ``-`` is a
  missing value) recorded as a point of series ``name``; ``{name:int}`` the same, integers only;
* ``{step}``, ``{global_step}``, ``{iter}``, ``{iteration}``, ``{epoch}``: the step counter (step
  and iteration names win over epoch; an epoch next to a step is also kept as series
  ``epoch``). Without a counter field, the step is the index of the matching line (from 0);
* ``{name:str}``: one non-blank word; it prefixes the line's other keys (``{split:str} loss
  {loss}`` on ``val loss 0.3`` gives ``val/loss``);
* ``{_}``, ``{:skip}``, ``{name:skip}``: anything (non-greedy), ignored;
* ``{name:summary}``: a number (or word) stored as summary value ``name`` (last match wins);
* ``{name:config}``: a number or word stored as config ``name`` (first match wins).

Examples::

    "step {step:int} loss {loss} acc {acc}"
    "[{_}] epoch {epoch}/{_} train_loss={loss} val_loss={val_loss}"
    "{split:str} | iter {iter} | loss {loss} || best acc {best_acc:summary}"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import common
from .model import ParseError

COUNTERS_FINE = ("step", "global_step", "iter", "iteration")
COUNTERS_EPOCH = ("epoch",)
IGNORED_MAX = 20  # unmatched lines kept for ``import --explain``
TYPES = ("num", "int", "float", "str", "skip", "summary", "config")
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?)|-"
_INT = r"[-+]?\d+"
_FIELD_RE = re.compile(r"\{([A-Za-z0-9_./\-]*)(?::([A-Za-z]*))?\}")
_NAME_OK = re.compile(r"^[A-Za-z_][\w./\-]*$")


@dataclass
class Alternative:
    regex: re.Pattern[str]
    fields: list[tuple[str, str, str]]  # (group name, field name, type)
    step_group: str | None = None
    epoch_group: str | None = None
    prefix_group: str | None = None
    # literal text the line must hold (ASCII, case-folded): lines without it are not searched,
    # so a long line that cannot match costs one scan per literal, whatever ``{_}`` allows
    needles: tuple[str, ...] = ()


@dataclass
class CompiledPattern:
    source: str
    alternatives: list[Alternative] = field(default_factory=list)


def compile_pattern(spec: str) -> CompiledPattern:
    """Compile a pattern; a bad pattern raises ParseError with a one-line reason."""
    if not spec or not spec.strip():
        raise ParseError("empty --pattern")
    out = CompiledPattern(spec)
    for alt in spec.split(" || "):
        out.alternatives.append(_compile_alt(alt.strip(), spec))
    return out


def _compile_alt(alt: str, whole: str) -> Alternative:
    if not alt:
        raise ParseError(f"empty alternative in --pattern {whole!r}")
    rx: list[str] = []
    fields: list[tuple[str, str, str]] = []
    counters: dict[str, str] = {}
    prefix_group: str | None = None
    needles: list[str] = []
    lit: list[str] = []
    i = 0
    n = len(alt)
    gi = 0
    while i < n:
        c = alt[i]
        if alt.startswith("{{", i):
            rx.append(re.escape("{"))
            i += 2
            continue
        if alt.startswith("}}", i):
            rx.append(re.escape("}"))
            i += 2
            continue
        if c == "{":
            m = _FIELD_RE.match(alt, i)
            if not m:
                raise ParseError(f"bad field at column {i + 1} of --pattern {whole!r}")
            name, typ = m.group(1), (m.group(2) or "num").lower()
            if typ not in TYPES:
                raise ParseError(
                    f"unknown field type {typ!r} in --pattern (use one of {', '.join(TYPES)})"
                )
            if name and name != "_" and not _NAME_OK.match(name):
                raise ParseError(f"bad field name {name!r} in --pattern")
            i = m.end()
            # a field after whitespace needs no \s* of its own: two quantifiers over the same
            # spaces would make a failing search quadratic in a run of spaces
            ws = "" if not rx or rx[-1] in (r"\s+", r".*?") else r"\s*"
            if typ == "skip" or not name or name == "_":
                if rx:  # a leading skip adds nothing to a search
                    rx.append(r".*?")
                continue
            g = f"f{gi}"
            gi += 1
            if typ == "str":
                rx.append(rf"{ws}(?P<{g}>\S+?)")
                if prefix_group is None:
                    prefix_group = g
                continue
            if typ in ("summary", "config"):
                rx.append(rf"{ws}(?P<{g}>{_NUM}|\S+?)(?=\s|$|[,;|)\]])")
            elif typ == "int":
                rx.append(rf"{ws}(?P<{g}>{_INT})")
            else:
                rx.append(rf"{ws}(?P<{g}>{_NUM})")
            low = name.lower()
            if typ in ("num", "int", "float") and (low in COUNTERS_FINE or low in COUNTERS_EPOCH):
                counters.setdefault(low, g)
                fields.append((g, low, "counter"))
            else:
                fields.append((g, name, typ))
            continue
        if c == "}":
            raise ParseError(f"unmatched '}}' at column {i + 1} of --pattern {whole!r}")
        if c.isspace():
            j = i
            while j < n and alt[j].isspace():
                j += 1
            if not rx or rx[-1] != r"\s+":
                rx.append(r"\s+")
            i = j
            continue
        rx.append(re.escape(c))
        lit.append(c)
        i += 1
        if i >= n or alt[i] in "{} \t" or alt[i].isspace():
            needles.append("".join(lit))
            lit.clear()
    if not fields and prefix_group is None:
        raise ParseError(f"--pattern {whole!r} has no fields to record")
    try:
        regex = re.compile("".join(rx), re.IGNORECASE)
    except re.error as e:  # pragma: no cover - escaped input should always compile
        raise ParseError(f"bad --pattern: {e}") from None
    step_group = next((counters[c] for c in COUNTERS_FINE if c in counters), None)
    epoch_group = counters.get("epoch")
    if step_group is None:
        step_group = epoch_group
        epoch_group = None
    needle_set = tuple(dict.fromkeys(x.casefold() for x in needles if x.isascii()))
    return Alternative(regex, fields, step_group, epoch_group, prefix_group, needle_set)


def parse_text(text: str, spec: str) -> Any:
    """Apply a pattern to every line; returns a :class:`textlog.LogResult`."""
    from .textlog import LogResult

    cp = compile_pattern(spec)
    res = LogResult()
    series: dict[str, list[tuple[int, float, float | None]]] = {}
    implicit = [0] * len(cp.alternatives)
    lines = text.splitlines()
    res.n_lines = len(lines)
    res.step_axis = _axis_text(cp)
    for ln, line in enumerate(lines, 1):
        if not line.strip():
            continue
        ai = 0
        low = line.casefold()
        m = None
        for ai, alt in enumerate(cp.alternatives):  # noqa: B007 - ai is used after the loop
            if all(nd in low for nd in alt.needles):
                m = alt.regex.search(line)
                if m:
                    break
        else:
            _ignore(res, ln, line)
            continue
        gd = m.groupdict()
        if alt.step_group is not None:
            try:
                step = int(float(gd[alt.step_group]))
            except (TypeError, ValueError, OverflowError):  # OverflowError: 1e999
                step = None
            if step is None or not -(2**63) <= step < 2**63:  # steps are int64
                _ignore(res, ln, line)
                continue
        else:
            step = implicit[ai]
            implicit[ai] += 1
        prefix = ""
        if alt.prefix_group is not None and gd.get(alt.prefix_group):
            prefix = gd[alt.prefix_group] + "/"
        got = False
        for g, name, typ in alt.fields:
            tok = gd.get(g)
            if tok is None:
                continue
            if typ == "counter":
                if g == alt.epoch_group:
                    v = _to_float(tok)
                    if v is not None:
                        series.setdefault(prefix + "epoch", []).append((step, v, None))
                got = True
                continue
            if typ == "config":
                res.config.setdefault(name, common.coerce_value(tok))
                got = True
                continue
            if typ == "summary":
                val = common.coerce_value(tok)
                if val is not None:
                    res.summary[prefix + name] = val
                    got = True
                continue
            v = _to_float(tok)
            if v is None:
                continue  # '-' = missing
            series.setdefault(prefix + name, []).append((step, v, None))
            got = True
        if not got:
            _ignore(res, ln, line)
    res.series = series
    return res


def _ignore(res: Any, ln: int, line: str) -> None:
    """Count a line that gave nothing; keep the first ones for ``import --explain``."""
    res.skipped += 1
    if len(res.ignored) < IGNORED_MAX:
        t = line.strip()
        res.ignored.append((ln, t if len(t) <= 200 else t[:199] + "…"))


def _axis_text(cp: CompiledPattern) -> str:
    """The step of a pattern, for ``import --explain``: its counter fields, or the index of
    the matching line."""
    names: list[str] = []
    for alt in cp.alternatives:
        name = next((f for g, f, _ in alt.fields if g == alt.step_group), "")
        names.append(f"{{{name}}}" if name else "line index")
    uniq = list(dict.fromkeys(names))
    return f"{' / '.join(uniq)} (--pattern)"


def _to_float(tok: str) -> float | None:
    try:
        return float(tok)
    except ValueError:
        return None
