"""Text training logs: infer metrics, step counters, summaries and config from console output.

What a line can be (the first rule that applies wins):

* **blank** lines are ignored (not counted).
* **script source** printed at the top of a log (from a line such as ``import os`` in the
  first 200 lines to the next ``=====`` line, or to the end of the lines that read as code)
  is skipped: neither config nor metrics.
* **tracebacks** (``Traceback (most recent call last):`` up to and including the exception
  line) are skipped and mark the run ``failed`` (``killed`` for ``KeyboardInterrupt``).
* **warnings** (a word ``warning``/``warn``/``deprecated``) and decorative lines
  (``--- Training Complete ---``, ``=====``) are skipped, and so are Keras progress-bar
  redraws (`` 13/285 [>....] - ETA: 5s - loss: ...``; the epoch's final bar line counts).
* **checkpoint lines** ``saved best -> path`` / ``Saving checkpoint to path``: not metrics; they
  set summary ``checkpoint/<label>`` = path and ``checkpoint/<label>_step`` = the step at which
  it was saved (``<label>`` is the word after *saved* such as ``best``/``last``, else ``latest``).
* **parameter lines** ``NAME = value  # comment`` (one assignment per line; anywhere in the log
  for UPPER_CASE names, in the header for any name) become config ``NAME`` (case kept).
* **summary lines** start with *best*, *final*, *done*, *finished*, *summary*, *overall* or
  *results* (after log-level boilerplate). Their fields become summary values:
  ``Best Test F1 Score: 0.8816 at Epoch 187`` -> ``best_test_f1_score`` = 0.8816 and
  ``best_test_f1_score_epoch`` = 187 (``at step N`` -> ``<key>_step``);
  a label before the first field becomes a prefix made of its first word:
  ``Final Results - Test Loss: 0.21, Test Acc (non-diag): 0.91`` -> ``final/test_loss``,
  ``final/test_acc_non_diag``; ``done: iter=15000 total_elapsed=18199.8s`` -> ``done/iter``,
  ``done/total_elapsed``.
* **step lines** hold a counter: ``step 500/15000``, ``[step 500]``, ``Epoch: 050``,
  ``Epoch 3/10``, ``iter 10:``, ``iteration 10/ 1000``, ``epoch=3``, ``| epoch 001 |``,
  ``step:10/3000``, llm.c's ``s:120`` (at the start of a line), ``[50/500]`` (a bracketed
  progress counter: ``Epoch [1][50/500]``), ``Epoch [3/10], Step [100/600]``. Counter words:
  step, steps, global_step, iter, iteration, it, num_updates (fairseq), epoch, ep, batch.
  The counter is never a metric. When a line has several, the finest wins (step/iter >
  epoch > batch); the epoch is then also kept as a series ``epoch``.
  If a step counter has a total (``Step [100/600]``) and the line also has an epoch, the step
  is made global: ``(epoch - 1) * total + step`` (``epoch * total + step`` when epochs count
  from 0). ``Epoch(val) [3][...]`` results (mmengine) are put at the end of epoch 3 on that
  axis (``3 * total``).
  Every ``key=value``, ``key: value`` and ``Key Name: value`` field becomes a point of series
  ``norm_key(key)`` at that step; on step lines also ``key value`` pairs after a delimiter
  (nanoGPT ``iter 100: loss 2.31, time 35.2ms``, fairseq ``| loss 4.2 | ppl 18.4``).
  **Sections** (named as written): a ``|`` segment of its own that starts with
  train/val/valid/eval/test (``| valid on 'valid' subset |``, ``| INFO | train_inner |``)
  or a line that starts with such a word before its counter (``Evaluation Epoch 3 - ...``,
  but not *train*) prefixes every key of the line: ``valid/loss``, ``train_inner/loss``,
  ``evaluation/average_loss``. A ``|`` segment that starts with such a word (``| Val Loss:
  0.3``) opens a section to the next one; its keys are prefixed only when the line prints a
  label twice (``Train Loss: a | Token Acc: b | Val Loss: c | Token Acc: d`` ->
  ``train/loss``, ``train/token_acc``, ``val/loss``, ``val/token_acc``; without a repeat
  ``Train Loss`` stays ``train_loss``). A ``key value`` phrase that starts with such a word is
  named the same way (nanoGPT ``train loss 2.0`` -> ``train/loss``). A key that has its own
  prefix (``pascal_voc/mAP``) keeps it. A key still printed twice in one line is numbered
  (``loss``, ``loss_2``): no value overwrites another.
* **metric lines without a counter** get the step of the step line above them when only
  blank lines, other such lines, checkpoint lines and progress bars lie between (``Epoch
  3/10`` then ``- 2s - loss: ... - val_loss: ...``). Elsewhere they are not metrics (library
  chatter such as ``Added key: store_based_barrier_key:1 to store for rank: 0``; a key phrase
  that starts with a word like *to*/*for*/*of* marks such a sentence), except after the last
  step line, where they are final values: summary (``Test accuracy: 0.91``); a shape seen only
  after the last step line, not right under it, is such a final value too.
* **header lines** (before the first step line) become config: ``key=value`` pairs (also
  ``Namespace(lr=0.1, ...)``), ``key: value`` with a one-word key and a one-token value (a
  settings block ``  batch_size: 128`` after log prefixes), Megatron's argument dump
  (``  lr ........ 1e-05``), the options of a command line (``python train.py --lr=5e-4
  --batch_size 128 --fp16``), and ``cmd: ...`` (kept whole as config ``cmd``, its options read
  too). A value must be a literal (number, bool, None, quoted string, bracketed literal, one
  bare word): ``code = f.read()`` or ``GradScaler(enabled=(dtype`` is code, not config;
  comments (``# device = 'cpu'``) are not config. Other header lines are skipped.
* **appended restarts**: when the main step counter goes back (``Epoch 1..5``, then
  ``1..3``, then ``1..10``), each run of it is an attempt; where attempts overlap, the last one
  wins (earlier points at or after a later attempt's first step are dropped) and the run gets
  a warning ``3 attempts in one log ...``. An inner counter that goes back when an outer one
  (another kind of step line) advances, or an ``N/M`` counter that wraps from near its top,
  is not a restart.
* everything else is skipped; ``skipped_lines`` counts every non-blank line that gave nothing.

For ``expbook import --explain`` the result also tells the main step axis as written
(``step_axis``: ``iter N``, ``epoch (Epoch N/M)``), the first 20 ignored lines with their
numbers (``ignored``) and the number of ``attempts``.

Keys: series and summary keys are normalised by :func:`common.norm_key` (lower snake_case,
``Test Acc (non-diag)`` -> ``test_acc_non_diag``, ``/`` and ``.`` kept). Config keys are kept
as written. Values: ``nan``/``inf``/``-inf`` are floats; ``-``, ``None``, ``n/a`` are missing
(no point); units are dropped (``elapsed=136.7s`` -> 136.7, ``12ms`` -> 12), except the
magnitude suffixes k/K/M/B/G/T (``25.9M`` -> 25900000). A number no float64 can hold
(``1e999``, a 400-digit integer) is left out, with a warning naming the first line. ``a/b``
after a non-counter field (``Accuracy: 9893/10000``) is the ratio a/b. Lines starting with an
ISO timestamp (``2024-01-02 12:00:00,123 ...``) give the points' wall time (local time), and the
run's ``created_at``/``finished_at`` (first and last of them).

A log without any counter gives series only for metric lines whose shape repeats (the step is
the repetition index, from 0); everything else of such a log is treated as header.

With ``--pattern`` (:mod:`expbook.importers.pattern`) the inference is replaced by the pattern.

Speed: lines are grouped by their shape (the line with its digits removed); each shape is
analysed once and the numbers of all its lines are extracted in bulk (string replacement plus
one numpy parse), so the per-line Python work is a few dictionary operations.
"""

from __future__ import annotations

import ast
import calendar
import gc
import os
import re
import shlex
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import common
from .common import norm_key
from .model import ImportedRun, ParseError, PointArrays

FORMAT = "textlog"
LOG_EXTS = frozenset({".log", ".txt", ".out", ".err", ".stdout", ".stderr", ".console"})

# ---------------------------------------------------------------------------------------------
# regular expressions (compiled once)

NUM_RE = re.compile(
    r"(?<![\w.])([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
    r"|[-+]?(?:[Nn]a[Nn]|NAN|[Ii]nfinity|INFINITY|[Ii]nf|INF)(?!\w))"
)
_DEL_DIGITS = str.maketrans("", "", "0123456789")
TS_RE = re.compile(r"\s*\[?(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:[.,](\d{1,6}))?\]?")
BOILER_RE = re.compile(
    r"^(?:\s*(?:\[[^\]]{0,60}\]|\((?:INFO|DEBUG)\)|"
    r"(?:INFO|DEBUG|NOTICE|TRACE|CRITICAL|ERROR)\b(?::[\w.]*(?=:))*:?|[\w.\-]{1,120}\.py:\d+\]?|[-|>:]+)\s*)*"
)
# Keras' progress bar before the end of an epoch: `` 13/285 [>....] - ETA: 5s - loss: 3.96``
PROGRESS_RE = re.compile(r"\s*\d+/\d+ \[[=>.]*\] - ETA")
DECOR_RE = re.compile(r"^\s*(?:[-=*#~_]{3,}|[-=*#~_]\s[-=*#~_]\s)")
# Every pattern here runs in time linear in the line (a log may hold one 10 MB line): no
# unanchored search may rescan the rest of the line from each start position, and no two
# adjacent quantifiers may share characters. tests/importers/test_hostile.py holds the lines
# that once made them quadratic.
WARN_RE = re.compile(r"(?i)(?<![\w])(?:warn(?:ing)?s?|deprecat\w*)(?![\w])|(?<=\w)Warning\b")
CKPT_WORD_RE = re.compile(r"(?i)(?<![\w])(?:saved|saving)\b")
# after the word: the label, then the path (matched from the word's end, see _ckpt)
CKPT_RE = re.compile(r"(?i)([^>]*?)(?:->|=>|\bto\b|:)\s*['\"]?([^\s'\"]+)")
CKPT_EXTS = frozenset(
    [
        ".pt",
        ".pth",
        ".ckpt",
        ".bin",
        ".safetensors",
        ".h5",
        ".hdf5",
        ".pkl",
        ".keras",
        ".msgpack",
        ".npz",
        ".joblib",
        ".onnx",
    ]
)
CKPT_WORDS = frozenset({"checkpoint", "ckpt", "model", "weights", "best", "last", "state"})
CKPT_NOISE = frozenset({"checkpoint", "ckpt", "model", "weights", "the", "a", "new", "state"})
ASSIGN_RE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s+=\s+(.*)$")  # the value is stripped in code
ASSIGN_UPPER_RE = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*(.*)$")
COMMENT_RE = re.compile(r"\s#")
KV_RE = re.compile(
    r"(?<![\w.\-/])([A-Za-z_][\w.\-]*)\s?=\s?"
    r"(\"[^\"]*\"|'[^']*'|\[[^\]]{0,200}\]|\([^)]{0,200}\)|[^\s,;|)\]]+)"
)
KEYCOLON_RE = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*:\s+(\S+)\s*$")
KEYCOLON_WORDS_RE = re.compile(r"^([A-Za-z][\w\-]*(?: [A-Za-z(][\w()\-]*){1,4}) +: +(\S+)$")
PPRINT_RE = re.compile(r"""^\{?\s*['"]([A-Za-z_][\w.\-]*)['"]:\s*(.*?),?\s*\}?$""")
MODULE_RE = re.compile(r"^\((?:\w+|\d+)\): [A-Z]\w*\(")
DOTS_RE = re.compile(r"^(?:[\w.\-]+:\s)?\s*([A-Za-z_]\w*) \.{3,} (\S.*?)\s*$")
THOUSANDS_RE = re.compile(r"(?<![\w,.\[(])\d{1,3}(?:,\d{3})+(?![\w,.])")
ARG_NAME_RE = re.compile(r"^[A-Za-z_][\w.]*$")
BARE_VALUE_RE = re.compile(r"^[\w.\-+/:%@~,]+$")
# the start of a script's source printed at the top of a log (modded-nanogpt, ...)
CODE_SCAN = 200  # the source must start in the first CODE_SCAN lines
CODE_WIDTH = 200
CODE_MAX = 20000  # lines from the start of the source to the ``=====`` line after it
CODE_RE = re.compile(
    r"^(?:import\s+\w|from\s+[\w.]+\s+import\s|def\s+\w+\s*\(|class\s+\w+\s*[(:]"
    r"|if\s+__name__\s*==|with\s+\S.*:\s*$|for\s+\S.*\s+in\s+\S.*:\s*$|try:\s*$)"
)
# a line that continues source code: a call statement, an open bracket or a block at its end
CODE_LIKE_RE = re.compile(
    r"^(?:assert|raise|del|global|return)\b|^[A-Za-z_][\w.]*\("
    r"|^\w[\w.]*(?:\s*,\s*\w[\w.]*)+\s*=|[:,(\[{\\]\s*$|^\s*(?:\"{3}|'{3})"
)
CMD_RE = re.compile(r"(?i)(?<![\w])(?:cmd|command|argv)\s*[:=]\s*(.+)$")
SUMMARY_WORDS = frozenset({"best", "final", "done", "finished", "summary", "overall", "results"})
FIRST_WORD_RE = re.compile(r"(?:[^\w\s]{1,4}\s*)?([A-Za-z]+)(?![\w])")

AT_RE = re.compile(r"(?i)(?:^|\s)(?:at|@)\s+(epoch|step|iter(?:ation)?)\s*(?:[:=#]\s*)?$")
BARE_CTR_RE = re.compile(
    r"(?i)(?:^|[^\w])(global[_ ]step|step|iter|iteration|epoch|batch)(?:\((train|val|test)\))?"
    r"\s*(?:[\[(#:=]\s*){0,2}$"
)
# the key is group 1: the trailing run of key characters, from its first letter
EQ_KEY_RE = re.compile(r"(?<![\w.\-/@])[\d.\-/@]*([A-Za-z_][\w.\-/@]*)\s*$")
COLON_TIGHT_KEY_RE = re.compile(r"(?:^|[\s,;|\[({])[\"']?([A-Za-z_][\w/.]*)[\"']?$")
PHRASE_SPLIT_RE = re.compile(r"^(.*(?:[,;|\t:=\[\]{}>]| - |  ))?(.*)$", re.S)
PHRASE_OK_RE = re.compile(r"^[A-Za-z_][\w()\-./%@]*(?: [\w()\-./%@]+){0,5}$")
AFTER_OK_RE = re.compile(
    r"^(?:[A-Za-z%µ]{0,3}|[A-Za-z]{1,3}/[A-Za-z]{1,3})"
    r"(?:\s*$|\s*[,;|)\](\[{}/<]|\s+-\s|\s+(?:at|@)\s|\s+[A-Za-z_][\w ()\-./%@]{0,60}?\s*[:=])"
)
# after ``key=value`` (explicit): only a glued word longer than a unit is refused
AFTER_EQ_RE = re.compile(r"^(?:[A-Za-z%µ]{0,3}|[A-Za-z]{1,3}/[A-Za-z]{1,3})(?![\w.])")
UNIT_RE = re.compile(r"^([A-Za-z%µ]{0,3})")
MAG = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}

# a key written before its value with a space, after a delimiter or the line start:
# ``: loss 2.31``, ``, time 35.2ms``, ``| ppl 5.6 |``, ``: train loss 2.0`` (searched in the
# last SPACE_TAIL characters of the text before the number only)
SPACE_TAIL = 64
SPACE_KEY_RE = re.compile(
    r"(?:^|[,;|:\t\]]|\s-\s|  )\s*([A-Za-z][\w/.]*(?: [A-Za-z][A-Za-z_]*){0,2}) +$"
)
SPACE_AFTER_RE = re.compile(
    r"^(?:[A-Za-z%µ]{0,3}|[A-Za-z]{1,3}/[A-Za-z]{1,3})"
    r"(?:\s*$|\s*[,;|\t]|\s+-\s|\s+[A-Za-z][\w/.\-]*(?: [A-Za-z][A-Za-z_]*){0,2} +$"
    r"|\s+[A-Za-z_][\w ()\-./%@]{0,60}?\s*[:=])"
)
_PROSE = (
    "a an the of to for in on at by with from and or is are was were be been took after "
    "before per into than this that it its as"
)
PROSE_WORDS = frozenset(_PROSE.split())
# day and month names: ``Mon Jul  9 21:06:19 2018`` is a date, not a key ``mon_jul`` of 9
_DATES = "mon tue wed thu fri sat sun jan feb mar apr may jun jul aug sep oct nov dec"
DATE_WORDS = frozenset(_DATES.split())
# train/val sections: a segment of a line (between ``|``) that starts with one of these words
_SPLITS = "train training val valid validation dev eval evaluation test testing"
SPLIT_WORDS = frozenset(_SPLITS.split())
SEGMENT_WORD_RE = re.compile(r"^\s*(?:[^\w\s]{1,3}\s*)?([A-Za-z][A-Za-z0-9_]*)(?:\s|:|$)")
# ``Evaluation Epoch 3 - ...``: a line of another split than training
LINE_SECTION_RE = re.compile(
    r"(?i)^(?:\s*(?:INFO|DEBUG|WARNING|ERROR|CRITICAL):[\w.]*:)?\s*([A-Za-z]+)\s+"
    r"(?:epoch|step|iter|iteration)\b"
)
KEY_WORD_RE = re.compile(r"^[a-z]+")
AXIS_WORD_RE = re.compile(r"[A-Za-z_]*(?:\(\w+\))?[^\w\s]{0,2}\s*\W?$")

STEP_CTRS = ("step", "global_step", "iter", "iteration", "it", "train_step", "steps", "num_updates")
EPOCH_CTRS = ("epoch", "ep", "train_epoch")
BATCH_CTRS = ("batch",)
COUNTER_KEYS = frozenset(STEP_CTRS + EPOCH_CTRS + BATCH_CTRS)

# line kinds
BLANK, SKIP, WARN, TRACE, CKPT, SUMMARY, CONFIG, STEP, CARRY, PROGRESS = range(10)


@dataclass(eq=False)
class Field:
    slot: int
    key: str
    mult: float = 1.0
    denom: int = -1  # slot of a denominator (``a/b``) or -1
    at_for: int = -1  # for "at epoch N": index of the field it belongs to
    thou: tuple[int, ...] = ()  # slots of thousands groups (``115,214``: the slot of 214)


@dataclass(eq=False)
class Spec:
    """The analysis of one line shape."""

    kind: int
    lits: tuple[str, ...] = ()
    ts_w: int = 0  # width of a leading timestamp (0: none)
    ts_date: int = -1  # offset of the date in the line
    ts_frac: tuple[int, int] | None = None
    step: int = -1  # slot of the step counter
    step_total: int = -1
    epoch: int = -1  # slot of an epoch counter used for a global step
    fields: list[Field] = field(default_factory=list)
    ats: list[tuple[int, int, str]] = field(default_factory=list)  # (slot, field idx, word)
    label: str = ""  # summary prefix ("final")
    safe: bool = True  # bulk extraction allowed
    middle: tuple[str, ...] = ()  # middle literals, longest first
    axis: str = ""  # the step counter as written ("epoch (Epoch N/M)"), for step lines
    epoch_end: bool = False  # ``Epoch(val) [3]``: the step is the end of that epoch
    progress: tuple[int, int] | None = None  # slots of ``N/M`` whose rows N < M are skipped

    @property
    def nslots(self) -> int:
        return len(self.lits) - 1


_TAIL = Spec(CARRY)  # marks a metric line after the last step line (summary values)
_NOTHING = Spec(SKIP)  # marks a line that gives nothing (an evaluation's progress row)


def _phrase_key(before: str) -> tuple[str, str] | None:
    """The key written just before a value (``..., Train Loss: `` -> ("Train Loss", label))."""
    t = before.rstrip()
    if not t:
        return None
    if t.endswith("="):
        m = EQ_KEY_RE.search(t[:-1])
        if not m:
            return None
        return m.group(1), t[: m.start(1)]
    if not t.endswith(":"):
        return None
    if t.endswith("::"):
        return None
    core = t[:-1]
    if t == before:  # "loss:0.5": no space after the colon -> one plain word only
        m = COLON_TIGHT_KEY_RE.search(core)
        if not m:
            return None
        return m.group(1), core[: m.start(1)]
    m = PHRASE_SPLIT_RE.match(core)
    assert m is not None
    label = m.group(1) or ""
    phrase = m.group(2).strip()
    if len(phrase) > 2 and phrase[0] == phrase[-1] and phrase[0] in "'\"":
        phrase = phrase[1:-1]
    if not phrase or not PHRASE_OK_RE.match(phrase):
        return None
    return phrase, label


def _space_key(before: str, after: str) -> str | None:
    """The key of a ``key value`` pair (``loss 2.31``, ``train loss 2.0``), or None."""
    if not before.endswith(" "):
        return None
    if before[:1].isalpha():
        # ``13.58K ppl 2122.63``, ``0.41s wps 17.3``: the first word is the unit of the
        # number before it, not part of this key
        cut = before.find(" ")
        if cut < 0 or cut > 3:
            return None
        before = before[cut:]
    m = SPACE_KEY_RE.search(before[-SPACE_TAIL:])
    if len(after) > SPACE_TAIL:
        after = after[:SPACE_TAIL] + "\0"  # "\0" ends no match: an end of line stays one
    if m is None or not SPACE_AFTER_RE.match(after):
        return None
    words = m.group(1).lower().split()
    if any(w in PROSE_WORDS for w in words) or DATE_WORDS.issuperset(words):
        return None  # a sentence, or a date (``Mon Jul  9 21:06:19 2018``)
    key = norm_key(" ".join(words))
    return (_split_key(key) or key) if len(words) > 1 else key


def _field(slot: int, key: str, after: str) -> Field:
    um = UNIT_RE.match(after)
    unit = um.group(1) if um else ""
    return Field(slot, key, MAG.get(unit, 1.0) if len(unit) == 1 else 1.0)


def _name_fields(fields: list[Field], sections: list[str], forced: list[bool]) -> None:
    """Keys in a train/val section of a line get the section as a prefix, as written: always
    for a section named by a tag segment or the line's start (``| valid |``, ``Evaluation
    Epoch 3``), and for ``|`` sections when the line prints a label twice (``Train Loss: a |
    Token Acc: b | Val Loss: c | Token Acc: d`` -> ``train/loss``, ``train/token_acc``,
    ``val/loss``, ``val/token_acc``). A key still printed twice gets a number (``loss``,
    ``loss_2``): no value overwrites another."""
    repeated = len({f.key for f in fields}) < len(fields)
    seen: dict[str, int] = {}
    keep: list[Field] = []
    for f, sec, frc in zip(fields, sections, forced):
        if sec and (frc or repeated) and "/" not in f.key:  # ``pascal_voc/mAP`` stays
            f.key = _split_key(f.key) or f"{sec}/{f.key}"
        k = seen.get(f.key, 0) + 1
        seen[f.key] = k
        if k > MAX_REPEATS:
            continue  # a line that repeats one key thousands of times is not a report
        if k > 1:
            f.key = f"{f.key}_{k}"
        keep.append(f)
    fields[:] = keep


def _section_word(seg: str, tag: bool) -> str:
    """The train/val word a ``|`` segment starts with (``Val Loss: ...`` -> ``val``), or a
    whole tag segment's word (``train_inner``); "" if none."""
    sm = SEGMENT_WORD_RE.match(seg)
    if not sm:
        return ""
    word = sm.group(1).lower()
    km = KEY_WORD_RE.match(word)
    alpha = km.group(0) if km else ""
    if alpha not in SPLIT_WORDS:
        return ""
    if word == alpha or (tag and word[len(alpha)] == "_"):
        return word
    return ""


def _split_key(key: str) -> str:
    """``train_loss`` -> ``train/loss``, ``valid loss`` -> ``valid/loss``; "" when the key does
    not start with a train/val/eval/test word followed by more."""
    km = KEY_WORD_RE.match(key)
    if not km or km.group(0) not in SPLIT_WORDS:
        return ""
    rest = key[km.end() :]
    if len(rest) < 2 or rest[0] not in "_/ ":
        return ""
    return f"{km.group(0)}/{norm_key(rest[1:])}"


def _axis_text(
    spec: Spec, lits: tuple[str, ...], totals: dict[int, int], counters: list[tuple[int, str]]
) -> str:
    """How the step counter is written, for ``import --explain``: ``iter N``,
    ``epoch (Epoch N/M)``, ``step (s:N)``."""

    def written(slot: int) -> str:
        m = AXIS_WORD_RE.search(lits[slot][-40:])
        tail = m.group(0) if m else ""
        w = " ".join(tail.split()).lstrip(")]")
        w += (" " if w and tail[-1:].isspace() else "") + "N"
        if slot in totals:
            t = totals[slot]
            w += "/M" + (lits[t + 1][:1] if lits[t + 1][:1] in ")]" else "")
        elif lits[slot + 1][:1] in ")]|" and ("[" in w or "(" in w or "|" in w):
            w += lits[slot + 1][:1]
        return w

    names = {slot: name for slot, name in counters}
    canon = names.get(spec.step, "step")
    if canon in EPOCH_CTRS:
        canon = "epoch"
    text = written(spec.step)
    if spec.epoch >= 0:
        canon = "epoch x M + step"
        text = written(spec.epoch) + " " + text
    if text.startswith(canon + " N"):
        return text
    return f"{canon} ({text})"


def _strip_boiler(text: str) -> str:
    m = BOILER_RE.match(text)
    return text[m.end() :] if m else text


def analyze(line: str) -> Spec:
    """Classify one line and, for metric lines, find the role of each number in it."""
    stripped = line.strip()
    if not stripped:
        return Spec(BLANK)
    if stripped.startswith("Traceback (most recent call last)"):
        return Spec(TRACE)
    ts_w = 0
    ts_date = -1
    ts_frac = None
    m = TS_RE.match(line)
    if m:
        ts_w = m.end()
        ts_date = m.start(1)
        if m.group(3):
            ts_frac = (m.start(3), m.end(3))
    rest = line[ts_w:]
    body = _strip_boiler(rest)
    if DECOR_RE.match(body):
        return Spec(SKIP)
    if PROGRESS_RE.match(body):
        return Spec(PROGRESS)  # a progress bar redrawn before its final line
    if WARN_RE.search(rest):
        return Spec(WARN)
    if ("sav" in body or "Sav" in body or "SAV" in body) and _ckpt(body) is not None:
        return Spec(CKPT)
    if ASSIGN_UPPER_RE.match(rest) and rest.count("=") == 1:
        return Spec(CONFIG)
    fw = FIRST_WORD_RE.match(body)
    is_summary = bool(fw) and fw.group(1).lower() in SUMMARY_WORDS  # type: ignore[union-attr]

    parts = NUM_RE.split(rest)
    lits = tuple(parts[0::2])
    nums = parts[1::2]
    n = len(nums)
    spec = Spec(CARRY, lits=lits, ts_w=ts_w, ts_date=ts_date, ts_frac=ts_frac)
    if n == 0:
        spec.kind = SUMMARY if is_summary else SKIP
        return spec

    counters: list[tuple[int, str]] = []  # (slot, normalized counter name)
    totals: dict[int, int] = {}
    fields: list[Field] = []
    spaced: set[int] = set()  # indices of fields keyed by a ``key value`` pair
    sections: list[str] = []  # per field: its train/val section ("" if none)
    section = ""  # set by a ``|`` segment that starts with train/val/...: ``| Val Loss: ...``
    forced = ""  # set by a segment of its own (``| valid |``) or the line's start
    forced_at: list[bool] = []  # per field: named by a ``forced`` section
    if "|" not in rest and n:
        lm = LINE_SECTION_RE.match(lits[0]) or LINE_SECTION_RE.match(_strip_boiler(lits[0]))
        word = lm.group(1).lower() if lm else ""
        if word in SPLIT_WORDS and not word.startswith("train"):
            forced = word
    first_label: str | None = None
    prose = False
    prev_role: tuple[str, int] | None = None  # ("ctr"|"field", index)
    for i in range(n):
        before, after = lits[i], lits[i + 1]
        if "|" in before or (i == 0 and "|" in rest):
            segs = before.split("|")
            if i == 0:
                segs[0] = _strip_boiler(segs[0])
            starts = segs if i == 0 else segs[1:]  # the segments that start here
            for k, seg in enumerate(starts):
                whole = k < len(starts) - 1  # a segment without a number: a tag
                word = _section_word(seg, whole)
                if word:
                    section = word
                    if whole:
                        forced = word
        role: tuple[str, int] | None = None
        if (
            before == ","
            and prev_role is not None
            and prev_role[0] == "field"
            and len(nums[i]) == 3
            and nums[i].isdigit()
            and len(nums[i - 1]) <= 3
            and nums[i - 1].isdigit()
            and len(fields[prev_role[1]].thou) < MAX_THOUSANDS
        ):
            f = fields[prev_role[1]]  # ``Total params: 115,214``: a thousands separator
            f.thou = (*f.thou, i)
            continue
        if i > 0 and prev_role is not None and before.strip() == "/" and before[:1] == "/":
            if prev_role[0] == "ctr":
                totals[counters[prev_role[1]][0]] = i
            else:
                fields[prev_role[1]].denom = i
            prev_role = None
            continue
        am = AT_RE.search(before)
        if am and fields and i > 0:
            word = am.group(1).lower()
            word = "iter" if word.startswith("iter") else word
            spec.ats.append((i, len(fields) - 1, word))
            prev_role = None
            continue
        if am and not fields and i == n - 1 and not after.strip(" .:"):
            # prose that names a step (``resumed from latest.pt at step 47700``): no report
            prev_role = None
            continue
        integral = "." not in nums[i] and "e" not in nums[i].lower()
        bm = BARE_CTR_RE.search(before)
        pk = _phrase_key(before)
        if pk is None and before.endswith("[") and after.startswith("]"):
            pk = _phrase_key(before[:-1])  # a one-number list: ``LR: [0.001]``
            after = after[1:]
        if (
            (pk is not None or bm is None)
            and i + 2 < n
            and after
            and not after.strip()
            and lits[i + 2]
            and not lits[i + 2].strip()
        ):
            # ``bbox_mAP_copypaste: 0.036 0.109 0.012``: a list of numbers, no one value
            prev_role = None
            continue
        if pk is not None:
            if " " in pk[0] and pk[0].split(None, 1)[0].lower() in PROSE_WORDS:
                prose = True  # ``... to store for rank: 0``: a sentence, not a key
            key = norm_key(pk[0])
            ok_after = AFTER_EQ_RE if before.rstrip().endswith("=") else AFTER_OK_RE
            if not ok_after.match(after):
                prev_role = None
                continue
            if key == "s" and i == 0 and integral and _strip_boiler(before) == "s:":
                key = "step"  # llm.c: ``s:120 trl:3.21``
            if integral and key in COUNTER_KEYS:
                counters.append((i, key))
                role = ("ctr", len(counters) - 1)
            else:
                fields.append(_field(i, key, after))
                sections.append(forced or section)
                forced_at.append(bool(forced))
                role = ("field", len(fields) - 1)
            if first_label is None:
                first_label = "".join(p for j, p in enumerate(parts[: 2 * i]) if j % 2 == 0)
                first_label += pk[1]
        elif bm is not None and "." not in nums[i]:
            name = bm.group(1).lower().replace(" ", "_")
            counters.append((i, name))
            role = ("ctr", len(counters) - 1)
            tag = (bm.group(2) or "").lower()
            if tag in ("val", "test") and name == "epoch":
                spec.epoch_end = True  # mmengine ``Epoch(val) [3][2510/2510]``
        elif (
            integral
            and i + 2 <= n
            and before.rstrip().endswith("[")
            and lits[i + 1].strip() == "/"
            and lits[i + 2][:1] == "]"
        ):
            # ``[50/500]``: a progress counter (``Epoch [1][50/500]``, ``[10/100] loss: ...``)
            counters.append((i, "step"))
            role = ("ctr", len(counters) - 1)
        else:
            sk = _space_key(before, after)
            if sk is not None and integral and sk in COUNTER_KEYS:
                counters.append((i, sk))  # fairseq ``| num_updates 1101``
                role = ("ctr", len(counters) - 1)
            elif sk is not None:
                fields.append(_field(i, sk, after))
                sections.append(forced or section)
                forced_at.append(bool(forced))
                spaced.add(len(fields) - 1)
                role = ("field", len(fields) - 1)
        prev_role = role

    if spec.epoch_end:
        # the progress counter of an evaluation is not the step: the epoch is; its rows
        # before the last (``[50/2510]``) are progress, not results
        for slot, name in counters:
            if name not in EPOCH_CTRS and slot in totals:
                spec.progress = (slot, totals[slot])
        counters = [c for c in counters if c[1] in EPOCH_CTRS]
    if spaced and not counters:
        # ``key value`` pairs only on lines with a step counter (prose has many of them)
        keep = [j for j in range(len(fields)) if j not in spaced]
        fields = [fields[j] for j in keep]
        sections = [sections[j] for j in keep]
        forced_at = [forced_at[j] for j in keep]
    _name_fields(fields, sections, forced_at)
    if "dict for global step" in rest and EVAL_DICT_RE.search(rest):
        # TensorFlow Estimator's evaluation results: its bare ``loss`` is the evaluation's
        for f in fields:
            if "/" not in f.key and not _split_key(f.key):
                f.key = f"eval/{f.key}"

    if is_summary:
        spec.kind = SUMMARY
        # counters in a summary line are plain values (``done: iter=15000``)
        for slot, name in counters:
            fields.append(Field(slot, name))
        fields.sort(key=lambda f: f.slot)
        spec.fields = fields
        label = _strip_boiler(first_label or "")
        spec.label = common.prefix_from_label(label) if re.search(r"[A-Za-z]", label) else ""
        return spec

    spec.fields = fields
    if counters:
        spec.kind = STEP
        by_name = {name: slot for slot, name in reversed(counters)}
        step_slot = next((by_name[c] for c in STEP_CTRS if c in by_name), -1)
        epoch_slot = next((by_name[c] for c in EPOCH_CTRS if c in by_name), -1)
        batch_slot = next((by_name[c] for c in BATCH_CTRS if c in by_name), -1)
        if step_slot >= 0:
            spec.step = step_slot
            if epoch_slot >= 0:
                if step_slot in totals:
                    spec.epoch = epoch_slot
                    spec.step_total = totals[step_slot]
                spec.fields.append(Field(epoch_slot, "epoch"))
        elif epoch_slot >= 0:
            spec.step = epoch_slot
            if batch_slot >= 0:
                spec.fields.append(Field(batch_slot, "batch"))
        else:
            spec.step = batch_slot
        spec.axis = _axis_text(spec, lits, totals, counters)
    elif fields and not prose:
        spec.kind = CARRY
    else:
        spec.kind = SKIP
        return spec
    mids = lits[1:-1]
    spec.safe = all(_safe_literal(x) for x in mids)
    spec.middle = tuple(sorted(set(mids), key=len, reverse=True))
    return spec


_NUMCHARS = frozenset("0123456789.+-eE")


def _safe_literal(lit: str) -> bool:
    s = lit.strip()
    return not s or not set(s) <= _NUMCHARS


# ---------------------------------------------------------------------------------------------
# results


@dataclass
class LogResult:
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    # key -> points: PointArrays from inference, lists of (step, value, wall) from --pattern
    series: dict[str, Any] = field(default_factory=dict)
    skipped: int = 0
    status: str = "finished"
    warnings: list[str] = field(default_factory=list)
    n_lines: int = 0
    # for ``expbook import --explain``:
    # the step axis found, a short description ("iter N", "epoch (Epoch N/M)"; "" if none)
    step_axis: str = ""
    # (1-based line number, text) of the first IGNORED_MAX non-empty lines that made no
    # metric, summary or config value
    ignored: list[tuple[int, str]] = field(default_factory=list)
    # appended restarts: how many times the step axis started again (1: one attempt)
    attempts: int = 1


def _num(tok: str) -> float | int:
    """A number token as a summary value; ValueError for one too large for a float64."""
    v = common.parse_number(tok)
    if v is None:
        raise ValueError(tok)
    return v


STEP_LIMIT = 2.0**63  # steps are int64
IGNORED_MAX = 20
MAX_REPEATS = 100  # numbered copies of one key in one line (``loss``, ``loss_2``, ...)
MAX_THOUSANDS = 4  # thousands groups read after a number (``1,234,567,890,123``)
ARGV_MAX = 10_000  # longest command line read as options
MAX_RESTARTS = 20  # more restarts of the step counter: it is not a run-level counter


def _row(tokens: list[str], ovf: list[int]) -> list[float]:
    """Number tokens -> floats; the slots of tokens too large for a float64 (``1e999``, a
    400-digit integer: not numbers, unlike ``inf``) are NaN and listed in ``ovf``."""
    row = []
    for k, tok in enumerate(tokens):
        try:
            v = float(tok)
        except ValueError:
            v = np.nan
        if v in (np.inf, -np.inf) and tok.lstrip("+-").lower() not in ("inf", "infinity"):
            ovf.append(k)
            v = np.nan
        row.append(v)
    return row


def _bulk_values(sub: list[str], spec: Spec) -> np.ndarray | None:
    """Numbers of lines that share one shape, as an (n_lines, n_slots) array, or None."""
    if not spec.safe:
        return None
    lits = spec.lits
    if spec.ts_w:
        w = spec.ts_w
        sub = [s[w:] for s in sub]
    g = "\n" + "\n".join(sub) + "\n"
    if lits[0]:
        g = g.replace("\n" + lits[0], "\n ")
    if lits[-1]:
        g = g.replace(lits[-1] + "\n", " \n")
    for lit in spec.middle:
        if lit.strip():
            g = g.replace(lit, " ")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            arr = np.fromstring(g, sep=" ")
    except (ValueError, DeprecationWarning):
        return None
    k = spec.nslots
    if arr.size != len(sub) * k:
        return None
    arr = arr.reshape(len(sub), k)
    if np.isinf(arr).any():
        return None  # inf, or a number too large for a float64: line by line
    if spec.step >= 0:
        st = arr[:, spec.step]
        if not np.all(np.isfinite(st)) or not np.all(st == np.floor(st)):
            return None
        if np.any(np.abs(st) >= STEP_LIMIT):
            return None
    return arr


def _wall_times(sub: list[str], spec: Spec) -> np.ndarray | None:
    """Seconds since the epoch (local time) from the leading timestamp of each line."""
    o = spec.ts_date
    end = spec.ts_frac[1] if spec.ts_frac else o + 19
    stamps = "\n".join([s[o:end] for s in sub])
    if spec.ts_frac:
        stamps = stamps.replace(",", ".")
    try:
        arr = np.array(stamps.split("\n"), dtype="datetime64[us]")
    except ValueError:
        return None
    secs = arr.astype(np.int64).astype(np.float64) / 1e6
    if len(secs):
        st = time.gmtime(float(secs[0]))
        secs += time.mktime(st) - calendar.timegm(st)
    return secs


class _Acc:
    """Collects values per key as (line index, value, wall) pieces; steps are resolved last."""

    def __init__(self) -> None:
        self.pieces: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]] = {}
        self.explicit: dict[str, list[tuple[np.ndarray, np.ndarray, Any]]] = {}
        self.step_idx: list[np.ndarray] = []
        self.step_val: list[np.ndarray] = []
        self.step_ax: list[np.ndarray] = []  # codes of the step lines' axis descriptions
        self.axis_codes: dict[str, int] = {}
        self.axis_names: list[str] = []
        # ``Epoch(val) [3]`` lines, put at the end of their epoch on the global step axis
        self.epoch_end: list[np.ndarray] = []
        self.epoch_total = 0  # the largest M of the ``epoch x M + step`` axis (0: none)
        self.epoch_base = 1.0
        self.end_axes: set[str] = set()  # their axis descriptions
        self.huge = 0  # numbers too large for a float64, left out
        self.huge_line = -1  # index of the first line holding one

    def note_huge(self, n: int, line: int) -> None:
        self.huge += n
        if self.huge_line < 0 or line < self.huge_line:
            self.huge_line = line

    def add(self, key: str, idx: np.ndarray, vals: np.ndarray, wall: np.ndarray | None) -> None:
        self.pieces.setdefault(key, []).append((idx, vals, wall))

    def add_steps(self, idx: np.ndarray, steps: np.ndarray, axis: str) -> None:
        self.step_idx.append(idx)
        self.step_val.append(steps)
        code = self.axis_codes.setdefault(axis, len(self.axis_codes))
        if code == len(self.axis_names):
            self.axis_names.append(axis)
        self.step_ax.append(np.full(len(idx), code, dtype=np.int64))

    def steps(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(line index, step, axis code) of every step line, in line order."""
        if not self.step_idx:
            z = np.zeros(0, dtype=np.int64)
            return z, z, z
        sidx = np.concatenate(self.step_idx)
        o = np.argsort(sidx, kind="stable")
        sidx, sval = sidx[o], np.concatenate(self.step_val)[o]
        if self.epoch_end and self.epoch_total:
            at = np.isin(sidx, np.concatenate(self.epoch_end))
            ends = (sval[at] - self.epoch_base + 1) * self.epoch_total
            sval = sval.copy()
            sval[at] = np.where(np.abs(ends) < STEP_LIMIT, ends, sval[at])
        return sidx, sval, np.concatenate(self.step_ax)[o]


def _missing_wall(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _apply_fields(
    acc: _Acc,
    spec: Spec,
    idx: np.ndarray,
    arr: np.ndarray,
    wall: np.ndarray | None,
    ovf: np.ndarray | None = None,
) -> None:
    """Values of the spec's fields as pieces; ``ovf`` marks (row, slot) numbers too large for
    a float64, whose fields are left out."""
    seen: set[str] = set()
    for f in spec.fields:
        if f.key in seen:
            continue
        seen.add(f.key)
        v = arr[:, f.slot]
        for t in f.thou:
            with np.errstate(over="ignore"):
                v = v * 1000.0 + arr[:, t]
        if f.mult != 1.0:
            with np.errstate(over="ignore"):
                v = v * f.mult
        if f.denom >= 0:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                v = v / arr[:, f.denom]
        if ovf is not None:
            bad = ovf[:, f.slot] | ovf[:, f.denom] if f.denom >= 0 else ovf[:, f.slot]
            if bad.any():
                keep = ~bad
                if keep.any():
                    acc.add(f.key, idx[keep], v[keep], wall[keep] if wall is not None else None)
                continue
        acc.add(f.key, idx, v, wall)


def _steps_of(spec: Spec, arr: np.ndarray, first_epoch: list[float]) -> np.ndarray:
    """Float steps of the rows (NaN where outside the int64 range)."""
    steps = arr[:, spec.step]
    if spec.epoch >= 0 and spec.step_total >= 0:
        ep = arr[:, spec.epoch]
        if not first_epoch:
            # epochs count from 1 (from 0 when a 0 is seen): a log that starts later, at
            # epoch 3, still gets the global steps of epoch 3
            first_epoch.append(0.0 if len(ep) and np.nanmin(ep) <= 0 else 1.0)
        with np.errstate(over="ignore", invalid="ignore"):
            steps = (ep - first_epoch[0]) * arr[:, spec.step_total] + steps

    return np.where(np.abs(steps) < STEP_LIMIT, steps, np.nan)


def _add_steps(
    acc: _Acc, spec: Spec, idx: np.ndarray, arr: np.ndarray, first_epoch: list[float]
) -> bool:
    """Record the step of each row; False when no row has a usable step."""
    steps = _steps_of(spec, arr, first_epoch)
    if spec.epoch >= 0 and spec.step_total >= 0 and len(arr):
        tot = arr[:, spec.step_total]
        if np.isfinite(tot).any():
            acc.epoch_total = max(acc.epoch_total, int(np.nanmax(tot)))
            acc.epoch_base = first_epoch[0]
    if spec.epoch_end:
        acc.epoch_end.append(idx)
        acc.end_axes.add(spec.axis)
    ok = np.isfinite(steps)
    if ok.all():
        acc.add_steps(idx, steps.astype(np.int64), spec.axis)
        return True
    acc.add_steps(idx[ok], steps[ok].astype(np.int64), spec.axis)
    return bool(ok.any())


def _line_values(line: str, spec: Spec) -> list[str] | None:
    parts = NUM_RE.split(line[spec.ts_w :])
    if tuple(parts[0::2]) != spec.lits:
        return None
    return parts[1::2]


def _ckpt_match(line: str) -> re.Match[str] | None:
    """The first ``saved|saving ... -> path`` in the line. Once the part after one *saved*
    finds no path before the next ``>``, no *saved* before that ``>`` can: skip to it (the
    search stays linear in the line however many times the word repeats)."""
    pos = 0
    while True:
        w = CKPT_WORD_RE.search(line, pos)
        if w is None:
            return None
        m = CKPT_RE.match(line, w.end())
        if m is not None:
            return m
        gt = line.find(">", w.end())
        if gt < 0:
            return None
        pos = gt + 1


def _ckpt(line: str) -> tuple[str, str] | None:
    m = _ckpt_match(line)
    if not m:
        return None
    all_words = [w.lower() for w in re.findall(r"[A-Za-z_]+", m.group(1))]
    path = m.group(2).rstrip(".,;:)]}")
    ext = os.path.splitext(path)[1].lower()
    if ext not in CKPT_EXTS and not (set(all_words) & CKPT_WORDS):
        return None
    words = [w for w in all_words if w not in CKPT_NOISE]
    label = norm_key(words[0]) if words else "latest"
    return label, path


def _summary_line(line: str, spec: Spec, out: dict[str, Any]) -> bool:
    if spec.nslots <= 0:
        return False
    vals = _line_values(line, spec)
    if vals is None:
        spec = analyze(line)
        vals = _line_values(line, spec) if spec.kind == SUMMARY else None
        if vals is None:
            return False
    prefix = spec.label + "/" if spec.label else ""
    got = False
    keys: list[str] = []
    for f in spec.fields:
        try:
            v: Any = _num(vals[f.slot])
        except ValueError:
            keys.append("")
            continue
        for t in f.thou:
            v = v * 1000 + int(vals[t])
        if f.mult != 1.0:
            v = v * f.mult
        if f.denom >= 0:
            try:
                v = float(v) / float(vals[f.denom])
            except (ValueError, ZeroDivisionError):
                pass
        key = prefix + f.key
        out[key] = v
        keys.append(key)
        got = True
    for slot, fidx, word in spec.ats:
        if fidx < len(keys) and keys[fidx]:
            try:
                out[f"{keys[fidx]}_{word}"] = _num(vals[slot])
            except ValueError:
                pass
    return got


def _config_value(value: str) -> tuple[bool, Any]:
    """(True, value) for a literal written as config (a number, a bool/None, a quoted string,
    a bracketed literal, one bare word); (False, None) for an expression (``f.read()``,
    ``X @ X.T``, ``GradScaler(enabled=(dtype``): that is code, not config."""
    v = value.strip()
    if not v or len(v) > 2000:
        return False, None
    if v[0] in "'\"[({":
        try:
            ast.literal_eval(v)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return False, None
        return True, common.coerce_value(v)
    if BARE_VALUE_RE.match(v):
        return True, common.coerce_value(v)
    return False, None


def _config_line(line: str, config: dict[str, Any], header: bool) -> bool:
    """Parameter/header lines -> config. True if something was taken."""
    text = line.strip()
    if header:
        tm = TS_RE.match(line)
        text = _strip_boiler(line[tm.end() :] if tm else line).strip()
        if text[:1] == "#":
            return False  # a comment (``# device = 'cpu'``)
    m = ASSIGN_RE.match(text) if header else ASSIGN_UPPER_RE.match(text)
    if m:
        value = m.group(2)
        c = COMMENT_RE.search(value)
        value = (value[: c.start()] if c else value).strip()
        if "=" not in value or value[:1] in "'\"[({":
            ok, v = _config_value(value)
            if ok:
                config.setdefault(m.group(1), v)
            return ok  # an assignment of an expression is a line of code
    if not header:
        return False
    got = False
    cm = CMD_RE.search(text)
    if cm:
        config.setdefault("cmd", cm.group(1).strip())
        _argv_config(cm.group(1), config)
        text = text[: cm.start()]
        got = True
    elif ".py " in text and " --" in text and _argv_config(text, config):
        return True  # a command line (printed by the script or the shell)
    pm = PPRINT_RE.match(text) if len(text) <= 2000 else None
    if pm:  # a dict printed one item a line (pprint, json.dumps(indent=...))
        ok, val = _config_value(pm.group(2))
        if ok:
            config.setdefault(pm.group(1), val)
        return ok
    if MODULE_RE.match(text):
        return False  # a PyTorch module printout: ``(conv): Conv2d(12, 32, kernel_size=(3, 3))``
    dm = DOTS_RE.match(text)
    if dm:  # Megatron's argument dump: ``  lr ........ 1e-05``
        ok, val = _config_value(dm.group(2))
        if ok:
            config.setdefault(dm.group(1), val)
        return ok
    if "," in text:
        text = THOUSANDS_RE.sub(lambda t: t.group(0).replace(",", ""), text)
    pairs = list(KV_RE.finditer(text))
    if pairs:
        for pm in pairs:
            e = pm.end()
            if text[e : e + 1] == "," and text[e + 1 : e + 2].strip():
                continue  # ``CUDA_VISIBLE_DEVICES=8,9,10,11``: not the whole value
            ok, val = _config_value(pm.group(2))
            if ok:
                config.setdefault(pm.group(1), val)
                got = True
        return got
    km = KEYCOLON_RE.match(text)
    if km:
        ok, val = _config_value(km.group(2))
        if ok:
            config.setdefault(km.group(1), val)
        return ok
    km = KEYCOLON_WORDS_RE.match(text) if len(text) <= 200 else None
    if km:  # an aligned settings block: ``Effective batch size    : 32``
        ok, val = _config_value(km.group(2))
        if ok:
            config.setdefault(norm_key(km.group(1)), val)
        return ok
    return got


def _argv_config(cmdline: str, config: dict[str, Any]) -> bool:
    """``python train.py --lr=5e-4 --batch_size 128 --fp16`` -> config lr, batch_size, fp16
    (``-`` in a name read as ``_``, as argparse does). True if an option was found."""
    if len(cmdline) > ARGV_MAX:
        return False
    try:
        toks = shlex.split(cmdline)
    except ValueError:
        toks = cmdline.split()
    start = next((k for k, t in enumerate(toks) if t.endswith(".py")), -1)
    if start < 0:
        return False
    got = False
    k = start + 1
    while k < len(toks):
        t = toks[k]
        k += 1
        if not t.startswith("--") or len(t) < 3:
            continue
        name, eq, value = t[2:].partition("=")
        if not eq:
            nxt = toks[k] if k < len(toks) else None
            if nxt is not None and (
                not nxt.startswith("-") or common.parse_number(nxt) is not None
            ):
                value = nxt
                k += 1
            else:
                value = "true"
        name = name.replace("-", "_")
        if not ARG_NAME_RE.match(name):
            continue
        config.setdefault(name, common.coerce_value(value))
        got = True
    return got


def _code_lines(lines: list[str], kinds: np.ndarray) -> tuple[int, int]:
    """(start, end) of the script source a log starts with: from a line such as ``import os``
    in its first CODE_SCAN lines to the next ``=====`` line (unless a step line comes first),
    else to the end of the run of lines that read as code; (0, 0) when there is none."""
    n = len(lines)
    start = -1
    for i in range(min(n, CODE_SCAN)):
        if CODE_RE.match(lines[i][:CODE_WIDTH]):
            start = i
            break
    if start < 0:
        return 0, 0
    end = start + 1
    in_code = True
    for j in range(start + 1, min(n, start + CODE_MAX)):
        t = lines[j]
        if len(t) > CODE_WIDTH:  # the patterns look at the ends of a line only
            t = t[:CODE_WIDTH] + "\0" + t[-CODE_WIDTH:]
        if DECOR_RE.match(t):
            return start, j
        codey = (
            not t.strip()
            or t[:1] in " \t#)]}@"
            or CODE_RE.match(t) is not None
            or CODE_LIKE_RE.search(t) is not None
            or (ASSIGN_RE.match(t) is not None and not _assign_is_literal(t))
        )
        if codey:
            if in_code:
                end = j + 1
            continue
        in_code = False
        if kinds[j] == STEP:
            break  # a step line that is no code: the log has begun
    return start, end


def _assign_is_literal(t: str) -> bool:
    m = ASSIGN_RE.match(t.strip())
    if m is None:
        return False
    value = m.group(2)
    c = COMMENT_RE.search(value)
    return _config_value((value[: c.start()] if c else value).strip())[0]


def parse_text(text: str, opts: Any = None) -> LogResult:
    """Parse log text (inference, or ``opts.pattern`` if given)."""
    pattern = getattr(opts, "pattern", None)
    if pattern:
        from . import pattern as pattern_mod

        return pattern_mod.parse_text(text, pattern)
    # millions of point tuples are created: the cyclic GC has nothing to find in them
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _infer(text)
    finally:
        if was_enabled:
            gc.enable()


# a line that announces an evaluation's results (``***** Eval results *****``, ``Test
# results:``), then ``key = value`` lines (the Hugging Face and TensorFlow Estimator scripts)
EVAL_BLOCK_RE = re.compile(
    r"(?i)^[\W_]*(eval|evaluation|validation|valid|val|test|dev)\w*\s+results?\b[\W_]*$"
)
# TensorFlow Estimator: ``Saving dict for global step 5468: eval_accuracy = 0.85, ..., loss = 0.72``
EVAL_DICT_RE = re.compile(r"Saving dict for global step \d+:")
EVAL_ITEM_RE = re.compile(r"^\s*([A-Za-z_][\w/.]*)\s*[=:]\s*(\S+)\s*$")


def _eval_block(lines: list[str], s: int, excl: np.ndarray, summary: dict[str, Any]) -> None:
    """Read an evaluation's results block at line ``s`` into the summary and mark its lines:
    its keys are results, never points of the training series they may share a name with
    (TensorFlow's ``loss`` of an evaluation is not the training loss). A bare key gets the
    block's split as prefix (``loss`` -> ``eval/loss``); a counter (``global_step``) is left
    out."""
    hm = EVAL_BLOCK_RE.match(_strip_boiler(lines[s]))
    if hm is None:
        return
    split = hm.group(1).lower()
    split = {"evaluation": "eval", "validation": "val", "valid": "val"}.get(split, split)
    j = s + 1
    items: dict[str, Any] = {}
    while j < len(lines) and j - s <= 200:
        im = EVAL_ITEM_RE.match(_strip_boiler(lines[j]))
        if im is None:
            break
        key = common.norm_key(im.group(1))
        try:
            value = _num(im.group(2))
        except ValueError:
            break
        if key not in COUNTER_KEYS:
            items[key if _split_key(key) else f"{split}/{key}"] = value
        j += 1
    if not items:
        return
    excl[s:j] = True
    summary.update(items)


def _infer(text: str) -> LogResult:
    res = LogResult()
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    n = len(lines)
    res.n_lines = n
    if n == 0:
        return res
    keys = text.translate(_DEL_DIGITS).split("\n")[:n]
    tid: dict[str, int] = {}
    for k in dict.fromkeys(keys):
        tid[k] = len(tid)
    ids = np.fromiter(map(tid.__getitem__, keys), dtype=np.int64, count=n)
    del keys
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    bounds = np.flatnonzero(np.diff(sorted_ids)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [n]))
    groups: list[tuple[Spec, np.ndarray]] = []
    for a, b in zip(starts.tolist(), ends.tolist()):
        idx = order[a:b]
        spec = analyze(lines[int(idx[0])])
        groups.append((spec, idx))

    # tracebacks: mark their lines
    excl = np.zeros(n, dtype=bool)
    for spec, idx in groups:
        if spec.kind != TRACE:
            continue
        for s in idx.tolist():
            j = s + 1
            while j < n and (lines[j][:1] in (" ", "\t") or not lines[j].strip()):
                j += 1
            end = min(j, n - 1)
            excl[s : end + 1] = True
            exc = lines[end].strip() if end > s else ""
            status = "killed" if exc.startswith("KeyboardInterrupt") else "failed"
            if res.status != "failed":
                res.status = status
            if exc and status == "failed":
                res.summary.setdefault("error", common.short_string(exc))

    # ``***** Eval results *****`` and its ``key = value`` lines: the evaluation's results
    for spec, idx in groups:
        if spec.kind in (SKIP, SUMMARY) and len(spec.lits) <= 1:
            for s in idx.tolist():
                _eval_block(lines, s, excl, res.summary)

    kinds = np.full(n, SKIP, dtype=np.int8)
    for spec, idx in groups:
        kinds[idx] = spec.kind
    # the script's source printed at the top of a log: code, never config or metrics
    cs, ce = _code_lines(lines, kinds)
    if ce > cs:
        excl[cs:ce] = True

    first_step = n
    last_step = -1
    n_steps = 0
    for spec, idx in groups:
        if spec.kind == STEP:
            ok = idx[~excl[idx]]
            if len(ok):
                first_step = min(first_step, int(ok[0]))
                last_step = max(last_step, int(ok[-1]))
                n_steps += len(ok)
    header_mask = np.zeros(n, dtype=bool)
    header_mask[:first_step] = True

    # A metric line without a counter belongs to the step line above it when only blank,
    # checkpoint and other such lines lie between them (``Epoch 3/10`` then ``- 2s - loss:
    # ...``); after anything else (chatter, warnings, a summary) it is not a step's metric.
    kinds[excl] = SKIP
    chained = direct = np.zeros(0, dtype=bool)
    if any(spec.kind == CARRY for spec, _ in groups):
        passing = (kinds == BLANK) | (kinds == CARRY) | (kinds == CKPT) | (kinds == PROGRESS)
        anchor = np.maximum.accumulate(np.where(passing, -1, np.arange(n)))
        prev = np.concatenate(([-1], anchor[:-1]))
        chained = (prev >= 0) & (kinds[np.maximum(prev, 0)] == STEP)
        # the line right above (blank lines and progress bars aside) is a step line
        quiet = (kinds == BLANK) | (kinds == PROGRESS)
        anchor = np.maximum.accumulate(np.where(quiet, -1, np.arange(n)))
        prev = np.concatenate(([-1], anchor[:-1]))
        direct = (prev >= 0) & (kinds[np.maximum(prev, 0)] == STEP)
        del passing, anchor, prev, quiet
    del kinds

    acc = _Acc()
    first_epoch: list[float] = []
    slow: list[tuple[int, Spec]] = []  # ordered handling later
    implicit = first_step == n
    ign: list[np.ndarray] = []  # indices of non-blank lines that gave nothing
    ex = np.flatnonzero(excl)
    if len(ex):
        ign.append(np.asarray([i for i in ex.tolist() if lines[i].strip()], dtype=np.int64))

    for spec, idx in groups:
        if spec.kind == TRACE:
            continue
        idx = idx[~excl[idx]]
        if not len(idx):
            continue
        kind = spec.kind
        if kind == BLANK:
            continue
        if kind == PROGRESS:
            ign.append(idx)
            continue
        if kind in (SKIP, WARN):
            hm = header_mask[idx]
            in_header = idx[hm] if kind == SKIP else idx[:0]
            ign.append(idx[~hm] if kind == SKIP else idx)
            slow.extend((int(i), spec) for i in in_header.tolist())
            continue
        if kind in (STEP, CARRY):
            body_idx = idx[~header_mask[idx]]
            hdr_idx = idx[header_mask[idx]]
            if implicit and kind == CARRY and len(hdr_idx) >= 2:
                _bulk_group(lines, spec, hdr_idx, acc, first_epoch, slow, implicit=True)
                hdr_idx = hdr_idx[:0]
            slow.extend((int(i), spec) for i in hdr_idx.tolist())
            if kind == CARRY and len(body_idx):
                ch = chained[body_idx]
                if n_steps > 1 and body_idx[0] > last_step and not direct[body_idx[0]]:
                    # a shape seen only after the last step line: final values
                    # (``Score for model: Test loss: 0.45`` after the last epoch)
                    ch = np.zeros(len(body_idx), dtype=bool)
                if not ch.all():
                    # not below a step line: a final value after the last step line
                    # (``Test accuracy: 0.91``), else nothing (library chatter)
                    loose = body_idx[~ch]
                    tail = loose > last_step
                    slow.extend((int(i), _TAIL) for i in loose[tail].tolist())
                    ign.append(loose[~tail])
                    body_idx = body_idx[ch]
            if len(body_idx):
                _bulk_group(lines, spec, body_idx, acc, first_epoch, slow, implicit=False)
            continue
        if kind == CKPT:
            # Checkpoint lines of one shape share their label (the shape keeps every word),
            # and a later line overwrites an earlier one: only the last line matters.
            slow.append((int(idx[-1]), spec))
            continue
        slow.extend((int(i), spec) for i in idx.tolist())

    # steps of every step line, in line order
    sidx, sval, _ = acc.steps()

    def step_at(i: int) -> int | None:
        p = int(np.searchsorted(sidx, i, side="right")) - 1
        return int(sval[p]) if p >= 0 else None

    # ordered slow lines: header config, summaries, checkpoints, parameters
    slow.sort(key=lambda t: t[0])
    ign_one: list[int] = []
    for i, spec in slow:
        line = lines[i]
        hdr = i < first_step
        kind = spec.kind
        if spec is _NOTHING:
            ign_one.append(i)
            continue
        if spec is _TAIL:
            own = analyze(line)
            if own.kind in (CARRY, SUMMARY) and _summary_line(line, own, res.summary):
                continue
            ign_one.append(i)
            continue
        if kind == SUMMARY:
            if not _summary_line(line, spec, res.summary):
                ign_one.append(i)
            continue
        if kind == CKPT:
            ck = _ckpt(line)
            if ck:
                label, path = ck
                res.summary[f"checkpoint/{label}"] = common.short_string(path)
                st = step_at(i)
                if st is not None:
                    res.summary[f"checkpoint/{label}_step"] = st
            continue
        if (kind == CONFIG or hdr) and _config_line(line, res.config, header=hdr):
            continue
        # a metric line of a shape whose bulk extraction failed
        if (
            kind in (STEP, CARRY)
            and not hdr
            and _single_line(line, i, spec, acc, first_epoch, res, sidx)
        ):
            continue
        ign_one.append(i)

    # resolve steps (appended restarts: the last attempt wins) and build points
    sidx, sval, sax = acc.steps()
    live = None
    if len(sidx):
        counts = np.bincount(sax)
        if len(acc.end_axes) < len(acc.axis_names):
            for name in acc.end_axes:  # evaluation lines are not the main axis
                counts[acc.axis_codes[name]] = -1
        primary = int(np.argmax(counts))
        res.step_axis = acc.axis_names[primary]
        axis = res.step_axis
        wraps = not axis.startswith("epoch") and "/M" in axis
        live, res.attempts = _attempts(sval, sax == primary, wraps)
        if res.attempts > 1:
            res.warnings.append(
                f"{res.attempts} attempts in one log (the step went back "
                f"{res.attempts - 1} time(s)), kept the last for the overlapping steps"
            )
    res.series = _build_series(acc, sidx, sval, live)
    if ign_one:
        ign.append(np.asarray(ign_one, dtype=np.int64))
    if ign:
        all_ign = np.concatenate(ign)
        res.skipped = len(all_ign)
        first = np.sort(all_ign)[:IGNORED_MAX] if len(all_ign) > IGNORED_MAX else np.sort(all_ign)
        res.ignored = [(i + 1, _ignored_text(lines[i])) for i in first.tolist()]
    if acc.huge:
        res.warnings.append(
            f"{acc.huge} number(s) too large for a float64 left out "
            f"(first on line {acc.huge_line + 1})"
        )
    return res


def _ignored_text(line: str) -> str:
    t = line.strip()
    return t if len(t) <= 200 else t[:199] + "…"


def _attempts(sval: np.ndarray, primary: np.ndarray, wraps: bool) -> tuple[np.ndarray | None, int]:
    """Appended restarts: where the main step counter goes back, a new attempt starts. Returns
    (which step lines to keep, or None for all; the number of attempts). A step line of an
    attempt is dropped when a later attempt starts at or below its step.

    A counter that goes back is not a restart when an outer counter (a step line of another
    kind, ``Epoch 2``) went forward in between, nor, for a ``N/M`` counter below the epoch
    (``wraps``), when it goes back from near its largest value (the next epoch)."""
    pos = np.flatnonzero(primary)
    pv = sval[pos]
    back = np.flatnonzero(pv[1:] < pv[:-1]) + 1  # into pos: the first line of each new attempt
    if len(back) and not primary.all():
        other = ~primary
        ov = sval[other]
        adv = np.zeros(len(sval), dtype=np.int64)
        adv[np.flatnonzero(other)[1:]] = ov[1:] > ov[:-1]
        cs = np.cumsum(adv)
        back = back[cs[pos[back]] == cs[pos[back - 1]]]
    if len(back) and wraps:
        back = back[pv[back - 1] < 0.9 * pv.max()]
    if not len(back) or len(back) > MAX_RESTARTS:
        # none, or a counter that restarts all the time (a batch counter within epochs)
        return None, 1
    starts = pos[back]  # step-line positions where attempts 1.. start
    att = np.searchsorted(starts, np.arange(len(sval)), side="right")
    # cutoff of attempt a: the lowest start step of the attempts after it
    start_vals = pv[back]
    cut = np.minimum.accumulate(start_vals[::-1])[::-1]
    cut = np.concatenate((cut, [np.iinfo(np.int64).max]))
    live = sval < cut[att]
    live[att == len(back)] = True
    return live, len(back) + 1


def _bulk_group(
    lines: list[str],
    spec: Spec,
    idx: np.ndarray,
    acc: _Acc,
    first_epoch: list[float],
    slow: list[tuple[int, Spec]],
    implicit: bool,
) -> None:
    sub = [lines[i] for i in idx.tolist()]
    arr = _bulk_values(sub, spec)
    ovf: np.ndarray | None = None
    if arr is None:
        # irregular shape: parse line by line (values missing, '-' cells, digits in words)
        vals_rows: list[list[float]] = []
        ok_idx: list[int] = []
        ovf_at: list[tuple[int, int]] = []
        for i, line in zip(idx.tolist(), sub):
            vals = _line_values(line, spec)
            if vals is None:
                slow.append((i, Spec(CARRY if not implicit else SKIP, lits=())))
                continue
            o: list[int] = []
            vals_rows.append(_row(vals, o))
            ovf_at.extend((len(ok_idx), k) for k in o)
            ok_idx.append(i)
        if not ok_idx:
            return
        idx = np.asarray(ok_idx, dtype=np.int64)
        arr = np.asarray(vals_rows, dtype=np.float64).reshape(len(ok_idx), spec.nslots)
        if ovf_at:
            ovf = np.zeros(arr.shape, dtype=bool)
            for r, k in ovf_at:
                ovf[r, k] = True
            acc.note_huge(len(ovf_at), int(idx[ovf_at[0][0]]))
        sub = [lines[i] for i in ok_idx]
        if spec.step >= 0:
            st = arr[:, spec.step]
            good = np.isfinite(st) & (np.abs(st) < STEP_LIMIT)
            idx, arr = idx[good], arr[good]
            if ovf is not None:
                ovf = ovf[good]
            sub = [s for s, g in zip(sub, good.tolist()) if g]
            if not len(idx):
                return
    if spec.progress is not None and not implicit:
        done = arr[:, spec.progress[0]] >= arr[:, spec.progress[1]]
        if not done.all():  # an evaluation's progress rows: skipped (counted as such)
            slow.extend((int(i), _NOTHING) for i in idx[~done].tolist())
            idx, arr = idx[done], arr[done]
            ovf = ovf[done] if ovf is not None else None
            sub = [x for x, g in zip(sub, done.tolist()) if g]
            if not len(idx):
                return
    wall = _wall_times(sub, spec) if spec.ts_w else None
    if implicit:
        steps = np.arange(len(idx), dtype=np.int64)
        for f in spec.fields:
            v = arr[:, f.slot] * f.mult
            acc.explicit.setdefault(f.key, []).append(
                (idx, v, steps if wall is None else np.stack([steps, wall]))
            )
        return
    if spec.kind == STEP:
        _add_steps(acc, spec, idx, arr, first_epoch)
    _apply_fields(acc, spec, idx, arr, wall, ovf)


def _single_line(
    line: str,
    i: int,
    spec: Spec,
    acc: _Acc,
    first_epoch: list[float],
    res: LogResult,
    sidx: np.ndarray,
) -> bool:
    """A metric line whose shape differs from its group's: analyse it on its own."""
    own = analyze(line)
    if own.kind not in (STEP, CARRY):
        if own.kind == SUMMARY:
            return _summary_line(line, own, res.summary)
        return False
    vals = _line_values(line, own)
    if vals is None:
        return False
    o: list[int] = []
    arr = np.asarray([_row(vals, o)], dtype=np.float64)
    idx = np.asarray([i], dtype=np.int64)
    ovf = None
    if o:
        ovf = np.zeros(arr.shape, dtype=bool)
        ovf[0, o] = True
        acc.note_huge(len(o), i)
    wall = _wall_times([line], own) if own.ts_w else None
    if own.kind == STEP:
        if not np.isfinite(arr[0, own.step]):
            return False
        if not _add_steps(acc, own, idx, arr, first_epoch):
            return False
        # a late step line cannot move earlier lines; steps are resolved at the end
    elif not len(sidx):
        return False
    _apply_fields(acc, own, idx, arr, wall, ovf)
    return bool(own.fields) or own.kind == STEP


def _build_series(
    acc: _Acc, sidx: np.ndarray, sval: np.ndarray, live: np.ndarray | None
) -> dict[str, PointArrays]:
    """Points of every key: the step of a value is that of the last step line above it;
    values under a step line that ``live`` marks False (an overwritten attempt) are dropped."""
    out: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]] = {}
    step_cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for key, pieces in acc.pieces.items():
        if len(pieces) == 1:
            idx, vals, walls = pieces[0]
            cached = step_cache.get(id(idx))
            if cached is None or cached[0] is not idx:
                pos = np.searchsorted(sidx, idx, side="right") - 1
                keep = _keep(pos, live)
                cached = (idx, keep, sval[pos[keep]])
                step_cache[id(idx)] = cached
            _, keep, steps = cached
            if not len(steps):
                continue
            if not keep.all():
                vals = vals[keep]
                walls = walls[keep] if walls is not None else None
            out.setdefault(key, []).append((steps, vals, walls))
            continue
        idx = np.concatenate([p[0] for p in pieces])
        vals = np.concatenate([p[1] for p in pieces])
        has_wall = any(p[2] is not None for p in pieces)
        walls = (
            np.concatenate([p[2] if p[2] is not None else _missing_wall(len(p[0])) for p in pieces])
            if has_wall
            else None
        )
        o = np.argsort(idx, kind="stable")
        idx, vals = idx[o], vals[o]
        if walls is not None:
            walls = walls[o]
        pos = np.searchsorted(sidx, idx, side="right") - 1
        keep = _keep(pos, live)
        if not np.all(keep):
            vals, pos = vals[keep], pos[keep]
            if walls is not None:
                walls = walls[keep]
        if not len(pos):
            continue
        out.setdefault(key, []).append((sval[pos], vals, walls))
    for key, epieces in acc.explicit.items():
        for _idx, evals, est in epieces:
            if est.ndim == 2:
                out.setdefault(key, []).append((est[0].astype(np.int64), evals, est[1]))
            else:
                out.setdefault(key, []).append((est, evals, None))
    return {key: _point_arrays(pieces) for key, pieces in out.items()}


def _keep(pos: np.ndarray, live: np.ndarray | None) -> np.ndarray:
    keep = pos >= 0
    if live is not None:
        keep[keep] = live[pos[keep]]
    return keep


def _point_arrays(pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]) -> PointArrays:
    """One series from its pieces, in order: int64 steps, float64 values, float64 walls (NaN
    where unknown) or None when no point has a wall time."""
    if len(pieces) == 1:
        steps, vals, walls = pieces[0]
    else:
        steps = np.concatenate([p[0] for p in pieces])
        vals = np.concatenate([p[1] for p in pieces])
        walls = (
            np.concatenate([p[2] if p[2] is not None else _missing_wall(len(p[0])) for p in pieces])
            if any(p[2] is not None for p in pieces)
            else None
        )
    steps = np.ascontiguousarray(steps, dtype=np.int64)
    vals = np.ascontiguousarray(vals, dtype=np.float64)
    if walls is not None:
        walls = np.ascontiguousarray(walls, dtype=np.float64)
        if np.isnan(walls).all():
            walls = None
    return PointArrays(steps, vals, walls)


# ---------------------------------------------------------------------------------------------
# plug-in protocol

_CTR_SNIFF = re.compile(
    rb"(?im)(?:^|[^\w])(?:step|iter|iteration|epoch|global_step)\s*(?:[\[(#:=]\s*)?\d+"
)
_KV_SNIFF = re.compile(rb"(?im)[A-Za-z_][\w ]{0,40}[:=]\s*(?:[-+]?\.?\d|[-+]?(?:nan|inf))")


def sniff_file(path: str, head: bytes) -> int:
    ext = os.path.splitext(path)[1].lower()
    if not head or common.looks_binary(head):
        return 0
    counters = len(_CTR_SNIFF.findall(head))
    kv = len(_KV_SNIFF.findall(head))
    if ext == ".log":
        if counters >= 1 and kv >= 1:
            return 80
        return 50 if kv >= 2 else 30
    if ext in LOG_EXTS:
        if counters >= 2 and kv >= 2:
            return 60
        return 10 if kv else 0
    if ext in ("", ".stdout", ".stderr"):
        return 40 if counters >= 2 and kv >= 2 else 0
    return 0


def wall_span(series: dict[str, Any]) -> tuple[Any, Any]:
    """(first, last) wall time over the series' points, or (None, None)."""
    first = last = None
    for pts in series.values():
        for p in (pts[0], pts[-1]) if pts else ():
            w = p[2]
            if w is None:
                continue
            first = w if first is None or w < first else first
            last = w if last is None or w > last else last
    return first, last


def to_run(res: LogResult, run: ImportedRun) -> ImportedRun:
    run.config.update(res.config)
    run.summary.update(res.summary)
    run.series.update(res.series)
    run.skipped_lines += res.skipped
    run.status = res.status
    run.warnings.extend(res.warnings)
    first, last = wall_span(res.series)
    if first is not None:
        run.created_at = first
        run.finished_at = last
    return run


def parse(path: str, opts: Any = None) -> list[ImportedRun]:
    data = common.read_bytes(path)
    text, warns = common.decode_text(data, "log")
    res = parse_text(text, opts)
    res.warnings[:0] = warns
    if not res.series and not res.summary and not res.config:
        raise ParseError(
            f"no metrics found in {res.n_lines} line(s) (try --pattern)"
            if res.n_lines
            else "empty log"
        )
    run = common.new_run(path, FORMAT, opts)
    run.files.append(common.source_of(path, data))
    to_run(res, run)
    return common.finish_runs([run], opts)
