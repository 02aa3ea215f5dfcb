"""Bad input never raises out of walk.read: a failure or a warning, one line each."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from expbook.importers import walk
from expbook.importers.registry import ParseOptions

BINARY = bytes(range(256)) * 8

CASES = [
    # name, content, expected failure reason (substring) or None for a partial import
    ("empty.log", b"", "empty log"),
    ("empty.csv", b"", "empty CSV file"),
    ("empty.jsonl", b"", "empty JSONL file"),
    ("empty.json", b"", "empty JSON file"),
    ("blank.log", b"\n\n   \n", "no metrics found in 3 line(s)"),
    ("binary.log", BINARY, "binary data, not a text log"),
    ("binary.csv", BINARY, "binary data, not a text CSV file"),
    ("truncated.json", b'[{"step": 1, "loss": 0.5}, {"step": 2, "lo', "invalid JSON"),
    ("ragged.csv", b"step,loss\n1,0.5,7\n2,0.4,8\n3\n", "ragged CSV: 3 of 3 data rows"),
    ("header_only.csv", b"step,loss\n", "CSV has a header but no data rows"),
    ("no_header.csv", b"1,2\n3,4\n", "no header row"),
    ("words.csv", b"a,b\nx,y\n", "no numeric columns"),
    ("mostly_bad.jsonl", b'{]\nnope\n{"a": 1}\n', "not JSONL: 2 of 3 lines"),
    ("utf16.log", "step 1 loss=0.5\n".encode("utf-16"), None),
    ("latin1.log", "step 1 loss=0.5 caf\xe9\nstep 2 loss=0.4\n".encode("latin-1"), None),
    ("truncated.jsonl", b'{"step": 1, "loss": 0.5}\n{"step": 2, "loss": 0.4}\n{"st', None),
    ("ragged_some.csv", b"step,loss\n1,0.5\n2,0.4,x\n3,0.3\n", None),
]


@pytest.mark.parametrize(("name", "content", "reason"), CASES, ids=[c[0] for c in CASES])
def test_bad_files(tmp_path: Path, name: str, content: bytes, reason: str | None) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    units = walk.plan([str(p)])
    assert len(units) == 1
    runs, failures = walk.read(units[0], ParseOptions())
    if reason is None:
        (run,) = runs
        assert failures == []
        assert run.n_points >= 1
        for w in run.warnings:
            assert "\n" not in w
        if name != "utf16.log":
            assert len(run.warnings) == 1
    else:
        assert runs == []
        (f,) = failures
        assert reason in f.reason
        assert "\n" not in f.reason and "Traceback" not in f.reason


def test_partial_imports_say_how_much(tmp_path: Path) -> None:
    p = tmp_path / "ragged_some.csv"
    p.write_bytes(b"step,loss\n1,0.5\n2,0.4,x\n3,0.3\n")
    (run,), _ = walk.read(walk.plan([str(p)])[0])
    assert run.warnings == ["1 of 3 data rows have the wrong number of fields (skipped)"]
    q = tmp_path / "latin1.log"
    q.write_bytes("step 1 loss=0.5 caf\xe9\n".encode("latin-1"))
    (run,), _ = walk.read(walk.plan([str(q)])[0])
    assert run.warnings == ["not valid UTF-8: 1 undecodable byte(s) replaced"]


def test_log_with_nan_inf_and_missing_values(tmp_path: Path) -> None:
    p = tmp_path / "train.log"
    p.write_text(
        "step 1 | loss=nan | acc=-\n"
        "step 2 | loss=inf | acc=0.5\n"
        "step 3 | loss=-inf | acc=-\n"
        "step 4 | loss=0.25 | acc=NaN\n"
    )
    (run,), failures = walk.read(walk.plan([str(p)])[0])
    assert failures == []
    loss = run.series["loss"]
    assert [s for s, _, _ in loss] == [1, 2, 3, 4]
    assert math.isnan(loss[0][1]) and loss[1][1] == math.inf and loss[2][1] == -math.inf
    assert loss[3][1] == 0.25
    acc = run.series["acc"]
    assert [s for s, _, _ in acc] == [2, 4]  # '-' is missing, NaN is a value
    assert acc[0][1] == 0.5 and math.isnan(acc[1][1])


def test_bad_files_inside_a_run_folder_become_warnings(tmp_path: Path) -> None:
    d = tmp_path / "run1"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"lr": 0.1}))
    (d / "metrics.csv").write_bytes(BINARY)
    (d / "summary.txt").write_text("acc=0.9\n")
    (d / "preds.csv").write_text("y_true,y_pred\n")
    (run,), failures = walk.read(walk.plan([str(tmp_path)])[0])
    assert failures == []
    assert run.config == {"lr": 0.1}
    assert run.summary == {"acc": 0.9}
    assert run.warnings == [
        "metrics.csv: binary data, not a text CSV file",
        "preds.csv: CSV has a header but no data rows",
    ]


def test_unreadable_file_permissions(tmp_path: Path) -> None:
    p = tmp_path / "locked.log"
    p.write_text("step 1 loss=0.5\n")
    p.chmod(0)
    try:
        u = walk.Unit("textlog", str(p), module="textlog")
        runs, failures = walk.read(u)
        if runs:  # running as root: permissions are not enforced
            assert runs[0].series["loss"][0][:2] == (1, 0.5)
        else:
            assert failures[0].reason.startswith("cannot read file")
    finally:
        p.chmod(0o644)
