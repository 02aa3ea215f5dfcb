"""``expbook eval FILE``: regression and classification metrics of a prediction file.

Reading and the metrics themselves are the prediction importer's
(:func:`expbook.importers.tabular.read_table`: CSV/TSV/JSON/JSONL;
:func:`expbook.importers.predictions.evaluate`: ``n mse rmse mae r2`` or
``n accuracy precision recall f1``, task inferred unless given, R2 with the population
variance, rows with a missing or non-finite value left out). This module adds what a command
needs on top: explicit ``--true``/``--pred`` columns, masks, one table over many files, and
the summary keys a result is stored under with ``--run``.

Masks (``mask``) choose the rows that count, together with a ``mask`` column of the file if
it has one:

* ``"offdiag"`` / ``"diag"``: entries of adjacency predictions off (or on) the diagonal,
  from index columns ``i,j`` (also ``row,col``, ``src,dst``, ``source,target``, ``u,v``,
  ``from,to``); ``"offdiag:N"``/``"diag:N"`` for rows that are flattened N x N matrices in
  row-major order, one after another, without index columns. Seed 001's "non-diag" accuracy
  and F1.
* any other string: an expression over the row's columns (grammar of :mod:`expbook.expr`),
  e.g. ``"i != j and split == 'test'"``;
* a sequence of booleans, one per row.

Index columns are never taken for the true or predicted values (``target`` of an edge list
is an index).

``eval_file`` returns a dict: the metrics plus ``task``, ``true_col``, ``pred_col`` and
``mask`` (its text, ``"rows"`` for a list of booleans, or null). JSON shape of
``eval_table`` (``kind: "eval"``)::

    {"kind": "eval", "mask": null, "columns": ["run", "task", "n", "mse", "rmse", "mae", "r2"],
     "rows": [{"run": "gen_jax_5to7to8", "task": "regression", "n": 200,
               "mse": 13.2212, "rmse": 3.636, "mae": 2.2579, "r2": 0.1769}], "notes": []}
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ExpbookError
from ..expr import ExprError, compile_expr, truthy
from .table import Table

__all__ = ["METRIC_KEYS", "EvalError", "eval_file", "eval_summary", "eval_table"]

METRIC_KEYS = {
    "regression": ("n", "mse", "rmse", "mae", "r2"),
    "classification": ("n", "accuracy", "precision", "recall", "f1"),
}

_INDEX_PAIRS = (
    ("i", "j"),
    ("row", "col"),
    ("src", "dst"),
    ("source", "target"),
    ("u", "v"),
    ("from", "to"),
)


class EvalError(ExpbookError, ValueError):
    """A prediction file or option that cannot be evaluated (one line)."""


def _read(path: str) -> Any:
    from ..importers.model import ParseError
    from ..importers.tabular import read_table

    try:
        return read_table(path)
    except OSError as e:
        raise EvalError(f"cannot read {path}: {e.strerror or e}") from None
    except ParseError as e:
        raise EvalError(f"{path}: {e}") from None


def _column(t: Any, name: str) -> list[Any]:
    """A column as Python values: floats (None where absent) or strings (None where empty)."""
    if name in t.num:
        return [float(v) if p else None for v, p in zip(t.num[name].tolist(), t.present[name])]
    return list(t.text[name])


def _index_pair(columns: Sequence[str]) -> tuple[str, str] | None:
    by_lower = {c.lower(): c for c in columns}
    for a, b in _INDEX_PAIRS:
        if a in by_lower and b in by_lower:
            return by_lower[a], by_lower[b]
    return None


def _pick_columns(
    columns: list[str], true_col: str | None, pred_col: str | None, path: str
) -> tuple[str, str, str | None]:
    from ..importers.predictions import find_columns

    for given, flag in ((true_col, "--true"), (pred_col, "--pred")):
        if given is not None and given not in columns:
            raise EvalError(f"{path}: no column {given!r} ({flag}); columns: {', '.join(columns)}")
    pair = _index_pair(columns)
    candidates = [c for c in columns if pair is None or c not in pair]
    found = find_columns(candidates)
    t = true_col or (found[0] if found else None)
    p = pred_col or (found[1] if found else None)
    if t is None or p is None or t == p:
        raise EvalError(
            f"{path}: cannot tell which columns hold the true and predicted values "
            f"(columns: {', '.join(columns)}); pass --true COL --pred COL"
        )
    return t, p, found[2] if found else None


def _mask_rows(t: Any, mask: Any, path: str) -> list[bool] | None:
    n = t.nrows
    if mask is None:
        return None
    if isinstance(mask, str):
        m = mask.strip()
        kind, _, size = m.partition(":")
        if kind in ("offdiag", "diag"):
            want_diag = kind == "diag"
            if size:
                try:
                    k = int(size)
                except ValueError:
                    raise EvalError(f"mask {mask!r}: N in {kind}:N must be a number") from None
                if k <= 0:
                    raise EvalError(f"mask {mask!r}: N must be positive")
                return [((r % (k * k)) % (k + 1) == 0) == want_diag for r in range(n)]
            pair = _index_pair(t.columns)
            if pair is None:
                raise EvalError(
                    f"{path}: mask {kind!r} needs index columns such as i,j (or row,col, "
                    f"src,dst); columns: {', '.join(t.columns)}; for flattened N x N matrices "
                    f"use {kind}:N"
                )
            a, b = _column(t, pair[0]), _column(t, pair[1])
            return [(x == y) == want_diag for x, y in zip(a, b)]
        try:
            pred = compile_expr(m)
        except ExprError as e:
            raise EvalError(f"mask: {e}") from None
        cols = {c: _column(t, c) for c in t.columns}
        return [truthy(pred({c: v[r] for c, v in cols.items()})) for r in range(n)]
    flags = [bool(f) for f in mask]
    if len(flags) != n:
        raise EvalError(f"mask has {len(flags)} entries for {n} rows")
    return flags


def eval_file(
    path: str | os.PathLike[str],
    task: str | None = None,
    true_col: str | None = None,
    pred_col: str | None = None,
    mask: Any = None,
) -> dict[str, Any]:
    """Metrics of one prediction file (see the module docstring)."""
    from ..importers.predictions import evaluate

    p = os.fspath(path)
    t = _read(p)
    tc, pc, mask_col = _pick_columns(list(t.columns), true_col, pred_col, p)
    keep = _mask_rows(t, mask, p)
    if mask_col is not None:
        col = [_flag(v) for v in _column(t, mask_col)]
        keep = col if keep is None else [a and b for a, b in zip(keep, col)]
    yt, yp = _column(t, tc), _column(t, pc)
    numeric = tc in t.num and pc in t.num
    present = [a is not None and b is not None and a != "" and b != "" for a, b in zip(yt, yp)]
    keep = present if keep is None else [a and b for a, b in zip(keep, present)]
    if numeric:
        yt = [float("nan") if v is None else v for v in yt]
        yp = [float("nan") if v is None else v for v in yp]
    else:
        yt = ["" if v is None else str(v) for v in yt]
        yp = ["" if v is None else str(v) for v in yp]
    try:
        metrics = evaluate(yt, yp, task=task, mask=keep)
    except ValueError as e:
        raise EvalError(f"{p}: {e}") from None
    kind = "regression" if "r2" in metrics else "classification"
    return {
        "task": kind,
        **{k: metrics[k] for k in METRIC_KEYS[kind]},
        "true_col": tc,
        "pred_col": pc,
        "mask": _mask_label(mask),
    }


def _flag(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "y", "t")
    return truthy(v)


def _mask_label(mask: Any) -> str | None:
    """How a mask is reported: its text, ``"rows"`` for a list of booleans, or None."""
    if mask is None:
        return None
    return mask.strip() if isinstance(mask, str) else "rows"


def eval_summary(result: Mapping[str, Any], path: str | os.PathLike[str]) -> dict[str, Any]:
    """The summary values ``expbook eval FILE --run RUN`` stores: the importer's key names
    (``preds/r2``, ``preds/test/f1``), with a named mask as one more segment
    (``preds/offdiag/f1``; ``preds/masked/f1`` for an expression or a list)."""
    from ..importers.predictions import prefix_for

    prefix = prefix_for(os.fspath(path))
    m = result.get("mask")
    if m:
        kind = m.split(":")[0]
        prefix += (kind if kind in ("offdiag", "diag") else "masked") + "/"
    return {prefix + k: result[k] for k in METRIC_KEYS[result["task"]]}


def _label_for(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem.lower() in ("preds", "predictions", "pred", "prediction", "y_pred", "outputs"):
        parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
        return parent or stem
    return stem


def eval_table(
    files: Sequence[str | os.PathLike[str]] | Mapping[str, str | os.PathLike[str]],
    **kwargs: Any,
) -> Table:
    """One row per prediction file (seed 000's R2/MAE/N table).

    ``files`` is a list of paths (labelled by file stem, or by folder for ``preds.csv``) or a
    mapping label -> path; ``kwargs`` go to :func:`eval_file`. Columns: ``run, task, n`` and
    the metrics of the task (the union when files mix tasks).
    """
    items = (
        list(files.items())
        if isinstance(files, Mapping)
        else [(_label_for(os.fspath(f)), f) for f in files]
    )
    results = [(label, eval_file(p, **kwargs)) for label, p in items]
    metric_cols: list[str] = []
    for _, r in results:
        for k in METRIC_KEYS[r["task"]]:
            if k != "n" and k not in metric_cols:
                metric_cols.append(k)
    rows = [[label, r["task"], r["n"], *(r.get(k) for k in metric_cols)] for label, r in results]
    return Table(
        ["run", "task", "n", *metric_cols],
        rows,
        kind="eval",
        title="prediction metrics",
        meta={"mask": _mask_label(kwargs.get("mask"))},
    )
