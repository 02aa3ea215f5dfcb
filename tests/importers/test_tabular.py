"""CSV/TSV/JSON/JSONL metric files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from expbook.importers import tabular
from expbook.importers.model import ParseError


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return str(p)


def one(path: str):
    (run,) = tabular.parse(path)
    return run


def sv(run, key: str) -> list[tuple[int, float]]:
    return [(s, v) for s, v, _ in run.series[key]]


def test_wide_csv_blank_cells_are_missing_not_zero(tmp_path: Path) -> None:
    run = one(write(tmp_path, "m.csv", "epoch,train_loss,val_loss\n1,0.5,\n2,0.4,0.45\n3,,0.40\n"))
    assert sv(run, "train_loss") == [(1, 0.5), (2, 0.4)]
    assert sv(run, "val_loss") == [(2, 0.45), (3, 0.4)]
    assert "epoch" not in run.series
    assert run.name == "m"
    assert run.format == "tabular"


def test_step_and_epoch_columns_and_text_columns(tmp_path: Path) -> None:
    run = one(
        write(tmp_path, "m.csv", "step,epoch,note,loss\n10,0,a,1.0\n20,0,b,0.5\n30,1,c,nan\n")
    )
    assert sv(run, "epoch") == [(10, 0.0), (20, 0.0), (30, 1.0)]
    assert sv(run, "loss")[:2] == [(10, 1.0), (20, 0.5)]
    assert math.isnan(sv(run, "loss")[2][1])
    assert "note" not in run.series


def test_no_step_column_uses_row_index(tmp_path: Path) -> None:
    run = one(write(tmp_path, "m.tsv", "loss\tacc\n0.5\t0.1\n0.4\t0.2\n"))
    assert sv(run, "acc") == [(0, 0.1), (1, 0.2)]


def test_timestamp_column_is_wall_time(tmp_path: Path) -> None:
    run = one(
        write(tmp_path, "m.csv", "step,timestamp,loss\n1,1700000000.5,0.5\n2,1700000001.5,0.4\n")
    )
    assert run.series["loss"] == [(1, 0.5, 1700000000.5), (2, 0.4, 1700000001.5)]
    assert "timestamp" not in run.series


def test_phase_column_with_continuing_steps_stays_one_series(tmp_path: Path) -> None:
    text = "iteration,phase,loss\n10,adam,0.4\n20,adam,0.1\n21,lbfgs,1e-5\n22,lbfgs,1e-9\n"
    run = one(write(tmp_path, "history.csv", text))
    assert sv(run, "loss") == [(10, 0.4), (20, 0.1), (21, 1e-5), (22, 1e-9)]
    assert run.summary["phase/adam/first_step"] == 10
    assert run.summary["phase/adam/last_step"] == 20
    assert run.summary["phase/lbfgs/first_step"] == 21
    assert run.summary["phase/lbfgs/last_step"] == 22


def test_split_column_with_shared_steps_is_prefixed(tmp_path: Path) -> None:
    text = "epoch,split,loss\n1,train,0.5\n1,val,0.6\n2,train,0.4\n2,val,0.55\n"
    run = one(write(tmp_path, "m.csv", text))
    assert sv(run, "train/loss") == [(1, 0.5), (2, 0.4)]
    assert sv(run, "val/loss") == [(1, 0.6), (2, 0.55)]


def test_jsonl_stages_restarting_epochs_are_prefixed(tmp_path: Path) -> None:
    rows = [{"stage": "a", "epoch": e, "loss": 1 / e, "lr": 0.1} for e in (1, 2, 3)]
    rows += [{"stage": "b", "epoch": e, "loss": 2 / e, "extra": {"gn": e}} for e in (1, 2)]
    run = one(write(tmp_path, "metrics.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n"))
    assert sv(run, "a/loss") == [(1, 1.0), (2, 0.5), (3, 1 / 3)]
    assert sv(run, "b/loss") == [(1, 2.0), (2, 1.0)]
    assert sv(run, "b/extra/gn") == [(1, 1.0), (2, 2.0)]
    assert "a/lr" in run.series and "b/lr" not in run.series


def test_jsonl_truncated_last_line_is_a_warning(tmp_path: Path) -> None:
    text = '{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.4}\n{"step": 3, "lo'
    run = one(write(tmp_path, "m.jsonl", text))
    assert sv(run, "loss") == [(1, 0.5), (2, 0.4)]
    assert run.warnings == ["1 of 3 lines skipped (truncated last line)"]


def test_json_forms(tmp_path: Path) -> None:
    recs = one(write(tmp_path, "a.json", json.dumps([{"step": 1, "x": 2}, {"step": 2, "x": 3}])))
    assert sv(recs, "x") == [(1, 2.0), (2, 3.0)]
    keras = one(
        write(tmp_path, "history.json", json.dumps({"loss": [3, 2, 1], "acc": [0, 0.5, 1]}))
    )
    assert sv(keras, "loss") == [(0, 3.0), (1, 2.0), (2, 1.0)]
    nested = {
        "best_metric": 0.9,
        "log_history": [{"step": 5, "loss": 1.5}, {"step": 10, "loss": 1}],
    }
    wrapped = one(write(tmp_path, "state.json", json.dumps(nested)))
    assert sv(wrapped, "loss") == [(5, 1.5), (10, 1.0)]
    assert wrapped.summary == {"best_metric": 0.9}
    with pytest.raises(ParseError, match="without per-step records"):
        tabular.parse(write(tmp_path, "flat.json", json.dumps({"acc": 0.9})))


def test_long_format(tmp_path: Path) -> None:
    text = "key,step,value\nloss,1,0.5\nacc,1,0.1\nloss,2,0.4\n"
    run = one(write(tmp_path, "long.csv", text))
    assert sv(run, "loss") == [(1, 0.5), (2, 0.4)]
    assert sv(run, "acc") == [(1, 0.1)]


def test_run_table_alone_gives_one_summary_run_per_row(tmp_path: Path) -> None:
    text = (
        'model,flags,run,best_val_loss,best_step\nvanilla,"a,b",r1,4.5,13500\nngt,c,r2,4.6,13000\n'
    )
    runs = tabular.parse(write(tmp_path, "results.csv", text))
    assert [r.name for r in runs] == ["r1", "r2"]
    assert runs[0].summary == {
        "model": "vanilla",
        "flags": "a,b",
        "best_val_loss": 4.5,
        "best_step": 13500,
    }
    assert runs[1].external_id == "r2"
    assert not runs[0].series


def test_table_with_run_and_step_columns_is_several_runs(tmp_path: Path) -> None:
    text = "run,step,loss\na,1,0.5\nb,1,0.7\na,2,0.4\n"
    runs = {r.name: r for r in tabular.parse(write(tmp_path, "all.csv", text))}
    assert sv(runs["a"], "loss") == [(1, 0.5), (2, 0.4)]
    assert sv(runs["b"], "loss") == [(1, 0.7)]


def test_ragged_minority_is_partial_with_warning(tmp_path: Path) -> None:
    run = one(write(tmp_path, "m.csv", "step,loss\n1,0.5\n2,0.4,9\n3,0.3\n4,0.2\n"))
    assert sv(run, "loss") == [(1, 0.5), (3, 0.3), (4, 0.2)]
    assert run.warnings == ["1 of 4 data rows have the wrong number of fields (skipped)"]


@pytest.mark.parametrize(
    ("content", "msg"),
    [
        (b"", "empty"),
        (b"step,loss\n", "no data rows"),
        (b"step,loss\n1,2,3\n4,5,6\n", "ragged CSV: 2 of 2 data rows"),
        (b"1,2\n3,4\n", "no header row"),
        (b"\x00\x01\x02\x03PK\x03\x04" * 20, "binary"),
        (b"a,b\nx,y\n", "no numeric columns"),
    ],
)
def test_bad_csv_gives_one_line_parse_error(tmp_path: Path, content: bytes, msg: str) -> None:
    with pytest.raises(ParseError, match=msg) as ei:
        tabular.parse(write(tmp_path, "bad.csv", content))
    assert "\n" not in str(ei.value)


def test_non_utf8_csv_is_partial_with_warning(tmp_path: Path) -> None:
    run = one(write(tmp_path, "m.csv", "step,loss,caf\xe9\n1,0.5,x\n2,0.4,y\n".encode("latin-1")))
    assert sv(run, "loss") == [(1, 0.5), (2, 0.4)]
    assert run.warnings == ["not valid UTF-8: 1 undecodable byte(s) replaced"]


def test_non_numeric_cells_in_numeric_column(tmp_path: Path) -> None:
    run = one(write(tmp_path, "m.csv", "step,loss\n1,0.5\n2,oops\n3,0.3\n"))
    assert sv(run, "loss") == [(1, 0.5), (3, 0.3)]
    assert "1 non-numeric cell(s)" in run.warnings[0]


def test_sniff(tmp_path: Path) -> None:
    assert tabular.sniff_file("m.csv", b"epoch,loss\n1,2\n") == 80
    assert tabular.sniff_file("m.csv", b"a,b\n1,2\n") == 70
    assert tabular.sniff_file("m.jsonl", b'{"a": 1}\n') == 80
    assert tabular.sniff_file("m.json", b"[{}]") == 70
    assert tabular.sniff_file("m.txt", b"a,b\n") == 0
    assert tabular.sniff_file("m.csv", b"\x00\x00\x00") == 0
