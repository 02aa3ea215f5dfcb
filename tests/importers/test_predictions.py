"""predictions.evaluate and prediction files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from expbook.importers import predictions
from expbook.importers.model import ParseError


def test_regression_metrics_use_population_variance() -> None:
    yt = np.array([1.0, 2.0, 3.0, 4.0])
    yp = np.array([1.5, 2.0, 2.0, 5.0])
    m = predictions.evaluate(yt, yp)
    mse = (0.25 + 0 + 1 + 1) / 4
    assert m["mse"] == pytest.approx(mse)
    assert m["rmse"] == pytest.approx(math.sqrt(mse))
    assert m["mae"] == pytest.approx((0.5 + 0 + 1 + 1) / 4)
    assert m["r2"] == pytest.approx(1 - mse / np.var(yt))  # np.var is the population variance
    assert m["n"] == 4


def test_regression_drops_non_finite_and_masked_rows() -> None:
    m = predictions.evaluate([1.5, 2.5, np.nan, 4.5, 5.5], [1.5, 2.5, 3.0, np.inf, 6.5])
    assert m["n"] == 3
    assert m["mse"] == pytest.approx(1 / 3)
    m2 = predictions.evaluate([1, 2, 3.5], [1, 3, 3.5], mask=[True, False, True])
    assert m2["n"] == 2 and m2["mse"] == 0.0
    assert math.isnan(predictions.evaluate([2.5, 2.5], [1.0, 2.0])["r2"])  # constant y_true


def test_binary_classification() -> None:
    yt = [1, 0, 1, 1, 0, 0]
    yp = [1, 0, 0, 1, 1, 0]
    m = predictions.evaluate(yt, yp)
    assert set(m) == {"accuracy", "precision", "recall", "f1", "n"}
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["n"] == 6
    # booleans and probabilities (thresholded at 0.5) give the same
    assert predictions.evaluate(np.array(yt, bool), np.array(yp, bool)) == m
    assert predictions.evaluate(yt, [0.9, 0.2, 0.4, 0.7, 0.6, 0.1]) == m


def test_multiclass_macro_average_and_string_labels() -> None:
    m = predictions.evaluate([0, 1, 2, 2], [0, 2, 2, 2])
    assert m["accuracy"] == 0.75
    # class 0: p=1 r=1; class 1: p=0 r=0; class 2: p=2/3 r=1
    assert m["precision"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert m["recall"] == pytest.approx((1 + 0 + 1) / 3)
    s = predictions.evaluate(["cat", "dog", "dog"], ["cat", "cat", "dog"])
    assert s["accuracy"] == pytest.approx(2 / 3)
    assert s["n"] == 3


def test_task_can_be_forced_and_errors() -> None:
    assert "r2" in predictions.evaluate([0, 1, 1], [0, 1, 0], task="regression")
    with pytest.raises(ValueError, match="unknown task"):
        predictions.evaluate([1], [1], task="ranking")
    with pytest.raises(ValueError, match="has 2 values"):
        predictions.evaluate([1, 2], [1])


def test_prefix_for_names() -> None:
    assert predictions.prefix_for("preds.csv") == "preds/"
    assert predictions.prefix_for("predictions.csv") == "preds/"
    assert predictions.prefix_for("test_preds.csv") == "preds/test/"
    assert predictions.prefix_for("predictions_val.csv") == "preds/val/"


def test_prediction_file_run(tmp_path: Path) -> None:
    p = tmp_path / "preds.csv"
    p.write_text("graph_id,y_true,y_pred\n0,1.0,1.5\n1,2.0,2.0\n2,3.0,\n3,4.0,3.0\n")
    (run,) = predictions.parse(str(p))
    assert run.summary["preds/n"] == 3  # the blank prediction is left out
    assert run.summary["preds/mse"] == pytest.approx((0.25 + 0 + 1) / 3)
    assert run.artifacts[0].kind == "predictions"
    assert run.artifacts[0].path == str(p)
    assert run.artifacts[0].sha256 == run.files[0].sha256
    assert predictions.sniff_file(str(p), p.read_bytes()) == 90
    q = tmp_path / "other.csv"
    q.write_text("a,b\n1,2\n")
    with pytest.raises(ParseError, match="no true/predicted columns"):
        predictions.parse(str(q))
