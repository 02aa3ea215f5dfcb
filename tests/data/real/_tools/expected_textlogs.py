"""expected.json for the real console/text training logs, read with regular expressions.

Independent of expbook: only the standard library (re, json, math). Each artifact has one
reader below that names, line by line, what the log says; the series names are the ones a
user expects from expbook (the file's own label, lower-cased with '_' for spaces, and
train/ val/ prefixes where the log prints the same label for both splits).

Usage: python expected_textlogs.py [ID ...]   (any directory; no ID: all of them)
"""

from __future__ import annotations

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
}


def main(ids: list[str]) -> None:
    for art in ids or list(READERS):
        out = READERS[art]()
        (REAL / art / "expected.json").write_text(json.dumps(out, indent=1) + "\n")
        print(art, {k: (v["points"], v["last_step"]) for k, v in out["metrics"].items()})


if __name__ == "__main__":
    main(sys.argv[1:])
