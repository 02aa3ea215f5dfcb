"""``eval_file``: columns, masks (off-diagonal adjacency entries), formats, summary keys.

The metric arithmetic is the prediction importer's ``evaluate`` (tested with the importers);
these tests pin what eval adds around it.
"""

from __future__ import annotations

import json
import math

import pytest

from expbook.analysis import EvalError, eval_file, eval_summary, eval_table


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.fixture
def adjacency(tmp_path):
    # a 3x3 adjacency: the diagonal is trivially right; off-diagonal entries tell the truth
    truth = {(0, 1): 1, (1, 2): 1, (2, 0): 0, (0, 2): 1, (1, 0): 0, (2, 1): 0}
    guess = {(0, 1): 1, (1, 2): 0, (2, 0): 0, (0, 2): 1, (1, 0): 1, (2, 1): 0}
    rows = ["graph,source,target,label,pred"]
    for i in range(3):
        for j in range(3):
            t = 1 if i == j else truth[(i, j)]
            p = 1 if i == j else guess[(i, j)]
            rows.append(f"0,{i},{j},{t},{p}")
    return _write(tmp_path, "adj_preds.csv", "\n".join(rows) + "\n")


def test_offdiag_mask_with_index_columns(adjacency):
    full = eval_file(adjacency)
    off = eval_file(adjacency, mask="offdiag")
    diag = eval_file(adjacency, mask="diag")
    # "target" is an index column here, never the truth
    assert (off["true_col"], off["pred_col"], off["task"]) == ("label", "pred", "classification")
    assert (full["n"], off["n"], diag["n"]) == (9, 6, 3)
    assert full["accuracy"] == pytest.approx(7 / 9)
    assert off["accuracy"] == pytest.approx(4 / 6)
    # off-diagonal, positive class 1: tp=2 (0,1),(0,2); fp=1 (1,0); fn=1 (1,2)
    assert (off["precision"], off["recall"], off["f1"]) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert diag["accuracy"] == 1.0
    assert off["mask"] == "offdiag"
    # the same mask as an expression over the row's columns, or as a list
    assert eval_file(adjacency, mask="source != target")["accuracy"] == off["accuracy"]
    flags = [i != j for i in range(3) for j in range(3)]
    by_list = eval_file(adjacency, mask=flags)
    assert by_list["accuracy"] == off["accuracy"] and by_list["mask"] == "rows"
    assert eval_file(adjacency, mask="source != target and graph == 1")["n"] == 0


def test_summary_keys_follow_the_importer(adjacency, tmp_path):
    off = eval_file(adjacency, mask="offdiag")
    assert eval_summary(off, adjacency) == {
        "preds/adj/offdiag/n": 6,
        "preds/adj/offdiag/accuracy": off["accuracy"],
        "preds/adj/offdiag/precision": off["precision"],
        "preds/adj/offdiag/recall": off["recall"],
        "preds/adj/offdiag/f1": off["f1"],
    }
    plain = _write(tmp_path, "preds.csv", "y_true,y_pred\n1.0,1.5\n2.0,2.0\n3.0,2.0\n")
    assert list(eval_summary(eval_file(plain), plain)) == [
        "preds/n",
        "preds/mse",
        "preds/rmse",
        "preds/mae",
        "preds/r2",
    ]


def test_offdiag_for_flattened_matrices(tmp_path):
    # two 2x2 matrices flattened row-major: positions 0 and 3 of each are the diagonal
    body = "\n".join(f"{t},{p}" for t, p in [(1, 1), (0, 1), (1, 1), (1, 1)] * 2)
    path = _write(tmp_path, "flat.csv", "y_true,y_pred\n" + body + "\n")
    out = eval_file(path, mask="offdiag:2")
    assert out["n"] == 4 and out["accuracy"] == 0.5
    with pytest.raises(EvalError, match="needs index columns"):
        eval_file(path, mask="offdiag")


def test_file_formats_and_explicit_columns(tmp_path):
    recs = [{"target": 1.0, "prediction": 1.5}, {"target": 2.0, "prediction": 2.0}]
    jl = _write(tmp_path, "p.jsonl", "\n".join(json.dumps(r) for r in recs) + "\n")
    js = _write(tmp_path, "p.json", json.dumps(recs))
    tsv = _write(tmp_path, "p.tsv", "actual\tpredicted\n1.0\t1.5\n2.0\t2.0\n")
    for p in (jl, js, tsv):
        out = eval_file(p)
        assert out["task"] == "regression"
        assert out["mse"] == pytest.approx(0.125), p
    custom = _write(tmp_path, "x.csv", "a,b,c\n1.5,2,3.5\n2.5,2,4.5\n")
    out = eval_file(custom, true_col="a", pred_col="c")
    assert out["mae"] == 2.0 and (out["true_col"], out["pred_col"]) == ("a", "c")


def test_missing_values_and_string_labels(tmp_path):
    path = _write(tmp_path, "p.csv", "y_true,y_pred\n1.0,1.0\n,2.0\n3.0,\n4.0,5.0\n")
    out = eval_file(path, task="regression")
    assert out["n"] == 2 and out["mse"] == 0.5
    labels = _write(tmp_path, "l.csv", "label,pred\ncat,cat\ndog,cat\nbird,bird\n,dog\n")
    out = eval_file(labels)
    assert out["task"] == "classification" and out["n"] == 3
    assert out["accuracy"] == pytest.approx(2 / 3)


def test_eval_table_labels_runs_by_folder(tmp_path):
    for name, preds in (("run_a", "1.0,1.0\n2.0,2.0\n3.0,2.5\n"), ("run_b", "1.5,2.5\n2.5,1.5\n")):
        (tmp_path / name).mkdir()
        _write(tmp_path / name, "preds.csv", "y_true,y_pred\n" + preds)
    t = eval_table([tmp_path / "run_a" / "preds.csv", tmp_path / "run_b" / "preds.csv"])
    assert t.columns == ["run", "task", "n", "mse", "rmse", "mae", "r2"]
    recs = t.to_records()
    assert [r["run"] for r in recs] == ["run_a", "run_b"]
    assert recs[1]["mse"] == 1.0 and recs[1]["r2"] == pytest.approx(-3.0)
    assert t.to_jsonable()["mask"] is None
    const = _write(tmp_path, "c.csv", "y_true,y_pred\n1.5,1.0\n1.5,2.0\n")
    assert math.isnan(eval_file(const)["r2"])


def test_eval_errors(tmp_path):
    path = _write(tmp_path, "x.csv", "a,b\n1,2\n")
    with pytest.raises(EvalError, match=r"cannot tell which columns.*--true COL --pred COL"):
        eval_file(path)
    with pytest.raises(EvalError, match="no column 'zz'"):
        eval_file(path, true_col="zz", pred_col="b")
    with pytest.raises(EvalError, match="cannot read"):
        eval_file(tmp_path / "missing.csv")
    with pytest.raises(EvalError, match="mask has 3 entries for 1 rows"):
        eval_file(path, true_col="a", pred_col="b", mask=[True, False, True])
    with pytest.raises(EvalError, match="mask: unexpected character"):
        eval_file(path, true_col="a", pred_col="b", mask="a $ b")
    with pytest.raises(EvalError, match="unknown task"):
        eval_file(path, true_col="a", pred_col="b", task="ranking")
