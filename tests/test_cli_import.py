"""expbook import on the command line: formats, dry runs, bad input, idempotence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    good = root / "run_a"
    good.mkdir(parents=True)
    (good / "config.json").write_text(json.dumps({"lr": 0.1, "model": {"width": 8}}))
    (good / "metrics.csv").write_text("epoch,loss\n1,0.5\n2,0.25\n3,\n4,0.125\n")
    (good / "summary.txt").write_text("test_mse=0.3\nn_test=200\n")
    logs = root / "logs"
    logs.mkdir()
    (logs / "b.log").write_text("step 1/3 | loss=1.5\nstep 2/3 | loss=nan\nstep 3/3 | loss=inf\n")
    (logs / "bad.log").write_bytes(b"\x00\x01\x02\xff" * 100)
    return root


def test_import_then_reimport(cli_run, tree: Path) -> None:
    code, out, err = cli_run("import", str(tree), "--format", "json", "--project", "p")
    data = json.loads(out)
    assert code == 1, err  # bad.log failed, the others imported
    by_name = {r["name"]: r for r in data["runs"]}
    assert by_name["run_a"]["status"] == "imported" and by_name["b"]["status"] == "imported"
    failed = [r for r in data["runs"] if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["source"].endswith("bad.log") and failed[0]["note"]
    code, out, _ = cli_run("runs", "--format", "json")
    runs = {r["name"]: r for r in json.loads(out)}
    assert runs["run_a"]["config"] == {"lr": 0.1, "model": {"width": 8}}
    assert runs["run_a"]["summary"]["test_mse"] == 0.3
    assert runs["run_a"]["source"]["kind"] == "import"
    code, out, _ = cli_run("history", "run_a", "loss", "--format", "json")
    assert json.loads(out) == {"loss": [[1, 0.5], [2, 0.25], [4, 0.125]]}
    code, out, _ = cli_run("history", "b", "loss", "--format", "json")
    assert "NaN" in out and "Infinity" in out
    # again: nothing changes
    code, out, _ = cli_run("import", str(tree / "run_a"), "--format", "json", "--project", "p")
    assert code == 0 and json.loads(out)["counts"] == {"unchanged": 1}
    # a changed file replaces what came from it
    (tree / "run_a" / "metrics.csv").write_text("epoch,loss\n1,0.5\n2,0.25\n3,0.2\n4,0.125\n")
    code, out, _ = cli_run("import", str(tree / "run_a"), "--format", "json", "--project", "p")
    row = json.loads(out)["runs"][0]
    assert row["status"] == "updated" and row["added_points"] == 1
    code, out, _ = cli_run("runs", "--format", "json")
    assert len(json.loads(out)) == 2


def test_dry_run_writes_nothing(cli_run, tree: Path, store_path: str) -> None:
    code, out, _ = cli_run("import", str(tree / "run_a"), "--dry-run", "--format", "json")
    assert code == 0 and json.loads(out)["counts"] == {"would-import": 1}
    code, _, err = cli_run("runs")
    assert code == 1 and "no expbook store" in err


def test_unknown_format_and_missing_path(cli_run, tree: Path) -> None:
    code, _, err = cli_run("import", str(tree), "--from", "nosuch")
    assert code == 2 and "unknown format 'nosuch'" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli_run("import", str(tree / "missing"))
    assert code == 2 and "does not exist" in err


def test_import_never_overwrites_a_logged_run(cli_run, tree: Path, store_path: str) -> None:
    import expbook

    with expbook.init(name="run_a", project="p", store=store_path) as run:
        run.log({"loss": 9.0})
    cli_run("import", str(tree / "run_a"), "--project", "p")
    book = expbook.open_store(store_path)
    recs = {r["source"]["kind"]: r for r in book.run_records("p")}
    assert recs["logged"]["summary"] == {"loss": 9.0}
    assert recs["import"]["summary"]["test_mse"] == 0.3


def test_editing_an_attached_run_table_reimports(cli_run, tmp_path: Path) -> None:
    import shutil

    fixtures = Path(__file__).resolve().parent / "data" / "seeds"
    raw = tmp_path / "seed002"
    shutil.copytree(fixtures / "seed002" / "raw", raw)
    code, out, _ = cli_run("import", str(raw), "--format", "json")
    assert code == 0 and json.loads(out)["counts"] == {"imported": 6}
    table = raw / "results" / "w3_25m" / "results.csv"
    text = table.read_text()
    assert "rsqrt,mass_val" in text
    table.write_text(text.replace("rsqrt,mass_val", "rsqrt,mass_in_value"))
    code, out, _ = cli_run("import", str(raw), "--format", "json")
    counts = json.loads(out)["counts"]
    assert counts.get("updated", 0) >= 1 and counts.get("imported", 0) == 0
    code, out, _ = cli_run("runs", "--format", "json")
    flags = {r["name"]: r["summary"].get("flags") for r in json.loads(out)}
    assert flags["w3_25m_screen_ngt_mass_in_value"] == "rsqrt,mass_in_value"
