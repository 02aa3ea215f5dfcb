"""Starter documents (``expbook report DOC.md --new KIND``), filled in from the store.

=============  ================================================================================
``sweep``      leaderboard, params pivot, winners (seed 000 style)
``screening``  ranking at a fixed step with best vs last, headline numbers in prose (seed 002)
``compare``    two runs side by side (seed 003 style)
``journal``    dated entries with inline values and checkable claims (seed 004 style)
=============  ================================================================================

The metric, the swept params and the runs named are guessed from the store (the metric most
runs log, preferring validation/test losses; config keys with a few distinct values); edit the
blocks to taste.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from collections.abc import Sequence
from typing import Any

from .._read import flatten
from .blocks import BlockError

__all__ = ["STARTERS", "starter"]

STARTERS = ("sweep", "screening", "compare", "journal")

_PREFERRED = ("val_loss", "valid_loss", "eval_loss", "test_loss", "val/loss", "loss", "test_mse")
_MAX_WORDS = ("acc", "f1", "r2", "auc", "precision", "recall", "bleu", "score")
_SKIP = ("seed", "dir", "path", "name", "id", "cmd", "command", "output")


def _pick_metric(runs: Sequence[Any]) -> tuple[str, str]:
    # system/... metrics are what a run records by itself, never the metric to rank by
    counts: Counter[str] = Counter(
        k for r in runs for k in r.metrics if not k.startswith("system/")
    )
    if not counts:
        counts = Counter(
            k
            for r in runs
            for k, v in r.summary.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        )
    if not counts:
        raise BlockError("the store's runs have no metrics to start a report from")
    top = max(counts.values())
    common = [k for k, n in counts.items() if n >= top / 2]
    metric = next((p for p in _PREFERRED if p in common), None)
    if metric is None:
        metric = sorted(common, key=lambda k: (-counts[k], k))[0]
    mode = "max" if any(w in metric.lower() for w in _MAX_WORDS) else "min"
    return metric, mode


def _pick_params(runs: Sequence[Any]) -> list[str]:
    values: dict[str, set[str]] = {}
    for r in runs:
        for k, v in flatten(r.config).items():
            if isinstance(v, (dict, list)):
                continue
            values.setdefault(k, set()).add(repr(v))
    swept = [
        k
        for k, vs in values.items()
        if 2 <= len(vs) <= 12 and not set(k.lower().split(".")[-1].split("_")) & set(_SKIP)
    ]
    return sorted(swept, key=lambda k: (len(values[k]), k))[:3]


def _q(name: str) -> str:
    """A run name as a journal expression's run argument: bare when it can be (letters,
    digits, ``_ - .``, not starting with ``-`` or ``.``), else backquoted."""
    plain = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
    if name and set(name) <= plain and name[0] not in "-.":
        return name
    return "`" + name.replace("`", "``") + "`"


def _y(name: str) -> str:
    """A run name as a YAML flow scalar (quoted unless it is a plain word)."""
    import json
    import re

    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name) and name.lower() not in (
        "true",
        "false",
        "null",
        "yes",
        "no",
        "on",
        "off",
    ):
        return name
    return json.dumps(name)


def _t(name: str) -> str:
    """A run name in prose: never markup."""
    import html

    return html.escape(name, quote=False)


def _claim(cid: str, expr: str) -> str:
    """A claim line; the code span takes two backquotes when the expression holds one."""
    if "`" in expr:
        return f"- [claim {cid}] ``{expr}``"
    return f"- [claim {cid}] `{expr}`"


def _ranked(runs: Sequence[Any], metric: str, mode: str) -> list[Any]:
    have = [r for r in runs if metric in r.metrics or metric in r.summary]

    def key(r: Any) -> float:
        m = r.metrics.get(metric)
        v = (m.min_value if mode == "min" else m.max_value) if m else r.summary.get(metric)
        if not isinstance(v, (int, float)) or v != v:
            return float("inf")
        return v if mode == "min" else -v

    return sorted(have, key=lambda r: (key(r), r.name))


def _fence(body: str) -> str:
    return f"```expbook\n{body}\n```\n"


def starter(kind: str, runs: Sequence[Any], project: str | None = None) -> str:
    """The text of a starter document of ``kind`` for ``runs``."""
    if kind not in STARTERS:
        raise BlockError(f"unknown starter {kind!r}; starters: {', '.join(STARTERS)}")
    if not runs:
        raise BlockError("the store has no runs to start a report from")
    metric, mode = _pick_metric(runs)
    params = _pick_params(runs)
    ranked = _ranked(runs, metric, mode)
    best = ranked[0].name if ranked else runs[0].name
    second = ranked[1].name if len(ranked) > 1 else best
    proj = f", project: {project}" if project else ""
    plots = importlib.util.find_spec("matplotlib") is not None
    pstr = f", params: [{', '.join(params)}]" if params else ""
    out: list[str] = []
    if kind == "sweep":
        out += [
            f"# Sweep summary: {metric}\n",
            "What was swept and why. Text outside the generated regions is yours: "
            "`expbook report` never changes it.\n",
            "## Leaderboard\n",
            _fence(f"leaderboard: {{metric: {metric}, mode: {mode}, top: 10{pstr}{proj}}}"),
        ]
        if params:
            cols = f", cols: [{params[1]}]" if len(params) > 1 else ""
            out += [
                f"## {metric} by {', '.join(params[:2])}\n",
                _fence(f"pivot: {{rows: [{params[0]}]{cols}, value: {metric}, agg: {mode}{proj}}}"),
                "## Winners (configs that differ only in their seed are aggregated)\n",
                _fence(f"winners: {{metric: {metric}, mode: {mode}, by: {params[0]}{proj}}}"),
            ]
        if plots:
            out += ["## Curves\n", _fence(f"plot: {{metric: {metric}{proj}}}")]
    elif kind == "screening":
        steps = [r.metrics[metric].last_step for r in ranked if metric in r.metrics]
        at = min((s for s in steps if s is not None), default=None)
        at_field = f", at_step: {at}, sort: at" if at is not None else ""
        out += [
            f"# Screening summary: {metric}\n",
            f"Best run: **{_t(best)}** at {{{{ best({_q(best)}, {metric}) | .4f }}}}; "
            f"runner-up {_t(second)} at {{{{ best({_q(second)}, {metric}) | .4f }}}}.\n",
            "## Ranking" + (f" at step {at}" if at is not None else "") + "\n",
            _fence(f"leaderboard: {{metric: {metric}, mode: {mode}{at_field}{pstr}{proj}}}"),
        ]
        if plots:
            out += ["## Best values\n", _fence(f"bar: {{metric: {metric}, mode: {mode}{proj}}}")]
    elif kind == "compare":
        out += [
            f"# {_t(best)} vs {_t(second)}\n",
            f"{metric}: {{{{ final({_q(best)}, {metric}) | .4g }}}} vs "
            f"{{{{ final({_q(second)}, {metric}) | .4g }}}}.\n",
            _fence(f"compare: {{runs: [{_y(best)}, {_y(second)}]}}"),
        ]
        if plots:
            out += [_fence(f"plot: {{metric: {metric}, runs: [{_y(best)}, {_y(second)}]}}")]
    else:  # journal
        cmp = "<" if mode == "min" else ">"
        how = "" if mode == "min" else ', "max"'
        b_best = f"best({_q(best)}, {metric}{how})"
        s_best = f"best({_q(second)}, {metric}{how})"
        # the ratio that is >= 1 when the best run is better: second/best for a loss
        ratio = f"{s_best} / {b_best}" if mode == "min" else f"{b_best} / {s_best}"
        word = "lower" if mode == "min" else "higher"
        out += [
            "# Research journal\n",
            "## Entry 1\n",
            f"{_t(best)} reached {{{{ {b_best} | .3e }}}}: a {word} best {metric} than "
            f"{_t(second)} ({{{{ {s_best} | .3e }}}}), by a factor of {{{{ {ratio} | .2f }}}}.\n",
            _claim("e1_best", f"{b_best} {cmp}= {s_best}"),
            _claim("e1_ratio", ratio),
            "",
            "Claims with a comparison must hold (`expbook check` exits 1 when one fails); the "
            "others are values to report.\n",
        ]
    return "\n".join(out).rstrip("\n") + "\n"
