"""Seed 003: comparing two runs (config diff, per-stage losses, NRMSE delta, time and cost)."""

from __future__ import annotations

import json

import pytest
from seeds import expected

from expbook.analysis import MemoryRun, compare


@pytest.fixture(scope="module")
def exp():
    return expected("seed003")


@pytest.fixture(scope="module")
def result(seed003_runs, exp):
    return compare([seed003_runs[exp["a"]], seed003_runs[exp["b"]]])


def test_config_diff(result, exp):
    got = result.to_jsonable()["config_diff"]
    want = [
        {
            "key": e["key"],
            "values": [e["a"], e["b"]],
            "only_in": None if e["only_in"] is None else [exp[e["only_in"]]],
        }
        for e in exp["config_diff"]
    ]
    assert got == want  # same keys, values and order


def test_stage_metrics(result, exp):
    metrics = {m["key"]: m for m in result.to_jsonable()["metrics"]}
    for i, run in enumerate((exp["a"], exp["b"])):
        for stage, e in exp["runs"][run]["stages"].items():
            loss = metrics[f"{stage}/loss"]
            val = metrics[f"{stage}/val_loss"]
            grad = metrics[f"{stage}/grad_norm"]
            assert loss["stage"] == stage and loss["metric"] == "loss"
            assert loss["final"][i] == e["final_loss"]
            assert loss["points"][i] == e["epochs"]
            assert val["best"][i] == e["best_val_loss"]
            assert val["best_step"][i] == e["best_val_epoch"]
            assert grad["final"][i] == e["final_grad_norm"]
            assert loss["best"][i] == e["min_train_loss"]


def test_nrmse_delta(result, exp):
    nrmse = next(m for m in result.to_jsonable()["metrics"] if m["key"] == "nrmse")
    assert nrmse["stage"] is None and nrmse["points"] == [0, 0]
    assert nrmse["final"] == [exp["nrmse"]["a"], exp["nrmse"]["b"]]
    assert nrmse["final_delta"][1] == pytest.approx(exp["nrmse"]["abs_delta"])
    assert nrmse["final_rel_delta"][1] == pytest.approx(exp["nrmse"]["rel_delta"])
    assert round(nrmse["final_rel_delta"][1] * 100, 1) == exp["nrmse"]["rel_delta_pct_1dp"]
    assert nrmse["final_delta"][0] is None


def test_time_and_cost(result, exp):
    data = result.to_jsonable()
    t, c = data["time"], data["cost"]
    assert t["minutes"] == pytest.approx([exp["time"]["a_minutes"], exp["time"]["b_minutes"]])
    assert t["ratio"][1] == pytest.approx(exp["time"]["ratio"])
    assert t["source"] == ["summary.train_wall_clock_minutes"] * 2
    assert c["usd"] == pytest.approx([exp["cost"]["a_usd"], exp["cost"]["b_usd"]])
    assert [round(x, 2) for x in c["usd"]] == [exp["cost"]["a_usd_2dp"], exp["cost"]["b_usd_2dp"]]
    assert c["ratio"][1] == pytest.approx(exp["cost"]["ratio"])
    assert c["per_hour"] == [2.05, 2.05]


def test_cost_per_hour_option_overrides(seed003_runs, exp):
    res = compare([seed003_runs[exp["a"]], seed003_runs[exp["b"]]], cost_per_hour=4.0)
    c = res.to_jsonable()["cost"]
    assert c["usd"] == pytest.approx([20.4 / 60 * 4.0, 315.4 / 60 * 4.0])
    assert c["source"] == ["--cost-per-hour"] * 2


def test_json_shape_and_tables(result, exp):
    data = json.loads(json.dumps(result.to_jsonable()))
    assert list(data) == [
        "kind",
        "runs",
        "baseline",
        "config_diff",
        "metrics",
        "time",
        "cost",
        "notes",
    ]
    assert data["kind"] == "compare"
    assert data["baseline"] == exp["a"]
    assert [r["name"] for r in data["runs"]] == [exp["a"], exp["b"]]
    names = [t.meta["name"] for t in result.tables()]
    assert names == [
        "config",
        "stage:operator",
        "stage:diff_residual",
        "stage:consistency_distill",
        "metrics",
        "resources",
    ]
    text = result.to_text()
    assert "-1.52%" in text
    assert "15.46x" in text
    res = result.table("resources").to_records()
    assert res[0]["quantity"] == "time (min)" and res[0]["ratio"] == pytest.approx(15.4608, 1e-4)


def test_time_from_timestamps_and_three_runs():
    a = MemoryRun("a", config={"lr": 1e-3}, summary={"acc": 0.5}, created_at=0.0, finished_at=600.0)
    b = MemoryRun(
        "b", config={"lr": 1e-3, "x": 1}, summary={"acc": 0.6}, created_at=0, finished_at=1200
    )
    c = MemoryRun("c", config={"lr": 3e-3}, summary={"acc": 0.4})
    res = compare([a, b, c], cost_per_hour=6.0)
    data = res.to_jsonable()
    assert data["config_diff"] == [
        {"key": "lr", "values": [1e-3, 1e-3, 3e-3], "only_in": None},
        {"key": "x", "values": [None, 1, None], "only_in": ["b"]},
    ]
    assert data["time"]["seconds"] == [600.0, 1200.0, None]
    assert data["time"]["source"][0] == "finished_at - created_at"
    assert data["time"]["ratio"] == [None, 2.0, None]
    assert data["cost"]["usd"] == [1.0, 2.0, None]
    acc = next(m for m in data["metrics"] if m["key"] == "acc")
    assert acc["mode"] == "max"
    assert acc["final_ratio"] == [None, pytest.approx(1.2), pytest.approx(0.8)]
    assert "no wall-clock time for c" in data["notes"]
    metrics_table = res.table("metrics")
    assert "delta [b]" in metrics_table.columns and "ratio [c]" in metrics_table.columns


def test_cost_sources():
    base = MemoryRun("a", config={"gpu_hourly_usd": 2.0, "gpu_count": 4}, summary={"runtime": 1800})
    total = MemoryRun("b", summary={"runtime": 3600, "cost_usd": 9.5})
    data = compare([base, total]).to_jsonable()
    assert data["time"]["seconds"] == [1800.0, 3600.0]
    assert data["time"]["source"] == ["summary.runtime", "summary.runtime"]
    assert data["cost"]["usd"] == [pytest.approx(4.0), 9.5]  # 0.5 h x 2 USD x 4 GPUs
    assert data["cost"]["source"] == ["config.gpu_hourly_usd x 4 gpus", "summary.cost_usd"]
    # budgets and per-epoch times are not the run's duration
    odd = MemoryRun("c", config={"time_limit_s": 600}, summary={"epoch_seconds": 0.1})
    assert compare([odd]).to_jsonable()["time"]["seconds"] == [None]


def test_renderings_and_dataframes(result):
    md = result.to_markdown()
    assert md.startswith("**config differences**\n\n| key | baseline_32dim | hjnqclgk | only_in |")
    dfs = result.to_df()
    assert list(dfs) == [
        "config",
        "stage:operator",
        "stage:diff_residual",
        "stage:consistency_distill",
        "metrics",
        "resources",
    ]
    assert list(dfs["resources"].columns) == ["quantity", "baseline_32dim", "hjnqclgk", "ratio"]
    csv_text = result.to_csv()
    assert csv_text.startswith("key,baseline_32dim,hjnqclgk,only_in\nrun_name,")
