"""The public Python API: ``Store`` answers what the analysis commands answer, with the same
JSON, through public names only."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import expbook


@pytest.fixture
def book(store_path):
    grid = [(4, 0.1, 0), (4, 0.1, 1), (4, 0.3, 2), (16, 0.1, 3), (16, 0.3, 4)]
    for i, (hidden, lr, seed) in enumerate(grid):
        with expbook.init(
            project="p" if i < 4 else "q",
            name=f"h{hidden}-lr{lr}-s{seed}",
            store=store_path,
            config={"model": {"hidden": hidden}, "lr": lr, "seed": seed},
            tags=["t"],
        ) as run:
            for step in range(5):
                loss = (1.0 + i / 10) / (step + 1) + (0.3 if step == 4 and i == 0 else 0.0)
                run.log({"val_loss": loss, "val_acc": 0.5 + 0.05 * i + 0.01 * step})
            run.summary["params"] = 1000 * hidden
    with expbook.open_store(store_path) as b:
        yield b


def cli_json(cli_run, *args: str):
    code, out, err = cli_run(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


CASES = {
    "leaderboard": (
        lambda b: b.leaderboard(
            "ppl",
            derive=["ppl=exp(val_loss)", "best_acc=best(val_acc, 'max')"],
            at_step=2,
            params="model.hidden,lr",
            columns=["val_acc"],
            filter="lr < 1",
        ),
        [
            "leaderboard", "--metric", "ppl", "--derive", "ppl=exp(val_loss)", "--derive",
            "best_acc=best(val_acc, 'max')", "--at-step", "2", "--param", "model.hidden,lr",
            "--column", "val_acc", "--filter", "lr < 1",
        ],
    ),
    "leaderboard_top": (
        lambda b: b.leaderboard("val_acc", mode="max", sort="last", top=2, project="p"),
        ["leaderboard", "--metric", "val_acc", "--mode", "max", "--sort", "last", "--top", "2",
         "--project", "p"],
    ),
    "pivot": (
        lambda b: b.pivot("model.hidden", "lr", "val_loss", agg="mean", runs=["h4-*", "h16-*"]),
        ["pivot", "--rows", "model.hidden", "--cols", "lr", "--value", "val_loss", "--agg",
         "mean", "h4-*", "h16-*"],
    ),
    "winners": (
        lambda b: b.winners("val_loss", by="lr", project="p"),
        ["winners", "--metric", "val_loss", "--by", "lr", "--project", "p"],
    ),
    "winners_groups": (
        lambda b: b.winners("val_loss", groups=True),
        ["winners", "--metric", "val_loss", "--groups"],
    ),
    "compare": (
        lambda b: b.compare("h4-lr0.1-s0", "h16-lr0.3-s4", keys="val_*", cost_per_hour=2.0),
        ["compare", "h4-lr0.1-s0", "h16-lr0.3-s4", "--keys", "val_*", "--cost-per-hour", "2"],
    ),
    "runs": (lambda b: b.runs(project="p"), ["runs", "--project", "p"]),
    "runs_all": (lambda b: b.runs(), ["runs"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_to_dict_is_the_cli_json(book, cli_run, case):
    call, argv = CASES[case]
    got = call(book).to_dict()
    assert json.loads(json.dumps(got)) == cli_json(cli_run, *argv)
    assert got  # something was compared


def test_to_df_has_the_rows_of_to_dict(book):
    board = book.leaderboard("val_loss", params=["lr"])
    df = board.to_df()
    assert list(df.columns) == board.to_dict()["columns"]
    assert df["run"].tolist() == [r["run"] for r in board.to_dict()["rows"]]
    parts = book.compare("h4-lr0.1-s0", "h4-lr0.1-s1").to_df()
    assert {"config", "metrics", "resources"} <= set(parts)


def test_leaderboard_derived_series_through_the_api(book):
    import math

    board = book.leaderboard("ppl", derive="ppl=exp(val_loss)")
    rows = {r["run"]: r for r in board.to_dict()["rows"]}
    r = rows["h4-lr0.1-s0"]  # its last point is worse than its best
    assert r["best_step"] == 3 and r["best"] == pytest.approx(math.exp(1.0 / 4))
    assert r["last"] == pytest.approx(math.exp(1.0 / 5 + 0.3))


def test_runs_keeps_working_as_a_dataframe(book):
    import pandas as pd

    runs = book.runs(project="p")
    assert isinstance(runs, expbook.RunList) and len(runs) == 4
    df = runs.to_df()
    assert isinstance(df, pd.DataFrame)
    # the old way: columns and DataFrame methods on the result
    assert runs["config.model.hidden"].tolist() == [4, 4, 4, 16]
    assert runs.shape == df.shape
    assert list(runs.columns[:8]) == [
        "id", "name", "project", "status", "created_at", "finished_at", "tags", "group",
    ]
    assert "summary.val_loss" in runs.columns and "summary.params" in runs.columns
    assert book.runs("p").names == runs.names  # project is still the first argument
    assert all(type(r) is expbook.RunRecord for r in runs)
    picked = book.runs(filter="config.lr > 0.2 and val_acc > 0", runs=["h*"])
    assert picked.names == ["h4-lr0.3-s2", "h16-lr0.3-s4"]
    assert picked.to_dict() == [d for d in book.runs().to_dict() if d["name"] in picked.names]


def test_run_returns_a_public_run_record(book):
    rec = book.run("h16-lr0.1-s3")
    assert type(rec) is expbook.RunRecord
    assert rec.config == {"model": {"hidden": 16}, "lr": 0.1, "seed": 3}
    assert rec.summary == {"params": 16000} and rec.tags == ["t"]
    assert book.run(rec.id[:6]) == rec


def test_errors_are_public_exceptions(book):
    with pytest.raises(expbook.UnknownKey, match="did you mean 'val_loss'"):
        book.leaderboard("val_los")
    with pytest.raises(expbook.UnknownKey, match="did you mean 'lr'"):
        book.pivot("model.hidden", "lrr", "val_loss")
    with pytest.raises(expbook.RunNotFound):
        book.compare("h4-lr0.1-s0", "nope")
    with pytest.raises(expbook.UsageError):
        book.compare("h4-lr0.1-s0")
    with pytest.raises(expbook.ExpbookError, match="no run matches"):
        book.leaderboard("val_loss", runs="zz*")


def test_public_surface_is_typed_and_documented():
    for name in expbook.__all__:
        assert not name.startswith("_") or name == "__version__"
    assert expbook.Table.__name__ == "Table" and expbook.TableSet.__name__ == "TableSet"
    for cls in (expbook.Store, expbook.RunList, expbook.Table, expbook.TableSet):
        assert cls.__doc__
    for meth in ("runs", "run", "leaderboard", "pivot", "winners", "compare", "history"):
        fn = getattr(expbook.Store, meth)
        assert fn.__doc__, meth
        sig = inspect.signature(fn)
        assert sig.return_annotation is not inspect.Signature.empty, meth
    for meth in ("to_df", "to_dict"):
        for cls in (expbook.RunList, expbook.Table, expbook.TableSet):
            assert getattr(cls, meth).__doc__, (cls, meth)


def test_import_expbook_stays_light():
    code = (
        "import sys, expbook; "
        "print(sorted(m for m in ('pandas', 'numpy', 'expbook.analysis') if m in sys.modules))"
    )
    src = str(Path(expbook.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "[]"
