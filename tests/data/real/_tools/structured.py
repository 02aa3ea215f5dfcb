"""Re-run the independent readings of the structured artifacts (files and run folders).

Usage: python structured.py [--check] [ID ...]   (any directory; no ID: all of them)
Each artifact below is read by one of the scripts beside this file (none imports expbook),
with the arguments given; this writes each expected.json again, or with --check writes
nothing and exits 1 if an expected.json differs from what its reading gives now.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

TOOLS = Path(__file__).resolve().parent
REAL = TOOLS.parent

# id -> (script in _tools/ without .py, arguments after the artifact folder)
READERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "hf-t5-summarization": ("expected_hf", ()),
    "hf-lora-imdb-trainer-state": ("expected_hf", ()),
    "sacred-lstm-model-size": ("expected_sacred", ("runs/1",)),
    "sb3-ppo-cartpole-tfevents": (
        "expected_tfevents",
        ("PPO_4/events.out.tfevents.1699914654.Rishabhs-MacBook-Pro.local.74497.0",),
    ),
    "sb3-cartpole-monitor": ("expected_monitor", ("monitor.csv",)),
    "wandb-cartpole-run-files": ("expected_wandb_files", ("run-20231210_175258-gu7xnmg8",)),
    "mlflow-cnn-classifier": ("expected_mlflow", ("IMAGE_SIZE",)),
    "hf-whisper-tiny-nob": ("expected_hf", ("max_steps",)),
    "sb3-acrobot-progress": ("expected_csv", ("progress.csv", "time/total_timesteps")),
    "tb-export-csv-acrobot": ("expected_tb_export", ("PPO_Acrobot_current.csv",)),
    "tb-export-json-acrobot": ("expected_tb_export", ("PPO.json",)),
    "lightning-csvlogger-aos": ("expected_lightning", ("version_0",)),
    "keras-csvlogger-mnist": ("expected_csv", ("training_log.csv", "epoch")),
    "optuna-forest-cover-trials": ("expected_optuna", ("optuna_trials.csv",)),
    "dvclive-fastai-pets": ("expected_dvclive", ("dvclive",)),
    "lightning-hparams-namespace": ("expected_lightning", ("version_15",)),
    "tf-nmt-model-dir": ("expected_tf_nmt", ()),
    "mmrotate-lsknet-logjson": ("expected_mmcv_logjson", ("None.log.json",)),
    "mmcv-tensorboard-lsknet": (
        "expected_tfevents",
        ("tf_logs/events.out.tfevents.1736768651.4dd1ef83e882.1051.4",),
    ),
    "wandb-legacy-spaceinvaders": ("expected_wandb_files", (".",)),
    "hf-checkpoints-lora-bert": (
        "expected_hf",
        (
            "train_batch_size",
            "num_train_epochs",
            "max_steps",
            "logging_steps",
            "eval_steps",
            "save_steps",
        ),
    ),
    "fastai-csvlogger-sportsball": ("expected_fastai", ("history.csv",)),
    "yolov5-results-txt-mushrooms": ("expected_yolov5_txt", ("exp",)),
    "catboost-info-churn": ("expected_catboost", ("catboost_info",)),
    "spinningup-ppo-progress": ("expected_spinup", ("ppo_s0",)),
    "keras-history-json-traffic": ("expected_keras_history", ("history.json",)),
    "lightning-tb-tft-forecasting": (
        "expected_lightning_tb",
        (
            "version_0",
            "attention_head_size",
            "hidden_size",
            "hidden_continuous_size",
            "learning_rate",
            "dropout",
            "lstm_layers",
            "max_encoder_length",
            "optimizer",
            "output_size",
            "weight_decay",
            "causal_attention",
            "log_val_interval",
        ),
    ),
    "keras-tf2-tensorboard-lstm": ("expected_tf2_keras", ("20220213-124139",)),
    "mlflow-sqlite-nyc-taxi": (
        "expected_mlflow_sqlite",
        ("mlflow.db", "powerful-grouse-119"),
    ),
    "keras-tuner-diabetes": ("expected_keras_tuner", ("untitled_project", "trial_2")),
    "mmengine-visdata-mmpretrain": ("expected_mmengine", ("vis_data",)),
    "hf-swin-eurosat-results": (
        "expected_json_results",
        ("training_args.json", "evaluation_results.json"),
    ),
}


def _module(script: str) -> ModuleType:
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))  # the readers that reuse another one import it by name
    spec = importlib.util.spec_from_file_location(script, TOOLS / f"{script}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render(art_id: str) -> str:
    """The expected.json text the reading gives for ART_ID, computed on a copy of it."""
    script, args = READERS[art_id]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / art_id
        shutil.copytree(REAL / art_id, copy, ignore=shutil.ignore_patterns("expected.json"))
        _module(script).main(str(copy), *args)
        return (copy / "expected.json").read_text()


def main(argv: list[str]) -> int:
    check = "--check" in argv
    ids = [a for a in argv if a != "--check"] or list(READERS)
    differ = []
    for art_id in ids:
        text = render(art_id)
        target = REAL / art_id / "expected.json"
        if check:
            if target.read_text() != text:
                differ.append(art_id)
        else:
            target.write_text(text)
    for art_id in differ:
        print(f"{art_id}: expected.json differs from its reading", file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
