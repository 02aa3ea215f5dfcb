"""The seed-000-like grid on a real local Ray head (started on loopback for this test and
stopped at its end): function trials as Ray tasks, logging to the local store."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from expbook.store import connect

from .sweepkit import GRID, env, expbook, table_rows, write_project

RAY = Path(sys.executable).parent / "ray"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory: pytest.TempPathFactory):
    """One Ray head for the module, on loopback, stopped at its end."""
    tmp_path = tmp_path_factory.mktemp("ray")
    port = _free_port()
    temp = f"/tmp/ray-{os.getpid()}-{port}"
    e = env(tmp_path, RAY_USAGE_STATS_ENABLED="0")
    cmd = [
        str(RAY) if RAY.exists() else "ray",
        "start",
        "--head",
        "--node-ip-address",
        "127.0.0.1",
        "--port",
        str(port),
        "--num-cpus",
        "2",
        "--include-dashboard=false",
        "--disable-usage-stats",
        "--temp-dir",
        temp,
    ]
    try:
        started = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stdout + started.stderr
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([cmd[0], "stop", "--force"], env=e, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def test_grid_on_a_local_ray_head(tmp_path: Path, ray_head: str) -> None:
    write_project(tmp_path)
    spec = {
        "name": "gnn-ray",
        "function": "sweepfns:gnn",
        "params": GRID,
        "metric": {"name": "val_loss", "goal": "min"},
        "executor": "ray",
        "resources": {"num_cpus": 1},
        "workers": 4,
        "report": "ray-report.md",
    }
    (tmp_path / "ray.yaml").write_text(yaml.safe_dump(spec))
    store = str(tmp_path / "store")
    res = expbook(
        tmp_path, "sweep", "ray.yaml", "--store", store, "--ray-address", ray_head, timeout=300
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "sweep gnn-ray finished: 24 trials (24 finished)" in res.stdout
    b = connect(store)
    runs = [b.get_run(r.id) for r in b.list_runs() if r.status == "finished"]
    pids = {r.pid for r in runs}
    points = {tuple(r.config[k] for k in GRID) for r in runs}
    b.close()
    assert len(runs) == 24 and points == set(itertools.product(*GRID.values()))
    assert os.getpid() not in pids  # logged from Ray's worker processes
    winners = table_rows((tmp_path / "ray-report.md").read_text(), "| scope |")
    assert winners[0]["scope"] == "overall" and winners[0]["n"] == "3"


def test_unreachable_ray_address_is_one_line(tmp_path: Path) -> None:
    write_project(tmp_path)
    spec = {
        "name": "r",
        "function": "sweepfns:gnn",
        "params": {"pool": ["mean"]},
        "executor": "ray",
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(spec))
    res = expbook(
        tmp_path,
        "sweep",
        "r.yaml",
        "--store",
        str(tmp_path / "st"),
        "--ray-address",
        f"127.0.0.1:{_free_port()}",
        timeout=60,
    )
    assert res.returncode == 1
    assert res.stderr.startswith("expbook: error: cannot connect to Ray at 127.0.0.1:")
    assert len(res.stderr.strip().splitlines()) == 1


def test_command_trials_on_ray(tmp_path: Path, ray_head: str) -> None:
    write_project(tmp_path)
    spec = {
        "name": "cmd-ray",
        "command": "python train_gnn.py --pool {pool} --feature onehot --framework torch "
        "--seed {seed} --steps 30",
        "params": {"pool": ["mean", "sum"], "seed": [0, 1]},
        "metric": "val_loss",
        "executor": "ray",
        "workers": 2,
        "ray_address": ray_head,
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(spec))
    store = str(tmp_path / "store")
    res = expbook(tmp_path, "sweep", "c.yaml", "--store", store, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    b = connect(store)
    trials = b.sweep_trials("cmd-ray")
    assert [t["status"] for t in trials] == ["finished"] * 4
    for t in trials:
        run = b.get_run(t["run_id"])
        assert run.status == "finished" and run.config["pool"] == t["params"]["pool"]
        out = Path(b.run_dir(run.id), "output.log").read_text()
        assert out.startswith(f"trial {t['params']['pool']} onehot torch {t['params']['seed']}")
    b.close()
