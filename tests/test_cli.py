"""The command line: JSON contracts, formats, and every error path."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import subprocess
import sys

import pytest

import expbook


@pytest.fixture
def two_runs(store_path: str) -> list[str]:
    ids = []
    for name, lr in (("alpha", 0.1), ("beta", 0.2)):
        run = expbook.init(
            project="cli",
            name=name,
            config={"lr": lr, "opt": {"name": "adam"}},
            tags=["t1"],
            store=store_path,
        )
        run.log({"loss": 2.0, "acc": 0.5})
        run.log({"loss": float("nan")})
        run.log({"loss": float("inf")})
        run.log({"loss": -float("inf"), "acc": 0.9})
        run.finish()
        ids.append(run.id)
    return ids


def test_runs_json_contract(cli_run, two_runs) -> None:
    code, out, err = cli_run("runs", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert [r["name"] for r in data] == ["alpha", "beta"]
    r = data[0]
    for field in (
        "id",
        "name",
        "project",
        "status",
        "created_at",
        "tags",
        "config",
        "summary",
        "source",
    ):
        assert field in r
    assert r["status"] == "finished" and r["project"] == "cli" and r["tags"] == ["t1"]
    assert r["config"] == {"lr": 0.1, "opt": {"name": "adam"}}
    assert r["summary"] == {"acc": 0.9, "loss": -math.inf}
    assert r["source"] == {"kind": "logged"}
    assert r["id"] == two_runs[0]


def test_history_json_contract_and_special_floats(cli_run, two_runs) -> None:
    code, out, _ = cli_run("history", "alpha", "loss", "--format", "json")
    assert code == 0
    assert '"NaN"' not in out and "NaN" in out and "Infinity" in out and "-Infinity" in out
    data = json.loads(out)
    assert list(data) == ["loss"]
    steps = [s for s, _ in data["loss"]]
    assert steps == [0, 1, 2, 3]
    vals = [v for _, v in data["loss"]]
    assert vals[0] == 2.0 and math.isnan(vals[1]) and vals[2] == math.inf and vals[3] == -math.inf
    code, out, _ = cli_run("history", two_runs[1][:5], "--format", "json")
    assert set(json.loads(out)) == {"acc", "loss"}


def test_history_csv_and_table(cli_run, two_runs) -> None:
    code, out, _ = cli_run("history", "alpha", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["step", "acc", "loss"]
    assert rows[1] == ["0", "0.5", "2.0"] and rows[2] == ["1", "", "NaN"]
    code, out, _ = cli_run("history", "alpha")
    assert code == 0 and "loss" in out and "NaN" in out


def test_runs_table_and_csv(cli_run, two_runs) -> None:
    code, out, _ = cli_run("runs")
    assert code == 0 and "alpha" in out and "beta" in out and "finished" in out
    code, out, _ = cli_run("runs", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["config.lr"] == "0.1" and rows[0]["config.opt.name"] == "adam"
    code, out, _ = cli_run("runs", "--project", "nope", "--format", "json")
    assert json.loads(out) == []


def test_show(cli_run, two_runs) -> None:
    code, out, _ = cli_run("show", "beta", "--format", "json")
    obj = json.loads(out)
    assert obj["name"] == "beta" and obj["metrics"]["loss"]["count"] == 4
    assert obj["metrics"]["loss"]["nan_count"] == 1
    assert obj["metrics"]["loss"]["min_value"] == -math.inf
    code, out, _ = cli_run("show", "beta")
    assert code == 0 and "lr" in out and "opt.name" in out


def test_rm(cli_run, two_runs, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code, _, err = cli_run("rm", "alpha")
    assert code == 1 and "--yes" in err and len(err.strip().splitlines()) == 1
    code, out, _ = cli_run("rm", "alpha", "--yes", "--format", "json")
    assert code == 0 and json.loads(out) == {"deleted": [two_runs[0]], "count": 1}
    code, out, _ = cli_run("runs", "--format", "json")
    assert [r["name"] for r in json.loads(out)] == ["beta"]
    # all or nothing: one unknown run deletes none
    code, _, err = cli_run("rm", "beta", "ghost", "--yes")
    assert code == 1 and "ghost" in err
    code, out, _ = cli_run("runs", "--format", "json")
    assert len(json.loads(out)) == 1


@pytest.mark.parametrize(
    "args, needle",
    [
        (["show", "ghost"], "no run matches 'ghost'"),
        (["history", "ghost"], "no run matches"),
        (["history", "alpha", "nokey"], "no metric 'nokey'"),
        (["runs", "--format", "xml"], "xml"),
        (["runs", "--bogus"], "--bogus"),
        (["nosuchcommand"], "nosuchcommand"),
        (["show"], "RUN"),
    ],
)
def test_errors_are_one_line(cli_run, two_runs, args, needle) -> None:
    code, _out, err = cli_run(*args)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("expbook: error:")
    assert "Traceback" not in err


def test_ambiguous_name(cli_run, store_path) -> None:
    for _ in range(2):
        expbook.init(name="dup", store=store_path).finish()
    code, _, err = cli_run("show", "dup")
    assert code == 1 and "2 runs are named 'dup'" in err


def test_unusable_store_paths(cli_run, tmp_path) -> None:
    notdb = tmp_path / "file.txt"
    notdb.write_text("plain text")
    code, _, err = cli_run("runs", "--store", str(notdb), store=False)
    assert code == 1 and "not an expbook store" in err
    code, _, err = cli_run("runs", "--store", str(tmp_path / "missing"), store=False)
    assert code == 1 and "no expbook store" in err
    code, _, err = cli_run("runs", store=False)  # cwd is an empty tmp dir
    assert code == 1 and "expbook demo" in err
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    code, _, err = cli_run("runs", "--store", str(corrupt), store=False)
    assert code == 1 and err.startswith("expbook: error:") and "Traceback" not in err


def test_demo_json(cli_run, store_path) -> None:
    code, out, err = cli_run("demo", "--runs", "3", "--steps", "20", "--format", "json")
    assert code == 0, err
    board = json.loads(out)
    assert board["kind"] == "leaderboard" and board["metric"] == "val_loss"
    assert len(board["rows"]) == 3
    best = [r["best"] for r in board["rows"]]
    assert best == sorted(best) and all(r["status"] == "finished" for r in board["rows"])
    assert {"hidden", "lr", "val_acc"} <= set(board["columns"])
    code, out, _ = cli_run("runs", "--project", "demo", "--format", "json")
    assert {r["status"] for r in json.loads(out)} == {"finished"}


def test_demo_default_store_and_table(tmp_path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "expbook", "demo", "--runs", "8", "--steps", "30"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert p.returncode == 0, p.stderr
    assert (tmp_path / ".expbook" / "expbook.db").exists()
    assert "leaderboard" in p.stdout and "Try next" in p.stdout
    report = tmp_path / "expbook-demo-report.md"
    assert "Report: expbook-demo-report.md" in p.stdout and report.exists()
    text = report.read_text()
    assert "<!-- expbook:begin" in text and "mlp-h4-lr3" in text
    assert len(expbook.open_store(str(tmp_path / ".expbook")).run_records()) == 8
    # it ends by saying how to open the dashboard, where the report is listed
    assert p.stdout.rstrip().splitlines()[-1].endswith("expbook ui --store .expbook")
    from expbook.store import SQLiteStore

    with SQLiteStore(tmp_path / ".expbook", readonly=True) as st:
        (kept,) = st.reports()
    assert kept["path"] == str(report) and kept["project"] == "demo"


def test_help_and_version(cli_run) -> None:
    for cmd in ("runs", "show", "history", "rm", "demo"):
        code, out, _ = cli_run(cmd, "-h", store=False)
        assert code == 0 and "--store" in out and "--format" in out
    code, out, _ = cli_run("--version", store=False)
    assert code == 0 and expbook.__version__ in out
