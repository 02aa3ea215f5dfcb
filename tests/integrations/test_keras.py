"""ExpbookCallback on a real ``keras.Model.fit`` (Keras 3 on the torch backend)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _keras_fit import data, model

import expbook
from expbook.integrations.keras import ExpbookCallback
from expbook.store import connect

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def series(store_path: str, run_id: str) -> dict[str, tuple[list[int], list[float]]]:
    s = connect(store_path).read_series_lists(run_id)
    return {k: (v.steps, v.values) for k, v in s.items()}


def test_fit_is_logged_per_epoch(store_path: str) -> None:
    x, y = data()
    cb = ExpbookCallback(project="keras", name="dense", store=store_path)
    m = model(lr=0.01)
    history = m.fit(
        x, y, batch_size=8, epochs=3, validation_data=data(8, 1), verbose=0, callbacks=[cb]
    )
    rec = connect(store_path).get_run(cb.run.id)
    assert (rec.project, rec.name, rec.status) == ("keras", "dense", "finished")
    assert rec.config["epochs"] == 3 and rec.config["steps"] == 4
    assert rec.config["optimizer"]["name"] == "adam"
    assert rec.config["optimizer"]["learning_rate"] == pytest.approx(0.01)
    assert rec.config["num_parameters"] == m.count_params() == 4 * 3 + 3 + 3 + 1
    got = series(store_path, rec.id)
    assert set(got) == {"loss", "mae", "val_loss", "val_mae"}  # no batch metrics asked for
    for key, values in history.history.items():
        assert got[key] == ([0, 1, 2], [pytest.approx(v) for v in values])
    assert expbook.run is None


def test_batch_metrics_at_the_global_batch_step(store_path: str) -> None:
    x, y = data()
    cb = ExpbookCallback(store=store_path, log_batch_frequency=3)
    m = model()
    history = m.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[cb])
    got = series(store_path, cb.run.id)
    # 4 batches an epoch, 3 epochs: every 3rd of the 12 batches
    assert got["batch/loss"][0] == [3, 6, 9, 12]
    assert got["batch/mae"][0] == [3, 6, 9, 12]
    # batch 12 is the last of the last epoch: Keras' running mean is the epoch's loss
    assert got["batch/loss"][1][-1] == pytest.approx(history.history["loss"][-1])
    assert got["loss"][0] == [0, 1, 2]  # the epochs keep their own steps
    assert connect(store_path).get_run(cb.run.id).status == "finished"


def test_reuses_the_current_run(store_path: str) -> None:
    run = expbook.init(project="mine", store=store_path, config={"epochs": 99})
    cb = ExpbookCallback(project="ignored")
    x, y = data()
    model().fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[cb])
    assert cb.run is run and not run.finished
    run.finish()
    rec = connect(store_path).get_run(run.id)
    assert rec.project == "mine" and rec.config["epochs"] == 99  # the script's value stays
    assert rec.config["steps"] == 4
    assert series(store_path, run.id)["loss"][0] == [0, 1]


def test_bad_batch_frequency() -> None:
    with pytest.raises(ValueError, match="log_batch_frequency must be a positive integer"):
        ExpbookCallback(log_batch_frequency=0)


def test_failed_fit_marks_the_run_failed(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    proc = subprocess.run(
        [sys.executable, str(HERE / "_keras_fit.py"), store],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={
            "PYTHONPATH": str(ROOT / "src"),
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),  # caches and settings files stay in the test folder
            "HF_HUB_OFFLINE": "1",
        },
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "fit broke at batch 2" in proc.stderr
    [rec] = connect(store).list_runs()
    assert (rec.name, rec.status) == ("breaks", "failed")
    # the batches before the break were written; no epoch ended
    got = series(store, rec.id)
    assert got["batch/loss"][0] == [1, 2, 3]
    assert "loss" not in got
