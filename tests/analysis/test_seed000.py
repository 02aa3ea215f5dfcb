"""Seed 000 (GNN ablations): generalization table, R2/MAE/N, JIT timing, sweep, winners."""

from __future__ import annotations

import pytest
from seeds import FIXTURES, expected

from expbook.analysis import (
    apply_derived,
    eval_file,
    eval_table,
    leaderboard,
    pivot,
    select_runs,
    winners,
)


@pytest.fixture(scope="module")
def exp():
    return expected("seed000")


def test_generalization_table(seed000_runs, exp):
    # train_mse is the last logged point; test_mse a summary-only value, null where absent
    t = leaderboard(seed000_runs, "train_mse", columns=["test_mse"])
    got = {r["run"]: (r["last"], r["test_mse"]) for r in t.to_records()}
    for e in exp["generalization_table"]:
        assert got[e["run"]] == (e["train_mse"], e["test_mse"])


def test_test_mse_leaderboard_lists_runs_without_it_last(seed000_runs):
    t = leaderboard(seed000_runs, "test_mse")
    recs = t.to_records()
    with_value = [r for r in recs if r["best"] is not None]
    without = [r for r in recs if r["best"] is None]
    assert len(recs) == len(seed000_runs)  # nothing dropped
    assert recs[: len(with_value)] == with_value
    assert all(r["source"] == "summary" and r["best_step"] is None for r in with_value)
    assert all(r["note"] == "no 'test_mse'" and r["rank"] is None for r in without)
    assert f"{len(without)} runs have no 'test_mse' (listed last)" in t.notes
    assert with_value[0]["run"] == "gen_torch_5to7to8_lappe4_sum"


def test_ablations_table(seed000_runs, exp):
    abl = select_runs(seed000_runs, names=["baseline_*", "abl_*"])
    got = {r.name: r.summary["train_mse"] for r in abl}
    assert got == {e["run"]: e["mse"] for e in exp["ablations_table"]}


def test_jax_timing_steady_state(seed000_runs, exp):
    timing = select_runs(seed000_runs, filter='matches(name, "timing_*")')
    runs = {
        r.name: r
        for r in apply_derived(
            timing, ["steady_s=steady(epoch_seconds, warmup=2)", "m=mean(epoch_seconds)"]
        )
    }
    jit = runs["timing_jax_jit"].derived["steady_s"]
    nojit = runs["timing_jax_nojit"].derived["steady_s"]
    assert jit == pytest.approx(exp["jax_timing"]["steady_state_epoch_s_jit"], abs=1e-12)
    assert nojit == pytest.approx(exp["jax_timing"]["steady_state_epoch_s_nojit"], abs=1e-12)
    assert nojit / jit == pytest.approx(exp["jax_timing"]["speedup_nojit_over_jit"])
    # the warm-up epochs matter: the plain mean is far off
    assert runs["timing_jax_jit"].derived["m"] > 0.2


def test_sweep_pivot(seed000_sweep_runs, exp):
    t = pivot(seed000_sweep_runs, rows=["framework", "pool"], cols=["feature"], value="test_mse")
    assert t.columns == ["framework", "pool", "deg_lap_pe", "onehot"]
    want = {(e["framework"], e["pool"], e["feature"]): e["test_mse"] for e in exp["sweep_table"]}
    cells = {}
    for r in t.to_records():
        for feat in ("deg_lap_pe", "onehot"):
            cells[(r["framework"], r["pool"], feat)] = r[feat]
    assert cells == want
    assert [(r["framework"], r["pool"]) for r in t.to_records()] == [
        ("jax", "mean"),
        ("jax", "sum"),
        ("torch", "mean"),
        ("torch", "sum"),
    ]
    assert t.meta["col_values"] == [["deg_lap_pe"], ["onehot"]]


def test_sweep_winners(seed000_sweep_runs, exp):
    params = ["framework", "pool", "feature", "layers", "hidden", "seed", "out_dir"]
    t = winners(
        seed000_sweep_runs,
        "test_mse",
        mode="min",
        by=["framework"],
        params=params,
        metrics=["train_mse"],
    )
    recs = t.to_records()
    assert [r["scope"] for r in recs] == ["overall", "framework=jax", "framework=torch"]

    def check(row, want):
        assert row["run"] == want["run"]
        assert row["value"] == want["test_mse"]
        assert row["train_mse"] == want["train_mse"]
        assert row["n"] == 1 and row["std"] is None
        for p in params:
            assert row[p] == want[p], p

    check(recs[0], exp["sweep_winner_overall"])
    check(recs[1], exp["sweep_winner_per_framework"]["jax"])
    check(recs[2], exp["sweep_winner_per_framework"]["torch"])


def test_default_winner_params_are_the_varying_keys(seed000_sweep_runs):
    t = winners(seed000_sweep_runs, "test_mse")
    # out_dir and seed are ignored; lap_pe_k only exists for deg_lap_pe runs
    assert t.columns == [
        "scope",
        "run",
        "n",
        "framework",
        "pool",
        "feature",
        "lap_pe_k",
        "value",
        "std",
    ]


def test_prediction_metrics(exp):
    root = FIXTURES / "seed000" / "raw" / "results"
    files = sorted(root.glob("gen_*/preds.csv"))
    assert len(files) == len(exp["test_metrics"]) == 14
    t = eval_table(files)
    assert t.columns[:3] == ["run", "task", "n"]
    for r in t.to_records():
        e = exp["test_metrics"][r["run"]]
        assert r["task"] == "regression"
        assert r["n"] == e["n"] == 200
        assert r["mse"] == pytest.approx(e["mse"], rel=1e-12)
        assert r["r2"] == pytest.approx(e["r2"], rel=1e-12)
        assert r["mae"] == pytest.approx(e["mae"], rel=1e-12)
        assert round(r["r2"], 4) == e["r2_4dp"]
        assert round(r["mae"], 4) == e["mae_4dp"]


def test_eval_file_detects_columns(exp):
    path = FIXTURES / "seed000" / "raw" / "results" / "gen_jax_5to7to8" / "preds.csv"
    out = eval_file(path)
    assert (out["true_col"], out["pred_col"], out["task"], out["mask"]) == (
        "y_true",
        "y_pred",
        "regression",
        None,
    )
    assert out["mse"] == pytest.approx(13.221221, abs=1e-6)  # == summary test_mse
