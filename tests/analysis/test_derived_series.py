"""Derived metrics that are point-wise in logged keys are series; reducing ones stay values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from expbook.analysis import MemoryRun, apply_derived, leaderboard, pivot, winners
from expbook.expr import parse

# val_loss dips at step 20 and rises again: its best is not its last
VAL = {
    "dip": [(0, 5.0), (10, 4.4), (20, 4.3), (30, 4.35)],
    "flat": [(0, 5.0), (10, 4.6), (20, 4.5), (30, 4.4)],
}


def runs() -> list[MemoryRun]:
    return [
        MemoryRun(
            "dip",
            series={
                "val_loss": VAL["dip"],
                "tokens": [(0, 1.0), (10, 2.0), (20, 4.0), (25, 5.0), (30, 8.0)],
                "elapsed": [(0, 0.0), (30, 60.0)],
            },
            config={"lr": 0.1, "scale": 2},
        ),
        MemoryRun(
            "flat",
            series={
                "val_loss": VAL["flat"],
                "tokens": [(10, 1.0), (30, 2.0)],
                "elapsed": [(0, 0.0), (30, 30.0)],
            },
            config={"lr": 0.01, "scale": 3},
        ),
        # a run with only a summary value of val_loss: the expression is one value there
        MemoryRun("summary_only", summary={"val_loss": 4.2}, config={"lr": 1.0, "scale": 1}),
    ]


def by_run(table) -> dict:
    return {r["run"]: r for r in table.to_records()}


def test_best_of_a_derived_series_is_at_its_own_best_step():
    t = leaderboard(runs(), "ppl", derive=["ppl=exp(val_loss)"])
    rows = by_run(t)
    dip = rows["dip"]
    assert dip["best"] == pytest.approx(math.exp(4.3))  # exp of the best, not of the last
    assert dip["best_step"] == 20
    assert dip["last"] == pytest.approx(math.exp(4.35)) and dip["last_step"] == 30
    assert dip["points"] == 4 and dip["source"] == "derived series"
    # a run without the series keeps the value semantics
    s = rows["summary_only"]
    assert s["source"] == "derived" and s["best"] == pytest.approx(math.exp(4.2))
    assert s["best_step"] is None
    ranked = [r["run"] for r in t.to_records()]
    assert ranked == sorted(ranked, key=lambda n: rows[n]["best"])
    assert t.meta["derived"] == {"ppl": "series"}
    assert any("ppl is a series" in n for n in t.notes)


def test_value_at_step_and_sort_at_on_a_derived_series():
    t = leaderboard(runs(), "ppl", derive=["ppl=exp(val_loss)"], at_step=10, sort="at")
    rows = by_run(t)
    assert rows["dip"]["at_value"] == pytest.approx(math.exp(4.4))
    assert rows["flat"]["at_value"] == pytest.approx(math.exp(4.6))
    assert [r["run"] for r in t.to_records()][:2] == ["dip", "flat"]
    assert rows["summary_only"]["at_value"] is None
    t = leaderboard(runs(), "ppl", derive=["ppl=exp(val_loss)"], at_step=15)
    assert by_run(t)["dip"]["note"] == "no point at step 15"


def test_ratio_of_two_series_is_evaluated_on_the_steps_they_share():
    t = leaderboard(runs(), "r", derive=["r=val_loss / tokens"], mode="min")
    rows = by_run(t)
    dip = rows["dip"]
    # shared steps of dip: 0, 10, 20, 30 (25 has no val_loss): values 5, 2.2, 1.075, 0.54375
    assert dip["points"] == 4
    assert dip["best"] == pytest.approx(4.35 / 8.0) and dip["best_step"] == 30
    flat = rows["flat"]  # shared steps 10 and 30
    assert flat["points"] == 2 and flat["best"] == pytest.approx(4.4 / 2.0)
    t = leaderboard(runs(), "r", derive=["r=val_loss / tokens"], mode="max")
    assert by_run(t)["dip"]["best"] == pytest.approx(5.0) and by_run(t)["dip"]["best_step"] == 0
    # a run missing one of the keys as a series: a value per run, as before
    assert rows["summary_only"]["source"] in ("derived", None)


def test_reducing_expressions_stay_values_and_the_table_says_so():
    t = leaderboard(
        runs(),
        "val_loss",
        derive=["b=exp(best(val_loss))", "sps=throughput(elapsed)", "p=exp(val_loss)"],
    )
    assert t.meta["derived"] == {"b": "value", "sps": "value", "p": "series"}
    rec = by_run(t)["dip"]
    assert rec["b"] == pytest.approx(math.exp(4.3))
    assert rec["sps"] == pytest.approx(0.5)
    assert rec["p"] == pytest.approx(math.exp(4.35))  # as a column: the last point
    t = leaderboard(runs(), "b", derive=["b=exp(best(val_loss))"])
    assert by_run(t)["dip"]["source"] == "derived" and by_run(t)["dip"]["best_step"] is None


def test_pointwise_detection():
    from expbook.analysis.derive import pointwise_keys

    assert pointwise_keys(parse("exp(val_loss)")) == ["val_loss"]
    assert pointwise_keys(parse("a / b + 2 * a")) == ["a", "b"]
    assert pointwise_keys(parse("min(a, b) - max(a, 1)")) == ["a", "b"]
    assert pointwise_keys(parse("log(a, 10) * config.scale")) == ["a"]
    assert pointwise_keys(parse("-sqrt(abs(`operator/loss`))")) == ["operator/loss"]
    for reducing in (
        "best(a)",
        "exp(best(a))",
        "throughput(elapsed, 0, 10)",
        "a < 2",
        "min(a)",
        "round(a)",
        "config.lr * 2",
        "3",
        "name",
        "summary.a",
    ):
        assert pointwise_keys(parse(reducing)) is None, reducing


def test_elementwise_functions_and_null_cases():
    out = apply_derived(
        runs()[:1],
        [
            "lo=min(val_loss, tokens)",
            "neg=log(tokens - 2)",
            "z=val_loss / (tokens - 2)",
            "k=val_loss * config.scale",
            "ppl_like=exp(val_loss)",
            "chain=ppl_like * 2",
        ],
    )
    run = out[0]
    s = run.series("lo")
    assert list(s.steps) == [0, 10, 20, 30]
    assert list(s.values) == [1.0, 2.0, 4.0, 4.35]
    neg = run.series("neg").values  # log of a number <= 0 is NaN (null as a value)
    assert math.isnan(neg[0]) and math.isnan(neg[1]) and neg[2] == pytest.approx(math.log(2))
    z = run.series("z").values  # division by zero is NaN
    assert math.isnan(z[1]) and z[0] == pytest.approx(-5.0) and z[2] == pytest.approx(2.15)
    assert list(run.series("k").values) == [10.0, 8.8, 8.6, 8.7]
    # a later expression on an earlier derived series is a series too
    chain = run.series("chain")
    assert list(chain.steps) == [0, 10, 20, 30]
    assert chain.values[2] == pytest.approx(2 * math.exp(4.3))
    assert run.metrics["chain"].min_step == 20
    m = run.metrics["neg"]
    assert m.nan_count == 2 and m.count == 5  # every step of tokens, 25 included


def test_pivot_and_winners_use_a_derived_series_like_a_logged_key():
    t = pivot(runs()[:2], ["lr"], value="ppl", agg="min", derive=["ppl=exp(val_loss)"])
    assert t.to_records() == [
        {"lr": 0.01, "ppl": pytest.approx(math.exp(4.4))},
        {"lr": 0.1, "ppl": pytest.approx(math.exp(4.35))},
    ]
    w = winners(runs()[:2], "ppl", derive=["ppl=exp(val_loss)"])
    assert w.to_records()[0]["run"] == "dip"


def test_plot_block_draws_a_derived_series(tmp_path: Path):
    from expbook.report.blocks import Context, parse_block, render_block

    ctx = Context(lambda: runs(), str(tmp_path), write_files=False)
    block = parse_block("plot: {metric: ppl, derive: {ppl: exp(val_loss)}}")
    render_block(block, ctx, "b1")
    fig = json.loads(json.dumps(ctx.figures["b1"]))
    lines = {d["name"]: d for d in fig["data"] if d.get("name") in ("dip", "flat")}
    assert lines["dip"]["x"] == [0, 10, 20, 30]
    # (figures keep 6 significant digits)
    assert lines["dip"]["y"] == pytest.approx([math.exp(v) for _, v in VAL["dip"]], rel=1e-5)


def test_cli_leaderboard_on_a_derived_series(cli_run, store_path):
    import expbook

    for name, pts in VAL.items():
        with expbook.init(project="p", name=name, store=store_path) as run:
            for step, v in pts:
                run.log({"val_loss": v}, step=step)
    code, out, err = cli_run(
        "leaderboard",
        "--metric",
        "ppl",
        "--derive",
        "ppl=exp(val_loss)",
        "--at-step",
        "10",
        "--format",
        "json",
    )
    assert code == 0, err
    rows = {r["run"]: r for r in json.loads(out)["rows"]}
    assert rows["dip"]["best"] == pytest.approx(math.exp(4.3))
    assert rows["dip"]["best_step"] == 20
    assert rows["dip"]["at_value"] == pytest.approx(math.exp(4.4))
    assert rows["flat"]["best"] == pytest.approx(math.exp(4.4))
    assert json.loads(out)["derived"] == {"ppl": "series"}
