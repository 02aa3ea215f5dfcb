"""expected.json for the real console/text training logs, read with regular expressions.

Independent of expbook: only the standard library (re, json, math). Each artifact has one
reader below that names, line by line, what the log says; the series names are the ones a
user expects from expbook (the file's own label, lower-cased with '_' for spaces, and
train/ val/ prefixes where the log prints the same label for both splits).

Usage: python expected_textlogs.py [--check] [ID ...]   (any directory; no ID: all of them)
--check writes nothing and exits 1 if an expected.json differs from what the reading gives.
"""

from __future__ import annotations

import csv
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

REAL = Path(__file__).resolve().parents[1]
NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf)"

Series = dict[str, list[tuple[int, float]]]


def _add(series: Series, key: str, step: int, value: str | float) -> None:
    series.setdefault(key, []).append((step, float(value)))


def _keep_last_per_step(points: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """One point per step, the last one printed (a later attempt wins), in step order."""
    by_step: dict[int, float] = {}
    for step, value in points:
        by_step[step] = value
    return sorted(by_step.items())


def _expected(
    series: Series,
    step: str,
    config: dict | None = None,
    summary: dict | None = None,
    dedupe: bool = False,
    config_absent: list[str] | None = None,
    warnings: list[str] | None = None,
) -> dict:
    metrics = {}
    last_step = None
    for key, pts in series.items():
        if dedupe:
            pts = _keep_last_per_step(pts)
        finite = [v for _, v in pts if not math.isnan(v)]
        metrics[key] = {
            "points": len(pts),
            "last": pts[-1][1],
            "min": min(finite),
            "last_step": pts[-1][0],
        }
        last_step = pts[-1][0] if last_step is None else max(last_step, pts[-1][0])
    out: dict = {"runs": 1, "step": step, "last_step": last_step, "metrics": metrics}
    out["config"] = config or {}
    if config_absent:
        out["config_absent"] = config_absent
    if summary:
        out["summary"] = summary
    if warnings:
        out["warnings"] = warnings
    return out


def _lines(art: str, name: str) -> list[str]:
    return (REAL / art / name).read_text(encoding="utf-8").splitlines()


# ------------------------------------------------------------------------------------------


def llmc_gpt2_124m_main_log() -> dict:
    """llm.c main.log: 's:N trl:x lr:y norm:z' train lines and 's:N tel:x' val lines."""
    series: Series = {}
    for line in _lines("llmc-gpt2-124m-main-log", "main.log"):
        m = re.fullmatch(rf"s:(\d+) trl:({NUM}) lr:({NUM}) norm:({NUM})", line)
        if m:
            s = int(m[1])
            _add(series, "trl", s, m[2])
            _add(series, "lr", s, m[3])
            _add(series, "norm", s, m[4])
            continue
        m = re.fullmatch(rf"s:(\d+) tel:({NUM})", line)
        assert m, line
        _add(series, "tel", int(m[1]), m[2])
    return _expected(series, "s")


def modded_nanogpt_code_header_log() -> dict:
    """modded-nanogpt record: the script's source, nvidia-smi, then 'step:N/M key:value' lines."""
    series: Series = {}
    name = "22d24867-eb5a-4fcc-ae2c-263d0277dfd1.txt"
    for line in _lines("modded-nanogpt-code-header-log", name):
        m = re.match(rf"step:(\d+)/\d+ (train_loss|val_loss):({NUM}) ", line)
        if m:
            _add(series, m[2], int(m[1]), m[3])
    # the script's own source heads the log: none of its assignments is the run's config
    return _expected(series, "step", config_absent=["code", "A", "B", "X", "lr", "steps"])


def seq2seq_token_acc_train_log() -> dict:
    """'Epoch N | Train Loss: a | Token Acc: b | Seq Acc: c | Val Loss: d | Token Acc: e | ...'"""
    series: Series = {}
    config: dict = {}
    pat = re.compile(
        rf"Epoch (\d+) \|\s+Train Loss: ({NUM}) \| Token Acc: ({NUM}) \| Seq Acc: ({NUM}) \|"
        rf"\s+Val Loss: ({NUM}) \| Token Acc: ({NUM}) \| Seq Acc: ({NUM})$"
    )
    lines = _lines("seq2seq-token-acc-train-log", "train.log")
    for arg in re.findall(r"--(\w+)=(\S+)", lines[0]):
        key, value = arg
        if re.fullmatch(r"\d+", value):
            config[key] = int(value)
        elif re.fullmatch(NUM, value):
            config[key] = float(value)
    for line in lines:
        m = pat.match(line)
        if not m:
            continue
        e = int(m[1])
        for i, key in enumerate(
            ["train/loss", "train/token_acc", "train/seq_acc", "val/loss", "val/token_acc"]
        ):
            _add(series, key, e, m[i + 2])
        _add(series, "val/seq_acc", e, m[7])
    return _expected(series, "epoch", config=config)


def nanogpt_shakespeare_char_nan() -> dict:
    """nanoGPT train.py console: 'iter N: loss x, time yms, mfu z%' and
    'step N: train loss a, val loss b' (eval); the loss turns to nan at iter 425."""
    series: Series = {}
    for line in _lines("nanogpt-shakespeare-char-nan", "train.log"):
        m = re.fullmatch(rf"iter (\d+): loss ({NUM}), time ({NUM})ms, mfu ({NUM})%", line)
        if m:
            s = int(m[1])
            _add(series, "loss", s, m[2])
            _add(series, "time", s, m[3])
            _add(series, "mfu", s, m[4])
            continue
        m = re.fullmatch(rf"step (\d+): train loss ({NUM}), val loss ({NUM})", line)
        if m:
            _add(series, "train/loss", int(m[1]), m[2])
            _add(series, "val/loss", int(m[1]), m[3])
    # the echoed source line of a FutureWarning is not a setting
    return _expected(series, "iter", config_absent=["scaler"])


def megatron_deepspeed_pdsh_log() -> dict:
    """Megatron-DeepSpeed launched with pdsh: every line starts with 'host: '; an arguments
    dump ('  lr ........ 1e-05') and 'iteration N/ M | key: value | ...' lines."""
    series: Series = {}
    config: dict = {}
    name = "ib_dual4_common_qwen3b_tp1pp2dp4_20260419_baseline_20260419_163606_v100x16-1.log"
    wanted = {"lm loss", "learning rate", "grad norm", "samples per second", "TFLOPs"}
    in_args = False
    for line in _lines("megatron-deepspeed-pdsh-log", name):
        body = re.sub(r"^[\w.-]+: ", "", line)
        if "---- arguments ----" in body:
            in_args = True
            continue
        if "end of arguments" in body:
            in_args = False
            continue
        if in_args:
            m = re.fullmatch(r"\s+(\w+) \.+ (.*)", body)
            if m and m[1] in {
                "lr",
                "num_layers",
                "hidden_size",
                "global_batch_size",
                "seq_length",
                "train_iters",
                "optimizer",
            }:
                v = m[2]
                config[m[1]] = int(v) if v.isdigit() else float(v) if re.fullmatch(NUM, v) else v
            continue
        m = re.match(r"\s*iteration\s+(\d+)/\s*\d+ \|(.*)", body)
        if m:
            for part in m[2].split("|"):
                kv = re.fullmatch(rf"\s*([A-Za-z][\w ()/]*?):\s+({NUM})\s*", part)
                if kv and kv[1] in wanted:
                    _add(series, kv[1].lower().replace(" ", "_"), int(m[1]), kv[2])
    return _expected(series, "iteration", config=config)


def mmdet3_faster_rcnn_voc_log() -> dict:
    """mmdetection 3.x (mmengine) text log: the config dump, 'Epoch(train) [e][i/938]  lr: x
    ...  loss: y ...' every 50 iterations and 'Epoch(val) [e][2510/2510] pascal_voc/mAP: z'
    once per epoch. The step is the global iteration (e-1)*938 + i; a val result belongs to
    the last iteration of its epoch (e*938)."""
    series: Series = {}
    keys = {"lr", "loss", "loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "acc", "loss_bbox"}
    for line in _lines("mmdet3-faster-rcnn-voc-log", "20240526_112943.log"):
        m = re.search(r"Epoch\(train\)\s+\[(\d+)\]\[\s*(\d+)/(\d+)\]\s+(.*)$", line)
        if m:
            step = (int(m[1]) - 1) * int(m[3]) + int(m[2])
            for k, v in re.findall(rf"(\S+): ({NUM})(?:\s|$)", m[4]):
                if k in keys:
                    _add(series, k, step, v)
            continue
        m = re.search(r"Epoch\(val\)\s+\[(\d+)\]\[(\d+)/(\d+)\]\s+(pascal_voc.*)$", line)
        if m:
            for k, v in re.findall(rf"(\S+): ({NUM})(?:\s|$)", m[4]):
                if k.startswith("pascal_voc/"):  # text-log keys are lower-cased
                    _add(series, k.lower(), int(m[1]) * 938, v)
    return _expected(series, "iter")


def nanogpt_seis_train_eval_log() -> dict:
    """'[train] iter N: loss x  y ms/iter' every 10 iters, '[eval] iter N: train a val b lr c'
    every 500, torch-inductor warnings from two ranks, and '[train] done. best_val=...'."""
    series: Series = {}
    summary: dict = {}
    for line in _lines("nanogpt-seis-train-eval-log", "train_ctx4k.log"):
        m = re.fullmatch(rf"\[train\] iter (\d+): loss ({NUM}) +\d+ ms/iter", line)
        if m:
            _add(series, "loss", int(m[1]), m[2])
            continue
        m = re.fullmatch(rf"\[eval\] iter (\d+): train ({NUM}) val ({NUM}) lr ({NUM})", line)
        if m:
            _add(series, "train", int(m[1]), m[2])
            _add(series, "val", int(m[1]), m[3])
            _add(series, "lr", int(m[1]), m[4])
            continue
        m = re.match(rf"\[train\] done\. best_val=({NUM})", line)
        if m:
            # 'done. best_val=x' is a summary under 'done/', as 'done: iter=1500' gives done/iter
            summary["done/best_val"] = float(m[1])
    return _expected(series, "iter", summary=summary)


def dgcnn_train_epoch_log() -> dict:
    """'Train N, loss: x, train acc: y, train avg acc: z', one line per epoch 0..79."""
    series: Series = {}
    pat = re.compile(rf"Train (\d+), loss: ({NUM}), train acc: ({NUM}), train avg acc: ({NUM})")
    for line in _lines("dgcnn-train-epoch-log", "train.log"):
        m = pat.fullmatch(line)
        assert m, line
        e = int(m[1])
        _add(series, "loss", e, m[2])
        _add(series, "train_acc", e, m[3])
        _add(series, "train_avg_acc", e, m[4])
    return _expected(series, "epoch")


def _keras_epochs(lines: list[str]) -> Series:
    """Keras fit() console: 'Epoch N/M' then, when the epoch ends, the bar's last line
    'k/k [====] - 7s 24ms/step - loss: a - acc: b - val_loss: c - val_acc: d'. Progress
    lines before it (k' < k, with 'ETA') are running batch averages, not epoch results."""
    series: Series = {}
    epoch = None
    for line in lines:
        m = re.fullmatch(r"Epoch (\d+)/\d+", line.strip())
        if m:
            epoch = int(m[1])
            continue
        m = re.match(r"\s*(\d+)/(\d+) \[=+\] - \d+s (?:\d+\w?s/step )?- (.*)$", line)
        if m and m[1] == m[2] and epoch is not None:
            for k, v in re.findall(rf"(\w+): ({NUM})", m[3]):
                _add(series, k, epoch, v)
    return series


def keras_fit_cats_dogs_log() -> dict:
    """Keras fit() console with only each epoch's final bar line kept, 40 epochs."""
    series = _keras_epochs(_lines("keras-fit-cats-dogs-log", "training_log.txt"))
    return _expected(series, "epoch")


def keras_fit_progress_bars_log() -> dict:
    """Keras fit(verbose=1) console with every progress-bar redraw on its own line, then
    'Score for model: Test loss:  x' / 'Test accuracy:  y' and model.summary()."""
    lines = _lines("keras-fit-progress-bars-log", "training_log.txt")
    series = _keras_epochs(lines)
    summary = {}
    for line in lines:
        m = re.fullmatch(rf"Score for model: Test (loss|accuracy):\s+({NUM})", line)
        if m:
            summary[f"test_{m[1]}"] = float(m[2])
    return _expected(series, "epoch", summary=summary)


def captioning_epoch_step_log() -> dict:
    """'Epoch [e/3], Step [s/12942], Loss: x, Perplexity: y' on every step; the step is the
    global one, (e-1)*12942 + s, so the slice crosses from epoch 2 into epoch 3 in order."""
    series: Series = {}
    pat = re.compile(
        rf"Epoch \[(\d+)/\d+\], Step \[(\d+)/(\d+)\], Loss: ({NUM}), Perplexity: ({NUM})"
    )
    for line in _lines("captioning-epoch-step-log", "training_log.txt"):
        m = pat.fullmatch(line)
        assert m, line
        step = (int(m[1]) - 1) * int(m[3]) + int(m[2])
        _add(series, "loss", step, m[4])
        _add(series, "perplexity", step, m[5])
    return _expected(series, "step")


def gpt2_lora_python_logging_log() -> dict:
    """Python logging ('INFO:__main__:...'): a '  key: value' configuration block, print()
    chatter of the model surgery, 'Epoch e | Step s/6501 | Loss: x | PPL: y | LR: z | Grad: g
    | Time: ts' every 10 steps (the step restarts each epoch: the global step is
    e*6501 + s), evaluation blocks and 'Final Results: Loss=x, PPL=y'."""
    series: Series = {}
    config: dict = {}
    summary: dict = {}
    lines = _lines("gpt2-lora-python-logging-log", "train.log")
    pat = re.compile(
        rf"INFO:__main__:Epoch (\d+) \| Step\s+(\d+)/(\d+) \| Loss: ({NUM}) \| PPL: ({NUM}) \|"
        rf" LR: ({NUM}) \| Grad: ({NUM}) \| Time: ({NUM})s"
    )
    in_config = False
    for line in lines:
        if line == "INFO:__main__:Configuration:":
            in_config = True
            continue
        if in_config:
            m = re.fullmatch(r"INFO:__main__:  (\w+): (.*)", line)
            if not m:
                in_config = False
            else:
                v = m[2]
                if v in ("True", "False"):
                    config[m[1]] = v == "True"
                elif v == "None":
                    config[m[1]] = None
                elif re.fullmatch(r"-?\d+", v):
                    config[m[1]] = int(v)
                elif re.fullmatch(NUM, v):
                    config[m[1]] = float(v)
                else:
                    config[m[1]] = v
                continue
        m = pat.fullmatch(line)
        if m:
            step = int(m[1]) * int(m[3]) + int(m[2])
            for key, i in (("loss", 4), ("ppl", 5), ("lr", 6), ("grad", 7), ("time", 8)):
                _add(series, key, step, m[i])
            continue
        m = re.fullmatch(rf"INFO:__main__:.*Final Results: Loss=({NUM}), PPL=({NUM})", line)
        if m:
            summary["final/loss"] = float(m[1])
            summary["final/ppl"] = float(m[2])
    wanted = [
        "adapter_size",
        "epochs",
        "learning_rate",
        "lora_rank",
        "lora_alpha",
        "modification_type",
        "no_cuda",
        "max_steps",
        "warmup_steps",
        "freeze_layers",
    ]
    return _expected(series, "step", config={k: config[k] for k in wanted}, summary=summary)


def en_de_transformer_nohup_log() -> dict:
    """nohup output: a UserWarning, Chinese progress notes, 'Epoch N/100 - Train Loss: x,
    Val Loss: y' and, after an improvement, '  保存最佳模型 (val_loss=y)' (checkpoint saved),
    which repeats the epoch's val loss and is no new point."""
    series: Series = {}
    pat = re.compile(rf"Epoch (\d+)/\d+ - Train Loss: ({NUM}), Val Loss: ({NUM})")
    for line in _lines("en-de-transformer-nohup-log", "train.log"):
        m = pat.fullmatch(line)
        if m:
            _add(series, "train_loss", int(m[1]), m[2])
            _add(series, "val_loss", int(m[1]), m[3])
    return _expected(series, "epoch")


def csta_appended_restarts_log() -> dict:
    """logging.basicConfig(filename=...) appends: five 'Finetuning starting on: ...' headers
    with the same settings, four of them followed by epochs (0..53, 0..6, 0..77, 0..106).
    Train lines 'Epoch e - Average Loss: x, Average Accuracy: y, Samples: n' and eval lines
    'Evaluation Epoch e - Average Loss: ...' print the same labels. The last attempt wins
    for the steps it covers (here all of them: one point per epoch 0..106)."""
    series: Series = {}
    config: dict = {}
    pat = re.compile(
        rf"INFO:root:(Evaluation )?Epoch (\d+) - Average Loss: ({NUM}), "
        rf"Average Accuracy: ({NUM}), Samples: \d+"
    )
    for line in _lines("csta-appended-restarts-log", "train.log"):
        m = pat.fullmatch(line)
        if m:
            prefix = "evaluation/" if m[1] else ""
            _add(series, prefix + "average_loss", int(m[2]), m[3])
            _add(series, prefix + "average_accuracy", int(m[2]), m[4])
            continue
        m = re.fullmatch(r"INFO:root:(\w+) : (\d+)", line)  # the settings block of each start
        if m:
            config[m[1]] = int(m[2])
    return _expected(series, "epoch", config=config, dedupe=True, warnings=["attempt"])


def nmt_train_valid_csv_logs() -> dict:
    """log/train.log and log/valid.log: CSV text ('epoch,loss,ppl,accuracy', then
    '0, 9.15862, 9495.92153,0.023') under .log names, one file per split of one run: the
    series are named after the file (train/loss, valid/loss, ...)."""
    series: Series = {}
    for split in ("train", "valid"):
        path = REAL / "nmt-train-valid-csv-logs" / "log" / f"{split}.log"
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh, skipinitialspace=True))
        for row in rows:
            for key in ("loss", "ppl", "accuracy"):
                _add(series, f"{split}/{key}", int(row["epoch"]), row[key])
    return _expected(series, "epoch")


def tf_estimator_bert_log() -> dict:
    """TensorFlow 1.x Estimator (BERT run_classifier): feature dumps, the variable list,
    'INFO:tensorflow:loss = x, step = N (t sec)' every 100 steps, 'global_step/sec: r' between
    them, and at the end 'Saving dict for global step 5468: eval_accuracy = a, eval_auc = b,
    eval_loss = c, global_step = 5468, loss = d' (its 'loss' is the eval loss: no train
    point) and the same values again under '***** Eval results *****'."""
    series: Series = {}
    for line in _lines("tf-estimator-bert-log", "train.log"):
        m = re.fullmatch(rf"INFO:tensorflow:loss = ({NUM}), step = (\d+)(?: \(.*\))?", line)
        if m:
            _add(series, "loss", int(m[2]), m[1])
            continue
        m = re.match(r"INFO:tensorflow:Saving dict for global step (\d+): (.*)$", line)
        if m:
            for k, v in re.findall(rf"(eval_\w+) = ({NUM})", m[2]):
                _add(series, k, int(m[1]), v)
    return _expected(series, "step")


def fast_scnn_epoch_iter_log() -> dict:
    """Python logging: 'Epoch: [ e/200] Iter [ i/1487] || Time: t sec || lr: x || Loss: y'.
    The iteration count runs on across epochs modulo 1487 (epoch 1 starts at Iter 3), so the
    global step is e*1487 + i."""
    series: Series = {}
    pat = re.compile(
        rf"Epoch: \[\s*(\d+)/\d+\] Iter \[\s*(\d+)/(\d+)\] \|\| Time: ({NUM}) sec \|\| "
        rf"lr: ({NUM}) \|\| Loss: ({NUM})"
    )
    for line in _lines("fast-scnn-epoch-iter-log", "train.log"):
        m = pat.search(line)
        assert m, line
        step = int(m[1]) * int(m[3]) + int(m[2])
        _add(series, "lr", step, m[5])
        _add(series, "loss", step, m[6])
    return _expected(series, "step")


def cls_train_tagged_report_log() -> dict:
    """'[augmented] epoch e: train_loss=a train_acc=b val_acc=c val_f1=d' for 15 epochs, then
    a scikit-learn classification_report table (not metrics over steps)."""
    series: Series = {}
    pat = re.compile(r"\[augmented\] epoch (\d+): (.*)")
    for line in _lines("cls-train-tagged-report-log", "cls_train_augmented.log"):
        m = pat.fullmatch(line)
        if m:
            for k, v in re.findall(rf"(\w+)=({NUM})", m[2]):
                _add(series, k, int(m[1]), v)
    return _expected(series, "epoch")


def yolox_crlf_gbk_restarts_log() -> dict:
    """YOLOX (loguru) train_log.txt written on Windows: CRLF line ends and GBK box drawing in
    the 'exp value:' table (not UTF-8). Two attempts appended: the first runs epochs 1..10
    and dies in evaluation (a loguru traceback), the second starts again at epoch 1 and is
    kept up to epoch 20 (trimmed). Iteration lines 'epoch: e/300, iter: i/47, ...,
    total_loss: x, iou_loss: ..., lr: y, size: 640, ETA: ...' every 10 iterations; the
    global step is (e-1)*47 + i and the last attempt wins. Config: the last attempt's
    'args: Namespace(...)'."""
    series: Series = {}
    config: dict = {}
    text = (REAL / "yolox-crlf-gbk-restarts-log" / "train_log.txt").read_bytes()
    lines = text.decode("utf-8", errors="replace").splitlines()
    keys = ("total_loss", "iou_loss", "conf_loss", "cls_loss", "lr")
    for line in lines:
        m = re.search(r"- epoch: (\d+)/\d+, iter: (\d+)/(\d+), (.*)$", line)
        if m:
            step = (int(m[1]) - 1) * int(m[3]) + int(m[2])
            for k, v in re.findall(rf"(\w+): ({NUM})(?:,|$)", m[4]):
                if k in keys:
                    _add(series, k, step, v)
            continue
        m = re.search(r"args: Namespace\((.*)\)$", line)
        if m:
            args = dict(re.findall(r"(\w+)=('[^']*'|[^,]+)", m[1]))
            config = {
                "batch_size": int(args["batch_size"]),
                "devices": int(args["devices"]),
                "fp16": args["fp16"] == "True",
                "ckpt": args["ckpt"].strip("'"),
                "experiment_name": args["experiment_name"].strip("'"),
                "start_epoch": None if args["start_epoch"] == "None" else args["start_epoch"],
            }
    # the model printout's layer arguments are no settings of the run
    absent = ["kernel_size", "stride", "padding", "eps", "momentum"]
    return _expected(
        series, "step", config=config, dedupe=True, config_absent=absent, warnings=["attempt"]
    )


def segmentation_restarts_percent_log() -> dict:
    """'Epoch e/100 [38.7s] | LR: x | Train Loss: a | Val Loss: b | mP=9.95% mR=...% mIoU=...%
    mDice=...% ← best IoU ← best loss' (the '[t s]' only from the second launch on): three
    launches appended (epochs 1..2, 1..2, 1..100), the last wins; then a per-class
    '=== Final Val Metrics ===' block. Percent values stay as printed (9.95)."""
    series: Series = {}
    for line in _lines("segmentation-restarts-percent-log", "train_log.txt"):
        m = re.match(r"Epoch (\d+)/\d+(?: \[[\d.]+s\])? \| (.*)$", line)
        if not m:
            continue
        e = int(m[1])
        for k, v in re.findall(rf"(LR|Train Loss|Val Loss): ({NUM})", m[2]):
            _add(series, k.lower().replace(" ", "_"), e, v)
        for k, v in re.findall(rf"(mP|mR|mIoU|mDice)=({NUM})%", m[2]):
            _add(series, k.lower(), e, v)
    return _expected(series, "epoch", dedupe=True, warnings=["attempt"])


def cgcnn_pprint_args_log() -> dict:
    """A note file: the shell command (wrapped), then the run's console: Python logging
    'INFO: Parsed arguments:' followed by a pprint()ed dict over 29 lines (config; one value is
    'device(type='cpu')'), 'Epoch [001/300] - Train Loss: a, Valid Loss: b, LR: [0.001]' with
    '[SAVE] Best model at epoch N.' notes, 'MSE: x, R2 Score: y' and a hand-added 'PyCharm:'
    block of final scores."""
    series: Series = {}
    config: dict = {}
    summary: dict = {}
    lines = _lines("cgcnn-pprint-args-log", "readme_output_aws.txt")
    pat = re.compile(
        rf"INFO: Epoch \[(\d+)/\d+\] - Train Loss: ({NUM}), Valid Loss: ({NUM}), LR: \[({NUM})\]$"
    )
    in_dict = False
    for line in lines:
        if line.endswith("INFO: Parsed arguments:"):
            in_dict = True
            continue
        if in_dict:
            m = re.fullmatch(r"[{ ]'(\w+)': (.*?)[,}]", line)
            assert m, line
            v = m[2]
            if v in ("True", "False"):
                config[m[1]] = v == "True"
            elif v == "None":
                config[m[1]] = None
            elif re.fullmatch(r"-?\d+", v):
                config[m[1]] = int(v)
            elif re.fullmatch(NUM, v):
                config[m[1]] = float(v)
            elif v.startswith("'"):
                config[m[1]] = v.strip("'")
            in_dict = not line.endswith("}")
            continue
        m = pat.search(line)
        if m:
            e = int(m[1])
            _add(series, "train_loss", e, m[2])
            _add(series, "valid_loss", e, m[3])
            _add(series, "lr", e, m[4])
            continue
        m = re.search(rf"INFO: MSE: ({NUM}), R2 Score: ({NUM})$", line)
        if m:
            summary["mse"] = float(m[1])
            summary["r2_score"] = float(m[2])
            continue
        m = re.fullmatch(rf"(MAE|RMSE|MedAE):\s+({NUM})", line)
        if m:
            summary[m[1].lower()] = float(m[2])
    wanted = [
        "batch_size",
        "learning_rate",
        "epoch",
        "task",
        "n_conv",
        "random_seed",
        "disable_cuda",
        "job_id",
        "stop_patience",
        "train_ratio",
    ]
    return _expected(series, "epoch", config={k: config[k] for k in wanted}, summary=summary)


def lora_step_brackets_eval_samples_log() -> dict:
    """'=== Epoch e/3 ===' headers, many '[timing] sample processed in 191.74s' lines (no step),
    '[step N] avg_loss=x acc=y', an '[eval] 11+123=? -> 11+123=?' sample with the model's
    free text, and checkpoint notes. Only the '[step N]' lines are points."""
    series: Series = {}
    for line in _lines("lora-step-brackets-eval-samples-log", "train.log"):
        m = re.fullmatch(rf"\[step (\d+)\] avg_loss=({NUM}) acc=({NUM})", line)
        if m:
            _add(series, "avg_loss", int(m[1]), m[2])
            _add(series, "acc", int(m[1]), m[3])
    return _expected(series, "step")


def fairseq_train_inner_lines() -> dict:
    """fairseq (0.12) 'train_inner' lines grepped from a training log: 'epoch 001:    100 /
    1132 loss=12.428, nll_loss=..., ppl=..., ..., num_updates=100, lr=..., gnorm=...,
    train_wall=17, wall=18'. The step is num_updates (fairseq's global update count; the
    'i / 1132' counter restarts each epoch); series keep fairseq's logger tag as prefix."""
    series: Series = {}
    keys = ("loss", "nll_loss", "ppl", "lr", "gnorm")
    for line in _lines("fairseq-train-inner-lines", "train.txt"):
        m = re.search(r"\| train_inner \| epoch \d+:\s+\d+ / \d+ (.*)$", line)
        assert m, line
        kv = dict(re.findall(rf"(\w+)=({NUM})", m[1]))
        step = int(kv["num_updates"])
        for k in keys:
            _add(series, f"train_inner/{k}", step, kv[k])
    return _expected(series, "num_updates")


def fairseq_valid_subset_lines() -> dict:
    """fairseq 'valid' lines grepped from the same log: '| valid | epoch 001 | valid on
    'valid' subset | loss 11.059 | nll_loss 10.711 | ppl 1676.32 | ... | num_updates 100 |
    best_loss 10.216' (every 100 updates and at each epoch's end); step num_updates."""
    series: Series = {}
    for line in _lines("fairseq-valid-subset-lines", "valid.txt"):
        m = re.search(r"\| valid \| epoch \d+ \| valid on 'valid' subset \| (.*)$", line)
        assert m, line
        kv = dict(re.findall(rf"(\w+) ({NUM})(?: \||$)", m[1]))
        step = int(kv["num_updates"])
        for k in ("loss", "nll_loss", "ppl"):
            _add(series, f"valid/{k}", step, kv[k])
    return _expected(series, "num_updates")


def pretrain_resumed_step_pipes_log() -> dict:
    """nohup output of a run resumed from a checkpoint at step 47700: an aligned settings
    block with thousands separators ('Max steps               : 100,000'), 'step   47700 |
    loss 1.4684 | lr 1.79e-04 | grad 0.075 | 113.4k tok/s | mfu 114.07%' every 10 steps,
    '  [eval] step   48000 | val_loss 4.0749' every 500 and checkpoint save/prune notes."""
    series: Series = {}
    config: dict = {}
    pat = re.compile(
        rf"step\s+(\d+) \| loss ({NUM}) \| lr ({NUM}) \| grad ({NUM}) \| [\d.]+k tok/s \|"
        rf" mfu ({NUM})%"
    )
    for line in _lines("pretrain-resumed-step-pipes-log", "train.out"):
        m = pat.fullmatch(line)
        if m:
            s = int(m[1])
            for key, i in (("loss", 2), ("lr", 3), ("grad", 4), ("mfu", 5)):
                _add(series, key, s, m[i])
            continue
        m = re.fullmatch(rf"\s+\[eval\] step\s+(\d+) \| val_loss ({NUM})", line)
        if m:
            _add(series, "val_loss", int(m[1]), m[2])
            continue
        m = re.fullmatch(r"(Max steps|Effective batch size)\s+: ([\d,]+)", line)
        if m:
            config[m[1].lower().replace(" ", "_")] = int(m[2].replace(",", ""))
    return _expected(series, "step", config=config)


def verl_grpo_ray_console() -> dict:
    """nohup output of a verl GRPO run under Ray: a bash -x trace ('+ TOTAL_EPOCHS=1'), ANSI
    coloured '(TaskRunner pid=...)' prefixes, the pprint()ed Hydra config, then 21 lines
    'step:N - global_seqlen/min:2578 - ... - actor/entropy:0.46 - ... - perf/time_per_step:36.2'
    and at the end a Ray ActorUnavailableError traceback (the run died at step 22)."""
    series: Series = {}
    keys = (
        "actor/entropy",
        "actor/pg_loss",
        "actor/loss",
        "actor/grad_norm",
        "actor/lr",
        "critic/score/mean",
        "response_length/mean",
        "timing_s/step",
    )
    for raw in _lines("verl-grpo-ray-console", "train.out"):
        line = re.sub(r"\x1b\[[0-9;]*m", "", raw)
        m = re.search(r"\) step:(\d+) - (.*)$", line)
        if not m:
            continue
        pairs = dict(re.findall(rf"([\w/.]+):({NUM})(?: - |$)", m[2]))
        for k in keys:
            _add(series, k, int(m[1]), pairs[k])
    return _expected(series, "step")


def mmdet2_retinanet_coco_log() -> dict:
    """mmdetection 2.x text log: environment and config dump, then 'Epoch [e][i/1581]\tlr: x,
    eta: ..., time: ..., data_time: ..., memory: ..., loss_cls: a, loss_bbox: b, loss: c'
    every 50 iterations and 'Epoch(val) [e][1581]\tbbox_mAP: ..., bbox_mAP_50: ..., ...,
    bbox_mAP_copypaste: 0.036 0.109 ...' per epoch. Steps are global iterations:
    (e-1)*1581 + i for train lines, e*1581 for the epoch's val result; text-log keys are
    lower-cased (bbox_map)."""
    series: Series = {}
    keys = {"lr", "loss_cls", "loss_bbox", "loss"}
    for line in _lines("mmdet2-retinanet-coco-log", "20210421_200459.log"):
        m = re.search(r"- Epoch \[(\d+)\]\[(\d+)/(\d+)\]\t(.*)$", line)
        if m:
            step = (int(m[1]) - 1) * int(m[3]) + int(m[2])
            for k, v in re.findall(rf"(\w+): ({NUM})(?:,|$)", m[4]):
                if k in keys:
                    _add(series, k, step, v)
            continue
        m = re.search(r"- Epoch\(val\) \[(\d+)\]\[(\d+)\]\t(.*)$", line)
        if m:
            step = int(m[1]) * int(m[2])
            for k, v in re.findall(rf"(bbox_mAP(?:_50|_75)?): ({NUM}),", m[3]):
                _add(series, k.lower(), step, v)
    return _expected(series, "iter")


READERS: dict[str, Callable[[], dict]] = {
    "llmc-gpt2-124m-main-log": llmc_gpt2_124m_main_log,
    "modded-nanogpt-code-header-log": modded_nanogpt_code_header_log,
    "seq2seq-token-acc-train-log": seq2seq_token_acc_train_log,
    "nanogpt-shakespeare-char-nan": nanogpt_shakespeare_char_nan,
    "megatron-deepspeed-pdsh-log": megatron_deepspeed_pdsh_log,
    "mmdet3-faster-rcnn-voc-log": mmdet3_faster_rcnn_voc_log,
    "nanogpt-seis-train-eval-log": nanogpt_seis_train_eval_log,
    "dgcnn-train-epoch-log": dgcnn_train_epoch_log,
    "keras-fit-cats-dogs-log": keras_fit_cats_dogs_log,
    "keras-fit-progress-bars-log": keras_fit_progress_bars_log,
    "captioning-epoch-step-log": captioning_epoch_step_log,
    "gpt2-lora-python-logging-log": gpt2_lora_python_logging_log,
    "en-de-transformer-nohup-log": en_de_transformer_nohup_log,
    "csta-appended-restarts-log": csta_appended_restarts_log,
    "nmt-train-valid-csv-logs": nmt_train_valid_csv_logs,
    "tf-estimator-bert-log": tf_estimator_bert_log,
    "fast-scnn-epoch-iter-log": fast_scnn_epoch_iter_log,
    "cls-train-tagged-report-log": cls_train_tagged_report_log,
    "yolox-crlf-gbk-restarts-log": yolox_crlf_gbk_restarts_log,
    "segmentation-restarts-percent-log": segmentation_restarts_percent_log,
    "cgcnn-pprint-args-log": cgcnn_pprint_args_log,
    "lora-step-brackets-eval-samples-log": lora_step_brackets_eval_samples_log,
    "fairseq-train-inner-lines": fairseq_train_inner_lines,
    "fairseq-valid-subset-lines": fairseq_valid_subset_lines,
    "pretrain-resumed-step-pipes-log": pretrain_resumed_step_pipes_log,
    "verl-grpo-ray-console": verl_grpo_ray_console,
    "mmdet2-retinanet-coco-log": mmdet2_retinanet_coco_log,
}


def render(art: str) -> str:
    """The expected.json text of one artifact, as this reader sees its files."""
    return json.dumps(READERS[art](), indent=1) + "\n"


def main(args: list[str]) -> int:
    check = "--check" in args
    ids = [a for a in args if a != "--check"] or list(READERS)
    stale = []
    for art in ids:
        text = render(art)
        path = REAL / art / "expected.json"
        if check:
            if not path.is_file() or path.read_text() != text:
                stale.append(art)
            continue
        path.write_text(text)
        out = json.loads(text)
        print(art, {k: (v["points"], v["last_step"]) for k, v in out["metrics"].items()})
    if stale:
        print("expected.json differs from the reading:", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
