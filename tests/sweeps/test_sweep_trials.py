"""Retries, timeouts, devices and the sweep's report starter."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from expbook.store import connect

from .sweepkit import expbook, table_rows, write_project


def test_failed_trials_are_retried_then_reported(tmp_path: Path) -> None:
    write_project(tmp_path)
    spec = {"name": "b", "function": "sweepfns:boom", "params": {"x": [1]}, "retries": 1}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(spec))
    res = expbook(tmp_path, "sweep", "b.yaml", "--store", "st")
    assert res.returncode == 1
    assert "sweep b finished: 1 trials (1 failed)" in res.stdout
    b = connect(str(tmp_path / "st"))
    (t,) = b.sweep_trials("b")
    runs = b.list_runs()
    b.close()
    assert t["attempts"] == 2 and t["failures"] == 2
    assert t["error"] == "RuntimeError: trial exploded"
    assert sorted(r.name for r in runs) == ["b-0", "b-0-a2"]
    assert {r.status for r in runs} == {"failed"}


def test_timeout_and_devices(tmp_path: Path) -> None:
    write_project(tmp_path)
    spec = {
        "name": "t",
        "command": 'python -c \'import os, time; print(os.environ["CUDA_VISIBLE_DEVICES"]); '
        "time.sleep({nap})'",
        "params": {"nap": [0, 30]},
        "timeout": 3,
        "devices": ["0", "1"],
        "workers": 4,
    }
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(spec))
    res = expbook(tmp_path, "sweep", "t.yaml", "--store", "st")
    assert res.returncode == 1
    got = json.loads(
        expbook(tmp_path, "sweep", "status", "t", "--store", "st", "--format", "json").stdout
    )
    by = {r["nap"]: r for r in got["rows"]}
    assert by[0]["status"] == "finished" and by[30]["status"] == "timeout"
    assert by[30]["error"] == "timed out after 3 s" and by[30]["seconds"] < 20
    b = connect(str(tmp_path / "st"))
    outs = sorted(
        Path(b.run_dir(r["run"]), "output.log").read_text().split()[0] for r in got["rows"]
    )
    b.close()
    assert outs == ["0", "1"]  # each trial had a device of its own


def test_report_starter_for_a_sweep(tmp_path: Path) -> None:
    write_project(tmp_path)
    spec = {
        "name": "g",
        "function": "sweepfns:gnn",
        "params": {
            "pool": ["mean", "sum"],
            "feature": ["onehot"],
            "framework": ["torch", "jax"],
            "seed": [0, 1],
        },
        "metric": "val_loss",
        "workers": 2,
    }
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(spec))
    assert expbook(tmp_path, "sweep", "g.yaml", "--store", "st").returncode == 0
    res = expbook(tmp_path, "report", "g.md", "--new", "sweep", "--sweep", "g", "--store", "st")
    assert res.returncode == 0, res.stderr
    assert "5 blocks, 0 values, 0 claims (0 failing), 0 errors: written" in res.stdout
    md = (tmp_path / "g.md").read_text()
    assert '"sweep:g" in tags and status == "finished"' in md
    # safe_dump sorted the params: framework, pool, seed; seeds are averaged
    assert "## val_loss by framework, pool (mean over seeds)" in md
    pivot = table_rows(md, "| framework | mean | sum |")
    assert [r["framework"] for r in pivot] == ["jax", "torch"]
    assert len(table_rows(md, "| rank |")) == 8
    bad = expbook(tmp_path, "report", "h.md", "--new", "sweep", "--sweep", "zz", "--store", "st")
    assert bad.returncode == 1 and bad.stderr == "expbook: error: no sweep named 'zz'; sweeps: g\n"


def test_ctrl_c_stops_the_sweep_and_resume_runs_the_rest(tmp_path: Path) -> None:
    import signal

    from .sweepkit import start, wait_for

    spec = {
        "name": "c",
        "command": "python -c 'import time; time.sleep({nap})'",
        "params": {"nap": [0, 30, 0.1]},
        "workers": 2,
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(spec))
    proc = start(tmp_path, "sweep", "c.yaml", "--store", "st")
    try:

        def long_one_running() -> bool:
            b = connect(str(tmp_path / "st"))
            try:
                ts = b.sweep_trials("c")
                st = {t["params"]["nap"]: t["status"] for t in ts}
                return st.get(30) == "running" and st.get(0) == "finished"
            finally:
                b.close()

        wait_for(long_one_running, timeout=60)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the CLI's answer to Ctrl-C in any command: one line, exit 1
    assert proc.returncode == 1 and err.strip().endswith("expbook: aborted")
    b = connect(str(tmp_path / "st"))
    by = {t["params"]["nap"]: t for t in b.sweep_trials("c")}
    assert by[0]["status"] == "finished" and by[30]["status"] == "stopped"
    assert b.sweep_get("c")["status"] == "stopped"
    b.close()
    spec["params"]["nap"] = [0, 0.2, 0.1]  # the long one made short; the grid point is new
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(spec))
    res = expbook(tmp_path, "sweep", "c.yaml", "--store", "st")
    b = connect(str(tmp_path / "st"))
    by = {t["params"]["nap"]: t for t in b.sweep_trials("c")}
    b.close()
    assert by[0]["attempts"] == 1  # kept
    assert {by[n]["status"] for n in (0, 0.2, 0.1)} == {"finished"}
    assert by[30]["status"] == "stopped"  # a point no longer in the grid is left as it was
    assert res.returncode == 0
    assert "sweep c finished: 3 trials (3 finished)" in res.stdout


def test_a_trial_that_cannot_start_fails_alone(tmp_path: Path) -> None:
    spec = {"name": "nc", "command": "true {a}", "params": {"a": [1, 2]}, "cwd": "missing"}
    (tmp_path / "nc.yaml").write_text(yaml.safe_dump(spec))
    res = expbook(tmp_path, "sweep", "nc.yaml", "--store", "st")
    assert res.returncode == 1 and "sweep nc finished: 2 trials (2 failed)" in res.stdout
    b = connect(str(tmp_path / "st"))
    trials = b.sweep_trials("nc")
    assert all(t["error"].startswith("cannot start: FileNotFoundError") for t in trials)
    assert {b.get_run(t["run_id"]).status for t in trials} == {"failed"}
    b.close()
