"""Seed 002 (WikiText-103 screening): best vs last, fixed step, perplexity, throughput, ranking."""

from __future__ import annotations

import math

import pytest
from seeds import expected

from expbook.analysis import leaderboard

DERIVE = [
    "ppl_best=exp(best(val_loss))",
    "ppl_last=exp(val_loss)",
    "steps_per_sec=throughput(elapsed, 500, 15000)",
    "sec_per_step=1 / steps_per_sec",
]


@pytest.fixture(scope="module")
def exp():
    return expected("seed002")


@pytest.fixture(scope="module")
def board(seed002_runs):
    return leaderboard(seed002_runs, "val_loss", at_step=15000, derive=DERIVE)


def test_best_vs_last_table(board, exp):
    rows = {r["run"]: r for r in board.to_records()}
    assert len(rows) == 6
    for e in exp["runs"]:
        r = rows[e["run"]]
        assert r["best"] == e["best_val_loss"]
        assert r["best_step"] == e["best_step"]
        assert r["last"] == e["last_val_loss"]
        assert r["last_step"] == e["last_step"]
        assert r["points"] == e["n_points"]
        assert r["source"] == "series"
        assert r["note"] is None


def test_ranking_by_best(board, exp):
    assert [r["run"] for r in board.to_records()] == exp["ranking_by_best_val_loss"]
    assert board.column("rank") == [1, 2, 3, 4, 5, 6]


def test_fixed_step_comparison(seed002_runs, exp):
    t = leaderboard(seed002_runs, "val_loss", at_step=15000, sort="at")
    recs = t.to_records()
    assert [r["run"] for r in recs] == exp["fixed_step_15000_order"]
    by_run = {e["run"]: e for e in exp["runs"]}
    for r in recs:
        assert r["at_value"] == by_run[r["run"]]["val_loss_at_15000"]
    assert t.meta["at_step"] == 15000


def test_perplexity_and_throughput(board, exp):
    rows = {r["run"]: r for r in board.to_records()}
    for e in exp["runs"]:
        r = rows[e["run"]]
        assert r["ppl_best"] == pytest.approx(e["ppl_best"], rel=1e-12)
        assert r["ppl_last"] == pytest.approx(e["ppl_last"], rel=1e-12)
        assert r["steps_per_sec"] == pytest.approx(e["steps_per_sec_500_to_15000"], rel=1e-12)
        assert r["sec_per_step"] == pytest.approx(e["sec_per_step_500_to_15000"], rel=1e-12)
        assert round(r["ppl_best"], 2) == e["ppl_best_2dp"]
        assert round(r["steps_per_sec"], 3) == e["steps_per_sec_3dp"]


def test_headline_delta(board, exp):
    rows = {r["run"]: r for r in board.to_records()}
    h = exp["headline"]
    vanilla, ngt = rows[h["best_overall_run"]], rows[h["best_ngt_run"]]
    assert ngt["at_value"] - vanilla["at_value"] == pytest.approx(h["delta_loss_at_15000"])
    pct = (ngt["ppl_last"] / vanilla["ppl_last"] - 1) * 100
    assert pct == pytest.approx(h["delta_ppl_pct"])


def test_throughput_from_wall_time_and_default_steps(seed002_runs):
    from expbook.analysis import MemoryRun, apply_derived

    # the same run with wall-clock times instead of an elapsed metric
    src = seed002_runs[0]
    elapsed = src.series("elapsed")
    steps, values = list(elapsed.steps), list(elapsed.values)
    wall0 = 1_700_000_000.0
    run = MemoryRun(
        "walls", series={"val_loss": [(s, 1.0, wall0 + e) for s, e in zip(steps, values)]}
    )
    [d] = apply_derived([run], ["a=throughput(_time, 500, 15000)", "b=throughput(_time)"])
    expected_rate = (15000 - 500) / (values[-1] - values[0])
    assert d.derived["a"] == pytest.approx(expected_rate)
    assert d.derived["b"] == pytest.approx(expected_rate)
    [d2] = apply_derived([src], ["c=throughput(elapsed)", "d=throughput(elapsed, 500, 777)"])
    assert d2.derived["c"] == pytest.approx(expected_rate)
    assert d2.derived["d"] is None  # no point at step 777
    assert not math.isnan(expected_rate)
