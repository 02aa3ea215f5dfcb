"""Prediction files (``preds.csv``: a true and a predicted column per sample) and the metrics
computed from them.

:func:`evaluate` is a pure numpy function reused by ``expbook eval``.

A prediction file is kept as a run artifact (``Artifact(kind="predictions")``) and evaluated
into summary values named ``preds/<metric>``; a file with a qualifier in its name
(``test_preds.csv``, ``predictions_val.csv``) gives ``preds/<qualifier>/<metric>``
(``preds/test/r2``). The ``preds/`` prefix cannot clash with logged keys.

Metrics:

* regression: ``mse``, ``rmse``, ``mae``, ``r2`` (= 1 - SS_res/SS_tot, i.e. 1 - MSE / population
  variance of y_true; NaN if y_true is constant) and ``n``;
* classification: ``accuracy``, ``precision``, ``recall``, ``f1`` and ``n``. Binary labels
  (0/1, booleans, two classes): precision/recall/F1 of the positive class (1/True, else the
  larger label); more classes: macro averages over the labels present in y_true or y_pred.
  A binary y_true with predictions in [0, 1] that are not all 0/1 (probabilities) is
  thresholded at 0.5.
* the task is inferred when not given: classification if y_true holds integers (or booleans or
  strings) with at most 20 distinct values and y_pred holds integers too (or probabilities for
  a binary y_true); regression otherwise.

Columns: true = first of ``y_true, true, target, label, labels, y, gt, ground_truth, actual,
truth``; predicted = first of ``y_pred, pred, prediction, predicted, preds, y_hat, yhat,
output``; an optional boolean ``mask`` column selects rows. Rows with a missing or non-finite
value are left out (``n`` counts the rows used).
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from . import common
from .model import Artifact, ImportedRun, ParseError

FORMAT = "predictions"
ALIASES = ("preds",)

TRUE_COLS = (
    "y_true",
    "true",
    "target",
    "targets",
    "label",
    "labels",
    "y",
    "gt",
    "ground_truth",
    "actual",
    "truth",
)
PRED_COLS = ("y_pred", "pred", "prediction", "predicted", "preds", "y_hat", "yhat", "output")
MASK_COLS = ("mask", "valid", "is_valid")
MAX_CLASSES = 20
_POSITIVE = ("1", "true", "yes", "pos", "positive")


def infer_task(y_true: np.ndarray, y_pred: np.ndarray) -> str:
    if y_true.dtype.kind in "bUSO" or y_pred.dtype.kind in "bUSO":
        return "classification"
    if not len(y_true):
        return "regression"
    t_int = bool(np.all(y_true == np.round(y_true)))
    if not t_int or len(np.unique(y_true)) > MAX_CLASSES:
        return "regression"
    if np.all(y_pred == np.round(y_pred)):
        return "classification"
    if set(np.unique(y_true).tolist()) <= {0.0, 1.0} and np.all((y_pred >= 0) & (y_pred <= 1)):
        return "classification"
    return "regression"


def _as_array(x: Any) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind in "iuf":
        return a.astype(np.float64).ravel()
    if a.dtype.kind == "b":
        return a.ravel()
    try:
        return a.astype(np.float64).ravel()
    except (ValueError, TypeError):
        return a.astype(str).ravel()


def evaluate(
    y_true: Any, y_pred: Any, task: str | None = None, mask: Any = None
) -> dict[str, float | int]:
    """Metrics of predictions against targets.

    ``task``: ``"regression"``, ``"classification"`` or None (inferred, see module doc).
    ``mask``: optional booleans selecting the samples to score. Returns a dict with keys
    ``mse, rmse, mae, r2, n`` (regression) or ``accuracy, precision, recall, f1, n``
    (classification); ``n`` is the number of samples used.
    """
    yt = _as_array(y_true)
    yp = _as_array(y_pred)
    if yt.dtype.kind == "b" and yp.dtype.kind == "f":
        yt = yt.astype(np.float64)
    if yp.dtype.kind == "b" and yt.dtype.kind == "f":
        yp = yp.astype(np.float64)
    if yt.shape != yp.shape:
        raise ValueError(f"y_true has {yt.size} values but y_pred has {yp.size}")
    keep = np.ones(yt.shape, dtype=bool)
    if yt.dtype.kind == "f":
        keep &= np.isfinite(yt)
    if yp.dtype.kind == "f":
        keep &= np.isfinite(yp)
    if mask is not None:
        m = np.asarray(mask, dtype=bool).ravel()
        if m.shape != yt.shape:
            raise ValueError("mask has a different length than y_true")
        keep &= m
    yt, yp = yt[keep], yp[keep]
    if task is None:
        task = infer_task(yt, yp)
    if task not in ("regression", "classification"):
        raise ValueError(f"unknown task {task!r} (use regression or classification)")
    n = len(yt)
    if task == "regression":
        if yt.dtype.kind not in "fb" or yp.dtype.kind not in "fb":
            raise ValueError("regression needs numeric y_true and y_pred")
        if n == 0:
            nan = float("nan")
            return {"mse": nan, "rmse": nan, "mae": nan, "r2": nan, "n": 0}
        yt = yt.astype(np.float64)
        err = yp.astype(np.float64) - yt
        mse = float(np.mean(err * err))
        var = float(np.mean((yt - yt.mean()) ** 2))
        return {
            "mse": mse,
            "rmse": float(np.sqrt(mse)),
            "mae": float(np.mean(np.abs(err))),
            "r2": (1.0 - mse / var) if var > 0 else float("nan"),
            "n": n,
        }
    return _classification(yt, yp, n)


def _classification(yt: np.ndarray, yp: np.ndarray, n: int) -> dict[str, float | int]:
    nan = float("nan")
    if n == 0:
        return {"accuracy": nan, "precision": nan, "recall": nan, "f1": nan, "n": 0}
    if yt.dtype.kind == "f" and yp.dtype.kind == "f":
        binary_true = set(np.unique(yt).tolist()) <= {0.0, 1.0}
        if binary_true and not np.all(yp == np.round(yp)) and np.all((yp >= 0) & (yp <= 1)):
            yp = (yp >= 0.5).astype(np.float64)
    if yt.dtype.kind != yp.dtype.kind:
        yt, yp = yt.astype(str), yp.astype(str)
    accuracy = float(np.mean(yt == yp))
    labels = np.unique(np.concatenate([yt, yp]))
    if len(labels) <= 2:
        pos = _positive(labels)
        p, r, f = _prf(yt == pos, yp == pos)
    else:
        ps, rs, fs = [], [], []
        for lab in labels:
            p_, r_, f_ = _prf(yt == lab, yp == lab)
            ps.append(p_)
            rs.append(r_)
            fs.append(f_)
        p, r, f = float(np.mean(ps)), float(np.mean(rs)), float(np.mean(fs))
    return {"accuracy": accuracy, "precision": p, "recall": r, "f1": f, "n": n}


def _positive(labels: np.ndarray) -> Any:
    vals = labels.tolist()
    for v in vals:
        if str(v).lower() in _POSITIVE or v is True or v == 1:
            return v
    return vals[-1]


def _prf(t: np.ndarray, p: np.ndarray) -> tuple[float, float, float]:
    tp = float(np.sum(t & p))
    fp = float(np.sum(~t & p))
    fn = float(np.sum(t & ~p))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


# ---------------------------------------------------------------------------------------------
# files


def prefix_for(path: str) -> str:
    """``preds.csv`` -> ``preds/``; ``test_preds.csv`` -> ``preds/test/``."""
    stem = os.path.basename(path).split(".")[0].lower()
    rest = re.sub(r"(?:^|[_\-.])(?:predictions|preds|pred|prediction)(?=$|[_\-.])", "_", stem)
    rest = common.norm_key(rest) if rest.strip("_-.") else ""
    return f"preds/{rest}/" if rest and rest != "value" else "preds/"


def find_columns(columns: list[str]) -> tuple[str, str, str | None] | None:
    lower = {c.lower().strip(): c for c in columns}
    t = next((lower[c] for c in TRUE_COLS if c in lower), None)
    p = next((lower[c] for c in PRED_COLS if c in lower), None)
    if t is None or p is None or t == p:
        return None
    m = next((lower[c] for c in MASK_COLS if c in lower), None)
    return t, p, m


def evaluate_file(path: str, data: bytes | None = None) -> tuple[dict[str, Any], list[str]]:
    """Summary values (``preds/...``) of a prediction file, and warnings."""
    from . import tabular

    if data is None:
        data = common.read_bytes(path)
    t = tabular.read_table(path, data)
    cols = find_columns(t.columns)
    if cols is None:
        raise ParseError("no true/predicted columns (e.g. y_true,y_pred) in prediction file")
    tc, pc, mc = cols

    def column(c: str) -> np.ndarray:
        if c in t.num:
            return np.where(t.present[c], t.num[c], np.nan)
        return np.array([v if v is not None else "" for v in t.text[c]], dtype=object)

    yt, yp = column(tc), column(pc)
    mask = None
    if yt.dtype == object or yp.dtype == object:
        keep = np.array([a != "" and b != "" for a, b in zip(yt.tolist(), yp.tolist())])
        yt = yt.astype(str)
        yp = yp.astype(str)
        mask = keep
    if mc is not None:
        mv = column(mc)
        mm = np.array([_truthy(v) for v in mv.tolist()], dtype=bool)
        mask = mm if mask is None else (mask & mm)
    metrics = evaluate(yt, yp, mask=mask)
    prefix = prefix_for(path)
    return {prefix + k: v for k, v in metrics.items()}, list(t.warnings)


def _truthy(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "y", "t")
    try:
        return bool(v) and v == v
    except Exception:  # pragma: no cover
        return False


def artifact(path: str, data: bytes) -> Artifact:
    return Artifact(
        path=os.path.abspath(path), kind="predictions", sha256=common.source_of(path, data).sha256
    )


def sniff_file(path: str, head: bytes) -> int:
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".csv", ".tsv") or not head or common.looks_binary(head):
        return 0
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
    cols = [c.strip().strip('"') for c in re.split(r"[,\t;|]", first)]
    return 90 if find_columns(cols) is not None else 0


def parse(path: str, opts: Any = None) -> list[ImportedRun]:
    data = common.read_bytes(path)
    summary, warns = evaluate_file(path, data)
    run = common.new_run(path, FORMAT, opts)
    run.summary.update(summary)
    run.warnings.extend(warns)
    run.artifacts.append(artifact(path, data))
    run.files.append(common.source_of(path, data))
    return common.finish_runs([run], opts)
