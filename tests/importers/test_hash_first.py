"""Re-import of files whose mtime moved but whose content did not: hashed, never parsed."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from expbook.importers import driver, walk
from expbook.store import SQLiteStore

LOG = "".join(f"step {i} | loss={1.0 / (i + 1)} | acc={i / 100}\n" for i in range(1, 60))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    (root / "train.log").write_text(LOG)
    run = root / "run_a"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"lr": 0.1}))
    (run / "metrics.csv").write_text("epoch,loss\n1,0.5\n2,0.25\n")
    (run / "summary.txt").write_text("test_mse=0.3\n")
    return root


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The units that the driver parsed (walk.read called)."""
    seen: list[str] = []
    real = walk.read

    def read(unit, opts):
        seen.append(os.path.basename(unit.path))
        return real(unit, opts)

    monkeypatch.setattr(walk, "read", read)
    return seen


def import_tree(store: SQLiteStore, root: Path) -> dict[str, str]:
    outs = driver.import_paths(store, [str(root)], project=None)
    return {os.path.basename(o.source): o.status for o in outs}


def touch_all(root: Path, seconds: float) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            st = p.stat()
            os.utime(p, (st.st_atime + seconds, st.st_mtime + seconds))


def recorded_mtimes(store_dir: Path) -> dict[str, int]:
    db = sqlite3.connect(str(next(store_dir.glob("*.db"))))
    out = {}
    for (files,) in db.execute("SELECT files FROM sources"):
        for f in json.loads(files):
            out[os.path.basename(f[0])] = f[2]
    db.close()
    return out


def test_touched_unchanged_files_are_hashed_not_parsed(tmp_path, tree, parses) -> None:
    store = SQLiteStore(tmp_path / "s")
    assert import_tree(store, tree) == {"train.log": "imported", "run_a": "imported"}
    assert sorted(parses) == ["run_a", "train.log"]
    parses.clear()
    touch_all(tree, 100)
    assert import_tree(store, tree) == {"train.log": "unchanged", "run_a": "unchanged"}
    assert parses == []  # the content hash matched: nothing parsed
    # the new mtimes were recorded: the next re-import needs neither hash nor parse
    now = {p.name: p.stat().st_mtime_ns for p in tree.rglob("*") if p.is_file()}
    assert recorded_mtimes(tmp_path / "s") == now
    assert import_tree(store, tree) == {"train.log": "unchanged", "run_a": "unchanged"}
    assert parses == []
    store.close()


def test_touched_file_with_new_content_of_the_same_size_is_parsed(tmp_path, tree, parses) -> None:
    store = SQLiteStore(tmp_path / "s")
    import_tree(store, tree)
    parses.clear()
    log = tree / "train.log"
    text = log.read_text()
    log.write_text(text.replace("loss=0.5 ", "loss=0.7 ", 1))  # step 1: same size
    assert log.stat().st_size == len(text)
    touch_all(tree, 100)
    assert import_tree(store, tree) == {"train.log": "updated", "run_a": "unchanged"}
    assert parses == ["train.log"]
    ((rid, _, _),) = store.source_files(str(log))
    assert store.read_series(rid, ["loss"])["loss"].values[0] == 0.7
    store.close()


def test_fingerprint_without_hashes_falls_back_to_parsing(tmp_path, tree, parses) -> None:
    """A store written before hashes were recorded: a touched file is parsed, as it was."""
    store = SQLiteStore(tmp_path / "s")
    import_tree(store, tree)
    log = str(tree / "train.log")
    (row,) = store.source_files(log)
    store.set_source_files("default", log, "", [f[:3] for f in row[2]])
    parses.clear()
    touch_all(tree, 100)
    assert import_tree(store, tree)["train.log"] == "unchanged"
    assert parses == ["train.log"]
    (row,) = store.source_files(log)
    assert len(row[2][0]) == 4  # the sha256 is recorded now
    parses.clear()
    touch_all(tree, 100)
    assert import_tree(store, tree)["train.log"] == "unchanged" and parses == []
    store.close()


def test_a_new_file_in_a_run_folder_is_parsed(tmp_path, tree, parses) -> None:
    store = SQLiteStore(tmp_path / "s")
    import_tree(store, tree)
    parses.clear()
    touch_all(tree, 100)
    (tree / "run_a" / "notes.txt").write_text("x\n")
    assert import_tree(store, tree)["run_a"] == "unchanged"
    assert parses == ["run_a"]
    store.close()
