"""Seed 001 (attention probe): best test F1 and its epoch, final results at the best epoch."""

from __future__ import annotations

import pytest
from seeds import expected

from expbook.analysis import leaderboard

AT_BEST = "best_step(test_f1, 'max')"


def test_best_f1_and_final_results(seed001_runs):
    exp = expected("seed001")
    t = leaderboard(
        seed001_runs,
        "test_f1",
        mode="max",
        derive=[
            f"final_test_loss=at(test_loss, {AT_BEST})",
            f"final_test_acc=at(test_accuracy, {AT_BEST})",
            "last_train_loss=last(train_loss)",
        ],
    )
    got = {r["run"]: r for r in t.to_records()}
    assert len(got) == len(exp["runs"]) == 10
    for e in exp["runs"]:
        r = got[e["run"]]
        assert r["best"] == e["best_test_f1"]
        assert r["best_step"] == e["best_epoch"]
        assert r["final_test_loss"] == e["final_test_loss"]
        assert r["final_test_acc"] == e["final_test_acc"]
        last = e["last_epoch_row"]
        assert (r["last_step"], r["last"], r["last_train_loss"]) == (
            last["epoch"],
            last["test_f1"],
            last["train_loss"],
        )
    ranked = [e["run"] for e in sorted(exp["runs"], key=lambda e: -e["best_test_f1"])]
    assert [r["run"] for r in t.to_records()] == ranked
    assert t.to_records()[0]["best"] == pytest.approx(max(e["best_test_f1"] for e in exp["runs"]))
