"""ExpbookCallback on a real ``transformers.Trainer`` (a tiny BERT built from a config)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import transformers
from _hf_train import make_trainer

import expbook
from expbook.integrations.transformers import ExpbookCallback, metric_name
from expbook.store import connect

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def series(store_path: str, run_id: str) -> dict[str, tuple[list[int], list[float]]]:
    s = connect(store_path)
    try:
        return {k: (v.steps, v.values) for k, v in s.read_series_lists(run_id).items()}
    finally:
        s.close()


def test_trainer_run_is_logged(store_path: str, tmp_path: Path) -> None:
    cb = ExpbookCallback(project="hf", name="tiny", store=store_path, tags=["bert"])
    trainer = make_trainer(str(tmp_path / "out"), cb)
    trainer.train()

    rec = connect(store_path).get_run(cb.run.id)
    assert (rec.project, rec.name, rec.tags, rec.status) == ("hf", "tiny", ["bert"], "finished")
    # config: the TrainingArguments, the model's config and the parameter count
    assert rec.config["learning_rate"] == 3e-4
    assert rec.config["logging_steps"] == 2
    assert rec.config["model"]["hidden_size"] == 16
    n = sum(p.numel() for p in trainer.model.parameters())
    assert rec.config["num_parameters"] == rec.config["num_trainable_parameters"] == n
    # metrics at the trainer's global step: train logs every 2 steps, eval every 3
    got = series(store_path, rec.id)
    assert got["train/loss"][0] == [2, 4, 6]
    assert got["train/learning_rate"][0] == [2, 4, 6]
    assert got["train/grad_norm"][0] == [2, 4, 6]
    assert got["eval/loss"][0] == [3, 6]
    assert {"eval/runtime", "eval/samples_per_second", "train/epoch"} <= set(got)
    assert got["train/epoch"][1][-1] == pytest.approx(0.75)  # 6 steps of 8 batches
    assert not any(k.startswith("eval_") or k in ("loss", "train/train_runtime") for k in got)
    # the end-of-training figures are the summary
    assert rec.summary["global_step"] == 6
    assert rec.summary["train_runtime"] > 0
    assert rec.summary["train_loss"] == pytest.approx(sum(got["train/loss"][1]) / 3, rel=0.05)
    assert {"train_samples_per_second", "total_flos"} <= set(rec.summary)
    assert expbook.run is None  # the run started by the callback ended with training


def test_evaluate_after_train_goes_to_the_same_run(store_path: str, tmp_path: Path) -> None:
    cb = ExpbookCallback(project="hf", store=store_path)
    trainer = make_trainer(str(tmp_path / "out"), cb, max_steps=4, eval_strategy="no")
    trainer.train()
    assert "eval/loss" not in series(store_path, cb.run.id)
    metrics = trainer.evaluate()
    got = series(store_path, cb.run.id)
    assert got["eval/loss"] == ([4], [pytest.approx(metrics["eval_loss"])])
    assert connect(store_path).get_run(cb.run.id).status == "finished"
    assert expbook.run is None


def test_reuses_the_current_run(store_path: str, tmp_path: Path) -> None:
    run = expbook.init(project="mine", name="by-hand", store=store_path, config={"seed": 7})
    cb = ExpbookCallback(project="ignored")
    make_trainer(str(tmp_path / "out"), cb, max_steps=2, eval_strategy="no").train()
    assert cb.run is run
    assert not run.finished  # the script's run: the script finishes it
    run.log({"after": 1.0})
    run.finish()
    rec = connect(store_path).get_run(run.id)
    assert (rec.project, rec.name, rec.status) == ("mine", "by-hand", "finished")
    assert rec.config["seed"] == 7 and rec.config["learning_rate"] == 3e-4
    assert series(store_path, run.id)["train/loss"][0] == [2]
    assert len(connect(store_path).list_runs()) == 1


def test_only_the_main_process_logs(store_path: str, tmp_path: Path) -> None:
    cb = ExpbookCallback(store=store_path)
    args = transformers.TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True)
    state = transformers.TrainerState(is_world_process_zero=False)
    control = transformers.TrainerControl()
    cb.on_train_begin(args, state, control)
    cb.on_log(args, state, control, logs={"loss": 1.0})
    cb.on_train_end(args, state, control)
    assert cb.run is None and expbook.run is None
    assert not Path(store_path).exists()


def test_failed_training_marks_the_run_failed(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    # the forward raises on its 5th call: after the 2 steps logged at step 2
    proc = subprocess.run(
        [sys.executable, str(HERE / "_hf_train.py"), store, "5"],
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
    assert proc.returncode == 1
    assert "forward broke at call 5" in proc.stderr
    s = connect(store)
    [rec] = s.list_runs()
    assert (rec.name, rec.status) == ("breaks", "failed")
    assert rec.config["learning_rate"] == 3e-4
    assert series(store, rec.id)["train/loss"][0] == [2]


def test_metric_names() -> None:
    assert metric_name("eval_loss") == "eval/loss"
    assert metric_name("test_accuracy") == "test/accuracy"
    assert metric_name("loss") == "train/loss"
    assert metric_name("epoch") == "train/epoch"
