"""Acceptance: every seed fixture's raw/ folder, read through walk.plan + walk.read, gives the
numbers of its expected.json that can be read from files."""

from __future__ import annotations

import fnmatch
import json
import math
import re
import statistics
from pathlib import Path
from typing import Any

import pytest

from expbook.importers import walk
from expbook.importers.model import ImportedRun


def load(fixtures: Path, seed: str) -> tuple[dict[str, ImportedRun], dict[str, Any]]:
    raw = fixtures / seed / "raw"
    units = walk.plan([str(raw)])
    runs: list[ImportedRun] = []
    for u in units:  # the driver reads unit by unit
        got, failures = walk.read(u)
        assert failures == [], failures
        runs.extend(got)
    by_name = {r.name: r for r in runs}
    assert len(by_name) == len(runs), "run names must be unique within a seed"
    expected = json.loads((fixtures / seed / "expected.json").read_text())
    return by_name, expected


def values(run: ImportedRun, key: str) -> list[float]:
    return [v for _, v, _ in run.series[key]]


def steps(run: ImportedRun, key: str) -> list[int]:
    return [s for s, _, _ in run.series[key]]


def at(run: ImportedRun, key: str, step: int) -> float:
    (v,) = [v for s, v, _ in run.series[key] if s == step]
    return v


def flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(flat(v, key))
        else:
            out[key] = v
    return out


# -------------------------------------------------------------------------------------------


def test_seed000_gnn_ablations(fixtures: Path) -> None:
    runs, exp = load(fixtures, "seed000")
    assert len(runs) == 34
    main = {n for n, r in runs.items() if r.group == "results"}
    sweep = {n for n, r in runs.items() if r.group == "results/sweep_small"}
    assert len(main) == 26 and len(sweep) == 8
    assert all(r.format == "folder" and r.status == "finished" for r in runs.values())

    for row in exp["ablations_table"]:
        assert runs[row["run"]].summary["train_mse"] == row["mse"]
    for row in exp["generalization_table"]:
        r = runs[row["run"]]
        assert r.summary["train_mse"] == row["train_mse"]
        assert values(r, "train_mse")[-1] == row["train_mse"]  # last row of metrics.csv
        assert steps(r, "train_mse") == list(range(1, 21))
        if row["test_mse"] is None:
            assert "test_mse" not in r.summary
            assert "preds/mse" not in r.summary
        else:
            assert r.summary["test_mse"] == row["test_mse"]
        assert r.config["epochs"] == 20

    assert len(exp["test_metrics"]) == 14
    for name, m in exp["test_metrics"].items():
        s = runs[name].summary
        assert s["preds/mse"] == pytest.approx(m["mse"], rel=1e-12)
        assert s["preds/r2"] == pytest.approx(m["r2"], rel=1e-12)
        assert s["preds/mae"] == pytest.approx(m["mae"], rel=1e-12)
        assert s["preds/n"] == m["n"] == 200
        assert round(s["preds/r2"], 4) == m["r2_4dp"]
        assert round(s["preds/mae"], 4) == m["mae_4dp"]
        assert abs(s["preds/mse"] - s["test_mse"]) < 1e-6
        assert [a.kind for a in runs[name].artifacts] == ["predictions"]

    t = exp["jax_timing"]
    for key, run in (("jit", "timing_jax_jit"), ("nojit", "timing_jax_nojit")):
        r = runs[run]
        assert steps(r, "epoch_seconds") == list(range(1, 21))
        steady = statistics.median(v for s, v, _ in r.series["epoch_seconds"] if s >= 3)
        assert round(steady, 3) == t[f"steady_state_epoch_s_{key}"]
        assert "timing" in [a.kind for a in r.artifacts]

    for row in exp["sweep_table"]:
        r = runs[row["run"]]
        assert r.group == "results/sweep_small"
        for k in ("framework", "pool", "feature", "layers", "hidden", "seed", "out_dir"):
            assert r.config[k] == row[k]
        assert r.summary["train_mse"] == row["train_mse"]
        assert r.summary["test_mse"] == row["test_mse"]
    winner = min(sweep, key=lambda n: runs[n].summary["test_mse"])
    assert winner == exp["sweep_winner_overall"]["run"]
    for fw, w in exp["sweep_winner_per_framework"].items():
        best = min(
            (n for n in sweep if runs[n].config["framework"] == fw),
            key=lambda n: runs[n].summary["test_mse"],
        )
        assert best == w["run"]


def test_seed001_console_logs_and_history(fixtures: Path) -> None:
    runs, exp = load(fixtures, "seed001")
    assert len(runs) == 10
    for e in exp["runs"]:
        r = runs[e["run"]]
        assert r.config == e["hyperparameters"]
        s = r.summary
        assert s["best_test_f1_score"] == e["best_test_f1_4dp"]
        assert s["best_test_f1_score_epoch"] == e["best_epoch"]
        suffix = "_non_diag" if "non-diag" in e["final_acc_key_in_console"] else ""
        assert s["final/test_loss"] == e["final_test_loss_4dp"]
        assert s[f"final/test_acc{suffix}"] == e["final_test_acc_4dp"]
        assert s[f"final/test_f1{suffix}"] == e["final_test_f1_4dp"]
        # full-precision series from training_history.csv win over the console's 4 decimals
        assert set(r.series) == {"train_loss", "test_loss", "test_accuracy", "test_f1"}
        f1 = values(r, "test_f1")
        assert len(f1) == e["epochs_logged"]
        best = max(f1)
        assert best == e["best_test_f1"]
        assert steps(r, "test_f1")[f1.index(best)] == e["best_epoch"]
        assert at(r, "test_loss", e["best_epoch"]) == e["final_test_loss"]
        assert at(r, "test_accuracy", e["best_epoch"]) == e["final_test_acc"]
        last = e["last_epoch_row"]
        for k in ("train_loss", "test_loss", "test_accuracy", "test_f1"):
            assert at(r, k, last["epoch"]) == last[k]
        assert r.skipped_lines > 0


def test_seed002_screening_logs_and_results_table(fixtures: Path) -> None:
    runs, exp = load(fixtures, "seed002")
    assert sorted(runs) == sorted(e["run"] for e in exp["runs"])
    for e in exp["runs"]:
        r = runs[e["run"]]
        assert r.format == "textlog"
        assert steps(r, "val_loss") == list(range(500, 15001, 500))
        assert len(r.series["val_loss"]) == e["n_points"] == 30
        vl = values(r, "val_loss")
        best = min(vl)
        assert best == e["best_val_loss"]
        assert steps(r, "val_loss")[vl.index(best)] == e["best_step"]
        assert vl[-1] == e["last_val_loss"] == e["val_loss_at_15000"]
        assert math.exp(best) == pytest.approx(e["ppl_best"], rel=1e-12)
        assert at(r, "elapsed", 500) == e["elapsed_at_500"]
        assert at(r, "elapsed", 15000) == e["elapsed_at_15000"]
        sps = (15000 - 500) / (at(r, "elapsed", 15000) - at(r, "elapsed", 500))
        assert sps == pytest.approx(e["steps_per_sec_500_to_15000"], rel=1e-12)
        assert r.summary["checkpoint/best"] == e["checkpoint_best"]
        assert r.summary["checkpoint/last"] == e["checkpoint_last"]
        assert r.summary["checkpoint/best_step"] == e["best_step"]
        assert r.summary["done/iter"] == 15000
        # results.csv rows are attached to the runs they name, not runs of their own
        assert r.summary["model"] == e["model"]
        assert r.summary["flags"] == e["flags"]
        assert r.summary["best_val_loss"] == e["best_val_loss"]
        assert r.config["max_steps"] == 15000
        assert r.config["model"] == e["model"]
        assert r.skipped_lines == 0


def test_seed003_two_run_comparison(fixtures: Path) -> None:
    runs, exp = load(fixtures, "seed003")
    assert sorted(runs) == ["baseline_32dim", "hjnqclgk"]
    a, b = runs[exp["a"]], runs[exp["b"]]
    fa, fb = flat(a.config), flat(b.config)
    for row in exp["config_diff"]:
        assert fa.get(row["key"]) == row["a"]
        assert fb.get(row["key"]) == row["b"]
    diff = {k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k)}
    assert diff == {row["key"] for row in exp["config_diff"]}
    for name, e in exp["runs"].items():
        r = runs[name]
        for stage, st in e["stages"].items():
            assert steps(r, f"{stage}/loss") == list(range(1, st["epochs"] + 1))
            assert values(r, f"{stage}/loss")[-1] == st["final_loss"]
            assert min(values(r, f"{stage}/loss")) == st["min_train_loss"]
            vl = values(r, f"{stage}/val_loss")
            assert min(vl) == st["best_val_loss"]
            assert steps(r, f"{stage}/val_loss")[vl.index(min(vl))] == st["best_val_epoch"]
            assert values(r, f"{stage}/grad_norm")[-1] == st["final_grad_norm"]
        assert r.summary["nrmse"] == e["nrmse"]
        assert r.summary["train_wall_clock_minutes"] == e["train_minutes"]
        cost = r.summary["train_wall_clock_minutes"] / 60 * r.summary["gpu_hourly_usd"]
        assert cost == pytest.approx(e["cost_usd"], rel=1e-12)
        assert r.status == "finished"
        assert r.created_at is not None
    rel_delta = (b.summary["nrmse"] - a.summary["nrmse"]) / a.summary["nrmse"]
    assert rel_delta == pytest.approx(exp["nrmse"]["rel_delta"], rel=1e-12)


def _seed004_eval(runs: dict[str, ImportedRun], expr: str) -> Any:
    def final(run: str, metric: str) -> float:
        return values(runs[run], metric)[-1]

    def first_below(run: str, metric: str, t: float) -> int | None:
        return next((s for s, v, _ in runs[run].series[metric] if v < t), None)

    def passes(run: str, metric: str, t: float) -> Any:
        if "*" in run:
            return [passes(n, metric, t) for n in sorted(runs) if fnmatch.fnmatch(n, run)]
        return final(run, metric) < t

    ns = {
        "final": final,
        "best": lambda run, metric: min(values(runs[run], metric)),
        "factor": lambda a, b, metric: final(a, metric) / final(b, metric),
        "first_below": first_below,
        "passes": passes,
        "count": lambda xs: sum(1 for x in xs if x),
        "last_step": lambda run: steps(runs[run], "loss")[-1],
        "elapsed": lambda run: values(runs[run], "elapsed_s")[-1],
        "time_ratio": lambda b, a: (
            values(runs[b], "elapsed_s")[-1] / values(runs[a], "elapsed_s")[-1]
        ),
        "params_ratio": lambda a, b: runs[a].config["n_params"] / runs[b].config["n_params"],
        "round": round,
    }
    m = re.fullmatch(r"argmin\(final\((\w+)\), (.*)\)", expr)
    if m:
        names = [n.strip() for n in m.group(2).split(",")]
        return min(names, key=lambda n: final(n, m.group(1)))
    py = re.sub(r"\b(exp\d+_\w*\*?|loss\b)", lambda mm: repr(mm.group(0)), expr)
    return eval(py, {"__builtins__": {}}, ns)


def test_seed004_journal_runs_and_claims(fixtures: Path) -> None:
    runs, exp = load(fixtures, "seed004")
    assert len(runs) == 57
    for name, e in exp["runs"].items():
        r = runs[name]
        assert values(r, "loss")[-1] == e["final_loss"]
        assert min(values(r, "loss")) == e["best_loss"]
        assert steps(r, "loss")[-1] == e["last_step"]
        assert len(r.series["loss"]) == e["n_points"]
    pinn = runs["exp00_direct_airy"]
    assert pinn.summary["phase/lbfgs/first_step"] == 2001
    assert pinn.config["equation"] == "airy"
    checked = 0
    for c in exp["claims"]:
        got = _seed004_eval(runs, c["expr"])
        if "holds" in c and c["kind"] not in ("threshold",):
            assert got == c["holds"], c["id"]
            continue
        if c["kind"] == "threshold":
            assert got == c["holds"], c["id"]
            run_expr = c["expr"].replace("passes(", "final(").rsplit(",", 1)[0] + ")"
            assert _seed004_eval(runs, run_expr) == c["value"], c["id"]
            if "first_below" in c:
                fb_expr = c["expr"].replace("passes(", "first_below(")
                assert _seed004_eval(runs, fb_expr) == c["first_below"], c["id"]
        elif isinstance(c["value"], float):
            assert got == pytest.approx(c["value"], rel=1e-12), c["id"]
        else:
            assert got == c["value"], c["id"]
        checked += 1
    assert checked >= 30
    for iv in exp["journal_inline_values"]:
        got = _seed004_eval(runs, iv["expr"])
        if isinstance(iv["value"], float):
            assert got == pytest.approx(iv["value"], rel=1e-12), iv["expr"]
        else:
            assert got == iv["value"], iv["expr"]
