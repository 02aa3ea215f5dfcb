"""Formats told by their content, run folders whose files make one run, typed configs.

Each test writes the files a tool writes (names and shapes as the tools write them) into a
temporary folder and checks what ``walk.plan``/``walk.read`` (or one parser) make of them.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from expbook.importers import common, configs, folder, registry, tabular, walk
from expbook.importers.model import ImportedRun, ParseError


def plan_rel(root: Path, *paths: Path) -> list[tuple[str, str]]:
    units = walk.plan([str(p) for p in paths or (root,)])
    return sorted((u.format, os.path.relpath(u.path, root)) for u in units)


def read_one(path: Path) -> ImportedRun:
    runs, failures = walk.import_paths([str(path)])
    assert failures == [], failures
    assert len(runs) == 1, [r.name for r in runs]
    return runs[0]


def steps(run: ImportedRun, key: str) -> list[int]:
    return [int(p[0]) for p in run.series[key]]


def values(run: ImportedRun, key: str) -> list[float]:
    return [float(p[1]) for p in run.series[key]]


def best_format(path: Path) -> str:
    head = common.read_head(str(path))
    scores = {
        info.name: int(info.module.sniff_file(str(path), head))  # type: ignore[union-attr]
        for info in registry.available()
        if info.can_sniff
    }
    return max(scores, key=lambda k: scores[k])


def write_events(folder_path: Path, scalars: dict[str, list[tuple[int, float]]]) -> None:
    """An event file as TensorBoard's own writer makes it."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    folder_path.mkdir(parents=True, exist_ok=True)
    writer = EventFileWriter(str(folder_path))
    for tag, pts in scalars.items():
        for step, value in pts:
            value_pb = summary_pb2.Summary.Value(tag=tag, simple_value=value)
            writer.add_event(
                event_pb2.Event(
                    step=step,
                    wall_time=1.7e9 + step,
                    summary=summary_pb2.Summary(value=[value_pb]),
                )
            )
    writer.close()


# ---------------------------------------------------------------------------------------------
# step columns, monitor files


def test_step_column_whose_name_has_a_space(tmp_path: Path) -> None:
    p = tmp_path / "progress.csv"
    p.write_text("num_episodes,value_loss,total timesteps\n11,0.07,1280\n21,0.03,2560\n")
    run = read_one(p)
    assert steps(run, "value_loss") == [1280, 2560]
    assert "total timesteps" not in run.series
    assert values(run, "num_episodes") == [11.0, 21.0]


def test_sb3_monitor_header_line_gives_config_and_wall_time(tmp_path: Path) -> None:
    p = tmp_path / "0.monitor.csv"
    p.write_text(
        '#{"t_start": 1700000000.5, "env_id": "Hopper-v4", "seed": 3}\n'
        "r,l,t\n10.5,200,1.25\n-3.0,180,2.5\n12.0,210,3.75\n"
    )
    assert best_format(p) == "tabular"
    run = read_one(p)
    assert run.config == {"env_id": "Hopper-v4", "seed": 3}
    assert run.created_at == 1700000000.5
    assert steps(run, "r") == [0, 1, 2]
    assert values(run, "r") == [10.5, -3.0, 12.0]
    assert values(run, "l") == [200.0, 180.0, 210.0]
    assert "t" not in run.series  # seconds since t_start: the points' wall time
    assert [p[2] for p in run.series["r"]] == [1700000001.75, 1700000003.0, 1700000004.25]


def test_hash_comment_that_is_not_json_is_left_alone(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text("#comment\nr,l\n1,2\n")
    with pytest.raises(ParseError, match="ragged"):
        tabular.read_table(str(p))


# ---------------------------------------------------------------------------------------------
# JSON lines under a .json name


D2_LINES = [
    {"data_time": 0.02, "iteration": 19, "loss_cls": 1.8, "lr": 1.9e-06, "total_loss": 2.7},
    {"data_time": 0.03, "iteration": 39, "loss_cls": 1.7, "lr": 3.9e-06, "total_loss": 2.5},
    {"data_time": 0.02, "iteration": 59, "loss_cls": 1.6, "lr": 5.9e-06, "total_loss": 2.4},
]


def test_detectron2_metrics_json_is_json_lines(tmp_path: Path) -> None:
    out = tmp_path / "output"
    out.mkdir()
    p = out / "metrics.json"
    p.write_text("".join(json.dumps(r) + "\n" for r in D2_LINES))
    assert best_format(p) == "tabular"
    run = read_one(p)
    assert steps(run, "total_loss") == [19, 39, 59]
    assert values(run, "lr") == [1.9e-06, 3.9e-06, 5.9e-06]
    assert "iteration" not in run.series


def test_detectron2_output_folder_is_one_run_with_typed_config(tmp_path: Path) -> None:
    out = tmp_path / "output"
    out.mkdir()
    (out / "metrics.json").write_text("".join(json.dumps(r) + "\n" for r in D2_LINES))
    (out / "config.yaml").write_text(
        "INPUT:\n  MIN_SIZE_TRAIN: !!python/tuple\n  - 640\n  - 672\n  FORMAT: BGR\n"
        "SOLVER:\n  BASE_LR: 0.00025\n  AMP:\n    ENABLED: false\n"
    )
    assert plan_rel(tmp_path) == [("folder", "output")]
    run = read_one(tmp_path)
    assert run.config == {
        "INPUT": {"MIN_SIZE_TRAIN": [640, 672], "FORMAT": "BGR"},
        "SOLVER": {"BASE_LR": 0.00025, "AMP": {"ENABLED": False}},
    }
    assert steps(run, "loss_cls") == [19, 39, 59]


def test_one_json_object_is_still_a_summary(tmp_path: Path) -> None:
    p = tmp_path / "metrics.json"
    p.write_text('{"acc": 0.9, "loss": 0.1}\n')
    assert best_format(p) == "summary"
    assert read_one(p).summary == {"acc": 0.9, "loss": 0.1}


MM_META = {"env_info": "sys.platform: linux\nPython: 3.8", "seed": 0, "exp_name": "frcnn.py"}


def test_mmdetection_epoch_based_log_json(tmp_path: Path) -> None:
    lines = [
        MM_META,
        {"mode": "train", "epoch": 1, "iter": 50, "lr": 0.002, "loss": 1.5, "time": 0.4},
        {"mode": "train", "epoch": 1, "iter": 100, "lr": 0.004, "loss": 1.2, "time": 0.4},
        {"mode": "val", "epoch": 1, "iter": 500, "lr": 0.004, "bbox_mAP": 0.1},
        {"mode": "train", "epoch": 2, "iter": 50, "lr": 0.02, "loss": 0.9, "time": 0.4},
        {"mode": "val", "epoch": 2, "iter": 500, "lr": 0.02, "bbox_mAP": 0.2},
    ]
    p = tmp_path / "20230101_120000.log.json"
    p.write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert best_format(p) == "tabular"
    run = read_one(p)
    assert run.config == {"seed": 0, "exp_name": "frcnn.py"}  # not the environment dump
    # iter restarts at each epoch of 100 iterations: the step is the global iteration
    assert [(s, v) for s, v, _ in run.series["train/loss"]] == [(50, 1.5), (100, 1.2), (150, 0.9)]
    # a val line sits at the end of its epoch
    assert [(s, v) for s, v, _ in run.series["val/bbox_mAP"]] == [(100, 0.1), (200, 0.2)]
    assert values(run, "epoch") == [1.0, 1.0, 2.0]
    assert "val/epoch" not in run.series and "train/iter" not in run.series
    assert "loss" not in run.series and "bbox_mAP" not in run.series


def test_mmsegmentation_iteration_based_log_json(tmp_path: Path) -> None:
    lines = [
        {"mode": "train", "epoch": 1, "iter": 50, "lr": 0.01, "loss": 2.0},
        {"mode": "train", "epoch": 1, "iter": 100, "lr": 0.01, "loss": 1.5},
        {"mode": "val", "epoch": 1, "iter": 500, "lr": 0.01, "mIoU": 0.3},
        {"mode": "train", "epoch": 1, "iter": 150, "lr": 0.009, "loss": 1.2},
    ]
    p = tmp_path / "run.log.json"
    p.write_text("".join(json.dumps(r) + "\n" for r in lines))
    run = read_one(p)
    assert steps(run, "train/loss") == [50, 100, 150]
    # a val line's iter is the size of the evaluation set: it takes the iteration before it
    assert [(s, v) for s, v, _ in run.series["val/mIoU"]] == [(100, 0.3)]


# ---------------------------------------------------------------------------------------------
# CSV under a .log name


KERAS = "epoch,accuracy,loss,val_accuracy,val_loss\n0,0.41,1.71,0.46,1.44\n1,0.46,1.52,0.35,7.41\n"


def test_keras_csvlogger_training_log_given_directly(tmp_path: Path) -> None:
    p = tmp_path / "training.log"
    p.write_text(KERAS)
    assert best_format(p) == "tabular"
    run = read_one(p)
    assert sorted(run.series) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert steps(run, "val_loss") == [0, 1]
    assert values(run, "val_loss") == [1.44, 7.41]


def test_keras_training_log_in_a_run_folder_is_a_metric_file(tmp_path: Path) -> None:
    run_dir = tmp_path / "emotion"
    run_dir.mkdir()
    (run_dir / "training.log").write_text(KERAS)
    (run_dir / "config.json").write_text('{"lr": 0.001, "augment": true}')
    assert plan_rel(tmp_path) == [("folder", "emotion")]
    run = read_one(tmp_path)
    assert run.config == {"lr": 0.001, "augment": True}
    assert values(run, "accuracy") == [0.41, 0.46]


def test_a_text_log_is_not_taken_for_csv(tmp_path: Path) -> None:
    assert not tabular.looks_csv(b"epoch 1, loss=0.5, acc=0.3\nepoch 2, loss=0.4, acc=0.4\n")
    assert not tabular.looks_csv(b"Epoch 1/35, Train Loss: 1.2, Test Acc: 40%\n" * 3)
    assert not tabular.looks_csv(b"name,comment\nrun1,hello world\nrun2,bye\n")
    assert tabular.looks_csv(KERAS.encode())


# ---------------------------------------------------------------------------------------------
# run folders: dvclive, ultralytics, test-tube, Hugging Face


def make_dvclive(root: Path) -> Path:
    d = root / "dvclive"
    (d / "plots" / "metrics" / "train").mkdir(parents=True)
    (d / "plots" / "metrics" / "val").mkdir(parents=True)
    (d / "plots" / "images").mkdir(parents=True)
    (d / "plots" / "images" / "confusion.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (d / "plots" / "metrics" / "train" / "box_loss.tsv").write_text(
        "timestamp\tstep\tbox_loss\n1700000000000\t0\t0.98\n1700000060000\t1\t1.36\n"
    )
    (d / "plots" / "metrics" / "val" / "box_loss.tsv").write_text(
        "step\tbox_loss\n0\t1.41\n1\t1.45\n"
    )
    (d / "plots" / "metrics" / "lr.tsv").write_text("step\tpg0\tpg1\n0\t0.1\t0.2\n1\t0.05\t0.1\n")
    (d / "params.yaml").write_text("model: yolov8n.pt\nepochs: 2\nlr0: 0.01\ncos_lr: false\n")
    (d / "metrics.json").write_text('{"train": {"box_loss": 1.36}, "step": 1}')
    return d


def test_dvclive_folder_is_one_run_with_series_named_by_path(tmp_path: Path) -> None:
    make_dvclive(tmp_path)
    assert plan_rel(tmp_path) == [("folder", "dvclive")]
    run = read_one(tmp_path)
    assert run.name == "dvclive"
    assert sorted(run.series) == ["lr/pg0", "lr/pg1", "train/box_loss", "val/box_loss"]
    assert [(s, v) for s, v, _ in run.series["train/box_loss"]] == [(0, 0.98), (1, 1.36)]
    assert [p[2] for p in run.series["train/box_loss"]] == [1700000000.0, 1700000060.0]
    assert values(run, "val/box_loss") == [1.41, 1.45]
    assert run.config == {"model": "yolov8n.pt", "epochs": 2, "lr0": 0.01, "cos_lr": False}
    assert run.summary["train/box_loss"] == 1.36
    assert any(f.path.endswith("val/box_loss.tsv") for f in run.files)


ULTRA_CSV = (
    "                  epoch,         train/box_loss,   metrics/mAP50(B),           lr/pg0\n"
    "                      1,                 1.1445,            0.12014,                0\n"
    "                      2,                 1.2688,            0.12062,       1.2479e-05\n"
)


def make_ultralytics(run_dir: Path, events: bool = True) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / "results.csv").write_text(ULTRA_CSV)
    (run_dir / "args.yaml").write_text("task: detect\nmodel: yolov8n.pt\nepochs: 2\nbatch: 16\n")
    (run_dir / "weights").mkdir()
    (run_dir / "weights" / "best.pt").write_bytes(b"PK\x03\x04")
    if events:
        write_events(
            run_dir,
            {
                # what results.csv printed at 5 significant digits, on 0-based epochs:
                # duplicates, though at other steps
                "train/box_loss": [(0, 1.144453), (1, 1.268791)],
                "metrics/mAP50(B)": [(0, 0.120141), (1, 0.120622)],
                # only in the event file
                "train/extra": [(0, 0.5), (1, 0.25)],
            },
        )


def test_ultralytics_run_folder_with_event_file_is_one_run(tmp_path: Path) -> None:
    make_ultralytics(tmp_path / "runs" / "detect" / "train")
    make_ultralytics(tmp_path / "runs" / "detect" / "train2", events=False)
    assert plan_rel(tmp_path) == [
        ("folder", "runs/detect/train"),
        ("folder", "runs/detect/train2"),
    ]
    runs, failures = walk.import_paths([str(tmp_path / "runs" / "detect")])
    assert failures == []
    by = {r.name: r for r in runs}
    assert sorted(by) == ["train", "train2"]
    run = by["train"]
    assert run.config == {"task": "detect", "model": "yolov8n.pt", "epochs": 2, "batch": 16}
    assert sorted(run.series) == [
        "lr/pg0",
        "metrics/mAP50(B)",
        "train/box_loss",
        "train/extra",
    ]
    # the table's points, not the event file's: the event file's copies are skipped
    assert [(s, v) for s, v, _ in run.series["train/box_loss"]] == [(1, 1.1445), (2, 1.2688)]
    assert values(run, "metrics/mAP50(B)") == [0.12014, 0.12062]
    assert values(run, "train/extra") == [0.5, 0.25]
    assert any("tfevents" in f.path for f in run.files)


def test_event_series_with_other_values_are_merged_not_dropped(tmp_path: Path) -> None:
    run_dir = tmp_path / "train"
    make_ultralytics(run_dir, events=False)
    write_events(run_dir, {"train/box_loss": [(2, 9.0), (3, 0.75)]})
    run = read_one(run_dir)
    # the table wins at step 2, the event file adds step 3
    assert [(s, v) for s, v, _ in run.series["train/box_loss"]] == [
        (1, 1.1445),
        (2, 1.2688),
        (3, 0.75),
    ]


def test_keras_split_folders_stay_one_tensorboard_run(tmp_path: Path) -> None:
    write_events(tmp_path / "logs" / "train", {"epoch_loss": [(0, 1.0)]})
    write_events(tmp_path / "logs" / "validation", {"epoch_loss": [(0, 1.5)]})
    assert plan_rel(tmp_path) == [("tensorboard", "logs")]


META_TAGS = (
    "key,value\nhidden_size,10\ndrop_prob,0.2\nbidirectional,False\noptimizer_name,adam\n"
    "input_shape,\"(1, 8, 8)\"\nclasses,\"['cat', 'dog']\"\nscheduler,None\nlr,1e-3\n"
)


def test_testtube_version_folder_is_one_run_with_typed_meta_tags(tmp_path: Path) -> None:
    v = tmp_path / "exp" / "version_0"
    v.mkdir(parents=True)
    (v / "meta_tags.csv").write_text(META_TAGS)
    (v / "metrics.csv").write_text(
        "val_loss,train_loss,created_at\n0.76,0.77,2020-04-21 19:40:43.284394\n"
        ",,2020-04-21 19:40:43.372826\n0.75,0.79,2020-04-21 19:40:43.968756\n"
    )
    write_events(v / "tf", {"val_loss": [(0, 0.76), (1, 0.75)], "grad_norm": [(0, 3.0)]})
    assert plan_rel(tmp_path) == [("folder", "exp/version_0")]
    run = read_one(tmp_path)
    assert run.config == {
        "hidden_size": 10,
        "drop_prob": 0.2,
        "bidirectional": False,
        "optimizer_name": "adam",
        "input_shape": [1, 8, 8],
        "classes": ["cat", "dog"],
        "scheduler": None,
        "lr": 0.001,
    }
    assert values(run, "val_loss") == [0.76, 0.75]  # the event file's copy skipped
    assert values(run, "grad_norm") == [3.0]
    assert "created_at" not in run.series
    assert run.series["train_loss"][0][2] is not None  # created_at is the wall time


def test_two_event_folders_under_a_config_are_runs_of_their_own(tmp_path: Path) -> None:
    root = tmp_path / "sweep"
    root.mkdir()
    (root / "config.yaml").write_text("lr: 0.1\n")
    write_events(root / "a", {"loss": [(0, 1.0)]})
    write_events(root / "b", {"loss": [(0, 2.0)]})
    assert plan_rel(tmp_path) == [("tensorboard", "sweep/a"), ("tensorboard", "sweep/b")]
    # one folder of event files under a config: one run
    one = tmp_path / "one"
    one.mkdir()
    (one / "config.yaml").write_text("lr: 0.1\n")
    write_events(one / "tb", {"loss": [(0, 1.0), (1, 0.5)]})
    run = read_one(one)
    assert run.config == {"lr": 0.1}
    assert values(run, "loss") == [1.0, 0.5]


def test_hugging_face_output_folder_config_from_training_args_and_model(tmp_path: Path) -> None:
    out = tmp_path / "t5-out"
    out.mkdir()
    state = {
        "global_step": 20,
        "epoch": 1.0,
        "max_steps": 20,
        "log_history": [
            {"step": 10, "epoch": 0.5, "loss": 2.0, "learning_rate": 5e-5},
            {"step": 20, "epoch": 1.0, "eval_loss": 1.5},
            {"step": 20, "epoch": 1.0, "train_runtime": 12.5, "train_loss": 1.9},
        ],
    }
    (out / "trainer_state.json").write_text(json.dumps(state))
    (out / "training_args.json").write_text(
        json.dumps(
            {
                "learning_rate": 5e-5,
                "per_device_train_batch_size": 8,
                "fp16": True,
                "report_to": ["tensorboard"],
                "hub_model_id": None,
                "lr_scheduler_kwargs": {},
            }
        )
    )
    (out / "config.json").write_text(
        json.dumps({"model_type": "t5", "d_model": 512, "id2label": {"0": "neg", "1": "pos"}})
    )
    (out / "all_results.json").write_text('{"eval_rouge1": 41.5, "epoch": 1.0}')
    (out / "eval_results.json").write_text('{"eval_rouge1": 41.5}')
    run = read_one(out)
    assert run.config["learning_rate"] == 5e-5
    assert run.config["per_device_train_batch_size"] == 8
    assert run.config["fp16"] is True
    assert run.config["report_to"] == ["tensorboard"]
    assert "hub_model_id" not in run.config
    assert run.config["model"] == {
        "model_type": "t5",
        "d_model": 512,
        "id2label": {"0": "neg", "1": "pos"},
    }
    assert run.summary["eval_rouge1"] == 41.5
    assert values(run, "loss") == [2.0]


def test_hugging_face_output_folder_without_trainer_state(tmp_path: Path) -> None:
    out = tmp_path / "bert-out"
    out.mkdir()
    (out / "training_args.json").write_text('{"learning_rate": 2e-5, "seed": 42}')
    (out / "training_args.bin").write_bytes(b"\x80\x04")
    (out / "all_results.json").write_text('{"eval_accuracy": 0.91, "train_runtime": 30.0}')
    assert plan_rel(tmp_path) == [("huggingface", "bert-out")]
    run = read_one(tmp_path)
    assert run.name == "bert-out"
    assert run.config == {"learning_rate": 2e-5, "seed": 42}
    assert run.summary == {"eval_accuracy": 0.91, "train_runtime": 30.0}
    assert run.status == "finished"


# ---------------------------------------------------------------------------------------------
# typed configs


NUMPY_LR = """lr: !!python/object/apply:numpy.core.multiarray.scalar
- !!python/object/apply:numpy.dtype
  args:
  - f8
  - false
  - true
  state: !!python/tuple
  - 3
  - <
  - null
  - null
  - null
  - -1
  - -1
  - 0
- !!binary |
  /Knx0k1iUD8=
"""


def test_python_tags_are_read_as_typed_data() -> None:
    doc = (
        NUMPY_LR
        + "shape: !!python/tuple [1, 8, 8]\n"
        + "act: !!python/name:torch.nn.ReLU ''\n"
        + "none: !!python/none ''\n"
        + "flag: !!python/bool 'true'\n"
        + "n: !!python/int '7'\n"
        + "ns: !!python/object:argparse.Namespace {a: 1, b: [x, y]}\n"
        + "custom: !Thing {k: v}\n"
        + "nested: {enabled: true, list: [1, 2.5, null]}\n"
    )
    cfg = configs.load_config("hparams.yaml", doc.encode())
    assert cfg == {
        "lr": 0.001,
        "shape": [1, 8, 8],
        "act": "torch.nn.ReLU",
        "none": None,
        "flag": True,
        "n": 7,
        "ns": {"a": 1, "b": ["x", "y"]},
        "custom": {"k": "v"},
        "nested": {"enabled": True, "list": [1, 2.5, None]},
    }
    assert isinstance(cfg["lr"], float)


def test_unsafe_python_tags_are_never_run() -> None:
    cfg = configs.load_config(
        "cfg.yaml", b"x: !!python/object/apply:os.system ['echo hacked > /tmp/x']\n"
    )
    assert cfg == {"x": ["echo hacked > /tmp/x"]}


def test_lightning_tensorboard_hparams_yaml_wins_over_plugin_strings(tmp_path: Path) -> None:
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import summary_v2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    v = tmp_path / "version_0"
    v.mkdir()
    writer = EventFileWriter(str(v))
    summary = summary_v2.hparams_pb({"input_shape": "(1, 8, 8)", "lr": 0.1, "only_tb": 3})
    writer.add_event(event_pb2.Event(step=0, wall_time=1.7e9, summary=summary))
    writer.close()
    (v / "hparams.yaml").write_text("input_shape: !!python/tuple [1, 8, 8]\nlr: 0.1\n")
    run = read_one(v)
    assert run.format == "tensorboard"
    assert run.config == {"input_shape": [1, 8, 8], "lr": 0.1, "only_tb": 3}


def test_extensionless_yaml_config(tmp_path: Path) -> None:
    p = tmp_path / "config"
    p.write_text("model:\n  layers: 4\n  act: gelu\nlr: 0.001\ntags: [a, b]\n")
    assert best_format(p) == "config"
    run = read_one(p)
    assert run.config == {"model": {"layers": 4, "act": "gelu"}, "lr": 0.001, "tags": ["a", "b"]}
    # in a run folder, beside the metrics
    d = tmp_path / "r1"
    d.mkdir()
    (d / "config").write_text("lr: 0.5\n")
    (d / "metrics.csv").write_text("step,loss\n0,1.0\n")
    run = read_one(d)
    assert run.config == {"lr": 0.5}


def test_extensionless_file_that_is_not_yaml_is_not_config(tmp_path: Path) -> None:
    d = tmp_path / "r1"
    d.mkdir()
    (d / "args").write_text("python train.py --lr 0.1 --epochs 3\n")
    (d / "metrics.csv").write_text("step,loss\n0,1.0\n")
    run = read_one(d)
    assert run.config == {}
    assert not configs.looks_yaml_mapping(b"python train.py --lr 0.1\n")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10),
        ("-0.5", -0.5),
        ("False", False),
        ("None", None),
        ("(1, 8, 8)", [1, 8, 8]),
        ("{'a': (1, 2)}", {"a": [1, 2]}),
        ("adam", "adam"),
        ("(1, 8", "(1, 8"),
        ("__import__('os')", "__import__('os')"),
    ],
)
def test_meta_tag_values_keep_their_types(text: str, value: Any) -> None:
    got = configs.typed_value(text)
    assert got == value and type(got) is type(value)


def test_meta_tags_without_key_value_header_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="key,value"):
        configs.load_config("meta_tags.csv", b"name,score\na,1\n")


def test_nan_monitor_values_are_floats(tmp_path: Path) -> None:
    p = tmp_path / "monitor.csv"
    p.write_text('#{"t_start": 1700000000.0}\nr,l,t\nnan,5,1.0\n2.0,6,2.0\n')
    run = read_one(p)
    assert math.isnan(values(run, "r")[0])
    assert run.config == {}
    assert folder.FORMAT == "folder"


# ---------------------------------------------------------------------------------------------
# TensorBoard exports, Sacred, W&B files without their log


def test_tensorboard_csv_export_is_one_series_named_after_the_file(tmp_path: Path) -> None:
    p = tmp_path / "PPO_Acrobot_1.csv"
    p.write_text("Wall time,Step,Value\n1700000000.5,5000,-500.25\n1700000060.0,10000,-420.5\n")
    run = read_one(p)
    assert list(run.series) == ["PPO_Acrobot_1"]
    assert [tuple(p) for p in run.series["PPO_Acrobot_1"]] == [
        (5000, -500.25, 1700000000.5),
        (10000, -420.5, 1700000060.0),
    ]


def test_tensorboard_json_export_is_one_series_named_after_the_file(tmp_path: Path) -> None:
    p = tmp_path / "PPO.json"
    p.write_text("[[1700000000.5, 2048, 0.5], [1700000010.0, 4096, 0.75]]")
    run = read_one(p)
    assert list(run.series) == ["PPO"]
    assert [tuple(p) for p in run.series["PPO"]] == [
        (2048, 0.5, 1700000000.5),
        (4096, 0.75, 1700000010.0),
    ]


def test_sacred_run_folder(tmp_path: Path) -> None:
    d = tmp_path / "runs" / "3"
    d.mkdir(parents=True)
    (d / "config.json").write_text('{"lr": 0.001, "dataset": {"name": "toy"}, "seed": 7}')
    (d / "metrics.json").write_text(
        json.dumps(
            {
                "training.loss": {
                    "steps": [1, 2, 3],
                    "values": [0.9, 0.5, 0.25],
                    "timestamps": [
                        "2024-02-08T23:02:15.000000",
                        "2024-02-08T23:02:16.000000",
                        "2024-02-08T23:02:17.000000",
                    ],
                },
                "val.acc": {"steps": [3], "values": [0.8], "timestamps": ["2024-02-08T23:02:18"]},
            }
        )
    )
    (d / "run.json").write_text(
        json.dumps(
            {
                "command": "main",
                "experiment": {"name": "toy", "dependencies": ["numpy==1.26"]},
                "heartbeat": "2024-02-08T23:03:12",
                "host": {"hostname": "box", "cpu": "Xeon"},
                "meta": {"options": {"--debug": False}},
                "result": 0.8,
                "start_time": "2024-02-08T23:02:14.620335",
                "stop_time": "2024-02-08T23:03:12.616825",
                "status": "COMPLETED",
            }
        )
    )
    run = read_one(tmp_path)
    assert run.config == {"lr": 0.001, "dataset": {"name": "toy"}, "seed": 7}
    assert [(s, v) for s, v, _ in run.series["training.loss"]] == [(1, 0.9), (2, 0.5), (3, 0.25)]
    assert run.series["training.loss"][0][2] is not None
    assert values(run, "val.acc") == [0.8]
    assert run.summary == {"result": 0.8}  # not the host, experiment and meta strings
    assert run.status == "finished"
    assert run.created_at is not None and run.finished_at is not None
    assert run.finished_at - run.created_at == pytest.approx(57.996490, abs=1e-3)


def test_wandb_run_folder_without_its_log(tmp_path: Path) -> None:
    files = tmp_path / "wandb" / "run-20231210_175258-gu7xnmg8" / "files"
    files.mkdir(parents=True)
    (files / "config.yaml").write_text(
        "wandb_version: 1\n_wandb:\n  desc: null\n  value:\n    cli_version: 0.16.1\n"
        "seed:\n  desc: null\n  value: 42\nlr:\n  desc: null\n  value: 0.1\n"
    )
    (files / "wandb-summary.json").write_text(
        '{"reward": 379.45, "Eval": {"0": {"return": 7831.5}}, "_runtime": 60.0, "_step": 9}'
    )
    (files / "wandb-metadata.json").write_text('{"startedAt": "2023-12-10T22:52:58.983560"}')
    (files / "requirements.txt").write_text("absl-py==2.0.0\nnumpy==1.24.0\n")
    (files / "output.log").write_text("step 1 loss=0.5\n")
    assert plan_rel(tmp_path) == [("wandb", "wandb/run-20231210_175258-gu7xnmg8")]
    run = read_one(tmp_path)
    assert run.name == "gu7xnmg8" and run.external_id == "gu7xnmg8"
    assert run.config == {"seed": 42, "lr": 0.1}
    assert run.summary == {"reward": 379.45, "Eval.0.return": 7831.5}
    assert run.created_at is not None and run.finished_at == run.created_at + 60.0


def test_wandb_08_run_folder_with_plain_history(tmp_path: Path) -> None:
    d = tmp_path / "run-20190101_120000-abc123"
    d.mkdir()
    (d / "wandb-history.jsonl").write_text(
        '{"_step": 0, "_timestamp": 1546344000.5, "loss": 1.0, "img": {"_type": "image"}}\n'
        '{"_step": 1, "_timestamp": 1546344060.5, "loss": 0.5, "acc": 0.7}\n'
    )
    (d / "wandb-summary.json").write_text('{"loss": 0.5, "acc": 0.7}')
    (d / "config.yaml").write_text("wandb_version: 1\nbatch:\n  desc: null\n  value: 32\n")
    run = read_one(d)
    assert run.format == "wandb"
    assert [tuple(p) for p in run.series["loss"]] == [
        (0, 1.0, 1546344000.5),
        (1, 0.5, 1546344060.5),
    ]
    assert values(run, "acc") == [0.7]
    assert run.config == {"batch": 32}
    assert run.summary == {"loss": 0.5, "acc": 0.7}


# ---------------------------------------------------------------------------------------------
# YOLOv5 results.txt, CatBoost train_dir, Keras history.json, bare JSON hparams


YOLOV5_LINES = (
    "      0/1     1.86G   0.09854   0.09318         0    0.1917        24       416"
    "         0         0  0.004895 0.0009547   0.09176   0.05526         0\n"
    "      1/1     1.93G   0.09296    0.1009         0    0.1939        37       416"
    "   0.04823   0.01505  0.007566  0.001351    0.0922   0.05528         0\n"
)


def test_yolov5_run_folder_with_headerless_results_txt(tmp_path: Path) -> None:
    exp = tmp_path / "runs" / "train" / "exp"
    exp.mkdir(parents=True)
    (exp / "results.txt").write_text(YOLOV5_LINES)
    (exp / "opt.yaml").write_text("epochs: 2\nbatch_size: 16\nimg_size:\n- 416\n- 416\n")
    (exp / "hyp.yaml").write_text("lr0: 0.01\nmomentum: 0.937\n")
    assert plan_rel(tmp_path) == [("folder", "runs/train/exp")]
    run = read_one(tmp_path)
    assert run.name == "exp"
    assert run.config == {
        "epochs": 2,
        "batch_size": 16,
        "img_size": [416, 416],
        "lr0": 0.01,
        "momentum": 0.937,
    }
    assert sorted(run.series) == sorted(n for n in tabular.YOLOV5_FIELDS if n)
    assert [(s, v) for s, v, _ in run.series["train/box_loss"]] == [(0, 0.09854), (1, 0.09296)]
    assert values(run, "metrics/mAP_0.5:0.95") == [0.0009547, 0.001351]
    assert not tabular.looks_yolov5_results(b"epoch 1/2 loss 0.5\n")


def test_catboost_info_is_one_run(tmp_path: Path) -> None:
    info = tmp_path / "catboost_info"
    info.mkdir()
    (info / "learn_error.tsv").write_text("iter\tLogloss\n0\t0.5862293424\n1\t0.5106931468\n")
    (info / "test_error.tsv").write_text(
        "iter\tAUC\tLogloss\n0\t0.8928920869\t0.5868185289\n1\t0.8966102804\t0.5115767998\n"
    )
    (info / "time_left.tsv").write_text("iter\tPassed\tRemaining\n0\t38\t11472\n1\t76\t11402\n")
    (info / "catboost_training.json").write_text('{"meta": {"name": "experiment"}}')
    # the event file holds the table's values as float32 (here on 1-based steps)
    write_events(info / "learn", {"Logloss": [(1, 0.5862293424), (2, 0.5106931468)]})
    write_events(
        info / "test",
        {"Logloss": [(0, 0.5868185289), (1, 0.5115767998)], "AUC": [(0, 0.89), (1, 0.9)]},
    )
    assert plan_rel(tmp_path) == [("folder", "catboost_info")]
    run = read_one(tmp_path)
    assert sorted(run.series) == ["learn/Logloss", "test/AUC", "test/Logloss"]
    # the event files repeat the tables at float32: skipped; AUC differs, so the table wins
    assert [(s, v) for s, v, _ in run.series["learn/Logloss"]] == [
        (0, 0.5862293424),
        (1, 0.5106931468),
    ]
    assert values(run, "test/AUC") == [0.8928920869, 0.8966102804]
    assert [a.kind for a in run.artifacts] == ["timing"]


def test_keras_history_json(tmp_path: Path) -> None:
    p = tmp_path / "history.json"
    p.write_text('{"loss": [1.0, 0.5, 0.25], "val_loss": [1.5, 0.75, 0.5]}')
    assert best_format(p) == "tabular"
    run = read_one(p)
    assert [(s, v) for s, v, _ in run.series["val_loss"]] == [(0, 1.5), (1, 0.75), (2, 0.5)]


def test_tensorflow_nmt_folder_bare_json_hparams(tmp_path: Path) -> None:
    d = tmp_path / "nmt_model"
    d.mkdir()
    (d / "hparams").write_text(
        '{"num_layers": 2, "learning_rate": 1.0, "dropout": 0.2, "metrics": ["bleu"],'
        ' "random_seed": null, "decay_factor": 1e-05}'
    )
    (d / "log_1531170333").write_text(
        "# Start step 0, lr 1\n  step 100 lr 1 ppl 2122.63 bleu 0.00\n"
        "  step 200 lr 1 ppl 576.29 bleu 0.00\n"
    )
    assert plan_rel(tmp_path) == [("folder", "nmt_model")]
    runs, failures = walk.import_paths([str(tmp_path)])
    assert failures == [] and len(runs) == 1
    assert runs[0].config["learning_rate"] == 1.0
    assert runs[0].config["decay_factor"] == 1e-05  # JSON, not YAML 1.1's string '1e-05'
    assert runs[0].config["random_seed"] is None
    # the bare log is offered to the text-log reader by its content
    assert folder._role("log_1531170333") == "text"
    assert folder._role("hparams") == "config"


def test_train_and_valid_csv_logs_in_one_folder_are_prefixed(tmp_path: Path) -> None:
    d = tmp_path / "log"
    d.mkdir()
    (d / "train.log").write_text("epoch,loss,ppl\n0, 9.15, 9495.9\n1, 8.5, 4900.0\n")
    (d / "valid.log").write_text("epoch,loss,ppl\n0, 9.2, 9440.1\n1, 8.7, 6000.0\n")
    assert plan_rel(tmp_path) == [("folder", "log")]
    run = read_one(tmp_path)
    assert sorted(run.series) == ["train/loss", "train/ppl", "valid/loss", "valid/ppl"]
    assert values(run, "valid/loss") == [9.2, 8.7]
    assert steps(run, "train/ppl") == [0, 1]


# ---------------------------------------------------------------------------------------------
# MMEngine vis_data, Keras Tuner trials, a folder of a run's JSON files


def test_mmengine_vis_data_is_one_run_on_the_global_iteration(tmp_path: Path) -> None:
    vis = tmp_path / "resnet50" / "20230607_213107" / "vis_data"
    vis.mkdir(parents=True)
    lines = [
        {"lr": 0.02, "loss": 1.7, "time": 0.14, "epoch": 1, "iter": 50, "step": 50},
        {"lr": 0.02, "loss": 1.2, "time": 0.13, "epoch": 1, "iter": 69, "step": 69},
        {"accuracy/top1": 43.1, "time": 0.12, "step": 1},
        {"lr": 0.01, "loss": 0.9, "time": 0.12, "epoch": 2, "iter": 138, "step": 138},
        {"accuracy/top1": 70.9, "time": 0.1, "step": 2},
    ]
    text = "".join(json.dumps(r) + "\n" for r in lines)
    (vis / "scalars.json").write_text(text)
    (vis / "20230607_213107.json").write_text(text)  # MMEngine's copy: not read twice
    (vis / "config.py").write_text("model = dict(type='ImageClassifier')\n")
    assert plan_rel(tmp_path) == [("folder", "resnet50/20230607_213107/vis_data")]
    run = read_one(tmp_path)
    assert run.name == "20230607_213107"
    assert steps(run, "loss") == [50, 69, 138]
    # a validation line's step is the epoch: it goes to that epoch's last iteration
    assert [(s, v) for s, v, _ in run.series["accuracy/top1"]] == [(69, 43.1), (138, 70.9)]
    assert values(run, "val/time") == [0.12, 0.1]
    assert values(run, "time") == [0.14, 0.13, 0.12]
    assert sum(1 for f in run.files if f.path.endswith(".json")) == 1


def test_keras_tuner_project_gives_one_run_per_trial(tmp_path: Path) -> None:
    project = tmp_path / "untitled_project"
    for i, (opt, acc) in enumerate([("adam", 0.7), ("sgd", 0.6)]):
        trial = project / f"trial_{i}"
        trial.mkdir(parents=True)
        obs = {"direction": "max", "observations": [{"value": [acc, acc + 0.1], "step": 4}]}
        (trial / "trial.json").write_text(
            json.dumps(
                {
                    "trial_id": str(i),
                    "hyperparameters": {"space": [], "values": {"optimizer": opt, "units": 32}},
                    "metrics": {"metrics": {"val_accuracy": obs}},
                    "score": acc,
                    "best_step": 4,
                    "status": "COMPLETED",
                }
            )
        )
        (trial / "build_config.json").write_text('{"input_shape": [null, 8]}')
    (project / "oracle.json").write_text('{"ongoing_trials": {}}')
    runs, failures = walk.import_paths([str(tmp_path)])
    assert failures == []
    by = {r.name: r for r in runs}
    assert sorted(by) == ["trial_0", "trial_1"]
    t1 = by["trial_1"]
    assert t1.config == {"optimizer": "sgd", "units": 32}
    # the mean of an observation's executions
    assert [(s, round(v, 9)) for s, v, _ in t1.series["val_accuracy"]] == [(4, 0.65)]
    assert t1.summary == {"score": 0.6, "best_step": 4}
    assert t1.status == "finished" and t1.group == "untitled_project"


def test_folder_of_settings_and_evaluation_results_json(tmp_path: Path) -> None:
    d = tmp_path / "swin"
    d.mkdir()
    (d / "training_args.json").write_text('{"learning_rate": 5e-05, "num_epochs": 10}')
    (d / "config.json").write_text('{"model_type": "swin", "num_labels": 10}')
    (d / "evaluation_results.json").write_text(
        '{"metrics": {"accuracy": 0.98, "per_class": [0.9, 1.0], '
        '"report": {"Forest": {"f1-score": 0.99}}}}'
    )
    run = read_one(d)
    assert run.config == {
        "model_type": "swin",
        "num_labels": 10,
        "learning_rate": 5e-05,
        "num_epochs": 10,
    }
    assert run.summary == {"metrics/accuracy": 0.98, "metrics/report/Forest/f1-score": 0.99}


def test_timestamped_log_lines_are_not_a_summary(tmp_path: Path) -> None:
    p = tmp_path / "valid.txt"
    p.write_text(
        "2024-04-30 15:21:00 | INFO | valid | epoch 001 | loss 11.059 | num_updates 100\n"
        "2024-04-30 15:21:25 | INFO | valid | epoch 001 | loss 10.216 | num_updates 200\n"
    )
    head = common.read_head(str(p))
    from expbook.importers import summary

    assert summary.sniff_file(str(p), head) == 0
    assert summary.sniff_file("summary.txt", b"acc: 0.9\nwhen: 2024-01-01 10:00\n") == 70
    # given directly, the file goes to the text-log reader (by its extension), not the summary
    assert walk.plan([str(p)])[0].format == "textlog"
