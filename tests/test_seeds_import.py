"""Issue 3, "Done when": every seed fixture imports through ``expbook import``, and the numbers
of its ``expected.json`` read back with ``expbook runs --format json`` (params in ``config``,
summaries in ``summary``) and ``expbook history RUN KEY --format json`` (series).

Each seed's ``raw/`` folder is imported once per module into a fresh store (read-only use
afterwards); the growth test copies one seed-002 log into its own temporary folder.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
from pathlib import Path
from typing import Any

import pytest

from seedstore import (
    SEEDS,
    SeedStore,
    assert_close,
    cli,
    import_seed,
    raw_dir,
)

# runs each seed's raw/ folder must become
N_RUNS = {"seed000": 34, "seed001": 10, "seed002": 6, "seed003": 2, "seed004": 57}


@pytest.fixture(scope="module")
def stores() -> dict[str, SeedStore]:
    return {}  # seed -> its store, imported on first use


@pytest.fixture(scope="module", params=SEEDS)
def seed_store(request: pytest.FixtureRequest, stores, tmp_path_factory) -> SeedStore:
    return _store(request.param, stores, tmp_path_factory)


def _store(seed: str, stores: dict[str, SeedStore], factory) -> SeedStore:
    if seed not in stores:
        stores[seed] = import_seed(seed, factory)
    return stores[seed]


@pytest.fixture(scope="module")
def s0(stores, tmp_path_factory) -> SeedStore:
    return _store("seed000", stores, tmp_path_factory)


@pytest.fixture(scope="module")
def s1(stores, tmp_path_factory) -> SeedStore:
    return _store("seed001", stores, tmp_path_factory)


@pytest.fixture(scope="module")
def s2(stores, tmp_path_factory) -> SeedStore:
    return _store("seed002", stores, tmp_path_factory)


@pytest.fixture(scope="module")
def s3(stores, tmp_path_factory) -> SeedStore:
    return _store("seed003", stores, tmp_path_factory)


@pytest.fixture(scope="module")
def s4(stores, tmp_path_factory) -> SeedStore:
    return _store("seed004", stores, tmp_path_factory)


def _summary(st: SeedStore, run: str) -> dict[str, Any]:
    assert run in st.runs, f"{st.seed}: no run named {run!r} (runs: {sorted(st.runs)})"
    return st.runs[run]["summary"]


def _config(st: SeedStore, run: str) -> dict[str, Any]:
    assert run in st.runs, f"{st.seed}: no run named {run!r} (runs: {sorted(st.runs)})"
    return st.runs[run]["config"]


def _dotted(config: dict[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


# -- every seed ---------------------------------------------------------------------------------


def test_import_exits_zero_and_imports_every_run(seed_store: SeedStore) -> None:
    st = seed_store
    assert st.import_code == 0, st.import_err
    n = N_RUNS[st.seed]
    assert st.import_result["counts"] == {"imported": n}
    rows = st.import_result["runs"]
    assert len(rows) == n
    assert all(r["status"] == "imported" for r in rows)
    assert len(st.runs) == n
    raw = str(st.raw)
    for name, run in st.runs.items():
        src = run["source"]
        assert src["kind"] == "import", name
        assert src["path"].startswith(raw), (name, src["path"])
        assert src["format"] and src["hash"], (name, src)
        assert run["status"] == "finished", (name, run["status"])


def test_reimport_changes_nothing(seed_store: SeedStore) -> None:
    st = seed_store
    before = st.json("runs")
    code, out, err = st.run_cli("import", str(st.raw), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    n = N_RUNS[st.seed]
    assert data["counts"] == {"unchanged": n}
    assert [r["status"] for r in data["runs"]] == ["unchanged"] * n
    assert all(r["added_points"] == 0 for r in data["runs"])
    assert st.json("runs") == before


# -- seed 000: GNN ablations (config.json, metrics.csv, summary.txt, preds.csv, epoch times) ---


def test_seed000_train_and_test_mse(s0: SeedStore) -> None:
    exp = s0.expected
    for row in exp["generalization_table"]:
        summ = _summary(s0, row["run"])
        assert_close(summ.get("train_mse"), row["train_mse"], f"{row['run']} train_mse")
        # test_mse is null where the run was not tested on 8-node graphs: no such summary key
        assert_close(summ.get("test_mse"), row["test_mse"], f"{row['run']} test_mse")
    for row in exp["ablations_table"]:
        assert_close(_summary(s0, row["run"]).get("train_mse"), row["mse"], row["run"])


def test_seed000_train_mse_series_last_row_is_summary(s0: SeedStore) -> None:
    for row in s0.expected["generalization_table"][:3] + s0.expected["sweep_table"][:2]:
        pts = s0.series(row["run"], "train_mse")
        assert [s for s, _ in pts] == list(range(1, 21)), row["run"]
        assert_close(pts[-1][1], row["train_mse"], f"{row['run']} train_mse@20")


def test_seed000_preds_metrics_are_summaries(s0: SeedStore) -> None:
    metrics = s0.expected["test_metrics"]
    assert len(metrics) == 14
    for run, m in metrics.items():
        summ = _summary(s0, run)
        for key in ("mse", "r2", "mae", "n"):
            assert_close(summ.get(f"preds/{key}"), m[key], f"{run} preds/{key}")
        assert round(summ["preds/r2"], 4) == m["r2_4dp"], run
        assert round(summ["preds/mae"], 4) == m["mae_4dp"], run
        # convention: test_mse (summary.txt) is the MSE recomputed from preds.csv to 1e-6
        assert abs(summ["preds/mse"] - summ["test_mse"]) <= 1e-6, run
        assert s0.runs[run]["source"].get("artifacts"), f"{run}: preds.csv not kept"
    no_preds = [r["run"] for r in s0.expected["generalization_table"] if r["test_mse"] is None]
    for run in no_preds:
        assert not any(k.startswith("preds/") for k in _summary(s0, run)), run


def test_seed000_epoch_seconds_series(s0: SeedStore) -> None:
    timing = s0.expected["jax_timing"]
    want = {
        "timing_jax_jit": (True, timing["steady_state_epoch_s_jit"]),
        "timing_jax_nojit": (False, timing["steady_state_epoch_s_nojit"]),
    }
    warmup = timing["warmup_epochs_excluded"]
    for run, (jit, steady) in want.items():
        assert _config(s0, run).get("jit") is jit, run
        pts = s0.series(run, "epoch_seconds")
        assert [s for s, _ in pts] == list(range(1, 21)), run
        assert_close(statistics.median(v for _, v in pts[warmup:]), steady, f"{run} steady")


def test_seed000_configs(s0: SeedStore) -> None:
    for row in s0.expected["sweep_table"]:
        cfg = _config(s0, row["run"])
        for key in ("framework", "pool", "feature", "layers", "hidden", "seed", "out_dir"):
            assert cfg.get(key) == row[key], (row["run"], key, cfg.get(key))
        summ = _summary(s0, row["run"])
        assert_close(summ.get("train_mse"), row["train_mse"], f"{row['run']} train_mse")
        assert_close(summ.get("test_mse"), row["test_mse"], f"{row['run']} test_mse")
    for row in s0.expected["generalization_table"]:
        framework = "jax" if "_jax" in row["run"] else "torch"
        assert _config(s0, row["run"]).get("framework") == framework, row["run"]


# -- seed 001: console logs + training_history.csv ---------------------------------------------


def _final_key(console_key: str, metric: str) -> str:
    # "Final Results - ... Test Acc (non-diag): x" -> final/test_acc_non_diag (README)
    suffix = "_non_diag" if "(non-diag)" in console_key else ""
    return f"final/test_{metric}{suffix}"


def test_seed001_hyperparameters_are_config(s1: SeedStore) -> None:
    for row in s1.expected["runs"]:
        cfg = _config(s1, row["run"])
        for key, value in row["hyperparameters"].items():
            assert cfg.get(key) == value, (row["run"], key, cfg.get(key))


def test_seed001_best_f1_and_final_results_summaries(s1: SeedStore) -> None:
    for row in s1.expected["runs"]:
        run = row["run"]
        summ = _summary(s1, run)
        # the console prints 4 decimals: these are the seed's display values
        assert_close(summ.get("best_test_f1_score"), row["best_test_f1_4dp"], f"{run} best F1")
        assert summ.get("best_test_f1_score_epoch") == row["best_epoch"], run
        assert_close(summ.get("final/test_loss"), row["final_test_loss_4dp"], f"{run} loss")
        acc_key = _final_key(row["final_acc_key_in_console"], "acc")
        f1_key = _final_key(row["final_acc_key_in_console"], "f1")
        assert_close(summ.get(acc_key), row["final_test_acc_4dp"], f"{run} {acc_key}")
        assert_close(summ.get(f1_key), row["final_test_f1_4dp"], f"{run} {f1_key}")


def test_seed001_history_best_final_and_last_rows(s1: SeedStore) -> None:
    keys = ("train_loss", "test_loss", "test_accuracy", "test_f1")
    for row in s1.expected["runs"]:
        run = row["run"]
        hist = s1.history(run, *keys)
        series = {k: {int(s): v for s, v in hist[k]} for k in keys}
        assert len(series["test_f1"]) == row["epochs_logged"], run
        # best: max test_f1, first epoch on ties
        f1 = hist["test_f1"]
        best = max(v for _, v in f1)
        best_epoch = next(int(s) for s, v in f1 if v == best)
        assert_close(best, row["best_test_f1"], f"{run} best test_f1")
        assert best_epoch == row["best_epoch"], run
        # final results: the history row at the best epoch, full precision
        at = row["best_epoch"]
        assert_close(series["test_loss"][at], row["final_test_loss"], f"{run} test_loss@{at}")
        assert_close(series["test_accuracy"][at], row["final_test_acc"], f"{run} acc@{at}")
        assert_close(series["test_f1"][at], row["final_test_f1"], f"{run} test_f1@{at}")
        last = row["last_epoch_row"]
        assert max(series["test_f1"]) == last["epoch"], run
        assert_close(series["test_accuracy"][last["epoch"]], last["test_accuracy"], run)
        for k in ("train_loss", "test_loss", "test_f1"):
            assert_close(series[k][last["epoch"]], last[k], f"{run} last {k}")


# -- seed 002: text training logs ---------------------------------------------------------------


def test_seed002_val_loss_series(s2: SeedStore) -> None:
    assert sorted(s2.runs) == sorted(r["run"] for r in s2.expected["runs"])
    for row in s2.expected["runs"]:
        run = row["run"]
        pts = s2.series(run, "val_loss")
        assert len(pts) == row["n_points"] == 30, run
        assert [s for s, _ in pts] == list(range(500, 15001, 500)), run
        best = min(v for _, v in pts)
        best_step = next(s for s, v in pts if v == best)
        assert_close(best, row["best_val_loss"], f"{run} best val_loss")
        assert best_step == row["best_step"], run
        assert pts[-1][0] == row["last_step"] == 15000, run
        assert_close(pts[-1][1], row["last_val_loss"], f"{run} last val_loss")
        assert_close(dict(pts)[15000], row["val_loss_at_15000"], f"{run} val_loss@15000")
        assert round(best, 4) == row["best_val_loss_4dp"], run
        assert round(pts[-1][1], 4) == row["last_val_loss_4dp"], run


def test_seed002_elapsed_and_summaries(s2: SeedStore) -> None:
    for row in s2.expected["runs"]:
        run = row["run"]
        elapsed = dict(s2.series(run, "elapsed"))
        assert_close(elapsed.get(500), row["elapsed_at_500"], f"{run} elapsed@500")
        assert_close(elapsed.get(15000), row["elapsed_at_15000"], f"{run} elapsed@15000")
        summ = _summary(s2, run)
        assert_close(summ.get("val_loss"), row["last_val_loss"], f"{run} summary val_loss")
        assert_close(summ.get("elapsed"), row["elapsed_at_15000"], f"{run} summary elapsed")
        cfg = _config(s2, run)
        assert cfg.get("model") == row["model"], run
        assert cfg.get("flags", summ.get("flags")) == row["flags"], run
        # the checkpoint names the log prints are kept (under whatever summary key)
        values = set(map(str, summ.values())) | set(map(str, cfg.values()))
        assert row["checkpoint_best"] in values, (run, row["checkpoint_best"])
        assert row["checkpoint_last"] in values, (run, row["checkpoint_last"])


def test_seed002_grown_log_adds_only_new_points(tmp_path: Path) -> None:
    src = raw_dir("seed002") / "logs" / "w3_25m" / "w3_25m_screen_vanilla_25m.log"
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / src.name
    shutil.copyfile(src, log)  # copyfile: the copy is writable, the fixture is never touched
    store = tmp_path / "store"

    def imp() -> dict[str, Any]:
        code, out, err = cli("import", str(logs), "--format", "json", store=store)
        assert code == 0, err
        return json.loads(out)

    first = imp()
    assert first["counts"] == {"imported": 1}
    (run_id,) = (r["id"] for r in first["runs"])
    assert imp()["counts"] == {"unchanged": 1}

    def hist() -> dict[str, list[list[Any]]]:
        code, out, err = cli("history", run_id, "--format", "json", store=store)
        assert code == 0, err
        return json.loads(out)

    before = hist()
    assert set(before) >= {"loss", "val_loss", "lr", "elapsed"}
    with log.open("a") as f:
        f.write(
            "step 15500/16000 | loss=4.5001 | val_loss=4.550001 | lr=0.00e+00 | elapsed=3160.0s\n"
        )
        f.write(
            "step 16000/16000 | loss=4.4901 | val_loss=4.540001 | lr=0.00e+00 | elapsed=3262.5s\n"
        )
    grown = imp()
    assert grown["counts"] == {"updated": 1}
    (row,) = grown["runs"]
    assert row["status"] == "updated"
    assert row["id"] == run_id
    assert row["added_points"] == 8  # 2 new lines x (loss, val_loss, lr, elapsed)
    after = hist()
    assert set(after) == set(before)
    for key, pts in before.items():
        assert after[key][: len(pts)] == pts, key  # the old points are untouched
        assert [p[0] for p in after[key][len(pts) :]] == [15500, 16000], key
    assert after["val_loss"][-2:] == [[15500, 4.550001], [16000, 4.540001]]
    assert after["elapsed"][-1] == [16000, 3262.5]
    assert imp()["counts"] == {"unchanged": 1}


# -- seed 003: nested YAML config, per-stage JSONL metrics, eval.json, run.json -----------------


def test_seed003_nested_config(s3: SeedStore) -> None:
    exp = s3.expected
    a, b = exp["a"], exp["b"]
    for item in exp["config_diff"]:
        assert _dotted(_config(s3, a), item["key"]) == item["a"], (a, item["key"])
        assert _dotted(_config(s3, b), item["key"]) == item["b"], (b, item["key"])
    for run in (a, b):
        cfg = _config(s3, run)
        assert isinstance(cfg.get("stages"), dict), run  # kept nested, not flattened
        for stage, s in exp["runs"][run]["stages"].items():
            assert cfg["stages"][stage]["epochs"] == s["epochs"], (run, stage)


def test_seed003_per_stage_series(s3: SeedStore) -> None:
    for run, r in s3.expected["runs"].items():
        for stage, s in r["stages"].items():
            hist = s3.history(run, f"{stage}/loss", f"{stage}/val_loss", f"{stage}/grad_norm")
            loss = hist[f"{stage}/loss"]
            val = hist[f"{stage}/val_loss"]
            grad = hist[f"{stage}/grad_norm"]
            assert [p[0] for p in loss] == list(range(1, s["epochs"] + 1)), (run, stage)
            assert_close(loss[-1][1], s["final_loss"], f"{run} {stage}/loss final")
            assert_close(min(v for _, v in loss), s["min_train_loss"], f"{run} {stage} min")
            best = min(v for _, v in val)
            assert_close(best, s["best_val_loss"], f"{run} {stage}/val_loss best")
            assert next(st for st, v in val if v == best) == s["best_val_epoch"], (run, stage)
            assert_close(grad[-1][1], s["final_grad_norm"], f"{run} {stage}/grad_norm final")


def test_seed003_eval_and_cost_summaries(s3: SeedStore) -> None:
    exp = s3.expected
    for run, r in exp["runs"].items():
        summ = _summary(s3, run)
        assert_close(summ.get("nrmse"), r["nrmse"], f"{run} nrmse")
        assert_close(summ.get("train_wall_clock_minutes"), r["train_minutes"], f"{run} minutes")
        price = summ.get("gpu_hourly_usd")
        assert isinstance(price, (int, float)), (run, price)
        assert_close(summ["train_wall_clock_minutes"] / 60 * price, r["cost_usd"], f"{run} $")


# -- seed 004: PINN runs (config.json + history.csv) --------------------------------------------


def test_seed004_final_best_and_steps(s4: SeedStore) -> None:
    runs = s4.expected["runs"]
    assert sorted(s4.runs) == sorted(runs)
    for run, r in runs.items():
        pts = s4.series(run, "loss")
        assert len(pts) == r["n_points"], run
        assert pts[-1][0] == r["last_step"], run
        assert_close(pts[-1][1], r["final_loss"], f"{run} final loss")
        assert_close(min(v for _, v in pts if not math.isnan(v)), r["best_loss"], run)
        assert_close(_summary(s4, run).get("loss"), r["final_loss"], f"{run} summary loss")


def test_seed004_claim_inputs(s4: SeedStore) -> None:
    # the configs and elapsed values the journal's ratios are made of
    claims = {c["id"]: c for c in s4.expected["claims"]}
    w, d = "exp23_width_d128_L2_hermite", "exp23_depth_d64_L8_hermite"
    ratio = _config(s4, w)["n_params"] / _config(s4, d)["n_params"]
    assert_close(ratio, claims["c24"]["value"], "params_ratio")
    assert_close(_summary(s4, "exp22_transformer_d128_L2_hermite").get("elapsed_s"), 3599.6, "c19")
    for cid, (b, a) in {
        "c13_hermite": ("exp21_rnn256_scaled_hermite", "exp20_rnn128_hermite"),
        "c13_legendre": ("exp21_rnn256_scaled_legendre", "exp20_rnn128_legendre"),
    }.items():
        eb = s4.series(b, "elapsed_s")[-1][1]
        ea = s4.series(a, "elapsed_s")[-1][1]
        assert_close(eb / ea, claims[cid]["value"], cid)
    for c in s4.expected["claims"]:
        if c["kind"] == "milestone":
            run = c["expr"].split("(")[1].split(",")[0]
            t = c["threshold"]
            first = next((s for s, v in s4.series(run, "loss") if v < t), None)
            assert first == c["value"], (c["id"], first)
