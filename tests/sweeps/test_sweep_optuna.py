"""Optuna sweeps (a sampler by name, the study's importances in the report) and pruning, which
really stops a trial: a function trial by an exception inside it, a command by terminating
its process."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import yaml

from expbook.store import connect

from .sweepkit import expbook, table_rows, write_project

SLOW = textwrap.dedent(
    """
    import sys, time
    import expbook
    level = float(sys.argv[1])
    expbook.init()
    for step in range(100):
        expbook.log({"val_loss": level + 1.0 / (step + 1)}, step=step)
        time.sleep(0.02)
    expbook.finish()
    """
)


def _run(tmp_path: Path, spec: dict) -> tuple[str, list[dict]]:
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    store = str(tmp_path / "store")
    res = expbook(tmp_path, "sweep", "s.yaml", "--store", store, timeout=180)
    assert res.returncode == 0, res.stdout + res.stderr
    b = connect(store)
    try:
        return store, b.sweep_trials(spec["name"])
    finally:
        b.close()


def _points(store: str, run_id: str) -> int:
    b = connect(store)
    try:
        return b.metric_summaries([run_id], ["val_loss"])[run_id]["val_loss"].count
    finally:
        b.close()


def test_pruning_stops_function_trials(tmp_path: Path) -> None:
    write_project(tmp_path)
    store, trials = _run(
        tmp_path,
        {
            "name": "prune-fn",
            "function": "sweepfns:slow",
            "params": {"level": [0.0, 5.0], "rep": [0, 1, 2]},
            "metric": {"name": "val_loss", "goal": "min"},
            "prune": {"after_step": 5, "rule": "median", "startup_trials": 2},
            "workers": 1,
        },
    )
    by = {(t["params"]["level"], t["params"]["rep"]): t for t in trials}
    for rep in range(3):
        assert by[(0.0, rep)]["status"] == "finished"
        assert _points(store, by[(0.0, rep)]["run_id"]) == 200
        bad = by[(5.0, rep)]
        assert bad["status"] == "pruned"
        assert 6 <= _points(store, bad["run_id"]) < 200  # stopped, not run to its end
    b = connect(store)
    assert b.get_run(by[(5.0, 0)]["run_id"]).status == "killed"
    b.close()


def test_pruning_terminates_command_trials(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    store, trials = _run(
        tmp_path,
        {
            "name": "prune-cmd",
            "command": "python slow.py {level}",
            "params": {"level": [0.0, 5.0], "rep": [0, 1]},
            "metric": {"name": "val_loss", "goal": "min"},
            "prune": {"after_step": 5, "startup_trials": 2},
            "workers": 1,
        },
    )
    by = {(t["params"]["level"], t["params"]["rep"]): t for t in trials}
    assert [by[(0.0, r)]["status"] for r in (0, 1)] == ["finished", "finished"]
    for r in (0, 1):
        bad = by[(5.0, r)]
        assert bad["status"] == "pruned"
        assert _points(store, bad["run_id"]) < 100


def test_optuna_sweep_with_a_named_sampler_and_its_report(tmp_path: Path) -> None:
    write_project(tmp_path)
    store, trials = _run(
        tmp_path,
        {
            "name": "opt",
            "function": "sweepfns:gnn",
            "method": "optuna",
            "sampler": "RandomSampler",
            "trials": 8,
            "seed": 3,
            "params": {
                "pool": ["mean", "sum"],
                "feature": ["onehot", "deg_lap_pe"],
                "framework": ["torch", "jax"],
                "seed": {"int_uniform": [0, 2]},
            },
            "metric": {"name": "val_loss", "goal": "min"},
            "workers": 2,
            "report": "opt.md",
        },
    )
    assert len(trials) == 8 and all(t["status"] == "finished" for t in trials)
    assert all(t["params"]["seed"] in (0, 1, 2) for t in trials)
    b = connect(store)
    info = b.sweep_get("opt")["info"]
    b.close()
    best = min(trials, key=lambda t: t["value"])
    assert info["best"]["trial"] == best["idx"]
    assert abs(sum(info["importances"].values()) - 1) < 1e-6
    report = (tmp_path / "opt.md").read_text()
    imp = table_rows(report, "| param | importance |")
    assert {r["param"] for r in imp} <= {"pool", "feature", "framework", "seed"} and imp
    status = json.loads(
        expbook(tmp_path, "sweep", "status", "opt", "--store", store, "--format", "json").stdout
    )
    assert status["kind"] == "sweep" and len(status["rows"]) == 8
    assert {r["status"] for r in status["rows"]} == {"finished"}
