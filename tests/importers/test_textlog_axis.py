"""Text logs: the step axis, train/val sections, code and chatter, appended restarts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from expbook.cli import cli
from expbook.importers import textlog
from expbook.importers.registry import ParseOptions


def parse(text: str) -> textlog.LogResult:
    return textlog.parse_text(text, ParseOptions())


def pts(res: textlog.LogResult, key: str) -> list[tuple[int, float]]:
    return [(int(s), float(v)) for s, v, _ in res.series[key]]


def steps(res: textlog.LogResult, key: str) -> list[int]:
    return [s for s, _ in pts(res, key)]


# -------------------------------------------------------------------------------------------
# the step axis


@pytest.mark.parametrize(
    ("text", "step", "axis"),
    [
        ("iter 40 loss=1.5\n", 40, "iter N"),
        (" iteration      40/  500000 | lm loss: 1.5 |\n", 40, "iteration N/M"),
        ("s:40 trl:1.5\n", 40, "step (s:N)"),
        ("step 40/100 loss=1.5\n", 40, "step N/M"),
        ("step 40 loss=1.5\n", 40, "step N"),
        ("| epoch 040 | loss 1.5 | ppl 4.4\n", 40, "epoch N"),
        ("Epoch 40/100 - loss: 1.5\n", 40, "epoch (Epoch N/M)"),
        ("[40/100] loss: 1.5\n", 40, "step ([N/M])"),
        ("step:40/3000 val_loss:1.5 train_time:12ms\n", 40, "step (step:N/M)"),
    ],
)
def test_step_axis_forms(text: str, step: int, axis: str) -> None:
    r = parse(text)
    key = "lm_loss" if "lm loss" in text else "trl" if "trl" in text else "loss"
    key = "val_loss" if "val_loss" in text else key
    assert pts(r, key) == [(step, 1.5)]
    assert r.step_axis == axis
    # the counter itself is never a metric
    assert not {"s", "step", "iter", "iteration"} & set(r.series)


def test_epoch_with_progress_in_brackets_makes_a_global_step() -> None:
    r = parse(
        "Epoch [1][50/500]\tlr: 2.000e-02, time: 0.584, loss: 1.5\n"
        "Epoch [1][100/500]\tlr: 2.000e-02, time: 0.580, loss: 1.4\n"
        "Epoch [2][50/500]\tlr: 2.000e-02, time: 0.570, loss: 1.2\n"
    )
    assert pts(r, "loss") == [(50, 1.5), (100, 1.4), (550, 1.2)]
    assert steps(r, "epoch") == [50, 100, 550]
    assert r.step_axis.startswith("epoch x M + step")
    assert r.attempts == 1  # the inner counter going back at a new epoch is no restart


LLMC = "".join(
    [f"s:{s} trl:{4 - s / 1000:.4f}\n" for s in range(120, 200)]
    + ["s:200 tel:3.3000\n"]
    + [f"s:{s} trl:{4 - s / 1000:.4f}\n" for s in range(200, 210)]
)


def test_llmc_main_log_steps_come_from_s() -> None:
    r = parse(LLMC)
    assert set(r.series) == {"trl", "tel"}
    assert steps(r, "trl") == list(range(120, 210))
    assert pts(r, "tel") == [(200, 3.3)]
    assert r.step_axis == "step (s:N)"


KERAS_V2 = """\
Train on 60000 samples, validate on 10000 samples
Epoch 1/3
 - 2s - loss: 0.2778 - acc: 0.9201 - val_loss: 0.1372 - val_acc: 0.9594
Epoch 2/3
 - 1s - loss: 0.1137 - acc: 0.9670 - val_loss: 0.0978 - val_acc: 0.9709
Epoch 3/3
1875/1875 - 3s - loss: 0.0800 - acc: 0.9750 - val_loss: 0.0900 - val_acc: 0.9720 - 3s/epoch
"""


def test_keras_verbose_2_lines_attach_to_the_epoch_header() -> None:
    r = parse(KERAS_V2)
    assert pts(r, "loss") == [(1, 0.2778), (2, 0.1137), (3, 0.08)]
    assert pts(r, "val_acc") == [(1, 0.9594), (2, 0.9709), (3, 0.972)]
    assert set(r.series) == {"loss", "acc", "val_loss", "val_acc"}
    assert r.step_axis == "epoch (Epoch N/M)"


NANOGPT = """\
Overriding config with config/train_shakespeare_char.py:
# train a miniature character-level shakespeare model
out_dir = 'out-shakespeare-char'
eval_interval = 250 # keep frequent because we'll overfit
always_save_checkpoint = False
dataset = 'shakespeare_char'
learning_rate = 1e-3 # with baby networks can afford to go a bit higher
max_iters = 5000
# device = 'cpu'  # run on cpu only
tokens per iteration will be: 16,384
found vocab_size = 65 (inside data/shakespeare_char/meta.pkl)
Initializing a new model from scratch
number of parameters: 10.65M
using fused AdamW: True
compiling the model... (takes a ~minute)
step 0: train loss 4.2874, val loss 4.2823
iter 0: loss 4.2654, time 29897.76ms, mfu -100.00%
iter 10: loss 3.2458, time 52.37ms, mfu 7.12%
iter 20: loss 2.7902, time 52.55ms, mfu 7.11%
step 250: train loss 1.9676, val loss 2.0646
saving checkpoint to out-shakespeare-char
iter 250: loss 2.0388, time 5389.67ms, mfu 6.35%
"""


def test_nanogpt_iter_and_eval_lines() -> None:
    r = parse(NANOGPT)
    assert pts(r, "loss") == [(0, 4.2654), (10, 3.2458), (20, 2.7902), (250, 2.0388)]
    assert pts(r, "time") == [(0, 29897.76), (10, 52.37), (20, 52.55), (250, 5389.67)]
    assert pts(r, "mfu") == [(0, -100.0), (10, 7.12), (20, 7.11), (250, 6.35)]
    assert pts(r, "train/loss") == [(0, 4.2874), (250, 1.9676)]
    assert pts(r, "val/loss") == [(0, 4.2823), (250, 2.0646)]
    assert set(r.series) == {"loss", "time", "mfu", "train/loss", "val/loss"}
    assert r.config["out_dir"] == "out-shakespeare-char"
    assert r.config["eval_interval"] == 250
    assert r.config["always_save_checkpoint"] is False
    assert r.config["learning_rate"] == 1e-3
    assert r.config["max_iters"] == 5000
    assert r.config["vocab_size"] == 65
    assert "device" not in r.config  # commented out
    assert r.step_axis == "iter N"
    assert r.attempts == 1


# -------------------------------------------------------------------------------------------
# train / val sections


def test_same_label_for_train_and_val_gives_two_series() -> None:
    r = parse(
        "Epoch 1 | Train Loss: 0.5000 Token Acc: 0.7000 | Val Loss: 0.6000 Token Acc: 0.6500\n"
        "Epoch 2 | Train Loss: 0.4000 Token Acc: 0.7500 | Val Loss: 0.5500 Token Acc: 0.7000\n"
    )
    assert pts(r, "train/token_acc") == [(1, 0.7), (2, 0.75)]
    assert pts(r, "val/token_acc") == [(1, 0.65), (2, 0.7)]
    assert pts(r, "train/loss") == [(1, 0.5), (2, 0.4)]
    assert pts(r, "val/loss") == [(1, 0.6), (2, 0.55)]


def test_fairseq_train_and_valid_lines() -> None:
    r = parse(
        "| epoch 001 | loss 8.915 | nll_loss 8.742 | ppl 428.26 | num_updates 1101\n"
        "| epoch 001 | valid on 'valid' subset | loss 7.610 | ppl 164.47 | num_updates 1101\n"
        "| epoch 002 | loss 7.100 | nll_loss 6.900 | ppl 120.50 | num_updates 2202\n"
        "| epoch 002 | valid on 'valid' subset | loss 6.500 | ppl 80.00 | num_updates 2202\n"
        "2024-04-30 15:20:56 | INFO | train_inner | epoch 003:    100 / 1132 loss=5.5, "
        "ppl=40.1, num_updates=2300, lr=1.25e-05\n"
    )
    assert pts(r, "loss") == [(1101, 8.915), (2202, 7.1)]
    assert pts(r, "valid/loss") == [(1101, 7.61), (2202, 6.5)]
    assert pts(r, "valid/ppl") == [(1101, 164.47), (2202, 80.0)]
    assert pts(r, "train_inner/loss") == [(2300, 5.5)]
    assert pts(r, "epoch") == [(1101, 1.0), (1101, 1.0), (2202, 2.0), (2202, 2.0), (2300, 3.0)]
    assert "num_updates" not in r.series  # the step counter


def test_evaluation_lines_are_named_apart_from_training_lines() -> None:
    r = parse(
        "INFO:root:Epoch 0 - Average Loss: 4.1224, Average Accuracy: 0.0474\n"
        "INFO:root:Evaluation Epoch 0 - Average Loss: 3.9494, Average Accuracy: 0.2038\n"
        "INFO:root:Epoch 1 - Average Loss: 4.1054, Average Accuracy: 0.0574\n"
        "INFO:root:Evaluation Epoch 1 - Average Loss: 3.8000, Average Accuracy: 0.2500\n"
    )
    assert pts(r, "average_loss") == [(0, 4.1224), (1, 4.1054)]
    assert pts(r, "evaluation/average_loss") == [(0, 3.9494), (1, 3.8)]


def test_sections_only_prefix_when_a_label_repeats() -> None:
    r = parse("Epoch 1/100 | LR: 3.8e-06 | Train Loss: 2.8484 | Val Loss: 1.2244 | mIoU=6.25%\n")
    assert set(r.series) == {"lr", "train_loss", "val_loss", "miou"}


def test_prefixed_keys_keep_their_prefix() -> None:
    r = parse("step 10 train/loss 0.5 eval/loss 0.6\nstep 20 loss=0.4 eval/loss=0.5\n")
    assert pts(r, "train/loss") == [(10, 0.5)]
    assert pts(r, "eval/loss") == [(10, 0.6), (20, 0.5)]
    assert pts(r, "loss") == [(20, 0.4)]


def test_a_key_printed_twice_in_a_line_is_not_overwritten() -> None:
    r = parse("step 1 loss=0.5 loss=0.7\n")
    assert pts(r, "loss") == [(1, 0.5)]
    assert pts(r, "loss_2") == [(1, 0.7)]


# -------------------------------------------------------------------------------------------
# code, chatter, config


MODDED = """\
import os
import sys
with open(sys.argv[0]) as f:
    code = f.read() # read the code of this file ASAP, for logging
import uuid
from dataclasses import dataclass

import torch
A = X @ X.T
scaler = torch.cuda.amp.GradScaler(enabled=(dtype == 'float16'))
assert torch.cuda.is_available()
B, T = args.device_batch_size, args.sequence_length
warmup_iters = 0

@dataclass
class Hyperparameters:
    batch_size : int = 8*64 # batch size
    num_iterations : int = 3000
args = Hyperparameters()
====================================================================================================
Running pytorch 2.5.0 compiled for CUDA 12.4
|   0  NVIDIA H100 80GB HBM3          On  |   00000000:19:00.0 Off |                    0 |
====================================================================================================
step:0/3000 val_loss:10.8258 train_time:0ms step_avg:nanms
step:1/3000 train_time:29336ms step_avg:nanms
step:2/3000 train_time:29931ms step_avg:nanms
step:125/3000 val_loss:4.3100 train_time:55000ms step_avg:440.00ms
"""


def test_a_log_that_starts_with_the_script_source_has_no_config_from_code() -> None:
    r = parse(MODDED)
    assert r.config == {}
    assert pts(r, "val_loss") == [(0, 10.8258), (125, 4.31)]
    assert steps(r, "train_time") == [0, 1, 2, 125]
    assert set(r.series) == {"val_loss", "train_time", "step_avg"}
    assert r.step_axis == "step (step:N/M)"


def test_config_values_keep_types_and_expressions_are_not_config() -> None:
    r = parse(
        "Namespace(lr=0.1, name='x', flag=True, none=None, layers=[1, 2], bad=f(x)\n"
        "scaler = torch.cuda.amp.GradScaler(enabled=(dtype == 'float16'))\n"
        "code = f.read()\n"
        "batch_size = 12\n"
        "step 1 loss=0.5\n"
    )
    assert r.config["lr"] == 0.1
    assert r.config["name"] == "x"
    assert r.config["flag"] is True
    assert r.config["none"] is None
    assert r.config["batch_size"] == 12
    assert r.config["layers"] == "[1, 2]"
    assert not {"scaler", "code", "bad"} & set(r.config)


CIFAR_SETTINGS = """\
2025-06-04 17:36:55,374 - INFO - Using device: cpu
2025-06-04 17:36:55,374 - INFO - Settings:
2025-06-04 17:36:55,379 - INFO -   filter_config: large
2025-06-04 17:36:55,380 - INFO -   use_l1: False
2025-06-04 17:36:55,380 - INFO -   num_epochs: 2
2025-06-04 17:36:55,380 - INFO -   batch_size: 128
2025-06-04 17:36:55,380 - INFO -   eps: 1e-08
2025-06-04 17:39:02,341 - INFO - Epoch 1/2, Train Loss: 1.6279, Test Acc: 59.86%
2025-06-04 17:41:24,241 - INFO - Epoch 2/2, Train Loss: 1.2434, Test Acc: 69.33%
"""


def test_settings_block_after_log_prefixes_is_config() -> None:
    r = parse(CIFAR_SETTINGS)
    assert r.config == {
        "filter_config": "large",
        "use_l1": False,
        "num_epochs": 2,
        "batch_size": 128,
        "eps": 1e-08,
    }
    assert pts(r, "test_acc") == [(1, 59.86), (2, 69.33)]


def test_chatter_and_code_between_steps_make_no_metrics() -> None:
    r = parse(
        "epoch 1 loss=0.5\n"
        "Added key: store_based_barrier_key:1 to store for rank: 0\n"
        "Rank 0: Completed store-based barrier for key:store_based_barrier_key:1 with 8 nodes.\n"
        "epoch 2 loss=0.4\n"
        "best val loss: 0.35\n"
        "Test accuracy: 0.91\n"
    )
    assert set(r.series) == {"loss"}
    assert r.summary["best_val_loss"] == 0.35
    assert r.summary["test_accuracy"] == 0.91
    assert [t for _, t in r.ignored] == [
        "Added key: store_based_barrier_key:1 to store for rank: 0",
        "Rank 0: Completed store-based barrier for key:store_based_barrier_key:1 with 8 nodes.",
    ]
    assert [ln for ln, _ in r.ignored] == [2, 3]


def test_metric_lines_under_a_step_line_keep_their_step() -> None:
    r = parse("Epoch 3/10\n\n  train_loss: 0.2\n  val_loss: 0.3\nEpoch 4/10\n  train_loss: 0.1\n")
    assert pts(r, "train_loss") == [(3, 0.2), (4, 0.1)]
    assert pts(r, "val_loss") == [(3, 0.3)]


def test_ignored_lists_the_first_20_lines_with_line_numbers() -> None:
    text = "".join(f"chatter line {i} here\n" for i in range(30)) + "step 1 loss=0.5\n"
    r = parse(text)
    assert len(r.ignored) == 20
    assert r.ignored[0] == (1, "chatter line 0 here")
    assert r.ignored[-1] == (20, "chatter line 19 here")
    assert r.skipped == 30


# -------------------------------------------------------------------------------------------
# appended restarts


def epochs(first: int, last: int, base: float) -> str:
    return "".join(f"Epoch {e}/10 - loss: {base + e / 100:.2f}\n" for e in range(first, last + 1))


def test_restarts_split_into_attempts_and_the_last_wins() -> None:
    r = parse(epochs(1, 5, 1.0) + epochs(1, 3, 2.0) + epochs(1, 10, 3.0))
    assert r.attempts == 3
    assert pts(r, "loss") == [(e, round(3.0 + e / 100, 2)) for e in range(1, 11)]
    assert any("3 attempts in one log" in w and "kept the last" in w for w in r.warnings)


def test_a_resumed_run_keeps_the_steps_before_the_resume_point() -> None:
    r = parse(epochs(1, 5, 1.0) + epochs(4, 8, 2.0))
    assert r.attempts == 2
    assert pts(r, "loss") == [(1, 1.01), (2, 1.02), (3, 1.03)] + [
        (e, round(2.0 + e / 100, 2)) for e in range(4, 9)
    ]


def test_an_inner_counter_that_restarts_each_epoch_is_not_a_restart() -> None:
    text = "".join(
        f"Epoch {e}\n" + "".join(f"[{b}/300] loss: {e + b / 1000:.3f}\n" for b in (100, 200, 300))
        for e in (1, 2, 3)
    )
    r = parse(text)
    assert r.attempts == 1
    assert len(pts(r, "loss")) == 9
    assert not r.warnings


def test_attempts_warning_reaches_the_import_output(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text(epochs(1, 5, 1.0) + epochs(1, 3, 2.0) + epochs(1, 10, 3.0))
    res = CliRunner().invoke(
        cli, ["import", str(log), "--store", str(tmp_path / "s.db"), "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    assert "3 attempts in one log" in res.output
    out = json.loads(res.output)
    assert "3 attempts in one log" in json.dumps(out)


# -------------------------------------------------------------------------------------------
# more real-log forms


def test_keras_progress_bars_give_one_point_per_epoch_and_final_scores() -> None:
    bar = "[==============================]"
    text = "".join(
        f"Epoch {e}/2\n\n"
        f"  1/285 [..............................] - ETA: 1:04 - loss: 4.0902 - acc: 0.0000e+00\n"
        f" 13/285 [>.............................] - ETA: 5s - loss: 3.9622 - acc: 0.0577\n"
        f"285/285 {bar} - 6s 22ms/step - loss: {e / 10:.4f} - acc: 0.5 - val_loss: 1.3943\n"
        for e in (1, 2)
    )
    text += "Score for model: Test loss:  0.4567\nScore for model: Test accuracy:  0.9031\n"
    text += "Total params: 115,214\nNon-trainable params: 0\n"
    r = parse(text)
    assert pts(r, "loss") == [(1, 0.1), (2, 0.2)]
    assert pts(r, "val_loss") == [(1, 1.3943), (2, 1.3943)]
    assert "eta" not in r.series
    assert r.summary["test_loss"] == 0.4567
    assert r.summary["test_accuracy"] == 0.9031
    assert r.summary["total_params"] == 115214
    assert r.summary["non_trainable_params"] == 0


def test_command_line_options_and_argument_dumps_are_config() -> None:
    r = parse(
        "/usr/bin/python /tmp/train.py --n_epoch=100 --lr=5e-4 --batch-size 128 --fp16\n"
        "host-1: ------------------------ arguments ------------------------\n"
        "host-1:   num_layers ...................................... 36\n"
        "host-1:   optimizer ....................................... adam\n"
        "host-1:   async_io ............... \x1b[93m[NO]\x1b[0m\n"
        "Setting CUDA_VISIBLE_DEVICES=8,9,10,11\n"
        "train tokens = 239,182,819\n"
        "step 1 loss=0.5\n"
    )
    assert r.config["n_epoch"] == 100
    assert r.config["lr"] == 5e-4
    assert r.config["batch_size"] == 128
    assert r.config["fp16"] is True
    assert r.config["num_layers"] == 36
    assert r.config["optimizer"] == "adam"
    assert r.config["tokens"] == 239182819
    assert "async_io" not in r.config
    assert "CUDA_VISIBLE_DEVICES" not in r.config  # cut at its first comma: not the value


def test_mmengine_val_results_go_to_the_end_of_their_epoch() -> None:
    r = parse(
        "Epoch(train)  [1][ 50/100]  lr: 1.0e-03  time: 0.7  loss: 1.0\n"
        "Epoch(train)  [1][100/100]  lr: 1.0e-03  time: 0.7  loss: 0.9\n"
        "Epoch(val)  [1][ 50/250]    eta: 0:03:29  time: 0.08  memory: 8159\n"
        "Epoch(val) [1][250/250]    pascal_voc/mAP: 0.3451  data_time: 0.01\n"
        "Epoch(train)  [2][ 50/100]  lr: 1.0e-03  time: 0.6  loss: 0.8\n"
        "Epoch(val) [2][250/250]    pascal_voc/mAP: 0.5000  data_time: 0.01\n"
    )
    assert pts(r, "loss") == [(50, 1.0), (100, 0.9), (150, 0.8)]
    assert pts(r, "pascal_voc/map") == [(100, 0.3451), (200, 0.5)]
    assert pts(r, "time") == [(50, 0.7), (100, 0.7), (150, 0.6)]  # training only
    assert "val/time" not in r.series and "eta" not in r.series  # an evaluation's progress
    assert (3, "Epoch(val)  [1][ 50/250]    eta: 0:03:29  time: 0.08  memory: 8159") in r.ignored
    assert r.step_axis.startswith("epoch x M + step")


def test_a_log_that_starts_at_a_later_epoch_keeps_global_steps() -> None:
    r = parse(
        "Epoch [3/3], Step [100/1000], Loss: 0.5000\nEpoch [3/3], Step [200/1000], Loss: 0.4000\n"
    )
    assert pts(r, "loss") == [(2100, 0.5), (2200, 0.4)]


def test_pattern_result_has_axis_and_ignored_lines() -> None:
    r = textlog.parse_text(
        "step 1 loss 0.5\nnoise\nstep 2 loss 0.4\n",
        ParseOptions(pattern="step {step:int} loss {loss}"),
    )
    assert r.step_axis == "{step} (--pattern)"
    assert r.ignored == [(2, "noise")]
    r = textlog.parse_text("loss=0.5\n", ParseOptions(pattern="loss={loss}"))
    assert r.step_axis == "line index (--pattern)"


@pytest.mark.parametrize(
    "line",
    [
        "step 1 " + "| Train Loss: 1 " * 20_000,
        "step 1 tokens: 1" + ",000" * 20_000,
        "step 1 " + "loss=1 " * 20_000,
        "python a.py " + "--x 1 " * 20_000,
    ],
)
def test_long_repetitive_lines_stay_bounded(line: str) -> None:
    r = parse(line + "\nstep 2 loss=3\n")
    assert len(r.series) <= textlog.MAX_REPEATS + 1


def test_pprinted_argument_dict_is_config_and_one_number_lists_are_values() -> None:
    r = parse(
        "2025-07-07 13:50:09.941 INFO: Parsed arguments:\n"
        "{'atom_fea_len': 64,\n"
        " 'axis_limits': None,\n"
        " 'device': device(type='cpu'),\n"
        " 'job_id': '147999',\n"
        " 'epoch': 300.0}\n"
        "2025-07-07 13:55:26.649 INFO: Epoch [001/300] - Train Loss: 145.1, LR: [0.001]\n"
        "2025-07-07 13:56:30.354 INFO: Epoch [002/300] - Train Loss: 71.4, LR: [0.0005]\n"
    )
    assert r.config == {"atom_fea_len": 64, "axis_limits": None, "job_id": "147999", "epoch": 300.0}
    assert pts(r, "lr") == [(1, 0.001), (2, 0.0005)]
    assert pts(r, "train_loss") == [(1, 145.1), (2, 71.4)]


def test_aligned_settings_block_and_a_step_named_in_prose() -> None:
    r = parse(
        "[Optimizer] decay=276,824,064  no_decay=22,568,640\n"
        "[Checkpoint] resumed from ./checkpoints/latest.pt at step 47700\n"
        "Effective batch size    : 32\n"
        "Max steps               : 100,000\n"
        "Checkpoint every        : 150 steps\n"
        "step   47700 | loss 1.4684 | lr 1.79e-04 | 113.4k tok/s | mfu 114.07%\n"
        "step   47710 | loss 1.3000 | lr 1.79e-04 | 37.5k tok/s | mfu 37.67%\n"
    )
    assert r.config["effective_batch_size"] == 32
    assert r.config["max_steps"] == 100000
    assert r.config["decay"] == 276824064
    assert "checkpoint_every" not in r.config  # '150 steps' is not one value
    assert pts(r, "loss") == [(47700, 1.4684), (47710, 1.3)]
    assert pts(r, "mfu") == [(47700, 114.07), (47710, 37.67)]


def test_step_colon_lines_with_namespaced_keys() -> None:
    r = parse(
        "(TaskRunner pid=625502) step:1 - actor/entropy:0.4634 - critic/score/mean:0.0 - "
        "timing_s/step:8.88\n"
        "(TaskRunner pid=625502) step:2 - actor/entropy:0.5000 - critic/score/mean:0.5 - "
        "timing_s/step:9.01\n"
    )
    assert pts(r, "actor/entropy") == [(1, 0.4634), (2, 0.5)]
    assert pts(r, "critic/score/mean") == [(1, 0.0), (2, 0.5)]
    assert pts(r, "timing_s/step") == [(1, 8.88), (2, 9.01)]


def test_a_list_of_numbers_is_no_value() -> None:
    r = parse(
        "Epoch [1][50/100]\tlr: 1.0e-02, loss: 1.0\n"
        "Epoch(val) [1][100]\tbbox_mAP: 0.0360, bbox_mAP_copypaste: 0.036 0.109 0.012 0.021\n"
        "[train] iter 10: loss 2.1367  12.3 ms/iter\n"
    )
    assert pts(r, "bbox_map") == [(100, 0.036)]
    assert "bbox_map_copypaste" not in r.series
    assert pts(r, "loss")[-1] == (10, 2.1367)


def test_a_unit_glued_to_a_number_is_not_part_of_the_next_key() -> None:
    r = parse(
        "  step 100 lr 1 step-time 0.41s wps 13.58K ppl 2122.63 gN 17.76 bleu 0.00\n"
        "  step 200 lr 1 step-time 0.33s wps 17.30K ppl 576.29 gN 7.17 bleu 0.00\n"
    )
    assert pts(r, "ppl") == [(100, 2122.63), (200, 576.29)]
    assert pts(r, "wps") == [(100, 13580.0), (200, 17300.0)]
    assert not {"k_ppl", "s_wps"} & set(r.series)


NMT = """\
# Start step 0, lr 1, Mon Jul  9 21:05:38 2018
  step 100 lr 1 step-time 0.41s wps 13.58K ppl 2122.63 gN 17.76 bleu 0.00, Mon Jul  9 21:06:19 2018
  step 200 lr 0.5 step-time 0.33s wps 17.30K ppl 576.29 gN 7.17 bleu 0.00, Tue Jul 10 21:06:52 2018
"""


def test_key_before_a_hyphenated_key_and_a_trailing_date() -> None:
    # ``lr 1 step-time ...``: lr is a pair even though the next key has a hyphen; the date at
    # the end of the line is no key ``mon_jul`` (or ``tue_jul``)
    r = parse(NMT)
    assert pts(r, "lr") == [(0, 1.0), (100, 1.0), (200, 0.5)]
    assert pts(r, "wps") == [(100, 13580.0), (200, 17300.0)]
    assert not [k for k in r.series if "jul" in k or k.startswith(("mon", "tue"))]


TF_EVAL = """\
INFO:tensorflow:loss = 0.9, step = 0
INFO:tensorflow:loss = 0.5, step = 100 (16.2 sec)
INFO:tensorflow:loss = 0.25, step = 200 (14.4 sec)
INFO:tensorflow:Finished evaluation at 2019-02-18-08:09:56
INFO:tensorflow:Saving dict for global step 250: eval_accuracy = 0.85, eval_loss = 0.72, \
global_step = 250, loss = 0.7
INFO:tensorflow:***** Eval results *****
INFO:tensorflow:  eval_accuracy = 0.85
INFO:tensorflow:  eval_loss = 0.72
INFO:tensorflow:  global_step = 250
INFO:tensorflow:  loss = 0.7
"""


def test_evaluation_results_never_join_the_training_series() -> None:
    # the evaluation's bare ``loss`` (in the results dict line and in the results block) is
    # the evaluation's, not a point of the training loss
    r = parse(TF_EVAL)
    assert pts(r, "loss") == [(0, 0.9), (100, 0.5), (200, 0.25)]
    assert pts(r, "eval/loss") == [(250, 0.7)]
    assert pts(r, "eval_accuracy") == [(250, 0.85)]
    assert r.summary["eval/loss"] == 0.7
    assert r.summary["eval_accuracy"] == 0.85
    assert "global_step" not in r.summary


def test_a_results_block_after_a_header_is_the_summary() -> None:
    text = "step 1 loss 0.5\nstep 2 loss 0.4\n== Test results ==\nacc: 0.91\nloss: 0.33\n"
    r = parse(text)
    assert pts(r, "loss") == [(1, 0.5), (2, 0.4)]
    assert r.summary["test/acc"] == 0.91
    assert r.summary["test/loss"] == 0.33
