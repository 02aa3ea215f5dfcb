"""Issue 4, "Done when": every table of the five seeds comes from one CLI command
(``leaderboard``, ``pivot``, ``winners``, ``compare``, ``eval``, with ``--derive``, ``--filter``,
run names and globs, ``--format json``) run on the seed's raw files imported with
``expbook import``, and matches ``expected.json``.

JSON shapes are those documented in the module docstrings of ``src/expbook/analysis/``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from seedstore import FIXTURES, SeedStore, assert_close, close, import_seed, rows_by_run


@pytest.fixture(scope="module")
def s0(tmp_path_factory: pytest.TempPathFactory) -> SeedStore:
    return import_seed("seed000", tmp_path_factory)


@pytest.fixture(scope="module")
def s1(tmp_path_factory: pytest.TempPathFactory) -> SeedStore:
    return import_seed("seed001", tmp_path_factory)


@pytest.fixture(scope="module")
def s2(tmp_path_factory: pytest.TempPathFactory) -> SeedStore:
    return import_seed("seed002", tmp_path_factory)


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> SeedStore:
    return import_seed("seed003", tmp_path_factory)


@pytest.fixture(scope="module")
def s4(tmp_path_factory: pytest.TempPathFactory) -> SeedStore:
    return import_seed("seed004", tmp_path_factory)


@pytest.mark.parametrize("seed", ["s0", "s1", "s2", "s3", "s4"])
def test_seed_imported(seed: str, request: pytest.FixtureRequest) -> None:
    st: SeedStore = request.getfixturevalue(seed)
    assert st.import_code == 0, st.import_err
    assert set(st.import_result["counts"]) == {"imported"}, st.import_result["counts"]


# -- seed 000: generalization, R2/MAE/N, sweep table, winners, JIT timing ----------------------

SEED000_TABLE_RUNS = ("abl_*", "baseline_*", "gen_*", "timing_*")  # the 26 runs outside the sweep
SWEEP = 'matches(config.out_dir, "results/sweep_small/*")'


def test_seed000_generalization_table(s0: SeedStore) -> None:
    table = s0.json(
        "leaderboard", *SEED000_TABLE_RUNS, "--metric", "train_mse", "--column", "test_mse"
    )
    assert table["kind"] == "leaderboard"
    assert "test_mse" in table["columns"]
    rows = rows_by_run(table)
    want = s0.expected["generalization_table"]
    assert sorted(rows) == sorted(r["run"] for r in want)
    for e in want:
        row = rows[e["run"]]
        assert_close(row["last"], e["train_mse"], f"{e['run']} train_mse")
        assert_close(row["test_mse"], e["test_mse"], f"{e['run']} test_mse")


def test_seed000_ablation_table(s0: SeedStore) -> None:
    table = s0.json("leaderboard", "baseline_*", "abl_*", "--metric", "train_mse", "--sort", "last")
    want = s0.expected["ablations_table"]
    rows = rows_by_run(table)
    assert sorted(rows) == sorted(r["run"] for r in want)
    for e in want:
        assert_close(rows[e["run"]]["last"], e["mse"], e["run"])
    assert [r["run"] for r in table["rows"]] == [
        e["run"] for e in sorted(want, key=lambda e: e["mse"])
    ]


def test_seed000_test_mse_leaderboard_keeps_untested_runs_last(s0: SeedStore) -> None:
    table = s0.json("leaderboard", *SEED000_TABLE_RUNS, "--metric", "test_mse")
    want = s0.expected["generalization_table"]
    tested = sorted((e for e in want if e["test_mse"] is not None), key=lambda e: e["test_mse"])
    rows = table["rows"]
    assert len(rows) == len(want)  # runs without test_mse are listed, not dropped
    assert [r["run"] for r in rows[: len(tested)]] == [e["run"] for e in tested]
    for r, e in zip(rows, tested):
        assert_close(r["best"], e["test_mse"], e["run"])
        assert r["source"] == "summary"
    assert all(r["best"] is None and r["rank"] is None for r in rows[len(tested) :])


def test_seed000_r2_mae_n_table_from_eval(s0: SeedStore) -> None:
    metrics = s0.expected["test_metrics"]
    files = [str(s0.raw / "results" / run / "preds.csv") for run in metrics]
    table = s0.json("eval", *files)
    assert table["kind"] == "eval"
    rows = rows_by_run(table)
    assert sorted(rows) == sorted(metrics)
    for run, m in metrics.items():
        row = rows[run]
        assert row["task"] == "regression", run
        assert row["n"] == m["n"], run
        for key in ("mse", "mae", "r2"):
            assert_close(row[key], m[key], f"eval {run} {key}")
        assert round(row["r2"], 4) == m["r2_4dp"], run
        assert round(row["mae"], 4) == m["mae_4dp"], run


def test_seed000_r2_mae_n_table_from_imported_summaries(s0: SeedStore) -> None:
    metrics = s0.expected["test_metrics"]
    table = s0.json(
        "leaderboard",
        "--metric",
        "preds/r2",
        "--mode",
        "max",
        "--column",
        "preds/mae",
        "--column",
        "preds/n",
        "--filter",
        "`preds/n` != null",
    )
    rows = rows_by_run(table)
    assert sorted(rows) == sorted(metrics)
    order = [r["run"] for r in table["rows"]]
    assert order == sorted(metrics, key=lambda run: -metrics[run]["r2"])
    for run, m in metrics.items():
        assert_close(rows[run]["best"], m["r2"], f"{run} preds/r2")
        assert_close(rows[run]["preds/mae"], m["mae"], f"{run} preds/mae")
        assert rows[run]["preds/n"] == m["n"], run


@pytest.mark.parametrize("value", ["test_mse", "train_mse"])
def test_seed000_sweep_pivot(s0: SeedStore, value: str) -> None:
    table = s0.json(
        "pivot", "torch_*", "jax_*", "--rows", "framework,pool", "--cols", "feature",
        "--value", value,
    )  # fmt: skip
    assert table["kind"] == "pivot"
    assert table["rows_by"] == ["framework", "pool"]
    assert table["cols_by"] == ["feature"]
    want: dict[tuple[str, str], dict[str, float]] = {}
    for e in s0.expected["sweep_table"]:
        want.setdefault((e["framework"], e["pool"]), {})[e["feature"]] = e[value]
    features = sorted({e["feature"] for e in s0.expected["sweep_table"]})
    assert table["columns"] == ["framework", "pool", *features]
    got = {(r["framework"], r["pool"]): r for r in table["rows"]}
    assert sorted(got) == sorted(want)
    for key, cells in want.items():
        for feature, v in cells.items():
            assert_close(got[key][feature], v, f"pivot {value} {key} {feature}")


def test_seed000_sweep_pivot_by_filter_matches_globs(s0: SeedStore) -> None:
    by_glob = s0.json(
        "pivot", "torch_*", "jax_*", "--rows", "framework,pool", "--cols", "feature",
        "--value", "test_mse",
    )  # fmt: skip
    by_filter = s0.json(
        "pivot", "--filter", SWEEP, "--rows", "framework,pool", "--cols", "feature",
        "--value", "test_mse",
    )  # fmt: skip
    assert by_filter["rows"] == by_glob["rows"]


def _check_winner(row: dict[str, Any], e: dict[str, Any], scope: str) -> None:
    assert row["scope"] == scope
    assert row["run"] == e["run"], scope
    assert row["n"] == 1, scope
    assert_close(row["value"], e["test_mse"], f"winner {scope}")
    for key in ("framework", "pool", "feature"):
        assert row.get(key) == e[key], (scope, key, row.get(key))


def test_seed000_winners_over_the_sweep(s0: SeedStore) -> None:
    table = s0.json("winners", "--filter", SWEEP, "--metric", "test_mse", "--by", "framework")
    assert table["kind"] == "winners"
    assert table["by"] == ["framework"]
    rows = {r["scope"]: r for r in table["rows"]}
    assert set(rows) == {"overall", "framework=jax", "framework=torch"}
    _check_winner(rows["overall"], s0.expected["sweep_winner_overall"], "overall")
    for fw, e in s0.expected["sweep_winner_per_framework"].items():
        _check_winner(rows[f"framework={fw}"], e, f"framework={fw}")
    # the same with run globs
    globbed = s0.json("winners", "torch_*", "jax_*", "--metric", "test_mse", "--by", "framework")
    assert globbed["rows"] == table["rows"]


def test_seed000_jit_timing_steady_state(s0: SeedStore) -> None:
    timing = s0.expected["jax_timing"]
    table = s0.json(
        "leaderboard", "timing_*", "--metric", "epoch_seconds",
        "--derive", "steady=steady(epoch_seconds, warmup=2)",
        "--derive", "with_warmup=steady(epoch_seconds, warmup=0)",
    )  # fmt: skip
    rows = rows_by_run(table)
    jit = rows["timing_jax_jit"]["steady"]
    nojit = rows["timing_jax_nojit"]["steady"]
    assert_close(jit, timing["steady_state_epoch_s_jit"], "steady jit")
    assert_close(nojit, timing["steady_state_epoch_s_nojit"], "steady nojit")
    assert_close(nojit / jit, timing["speedup_nojit_over_jit"], "speedup")
    # keeping the warm-up (compile) epochs gives another number for the JIT run
    assert not close(rows["timing_jax_jit"]["with_warmup"], jit, rel=1e-3)


# -- seed 001: best F1 and its epoch, final results --------------------------------------------

_AT_BEST = 'best_step(test_f1, "max")'


def test_seed001_best_f1_ranking(s1: SeedStore) -> None:
    table = s1.json("leaderboard", "--metric", "test_f1", "--mode", "max")
    assert table["mode"] == "max"
    rows = rows_by_run(table)
    want = s1.expected["runs"]
    assert sorted(rows) == sorted(r["run"] for r in want)
    for e in want:
        row = rows[e["run"]]
        assert_close(row["best"], e["best_test_f1"], f"{e['run']} best F1")
        assert row["best_step"] == e["best_epoch"], e["run"]
        assert round(row["best"], 4) == e["best_test_f1_4dp"], e["run"]
        assert row["last_step"] == e["last_epoch_row"]["epoch"], e["run"]
        assert_close(row["last"], e["last_epoch_row"]["test_f1"], f"{e['run']} last F1")
    order = [r["run"] for r in table["rows"]]
    assert order == [e["run"] for e in sorted(want, key=lambda e: -e["best_test_f1"])]


def test_seed001_final_results_at_best_epoch(s1: SeedStore) -> None:
    table = s1.json(
        "leaderboard", "--metric", "test_f1", "--mode", "max",
        "--derive", f"final_loss=at(test_loss, {_AT_BEST})",
        "--derive", f"final_acc=at(test_accuracy, {_AT_BEST})",
        "--derive", f"final_f1=at(test_f1, {_AT_BEST})",
        "--derive", "best_epoch=" + _AT_BEST,
    )  # fmt: skip
    rows = rows_by_run(table)
    for e in s1.expected["runs"]:
        row, run = rows[e["run"]], e["run"]
        assert row["best_epoch"] == e["best_epoch"], run
        for key in ("loss", "acc", "f1"):
            assert_close(row[f"final_{key}"], e[f"final_test_{key}"], f"{run} final {key}")
            assert round(row[f"final_{key}"], 4) == e[f"final_test_{key}_4dp"], (run, key)


def test_seed001_final_results_as_printed(s1: SeedStore) -> None:
    # the "Final Results" line, as imported summary values (4 decimals, like the seed's table)
    for console_key, glob_filter, suffix in (
        ("Test Acc", 'matches(name, "gcn_*")', ""),
        ("Test Acc (non-diag)", 'matches(name, "mlp_*")', "_non_diag"),
    ):
        acc, f1 = f"final/test_acc{suffix}", f"final/test_f1{suffix}"
        table = s1.json(
            "leaderboard", "--metric", "final/test_loss", "--filter", glob_filter,
            "--column", acc, "--column", f1,
        )  # fmt: skip
        rows = rows_by_run(table)
        want = [e for e in s1.expected["runs"] if e["final_acc_key_in_console"] == console_key]
        assert sorted(rows) == sorted(e["run"] for e in want)
        for e in want:
            row = rows[e["run"]]
            assert row["source"] == "summary", e["run"]
            assert_close(row["last"], e["final_test_loss_4dp"], f"{e['run']} final loss")
            assert_close(row[acc], e["final_test_acc_4dp"], f"{e['run']} {acc}")
            assert_close(row[f1], e["final_test_f1_4dp"], f"{e['run']} {f1}")


def test_seed001_hyperparameter_filter(s1: SeedStore) -> None:
    table = s1.json(
        "leaderboard", "--metric", "test_f1", "--mode", "max",
        "--filter", "config.HIDDEN_CHANNELS == 4096 and config.BATCH_SIZE == 128",
        "--param", "HIDDEN_CHANNELS,BATCH_SIZE",
    )  # fmt: skip
    want = [
        e
        for e in s1.expected["runs"]
        if e["hyperparameters"]["HIDDEN_CHANNELS"] == 4096
        and e["hyperparameters"]["BATCH_SIZE"] == 128
    ]
    assert [r["run"] for r in table["rows"]] == [
        e["run"] for e in sorted(want, key=lambda e: -e["best_test_f1"])
    ]
    assert all(r["HIDDEN_CHANNELS"] == 4096 and r["BATCH_SIZE"] == 128 for r in table["rows"])


# -- seed 002: ranking, best vs last, fixed step, perplexity, throughput, headline -------------

_SEED002_DERIVE = (
    "--derive", "ppl=exp(val_loss)",
    "--derive", "ppl_best=exp(best(val_loss))",
    "--derive", "steps_per_s=throughput(elapsed, 500, 15000)",
    "--derive", "sec_per_step=1 / steps_per_s",
)  # fmt: skip


def test_seed002_ranking_and_best_vs_last(s2: SeedStore) -> None:
    table = s2.json("leaderboard", "--metric", "val_loss")
    assert table["sort"] == "best"
    assert [r["run"] for r in table["rows"]] == s2.expected["ranking_by_best_val_loss"]
    rows = rows_by_run(table)
    for e in s2.expected["runs"]:
        row, run = rows[e["run"]], e["run"]
        assert row["rank"] == s2.expected["ranking_by_best_val_loss"].index(run) + 1
        assert_close(row["best"], e["best_val_loss"], f"{run} best")
        assert row["best_step"] == e["best_step"], run
        assert_close(row["last"], e["last_val_loss"], f"{run} last")
        assert row["last_step"] == e["last_step"], run
        assert row["points"] == e["n_points"], run
        assert row["source"] == "series", run
        assert round(row["best"], 4) == e["best_val_loss_4dp"], run
        assert round(row["last"], 4) == e["last_val_loss_4dp"], run


def test_seed002_fixed_step_15000(s2: SeedStore) -> None:
    table = s2.json("leaderboard", "--metric", "val_loss", "--at-step", "15000", "--sort", "at")
    assert table["at_step"] == 15000
    assert table["sort"] == "at"
    assert [r["run"] for r in table["rows"]] == s2.expected["fixed_step_15000_order"]
    rows = rows_by_run(table)
    for e in s2.expected["runs"]:
        assert_close(rows[e["run"]]["at_value"], e["val_loss_at_15000"], e["run"])
        assert rows[e["run"]]["note"] is None, e["run"]


def test_seed002_perplexity_and_throughput(s2: SeedStore) -> None:
    table = s2.json("leaderboard", "--metric", "val_loss", *_SEED002_DERIVE)
    rows = rows_by_run(table)
    for e in s2.expected["runs"]:
        row, run = rows[e["run"]], e["run"]
        assert_close(row["ppl"], e["ppl_last"], f"{run} ppl (last)")
        assert_close(row["ppl_best"], e["ppl_best"], f"{run} ppl (best)")
        assert round(row["ppl"], 2) == e["ppl_last_2dp"], run
        assert round(row["ppl_best"], 2) == e["ppl_best_2dp"], run
        assert_close(row["steps_per_s"], e["steps_per_sec_500_to_15000"], f"{run} steps/s")
        assert_close(row["sec_per_step"], e["sec_per_step_500_to_15000"], f"{run} s/step")
        assert round(row["steps_per_s"], 3) == e["steps_per_sec_3dp"], run
        assert round(row["sec_per_step"], 2) == e["sec_per_step_2dp"], run
    slow = s2.expected["slowdown_vs_vanilla"]
    vanilla = rows["w3_25m_screen_vanilla_25m"]["steps_per_s"]
    ratios = [vanilla / r["steps_per_s"] for r in table["rows"] if "ngt" in r["run"]]
    assert_close(min(ratios), slow["min"], "slowdown min")
    assert_close(max(ratios), slow["max"], "slowdown max")


def test_seed002_sort_by_derived_ppl(s2: SeedStore) -> None:
    # exp(val_loss) is a series: ranked by its best point (the best val_loss), and by its
    # last point (step 15000 in every run) with --sort last
    table = s2.json("leaderboard", "--metric", "ppl", *_SEED002_DERIVE)
    assert [r["run"] for r in table["rows"]] == s2.expected["ranking_by_best_val_loss"]
    assert all(r["source"] == "derived series" for r in table["rows"])
    by_run = {e["run"]: e for e in s2.expected["runs"]}
    for r in table["rows"]:
        assert r["best_step"] == by_run[r["run"]]["best_step"]
        assert_close(r["best"], math.exp(by_run[r["run"]]["best_val_loss"]), r["run"])
    table = s2.json("leaderboard", "--metric", "ppl", "--sort", "last", *_SEED002_DERIVE)
    assert [r["run"] for r in table["rows"]] == s2.expected["fixed_step_15000_order"]


def test_seed002_headline_best_ngt_vs_vanilla_at_15000(s2: SeedStore) -> None:
    h = s2.expected["headline"]
    best = s2.json(
        "leaderboard", "--metric", "val_loss", "--at-step", "15000", "--sort", "at", "--top", "1",
        *_SEED002_DERIVE,
    )  # fmt: skip
    (top,) = best["rows"]
    assert top["run"] == h["best_overall_run"]
    assert_close(top["at_value"], h["best_overall_val_loss_at_15000"], "best overall @15000")
    assert round(top["ppl"], 2) == h["best_overall_ppl_at_15000_2dp"]
    ngt = s2.json(
        "leaderboard", "--metric", "val_loss", "--at-step", "15000", "--sort", "at", "--top", "1",
        "--filter", 'config.model == "ngt"', *_SEED002_DERIVE,
    )  # fmt: skip
    (top_ngt,) = ngt["rows"]
    assert top_ngt["run"] == h["best_ngt_run"]
    assert round(top_ngt["at_value"], 4) == h["best_ngt_val_loss_at_15000_4dp"]
    assert round(top_ngt["ppl"], 2) == h["best_ngt_ppl_at_15000_2dp"]
    ppl_pct = (top_ngt["ppl"] / top["ppl"] - 1) * 100
    assert_close(ppl_pct, h["delta_ppl_pct"], "ppl delta %")
    assert round(ppl_pct, 1) == h["delta_ppl_pct_1dp"]
    cmp = s2.json("compare", h["best_overall_run"], h["best_ngt_run"], "--keys", "val_loss")
    assert cmp["baseline"] == h["best_overall_run"]
    (m,) = (m for m in cmp["metrics"] if m["key"] == "val_loss")
    assert_close(m["final_delta"][1], h["delta_loss_at_15000"], "delta loss @15000")
    assert round(m["final_delta"][1], 4) == h["delta_loss_at_15000_4dp"]
    assert m["final_delta"][0] is None


# -- seed 003: compare baseline_32dim hjnqclgk ------------------------------------------------


@pytest.fixture(scope="module")
def seed003_compare(s3: SeedStore) -> dict[str, Any]:
    return s3.json("compare", s3.expected["a"], s3.expected["b"])


def test_seed003_compare_config_diff(s3: SeedStore, seed003_compare: dict[str, Any]) -> None:
    a, b = s3.expected["a"], s3.expected["b"]
    cmp = seed003_compare
    assert cmp["kind"] == "compare"
    assert cmp["baseline"] == a
    assert [r["name"] for r in cmp["runs"]] == [a, b]
    got = {d["key"]: d for d in cmp["config_diff"]}
    want = s3.expected["config_diff"]
    assert sorted(got) == sorted(e["key"] for e in want)
    for e in want:
        d = got[e["key"]]
        assert d["values"] == [e["a"], e["b"]], e["key"]
        only = {"a": [a], "b": [b], None: None}[e["only_in"]]
        assert d["only_in"] == only, e["key"]


def test_seed003_compare_per_stage_metrics(s3: SeedStore, seed003_compare) -> None:
    a, b = s3.expected["a"], s3.expected["b"]
    metrics = {m["key"]: m for m in seed003_compare["metrics"]}
    runs = s3.expected["runs"]
    for stage in runs[a]["stages"]:
        sa, sb = runs[a]["stages"][stage], runs[b]["stages"][stage]
        loss, val, grad = (metrics[f"{stage}/{k}"] for k in ("loss", "val_loss", "grad_norm"))
        for m, name in ((loss, "loss"), (val, "val_loss"), (grad, "grad_norm")):
            assert m["stage"] == stage and m["metric"] == name, m["key"]
            assert m["points"] == [sa["epochs"], sb["epochs"]], m["key"]
        for got, want, what in (
            (loss["final"], [sa["final_loss"], sb["final_loss"]], "final loss"),
            (val["best"], [sa["best_val_loss"], sb["best_val_loss"]], "best val_loss"),
            (grad["final"], [sa["final_grad_norm"], sb["final_grad_norm"]], "final grad norm"),
        ):
            for g, w in zip(got, want):
                assert_close(g, w, f"{stage} {what}")
        assert val["best_step"] == [sa["best_val_epoch"], sb["best_val_epoch"]], stage
        assert_close(loss["final_ratio"][1], sb["final_loss"] / sa["final_loss"], stage)
        assert loss["final_ratio"][0] is None


def test_seed003_compare_nrmse_time_and_cost(s3: SeedStore, seed003_compare) -> None:
    exp = s3.expected
    cmp = seed003_compare
    (nrmse,) = (m for m in cmp["metrics"] if m["key"] == "nrmse")
    assert nrmse["stage"] is None
    assert_close(nrmse["final"][0], exp["nrmse"]["a"], "nrmse a")
    assert_close(nrmse["final"][1], exp["nrmse"]["b"], "nrmse b")
    assert_close(nrmse["final_delta"][1], exp["nrmse"]["abs_delta"], "nrmse delta")
    assert_close(nrmse["final_rel_delta"][1], exp["nrmse"]["rel_delta"], "nrmse rel delta")
    assert round(nrmse["final_rel_delta"][1] * 100, 1) == exp["nrmse"]["rel_delta_pct_1dp"]
    t = cmp["time"]
    assert_close(t["minutes"][0], exp["time"]["a_minutes"], "minutes a")
    assert_close(t["minutes"][1], exp["time"]["b_minutes"], "minutes b")
    assert t["ratio"][0] is None
    assert_close(t["ratio"][1], exp["time"]["ratio"], "time ratio")
    c = cmp["cost"]
    assert_close(c["usd"][0], exp["cost"]["a_usd"], "cost a")
    assert_close(c["usd"][1], exp["cost"]["b_usd"], "cost b")
    assert [round(u, 2) for u in c["usd"]] == [exp["cost"]["a_usd_2dp"], exp["cost"]["b_usd_2dp"]]
    assert_close(c["ratio"][1], exp["cost"]["ratio"], "cost ratio")


def test_seed003_compare_cost_per_hour_flag(s3: SeedStore) -> None:
    exp = s3.expected
    cmp = s3.json("compare", exp["a"], exp["b"], "--cost-per-hour", "2.05")
    for got, want in zip(cmp["cost"]["usd"], (exp["cost"]["a_usd"], exp["cost"]["b_usd"])):
        assert_close(got, want, "cost with --cost-per-hour")


def test_seed003_compare_table_shows_the_seed_numbers(s3: SeedStore) -> None:
    code, out, err = s3.run_cli("compare", s3.expected["a"], s3.expected["b"])
    assert code == 0, err
    for text in ("-1.52%", "15.46x", "0.0921", "0.0907"):
        assert text in out, text


# -- seed 004: the journal's claims and inline values ------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:e[-+]?\d+)?)|(?P<name>[A-Za-z_][\w*]*)|(?P<op>==|>|<|[(),]))"
)


def _parse(text: str) -> Any:
    """The journal's expression language as nested tuples: ("call", f, args) / ("cmp", op, a, b)."""
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m and m.end() > pos, f"cannot read {text[pos:]!r}"
        pos = m.end()
        kind = m.lastgroup
        tokens.append((kind, m.group(kind)))
    i = 0

    def atom() -> Any:
        nonlocal i
        kind, tok = tokens[i]
        i += 1
        if kind == "num":
            return float(tok)
        if i < len(tokens) and tokens[i] == ("op", "("):
            i += 1
            args = []
            while tokens[i] != ("op", ")"):
                args.append(atom())
                if tokens[i] == ("op", ","):
                    i += 1
            i += 1
            return ("call", tok, args)
        return tok

    left = atom()
    if i < len(tokens):
        _, op = tokens[i]
        i += 1
        right = atom()
        left = ("cmp", op, left, right)
    assert i == len(tokens), text
    return left


class Journal:
    """Evaluates seed 004's journal expressions with expbook commands."""

    def __init__(self, st: SeedStore) -> None:
        self.st = st
        self.cache: dict[Any, Any] = {}

    def _cached(self, key: Any, fn: Any) -> Any:
        if key not in self.cache:
            self.cache[key] = fn()
        return self.cache[key]

    def board(self) -> dict[str, dict[str, Any]]:
        """Every run's loss leaderboard row, with elapsed as a derived column."""
        return self._cached(
            "board",
            lambda: rows_by_run(
                self.st.json("leaderboard", "--metric", "loss", "--derive", "el=last(elapsed_s)")
            ),
        )

    def derived(self, fn: str, t: float) -> dict[str, Any]:
        return self._cached(
            (fn, t),
            lambda: {
                run: row["x"]
                for run, row in rows_by_run(
                    self.st.json(
                        "leaderboard", "--metric", "loss", "--derive", f"x={fn}(loss, {t!r})"
                    )
                ).items()
            },
        )

    def compare(self, a: str, b: str, *args: str) -> dict[str, Any]:
        return self._cached(("compare", a, b, args), lambda: self.st.json("compare", a, b, *args))

    def eval(self, node: Any) -> Any:
        if isinstance(node, (float, str)):
            return node
        if node[0] == "cmp":
            _, op, a, b = node
            x, y = self.eval(a), self.eval(b)
            return {"==": x == y, ">": x > y, "<": x < y}[op]
        _, fn, args = node
        return getattr(self, f"f_{fn}")(*args)

    def f_final(self, run: str, key: str) -> Any:
        assert key == "loss"
        row = self.board()[run]
        assert row["source"] == "series", run
        return row["last"]

    def f_best(self, run: str, key: str) -> Any:
        return self.board()[run]["best"]

    def f_factor(self, a: str, b: str, key: str) -> Any:
        # final(a) / final(b): compare with b as the baseline gives a's final ratio
        cmp = self.compare(b, a, "--keys", key)
        (m,) = (m for m in cmp["metrics"] if m["key"] == key)
        return m["final_ratio"][1]

    def f_first_below(self, run: str, key: str, t: float) -> Any:
        return self.derived("first_below", t)[run]

    def f_passes(self, run: str, key: str, t: float) -> Any:
        return self.derived("passes", t)[run]

    def passing(self, glob: str, t: float) -> list[str]:
        table = self.st.json(
            "leaderboard", glob, "--metric", "loss", "--filter", f"passes(loss, {t!r})"
        )
        return sorted(r["run"] for r in table["rows"])

    def f_count(self, inner: Any) -> int:
        _, fn, (glob, _key, t) = inner
        assert fn == "passes"
        return len(self.passing(glob, t))

    def f_last_step(self, run: str) -> Any:
        return self.board()[run]["last_step"]

    def f_elapsed(self, run: str) -> Any:
        return self.board()[run]["el"]

    def f_time_ratio(self, b: str, a: str) -> Any:
        t = self.compare(a, b)["time"]
        assert t["source"] == ["summary.elapsed_s"] * 2, t["source"]
        return t["ratio"][1]

    def f_params_ratio(self, a: str, b: str) -> Any:
        (d,) = (d for d in self.compare(a, b)["config_diff"] if d["key"] == "n_params")
        return d["values"][0] / d["values"][1]

    def f_round(self, x: Any) -> Any:
        return round(self.eval(x))

    def f_argmin(self, what: Any, *runs: str) -> Any:
        assert what == ("call", "final", ["loss"])
        table = self.st.json(
            "leaderboard", *runs, "--metric", "loss", "--sort", "last", "--top", "1"
        )
        return table["rows"][0]["run"]


@pytest.fixture(scope="module")
def journal(s4: SeedStore) -> Journal:
    return Journal(s4)


def _value_of(node: Any) -> Any:
    """A claim's reported value: the left side of a comparison, without round()."""
    if isinstance(node, tuple) and node[0] == "cmp":
        node = node[2]
    if isinstance(node, tuple) and node[0] == "call" and node[1] == "round":
        node = node[2][0]
    return node


def _claim_ids() -> list[str]:
    path = FIXTURES / "seed004" / "expected.json"
    if not path.is_file():
        return []
    claims = json.loads(path.read_text())["claims"]
    return [c["id"] for c in claims]


@pytest.mark.parametrize("claim_id", _claim_ids())
def test_seed004_claim(journal: Journal, s4: SeedStore, claim_id: str) -> None:
    (c,) = (c for c in s4.expected["claims"] if c["id"] == claim_id)
    tree = _parse(c["expr"])
    if c["kind"] == "threshold":  # passes(run, loss, t): the value is the final loss
        _, _, (run, key, t) = tree
        assert_close(journal.f_final(run, key), c["value"], f"{claim_id} final")
        assert journal.eval(tree) is c["holds"], claim_id
        if "first_below" in c:
            assert journal.f_first_below(run, key, t) == c["first_below"], claim_id
        return
    value = journal.eval(_value_of(tree))
    assert_close(value, c["value"], f"{claim_id} {c['expr']}")
    if "holds" in c:
        assert journal.eval(tree) is c["holds"], claim_id
    if "rounded" in c:
        assert round(value) == c["rounded"], claim_id
    if "runs" in c:  # count(passes(glob, ...)): which runs, and out of how many
        _, _, ((_, _, (glob, _key, t)),) = tree
        assert journal.passing(glob, t) == sorted(c["runs"]), claim_id
        total = s4.json("leaderboard", glob, "--metric", "loss")
        assert len(total["rows"]) == c["total"], claim_id


def test_seed004_inline_values(journal: Journal, s4: SeedStore) -> None:
    for item in s4.expected["journal_inline_values"]:
        value = journal.eval(_parse(item["expr"]))
        assert_close(value, item["value"], item["expr"])
        if item["format"] is not None:
            assert format(value, item["format"]) == item["rendered"], item["expr"]
        else:
            assert str(value).lower() == item["rendered"], item["expr"]


def test_seed004_final_losses(s4: SeedStore) -> None:
    table = s4.json("leaderboard", "--metric", "loss")
    rows = rows_by_run(table)
    runs = s4.expected["runs"]
    assert sorted(rows) == sorted(runs)
    for run, r in runs.items():
        row = rows[run]
        assert_close(row["last"], r["final_loss"], f"{run} final loss")
        assert_close(row["best"], r["best_loss"], f"{run} best loss")
        assert row["last_step"] == r["last_step"], run
        assert row["points"] == r["n_points"], run


def test_seed004_threshold_passes_exp20(s4: SeedStore) -> None:
    table = s4.json(
        "leaderboard", "exp20_*", "--metric", "loss",
        "--derive", "ok=passes(loss, 1e-6)", "--derive", "converged=first_below(loss, 1e-6)",
    )  # fmt: skip
    rows = rows_by_run(table)
    assert len(rows) == 12
    claims = {
        c["expr"].split("(")[1].split(",")[0]: c
        for c in s4.expected["claims"]
        if c["id"].startswith("c09_")
    }
    assert sorted(claims) == sorted(rows)
    assert sum(1 for r in rows.values() if r["ok"]) == 4
    for run, c in claims.items():
        assert rows[run]["ok"] is c["holds"], run
        assert rows[run]["converged"] == c["first_below"], run
        # the early-stopped runs stop at the epoch they first go below 1e-6
        if c["holds"]:
            assert rows[run]["last_step"] == c["first_below"], run


def test_seed004_milestones_exp22_exp23(s4: SeedStore) -> None:
    table = s4.json(
        "leaderboard", "exp22_transformer_d128_L2_hermite", "exp23_*", "--metric", "loss",
        "--derive", "m=first_below(loss, 1e-3)",
    )  # fmt: skip
    rows = rows_by_run(table)
    assert rows["exp22_transformer_d128_L2_hermite"]["m"] == 688
    assert rows["exp22_transformer_d128_L2_hermite"]["last_step"] == 2952
    assert rows["exp23_width_d128_L2_hermite"]["m"] == 1178
    assert rows["exp23_depth_d64_L8_hermite"]["m"] is None
    # exp22 goes back above 1e-3 once (epoch 698) after first going below it at 688
    pts = s4.series("exp22_transformer_d128_L2_hermite", "loss")
    above_after = [s for s, v in pts if s > 688 and v >= 1e-3]
    assert above_after == [698]
