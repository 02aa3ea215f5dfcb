"""Real experiment artifacts from public repositories (tests/data/real) import in full.

Each artifact's ``expected.json`` was written by an independent reading of the files (the
scripts in ``tests/data/real/_tools``, which do not use expbook), never by expbook itself.
Only the artifacts that import in full today are parametrized below; the others are listed in
``tests/data/real/README.md`` under "Known gaps (importer work to do)".
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import expbook
from expbook.cli import cli

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
PROVENANCE = json.loads((REAL / "provenance.json").read_text())

# Artifacts that import in full today (the rest are the importer to-do in README.md).
PASSING = [
    "atari-dqn-progress",
    "pinn-lightning-metrics",
    "hf-t5-summarization",
    "kobart-lightning-hparams",
    "ultralytics-yolov8-train",
    "sklearn-svm-cv-results",
    "es-hopper-run-csv",
    "hf-lora-imdb-trainer-state",
    "rl-hopper-mass-monitor",
    "dvclive-dqn-summary",
    "dgcnn-train-epoch-log",
    "keras-fit-cats-dogs-log",
    "sb3-ppo-cartpole-tfevents",
    "mlflow-cnn-classifier",
    "lightning-csvlogger-aos",
    "keras-csvlogger-mnist",
    "optuna-forest-cover-trials",
    "cifar10-logging-epochs",
    "llmc-gpt2-124m-main-log",
    "modded-nanogpt-code-header-log",
    "seq2seq-token-acc-train-log",
    "nanogpt-shakespeare-char-nan",
    "megatron-deepspeed-pdsh-log",
    "mmdet3-faster-rcnn-voc-log",
    "nanogpt-seis-train-eval-log",
    "keras-fit-progress-bars-log",
    "captioning-epoch-step-log",
    "en-de-transformer-nohup-log",
    "cls-train-tagged-report-log",
    "lora-step-brackets-eval-samples-log",
    "lightning-hparams-namespace",
    "mmcv-tensorboard-lsknet",
    "hf-checkpoints-lora-bert",
    "fastai-csvlogger-sportsball",
    "keras-tf2-tensorboard-lstm",
    "mlflow-sqlite-nyc-taxi",
    "gpt2-lora-python-logging-log",
    "csta-appended-restarts-log",
    "fast-scnn-epoch-iter-log",
    "yolox-crlf-gbk-restarts-log",
    "segmentation-restarts-percent-log",
    "fairseq-train-inner-lines",
    "cgcnn-pprint-args-log",
    "pretrain-resumed-step-pipes-log",
    "verl-grpo-ray-console",
    "mmdet2-retinanet-coco-log",
    "ppo-exploration-progress",
    "rl-hopper-monitor",
    "detectron2-medical-waste",
    "dvclive-yolov8",
    "keras-csvlogger-emotion",
    "lightning-testtube-version0",
    "sacred-lstm-model-size",
    "sb3-cartpole-monitor",
    "wandb-cartpole-run-files",
    "hf-whisper-tiny-nob",
    "sb3-acrobot-progress",
    "tb-export-csv-acrobot",
    "tb-export-json-acrobot",
    "dvclive-fastai-pets",
    "nmt-train-valid-csv-logs",
    "mmrotate-lsknet-logjson",
    "wandb-legacy-spaceinvaders",
    "yolov5-results-txt-mushrooms",
    "catboost-info-churn",
    "spinningup-ppo-progress",
    "keras-history-json-traffic",
    "lightning-tb-tft-forecasting",
    "keras-tuner-diabetes",
    "mmengine-visdata-mmpretrain",
    "hf-swin-eurosat-results",
    "fairseq-valid-subset-lines",
    "tf-nmt-model-dir",
    "tf-estimator-bert-log",
]


def test_every_artifact_is_present_small_and_has_expected() -> None:
    ids = [a["id"] for a in PROVENANCE]
    assert len(ids) == len(set(ids))
    for art in PROVENANCE:
        for key in ("id", "files", "repo", "commit", "path", "license", "kind", "notes"):
            assert key in art, (art.get("id"), key)
        folder = REAL / art["id"]
        assert (folder / "expected.json").is_file(), art["id"]
        assert art["files"], art["id"]
        for name in art["files"]:
            f = folder / name
            assert f.is_file(), f
            assert f.stat().st_size < 1024 * 1024, f
            assert not f.read_bytes().startswith(b"version https://git-lfs"), f
    gaps = json.loads((REAL / "known_gaps.json").read_text())
    assert not set(PASSING) & set(gaps)
    assert set(PASSING) | set(gaps) == set(ids)


def test_readme_table_lists_every_artifact() -> None:
    readme = (REAL / "README.md").read_text()
    for art in PROVENANCE:
        assert f"| {art['id']} |" in readme, art["id"]
        assert art["repo"] in readme, art["id"]


def _import(path: Path, store: Path) -> dict[str, Any]:
    res = CliRunner().invoke(cli, ["import", str(path), "--store", str(store), "--format", "json"])
    assert res.exit_code == 0, res.output
    out: dict[str, Any] = json.loads(res.stdout)  # stderr carries per-run notes (empty runs)
    return out


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):  # a log whose last loss is nan expects a nan point
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


@pytest.mark.parametrize("art_id", PASSING)
def test_artifact_imports_in_full(art_id: str, tmp_path: Path) -> None:
    art = next(a for a in PROVENANCE if a["id"] == art_id)
    folder = REAL / art_id
    expected = json.loads((folder / "expected.json").read_text())
    target = folder / art["files"][0] if len(art["files"]) == 1 else folder
    store_path = tmp_path / "s.db"
    out = _import(target, store_path)
    assert out["counts"].get("imported", 0) == expected["runs"], out
    # words the import must warn with (a log holding several attempts says so, never silently)
    warnings = " | ".join(w for run in out["runs"] for w in run.get("warnings", []))
    for word in expected.get("warnings", []):
        assert word in warnings.lower(), f"no warning mentioning {word!r}: {warnings!r}"
    with expbook.open_store(store_path) as store:
        ids = store.runs().ids
        assert len(ids) == expected["runs"]
        ref = ids[0]
        if "run_name" in expected:  # a store of several runs: the values are those of one
            named = [i for i in ids if store.run(i).name == expected["run_name"]]
            assert len(named) == 1, (expected["run_name"], [store.run(i).name for i in ids])
            ref = named[0]
        keys = set(store.keys(ref))
        missing = set(expected["metrics"]) - keys
        assert not missing, f"missing keys {sorted(missing)}; got {sorted(keys)}"
        for key, exp in expected["metrics"].items():
            pts = store.series_points(ref, key)
            assert len(pts) == exp["points"], key
            assert _close(pts[-1][1], exp["last"]), key
            if "min" in exp:
                assert _close(min(v for _, v in pts if not math.isnan(v)), exp["min"]), key
            last_step = exp.get("last_step", expected.get("last_step"))
            if last_step is not None:
                assert pts[-1][0] == last_step, key
        record = store.run(ref)
        for key, value in expected.get("summary", {}).items():
            assert key in record.summary, f"summary key {key!r} missing"
            assert _close(record.summary[key], value), key
        config = record.config
        for key, value in expected.get("config", {}).items():
            assert key in config, f"config key {key!r} missing; got {sorted(config)}"
            assert config[key] == value, key
        # keys that must NOT become config (code lines, echoed source in warnings, ...)
        for key in expected.get("config_absent", []):
            assert key not in config, f"config key {key!r} should not be there"
