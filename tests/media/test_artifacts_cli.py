"""``expbook artifacts list|show|get``: text and JSON output, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import expbook


@pytest.fixture
def two_versions(store_path):
    Path("w.bin").write_text("one")
    with expbook.init(project="p", name="trainer", store=store_path) as trainer:
        trainer.log_artifact("w.bin", name="weights", type="model", aliases=["best"])
        Path("w.bin").write_text("two!")
        trainer.log_artifact("w.bin", name="weights", type="model")
        Path("d.csv").write_text("x\n1\n")
        trainer.log_artifact("d.csv", name="data", type="dataset")
    with expbook.init(project="q", name="user", store=store_path) as user:
        user.use_artifact("weights:best")
    return trainer.id, user.id


def test_list_text_and_json(cli_run, two_versions) -> None:
    trainer, _user = two_versions
    code, out, err = cli_run("artifacts", "list")
    assert code == 0, err
    assert "weights" in out and "v1" in out and "best" in out and "dataset" in out
    code, out, _ = cli_run("artifacts", "list", "--format", "json")
    items = json.loads(out)
    assert [(a["name"], a["version"]) for a in items] == [
        ("data", "v0"),
        ("weights", "v0"),
        ("weights", "v1"),
    ]
    w0 = items[1]
    assert w0["aliases"] == ["best"] and w0["created_by"] == trainer and w0["size"] == 3
    assert set(w0) >= {"type", "project", "digest", "files_count", "external", "created_at"}
    code, out, _ = cli_run("artifacts", "list", "--type", "model", "--format", "json")
    assert {a["name"] for a in json.loads(out)} == {"weights"}
    code, out, _ = cli_run("artifacts", "list", "--run", "user", "--format", "json")
    assert [(a["name"], a["version"]) for a in json.loads(out)] == [("weights", "v0")]
    code, out, _ = cli_run("artifacts", "list", "--project", "q")
    assert code == 0 and "no artifacts" in out


def test_show_text_and_json(cli_run, two_versions) -> None:
    trainer, user = two_versions
    code, out, _ = cli_run("artifacts", "show", "weights:v0", "--format", "json")
    info = json.loads(out)
    assert info["created_by"] == trainer and info["used_by"] == [user]
    assert [f["path"] for f in info["files"]] == ["w.bin"]
    code, out, _ = cli_run("artifacts", "show", "weights")
    assert code == 0
    assert "weights:v1" in out and f"created by: {trainer}" in out and "used by: -" in out


def test_get_copies_the_files(cli_run, two_versions, tmp_path) -> None:
    code, out, err = cli_run("artifacts", "get", "weights:best", "--dest", str(tmp_path / "o"))
    assert code == 0, err
    assert out.strip() == str(tmp_path / "o")
    assert (tmp_path / "o" / "w.bin").read_text() == "one"
    code, out, _ = cli_run("artifacts", "get", "weights")
    assert (Path(out.strip()) / "w.bin").read_text() == "two!"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "wieghts"), "no artifact 'wieghts' (did you mean 'weights'?)"),
        (("get", "weights:v9"), "artifact 'weights' has no version 'v9'"),
        (("list", "--run", "nobody"), "no run matches 'nobody'"),
    ],
)
def test_errors_are_one_line(cli_run, two_versions, args, message) -> None:
    code, out, err = cli_run("artifacts", *args)
    assert code == 1 and out == ""
    assert err == f"expbook: error: {message}\n"


def test_no_store_is_one_line(cli_run, tmp_path) -> None:
    code, _, err = cli_run("artifacts", "list", "--store", str(tmp_path / "none"), store=False)
    assert code == 1 and err.startswith("expbook: error: no expbook store")
