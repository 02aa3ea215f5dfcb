"""The seed-000-like grid (pool x feature x framework x 3 seeds of a tiny numpy model) on the
local pool: the sweep process is killed with SIGKILL mid-way and resumed; it ends with one
finished run per grid point and a report whose winners are those of the runs."""

from __future__ import annotations

import itertools
import json
import os
import signal
import statistics
from pathlib import Path

import yaml

from expbook.store import connect

from .sweepkit import GRID, expbook, start, table_rows, wait_for, write_project


def _spec(folder: Path, name: str = "gnn-ablation", **extra: object) -> Path:
    spec = {
        "name": name,
        "command": "python train_gnn.py --pool {pool} --feature {feature} "
        "--framework {framework} --seed {seed} --sleep 0.3",
        "params": GRID,
        "method": "grid",
        "metric": {"name": "val_loss", "goal": "min"},
        "workers": 2,
        "report": "sweep-report.md",
        **extra,
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _finished(store: str, name: str) -> list:
    b = connect(store)
    try:
        return [t for t in b.sweep_trials(name) if t["status"] == "finished"]
    finally:
        b.close()


def test_killed_sweep_resumes_with_one_finished_run_per_point(tmp_path: Path) -> None:
    write_project(tmp_path)
    _spec(tmp_path)
    store = str(tmp_path / "store")
    proc = start(tmp_path, "sweep", "sweep.yaml", "--store", store, "--report-every", "0")
    try:
        wait_for(lambda: len(_finished(store, "gnn-ablation")) >= 6, timeout=120)
        # a second scheduler on the live sweep refuses, in one line, and changes nothing
        busy = expbook(tmp_path, "sweep", "sweep.yaml", "--store", store)
        assert busy.returncode == 1
        assert busy.stderr.startswith("expbook: error: sweep gnn-ablation is running (pid ")
        assert len(busy.stderr.strip().splitlines()) == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    b = connect(store)
    before = {t["idx"]: t for t in b.sweep_trials("gnn-ablation")}
    b.close()
    done_before = {i for i, t in before.items() if t["status"] == "finished"}
    assert 6 <= len(done_before) < 24, "the kill must land mid-way"
    assert any(t["status"] == "running" for t in before.values())

    status = json.loads(
        expbook(tmp_path, "sweep", "status", "--store", store, "--format", "json").stdout
    )
    assert status["rows"][0]["status"] == "crashed"  # the owner is gone

    res = expbook(tmp_path, "sweep", "sweep.yaml", "--store", store, timeout=240)
    assert res.returncode == 0, res.stderr
    assert "sweep gnn-ablation finished: 24 trials (24 finished)" in res.stdout

    b = connect(store)
    trials = b.sweep_trials("gnn-ablation")
    assert len(trials) == 24 and all(t["status"] == "finished" for t in trials)
    # finished trials were kept, not run again
    for i in done_before:
        assert trials[i]["run_id"] == before[i]["run_id"] and trials[i]["attempts"] == 1
    runs = [r for r in b.list_runs() if "sweep:gnn-ablation" in r.tags]
    finished = [b.get_run(r.id) for r in runs if r.status == "finished"]
    points = {tuple(r.config[k] for k in GRID): r for r in finished}
    assert len(finished) == 24 and len(points) == 24
    assert set(points) == set(itertools.product(*GRID.values()))
    # the attempts that were running when the sweep died are crashed runs, not running ones
    others = [r for r in runs if r.status != "finished"]
    assert others and all(b.get_run(r.id).state == "crashed" for r in others)
    for r in finished:
        assert r.group == "gnn-ablation" and r.meta["sweep"] == "gnn-ablation"
        out = Path(b.run_dir(r.id), "output.log").read_text()
        assert out.startswith("trial " + " ".join(str(r.config[k]) for k in GRID))

    # the winners, computed here from the store: the config group with the lowest mean
    sums = b.metric_summaries([r.id for r in finished], ["val_loss"])
    groups: dict[tuple, list[float]] = {}
    for r in finished:
        key = (r.config["pool"], r.config["feature"], r.config["framework"])
        groups.setdefault(key, []).append(sums[r.id]["val_loss"].min_value)
    best = min(groups, key=lambda k: statistics.mean(groups[k]))
    b.close()

    report = (tmp_path / "sweep-report.md").read_text()
    winners = table_rows(report, "| scope |")
    overall = winners[0]
    assert overall["scope"] == "overall" and overall["n"] == "3"
    assert (overall["pool"], overall["feature"], overall["framework"]) == best
    assert abs(float(overall["val_loss"]) - statistics.mean(groups[best])) < 1e-4
    board = table_rows(report, "| rank |")
    assert len(board) == 10
    assert "## Parallel coordinates" in report and "| axis |" in report


def test_stop_ends_the_running_trials_and_resume_finishes(tmp_path: Path) -> None:
    write_project(tmp_path)
    spec = {
        "name": "stopme",
        "command": "python train_gnn.py --pool {pool} --feature onehot --framework torch "
        "--seed {seed} --sleep 30",
        "params": {"pool": ["mean", "sum"], "seed": [0]},
        "workers": 2,
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    store = str(tmp_path / "store")
    proc = start(tmp_path, "sweep", "s.yaml", "--store", store)
    try:

        def both_running() -> bool:
            b = connect(store)
            try:
                ts = b.sweep_trials("stopme")
                return len(ts) == 2 and all(
                    t["status"] == "running"
                    and t["run_id"]
                    and b.get_run(t["run_id"]).meta.get("python")
                    for t in ts
                )
            finally:
                b.close()

        wait_for(both_running, timeout=60)
        res = expbook(tmp_path, "sweep", "stop", "stopme", "--store", store)
        assert res.returncode == 0 and "stop requested" in res.stdout
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "sweep stopme stopped" in out
    b = connect(store)
    ts = b.sweep_trials("stopme")
    assert [t["status"] for t in ts] == ["stopped", "stopped"]
    assert {b.get_run(t["run_id"]).status for t in ts} == {"killed"}
    b.close()
    # stopping a sweep that is not running says so
    res = expbook(tmp_path, "sweep", "stop", "stopme", "--store", store)
    assert "is not running" in res.stdout
