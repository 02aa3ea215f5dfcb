"""The real wandb clients, unmodified, with the shim installed in a virtualenv: transformers'
``Trainer(report_to=["wandb"])``, Lightning's ``WandbLogger`` and a script of the shape of
wandb's pytorch-cnn-mnist example. Every value each client logged is read back from the store
at the client's own global step, and the run ends with the right status."""

from __future__ import annotations

import csv
import json
import math
import sqlite3
import subprocess
from pathlib import Path

import expbook

from .conftest import client_env

CLIENTS = Path(__file__).parent / "clients"

# transformers' WandbCallback puts these in the summary, not the history
HF_SUMMARY_ONLY = {
    "train_runtime",
    "train_samples_per_second",
    "train_steps_per_second",
    "train_loss",
    "total_flos",
}


def run_client(python: Path, store: Path, script: str, *args: str, cwd: Path) -> str:
    done = subprocess.run(
        [str(python), str(CLIENTS / script), *args],
        env=client_env(store),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ids = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("RUN_ID")]
    assert ids, done.stdout[-2000:]
    return ids[-1]


def points(book: expbook.Store, run_id: str, key: str) -> dict[int, float]:
    return dict(book.series_points(run_id, key))


def test_transformers_trainer(shim_venv: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    run_id = run_client(shim_venv, store, "hf_trainer.py", str(tmp_path / "out"), cwd=tmp_path)
    book = expbook.open_store(store)
    rec = book.run(run_id)
    assert rec.status == "finished"
    assert rec.name == "hf-tiny"
    assert rec.config["max_steps"] == 6 and rec.config["hidden_size"] == 16
    history = json.loads((tmp_path / "out" / "log_history.json").read_text())
    # the last value logged for each (key, global step): train() and evaluate() both log
    # eval/* at step 6, and the store keeps one point per key and step
    expected: dict[tuple[str, int], float] = {}
    for entry in history:
        for k, v in entry.items():
            if k == "step" or k in HF_SUMMARY_ONLY or not isinstance(v, (int, float)):
                continue
            key = "eval/" + k[5:] if k.startswith("eval_") else "train/" + k
            expected[key, entry["step"]] = v
    for (key, step), v in expected.items():
        got = points(book, run_id, key)
        assert step in got, (key, step, got)
        assert math.isclose(got[step], v, rel_tol=1e-6), (key, step, v, got)
    logged = len(expected)
    assert logged >= 10
    assert sorted(points(book, run_id, "train/loss")) == [2, 4, 6]
    assert sorted(points(book, run_id, "eval/loss")) == [3, 6]
    summary = rec.summary if isinstance(rec.summary, dict) else {}
    assert "train_runtime" in json.dumps(summary) or "train/train_runtime" in summary


def test_lightning_wandb_logger(shim_venv: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    out = tmp_path / "out"
    run_id = run_client(shim_venv, store, "lightning_logger.py", str(out), cwd=tmp_path)
    book = expbook.open_store(store)
    rec = book.run(run_id)
    assert rec.status == "finished"
    assert rec.project == "lightning-tiny"
    assert rec.config["lr"] == 0.1
    with open(out / "csv" / "version_0" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    checked = 0
    for row in rows:
        step = int(row["step"])
        for key in ("train_loss", "val_loss", "epoch"):
            if row.get(key):
                got = points(book, run_id, key)
                assert step in got, (key, step, got)
                assert math.isclose(got[step], float(row[key]), rel_tol=1e-6), (key, step)
                checked += 1
    assert checked >= 10
    # Lightning's step metric itself is in the store, as wandb keeps it
    assert max(v for _, v in book.series_points(run_id, "trainer/global_step")) == 15


def test_pytorch_cnn_mnist_example(shim_venv: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    run_id = run_client(shim_venv, store, "cnn_mnist.py", cwd=tmp_path)
    book = expbook.open_store(store)
    rec = book.run(run_id)
    assert rec.status == "finished"
    assert rec.config["lr"] == 0.01 and rec.config["batch_size"] == 8
    # per epoch: the loss at batches 0 and 2, then the test row; wandb counts one step a log
    assert sorted(points(book, run_id, "loss")) == [0, 1, 3, 4]
    assert sorted(points(book, run_id, "Test Accuracy")) == [2, 5]
    assert sorted(points(book, run_id, "Test Loss")) == [2, 5]
    # watch(model, log="all") logged gradient and parameter norms at its first step
    assert 0 in points(book, run_id, "gradients/norm/_total")
    assert 0 in points(book, run_id, "parameters/norm/_total")
    # the two example images of each test pass, in the store's media table at their step
    with sqlite3.connect(store / "expbook.db") as db:
        media = db.execute(
            "SELECT step, count(*), min(type) FROM media WHERE key = 'Examples' GROUP BY step"
        ).fetchall()
    assert media == [(2, 2, "image"), (5, 2, "image")]


def test_a_script_that_exits_with_an_error_ends_failed(shim_venv: Path, tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(
        "import sys, wandb\n"
        "run = wandb.init(project='crash', dir='elsewhere')\n"
        "wandb.log({'loss': 1.5})\n"
        "wandb.log({'loss': 0.5})\n"
        "print('RUN_ID', run.id, flush=True)\n"
        "sys.exit(3)\n"
    )
    store = tmp_path / "store"
    done = subprocess.run(
        [str(shim_venv), str(script)],
        env=client_env(store),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 3, done.stderr
    run_id = done.stdout.split()[1]
    book = expbook.open_store(store)  # dir= did not move the store
    assert book.run(run_id).status == "failed"
    assert book.series_points(run_id, "loss") == [(0, 1.5), (1, 0.5)]
    assert not (tmp_path / "elsewhere").exists()
