"""Text-log inference and the --pattern language."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from expbook.importers import pattern, textlog
from expbook.importers.model import ParseError
from expbook.importers.registry import ParseOptions


def parse(text: str, pat: str | None = None) -> textlog.LogResult:
    return textlog.parse_text(text, ParseOptions(pattern=pat))


def pts(res: textlog.LogResult, key: str) -> list[tuple[int, float]]:
    return [(s, v) for s, v, _ in res.series[key]]


SEED002_LIKE = """\
[w3_25m] run=w3_25m_screen_x cmd: python train.py --model ngt --max-steps 1500 --seed 42
config: dataset=wikitext103 tokenizer=bpe vocab_size=8192 dropout=0.1 lr=0.0003 model=ngt
tokenizer: loaded BPE vocab_size=8192 from data/wikitext103/bpe_8192.json
params: 25.9M
step 500/1500 | loss=7.3667 | val_loss=7.418164 | lr=3.00e-04 | elapsed=136.7s
  saved best -> checkpoints/w3/x.pt_best.pt (val_loss=7.418164)
step 1000/1500 | loss=6.1000 | val_loss=6.200001 | lr=2.00e-04 | elapsed=270.1s
  saved best -> checkpoints/w3/x.pt_best.pt (val_loss=6.200001)
step 1500/1500 | loss=6.0000 | val_loss=6.300000 | lr=0.00e+00 | elapsed=400.0s
  saved last -> checkpoints/w3/x.pt_last.pt (iter=1500)
done: iter=1500 total_elapsed=400.0s
"""


def test_key_value_log_with_header_config_and_checkpoints() -> None:
    r = parse(SEED002_LIKE)
    assert pts(r, "val_loss") == [(500, 7.418164), (1000, 6.200001), (1500, 6.3)]
    assert pts(r, "lr") == [(500, 3e-4), (1000, 2e-4), (1500, 0.0)]
    assert pts(r, "elapsed") == [(500, 136.7), (1000, 270.1), (1500, 400.0)]
    assert set(r.series) == {"loss", "val_loss", "lr", "elapsed"}  # checkpoint lines: no points
    assert r.config["dataset"] == "wikitext103"
    assert r.config["vocab_size"] == 8192
    assert r.config["dropout"] == 0.1
    assert r.config["run"] == "w3_25m_screen_x"
    assert r.config["params"] == 25_900_000
    assert r.config["cmd"].startswith("python train.py --model ngt")
    assert r.summary["checkpoint/best"] == "checkpoints/w3/x.pt_best.pt"
    assert r.summary["checkpoint/best_step"] == 1000
    assert r.summary["checkpoint/last"] == "checkpoints/w3/x.pt_last.pt"
    assert r.summary["checkpoint/last_step"] == 1500
    assert r.summary["done/iter"] == 1500
    assert r.summary["done/total_elapsed"] == 400.0
    assert r.skipped == 0
    assert r.status == "finished"


CONSOLE = """\
EPOCHS = 200
LEARNING_RATE = 0.001
HIDDEN_CHANNELS = 4096 # MLP might need more capacity
VAL_SPLIT = 0.1 # 10% of the original training data

Loaded attention dataset: 1000 graphs
Starting training...

Epoch: 001, Train Loss: 0.6894, Test Loss: 0.6937, Test Acc: 0.6953, Test F1: 0.0478
Epoch: 010, Train Loss: 0.6047, Test Loss: 0.6128, Test Acc: 0.7358, Test F1: 0.2138

--- Training Complete ---
Best Test F1 Score: 0.8816 at Epoch 187
Training history saved to out/training_history.csv

--- Final Evaluation on Test Set using Best Model ---
Final Results - Test Loss: 0.2136, Test Acc (non-diag): 0.9064, Test F1 (non-diag): 0.8816

--- Example 1 (Graph ID: 521) ---
[[0 1 0]
 [1 0 1]]
"""


def test_key_name_colon_log_params_and_summaries() -> None:
    r = parse(CONSOLE)
    assert r.config == {
        "EPOCHS": 200,
        "LEARNING_RATE": 0.001,
        "HIDDEN_CHANNELS": 4096,
        "VAL_SPLIT": 0.1,
    }
    assert pts(r, "train_loss") == [(1, 0.6894), (10, 0.6047)]
    assert pts(r, "test_acc") == [(1, 0.6953), (10, 0.7358)]
    assert pts(r, "test_f1") == [(1, 0.0478), (10, 0.2138)]
    assert r.summary["best_test_f1_score"] == 0.8816
    assert r.summary["best_test_f1_score_epoch"] == 187
    assert r.summary["final/test_loss"] == 0.2136
    assert r.summary["final/test_acc_non_diag"] == 0.9064
    assert r.summary["final/test_f1_non_diag"] == 0.8816
    assert "graph_id" not in r.series and "graph_id" not in r.summary
    # loaded/starting lines, the saved-history line, decorations and the matrix rows
    assert r.skipped == 8


@pytest.mark.parametrize(
    ("line", "step"),
    [
        ("step 500/15000 loss=1.5", 500),
        ("[step 500] loss=1.5", 500),
        ("Epoch: 050, loss: 1.5", 50),
        ("iter 10: loss=1.5", 10),
        ("Epoch 3/10 - loss: 1.5", 3),
        ("epoch=7 loss=1.5", 7),
        ("Train Epoch: 4 [0/60000 (0%)]\tLoss: 1.5", 4),
        ("global_step=900 loss=1.5", 900),
    ],
)
def test_step_counter_forms(line: str, step: int) -> None:
    r = parse(line + "\n")
    assert pts(r, "loss") == [(step, 1.5)]


def test_epoch_and_step_make_a_global_step() -> None:
    r = parse(
        "Epoch [1/2], Step [100/600], Loss: 0.5000\n"
        "Epoch [1/2], Step [200/600], Loss: 0.4000\n"
        "Epoch [2/2], Step [100/600], Loss: 0.3000\n"
    )
    assert pts(r, "loss") == [(100, 0.5), (200, 0.4), (700, 0.3)]
    assert pts(r, "epoch") == [(100, 1.0), (200, 1.0), (700, 2.0)]


def test_nan_inf_missing_and_units() -> None:
    r = parse(
        "epoch 1 loss=0.5 acc=nan\n"
        "epoch 2 loss=- acc=inf\n"
        "epoch 3 loss=-inf acc=0.5 time=12ms\n"
        "epoch 4 loss=None acc=-0.25 elapsed=136.7s\n"
    )
    loss = pts(r, "loss")
    assert loss[0] == (1, 0.5)
    assert loss[1][0] == 3 and loss[1][1] == -math.inf
    assert len(loss) == 2  # '-' and None are missing, not zero
    acc = pts(r, "acc")
    assert acc[0][0] == 1 and math.isnan(acc[0][1])
    assert acc[1] == (2, math.inf)
    assert acc[2:] == [(3, 0.5), (4, -0.25)]
    assert pts(r, "time") == [(3, 12.0)]
    assert pts(r, "elapsed") == [(4, 136.7)]


def test_traceback_marks_failed_and_is_skipped() -> None:
    r = parse(
        "step 1 loss=0.5\n"
        "step 2 loss=0.4\n"
        "Traceback (most recent call last):\n"
        '  File "train.py", line 10, in <module>\n'
        "    main(lr=3)\n"
        "RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB\n"
    )
    assert r.status == "failed"
    assert pts(r, "loss") == [(1, 0.5), (2, 0.4)]
    assert set(r.series) == {"loss"}
    assert r.skipped == 4
    assert r.summary["error"].startswith("RuntimeError: CUDA out of memory")


def test_keyboard_interrupt_is_killed() -> None:
    r = parse("step 1 loss=0.5\nTraceback (most recent call last):\n  x\nKeyboardInterrupt\n")
    assert r.status == "killed"


def test_warnings_are_skipped_and_counted() -> None:
    r = parse(
        "step 1 loss=0.5\n"
        "/x/y.py:12: UserWarning: something 3 times\n"
        "WARNING: lr=5 is high\n"
        "step 2 loss=0.4\n"
    )
    assert pts(r, "loss") == [(1, 0.5), (2, 0.4)]
    assert "lr" not in r.series
    assert r.skipped == 2


def test_multi_line_step_blocks_carry_the_step() -> None:
    r = parse("Epoch 3/10\n  train_loss: 0.2\n  val_loss: 0.3\nEpoch 4/10\n  train_loss: 0.1\n")
    assert pts(r, "train_loss") == [(3, 0.2), (4, 0.1)]
    assert pts(r, "val_loss") == [(3, 0.3)]


def test_fraction_after_a_field_is_a_ratio() -> None:
    r = parse("epoch 1\nTest set: Average loss: 0.0331, Accuracy: 9893/10000 (99%)\n")
    assert pts(r, "average_loss") == [(1, 0.0331)]
    assert pts(r, "accuracy") == [(1, 0.9893)]


def test_log_without_counters_uses_repetition_index() -> None:
    r = parse("lr=0.1\nloss=0.5 acc=0.1\nloss=0.4 acc=0.2\nloss=0.3 acc=0.3\n")
    assert pts(r, "loss") == [(0, 0.5), (1, 0.4), (2, 0.3)]
    assert r.config == {"lr": 0.1}


def test_hf_style_dict_lines_with_fractional_epoch() -> None:
    r = parse(
        "{'loss': 0.5, 'learning_rate': 5e-05, 'epoch': 0.5}\n"
        "{'loss': 0.4, 'learning_rate': 4e-05, 'epoch': 1.0}\n"
    )
    assert pts(r, "loss") == [(0, 0.5), (1, 0.4)]
    assert pts(r, "epoch") == [(0, 0.5), (1, 1.0)]


def test_leading_timestamps_give_wall_times() -> None:
    r = parse(
        "2024-01-02 12:00:00,100 - root - INFO - epoch=1 loss=0.5\n"
        "2024-01-02 12:00:01,600 - root - INFO - epoch=2 loss=0.4\n"
    )
    (s1, v1, w1), (s2, v2, w2) = r.series["loss"]
    assert (s1, v1, s2, v2) == (1, 0.5, 2, 0.4)
    assert w1 is not None and w2 is not None
    assert w2 - w1 == pytest.approx(1.5)


def test_irregular_lines_in_a_group_fall_back_per_line() -> None:
    # same shape once digits are removed, but different keys: must not be mixed up
    r = parse("step 1 test_f1=0.5\nstep 2 test_f2=0.7\nstep 3 test_f1=0.6\n")
    assert pts(r, "test_f1") == [(1, 0.5), (3, 0.6)]
    assert pts(r, "test_f2") == [(2, 0.7)]


def test_crlf_and_carriage_return_progress_lines() -> None:
    r = parse("step 1 loss=0.5\r\nstep 2 loss=0.4\rstep 3 loss=0.3\r\n")
    assert pts(r, "loss") == [(1, 0.5), (2, 0.4), (3, 0.3)]


def test_many_lines_bulk_path_matches_per_line_values() -> None:
    lines = [f"step {i} | loss={1 / (i + 1):.6f} | acc={i % 7 / 7:.4f}" for i in range(5000)]
    r = parse("\n".join(lines) + "\n")
    loss = pts(r, "loss")
    assert len(loss) == 5000
    assert loss[1234] == (1234, float(f"{1 / 1235:.6f}"))
    assert pts(r, "acc")[4999] == (4999, float(f"{4999 % 7 / 7:.4f}"))


# -------------------------------------------------------------------------------------------
# files


def test_parse_file_names_run_after_stem(tmp_path: Path) -> None:
    p = tmp_path / "w3_25m_screen_vanilla.log"
    p.write_text(SEED002_LIKE)
    (run,) = textlog.parse(str(p), ParseOptions(project="proj"))
    assert run.name == "w3_25m_screen_vanilla"
    assert run.format == "textlog"
    assert run.project == "proj"
    assert run.source == str(p)
    assert run.files[0].size == p.stat().st_size


def test_generic_log_name_uses_folder_name(tmp_path: Path) -> None:
    d = tmp_path / "my_run"
    d.mkdir()
    (d / "console.log").write_text("step 1 loss=0.5\n")
    (run,) = textlog.parse(str(d / "console.log"))
    assert run.name == "my_run"


def test_log_without_metrics_is_a_parse_error(tmp_path: Path) -> None:
    p = tmp_path / "notes.log"
    p.write_text("hello\nworld\n")
    with pytest.raises(ParseError, match="no metrics found in 2 line"):
        textlog.parse(str(p))


def test_sniff_prefers_logs_with_counters() -> None:
    head = b"step 1 loss=0.5\nstep 2 loss=0.4\n"
    assert textlog.sniff_file("a.log", head) >= 50
    assert textlog.sniff_file("a.txt", head) >= 50
    assert textlog.sniff_file("notes.txt", b"just some text\n") == 0
    assert textlog.sniff_file("a.log", b"\x00\x01binary") == 0


# -------------------------------------------------------------------------------------------
# --pattern


def test_pattern_basic_and_unmatched_lines_counted() -> None:
    text = "step 1 loss 0.5 acc 0.1\nnoise\nstep 2 loss 0.4 acc -\nstep 3  loss   0.3 acc 0.3\n"
    r = parse(text, "step {step:int} loss {loss} acc {acc}")
    assert pts(r, "loss") == [(1, 0.5), (2, 0.4), (3, 0.3)]
    assert pts(r, "acc") == [(1, 0.1), (3, 0.3)]  # '-' is missing
    assert r.skipped == 1


def test_pattern_wildcards_prefix_summary_and_alternatives() -> None:
    text = "[12:00] train | epoch 1 | loss 0.5\n[12:01] val | epoch 1 | loss 0.6\nbest acc 0.91\n"
    spec = "[{_}] {split:str} | epoch {epoch} | loss {loss} || best acc {best_acc:summary}"
    r = parse(text, spec)
    assert pts(r, "train/loss") == [(1, 0.5)]
    assert pts(r, "val/loss") == [(1, 0.6)]
    assert r.summary == {"best_acc": 0.91}


def test_pattern_without_step_uses_match_index_and_nan() -> None:
    r = parse("loss=0.5\nloss=nan\n", "loss={loss}")
    loss = pts(r, "loss")
    assert loss[0] == (0, 0.5)
    assert loss[1][0] == 1 and math.isnan(loss[1][1])


@pytest.mark.parametrize(
    ("spec", "msg"),
    [
        ("", "empty"),
        ("loss {loss:weird}", "unknown field type"),
        ("loss {loss", "bad field"),
        ("just text", "no fields"),
        ("a } b {x}", "unmatched"),
    ],
)
def test_bad_patterns_raise_one_line_parse_error(spec: str, msg: str) -> None:
    with pytest.raises(ParseError, match=msg) as ei:
        pattern.compile_pattern(spec)
    assert "\n" not in str(ei.value)
