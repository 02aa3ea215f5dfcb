"""Versioned, content-addressed artifacts: versions per name, no new version for the same
content, aliases, lineage (which run logged, which runs used), download, expbook.save, and
the importers' run files listed as external artifacts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import expbook
from expbook.errors import UsageError
from expbook.store import SQLiteStore


def write(path: str | Path, text: str) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_versions_dedupe_aliases_and_lineage(store_path, tmp_path) -> None:
    write("model.pt", "weights-1")
    with expbook.init(project="p", name="trainer", store=store_path) as trainer:
        art = expbook.Artifact("weights", type="model", metadata={"acc": 0.9})
        art.add_file("model.pt")
        v0 = trainer.log_artifact(art, aliases=["best"])
        again = trainer.log_artifact(art)  # same content: no new version
        write("model.pt", "weights-2")
        art2 = expbook.Artifact("weights", type="model")
        art2.add_file("model.pt")
        v1 = trainer.log_artifact(art2)
    assert (v0.version, again.version, v1.version) == ("v0", "v0", "v1")
    assert v0.digest != v1.digest and v0.aliases == ["latest", "best"]
    assert v1.aliases == ["latest"]
    with expbook.init(project="p", name="evaluator", store=store_path) as evaluator:
        best = evaluator.use_artifact("weights:best")
        latest = expbook.use_artifact("weights")
        assert best.version == "v0" and latest.version == "v1"
        assert best.metadata == {"acc": 0.9}
        path = best.file(root=tmp_path / "dl")
        assert Path(path).read_text() == "weights-1"
        folder = latest.download()
        assert folder == str(Path("artifacts/weights-v1").resolve())
        assert (Path(folder) / "model.pt").read_text() == "weights-2"
    st = SQLiteStore(store_path)
    info = st.get_artifact("weights", "v0")
    assert info["created_by"] == trainer.id and info["used_by"] == [evaluator.id]
    assert info["files"][0]["size"] == len("weights-1")
    assert {a["version"] for a in st.list_artifacts(run_id=evaluator.id)} == {"v0", "v1"}
    # content-addressed: one blob per distinct content
    blobs = [p for p in (Path(st.files_dir) / "artifacts").rglob("*") if p.is_file()]
    assert len(blobs) == 2


def test_dirs_objects_and_paths(store_path) -> None:
    write("data/train.csv", "a,b\n1,2\n")
    write("data/sub/test.csv", "a,b\n3,4\n")
    write("conf.yaml", "lr: 1\n")
    with expbook.init(project="p", store=store_path) as run:
        art = expbook.Artifact("ds", type="dataset")
        assert art.add_dir("data", name="raw") == ["raw/sub/test.csv", "raw/train.csv"]
        assert art.add(expbook.Table(columns=["x"], data=[[1]]), "tbl") == "tbl.table.json"
        v = run.log_artifact(art)
        assert v.files == ["raw/sub/test.csv", "raw/train.csv", "tbl.table.json"]
        cfg = expbook.log_artifact("conf.yaml", type="config")
        assert (cfg.name, cfg.type, cfg.files) == ("conf.yaml", "config", ["conf.yaml"])
        folder = run.log_artifact("data", name="data-dir", type="dataset")
        assert folder.files == ["sub/test.csv", "train.csv"]
    out = Path(v.download("out"))
    assert (out / "raw/sub/test.csv").read_text() == "a,b\n3,4\n"
    assert (out / "tbl.table.json").read_text() == '{"columns":["x"],"data":[[1]]}'


def test_save_keeps_the_run_files(store_path) -> None:
    write("ckpt/a.txt", "A")
    write("ckpt/b.txt", "B")
    with expbook.init(project="p", store=store_path) as run:
        assert expbook.save("ckpt/*.txt") == ["ckpt/a.txt", "ckpt/b.txt"]
        write("notes.md", "n")
        assert run.save("notes.md", policy="now") == ["notes.md"]
        assert run.save("nothing-*.bin") == []
        with pytest.raises(UsageError, match="policy"):
            run.save("notes.md", policy="sometimes")
    st = SQLiteStore(store_path)
    info = st.get_artifact(f"run-{run.id}-files")
    assert info["type"] == "files" and info["version"] == "v1"
    assert [f["path"] for f in info["files"]] == ["ckpt/a.txt", "ckpt/b.txt", "notes.md"]


def test_errors_are_one_line(store_path) -> None:
    write("f.bin", "x")
    with expbook.init(project="p", store=store_path) as run:
        art = expbook.Artifact("thing", type="model")
        art.add_file("f.bin")
        run.log_artifact(art)
        with pytest.raises(UsageError, match=r"no artifact 'thnig' \(did you mean 'thing'\?\)"):
            run.use_artifact("thnig")
        with pytest.raises(UsageError, match="has no version 'v7'"):
            run.use_artifact("thing:v7")
        other = expbook.Artifact("thing", type="dataset")
        other.add_file("f.bin")
        with pytest.raises(UsageError, match="has type 'model'"):
            run.log_artifact(other)
        with pytest.raises(UsageError, match="not a relative path"):
            art.add_file("f.bin", name="../escape.bin")
        with pytest.raises(UsageError, match="not a file"):
            art.add_file("missing.bin")
        with pytest.raises(UsageError, match="not a name"):
            expbook.Artifact("a:b", type="model")
        v = run.log_artifact(art)
    art2 = expbook.Artifact("two", type="x")
    write("g.bin", "y")
    art2.add_file("f.bin")
    art2.add_file("g.bin")
    with (
        expbook.init(project="p", store=store_path) as run2,
        pytest.raises(UsageError, match="has 2 files"),
    ):
        run2.log_artifact(art2).file()
    assert v.version == "v0"
    with pytest.raises(UsageError, match="no active run"):
        expbook.log_artifact(art)


def test_importer_files_are_external_artifacts(store_path, tmp_path) -> None:
    ckpt = write(tmp_path / "run1" / "checkpoint_best", "ckpt")
    preds = write(tmp_path / "run1" / "preds.csv", "y,pred\n1,1\n")
    st = SQLiteStore(store_path)
    rid = st.create_run(name="imported", project="p", status="finished").id
    st.set_artifacts(rid, [(str(ckpt), "checkpoint", "abc"), (str(preds), "predictions", "def")])
    listed = {a["name"]: a for a in st.list_artifacts(project="p")}
    c = listed[f"run-{rid}-checkpoint_best"]
    assert c["type"] == "checkpoint" and c["external"] and c["created_by"] == rid
    assert listed[f"run-{rid}-preds.csv"]["type"] == "predictions"
    assert [a["name"] for a in st.list_artifacts(type="predictions")] == [f"run-{rid}-preds.csv"]
    info = st.get_artifact(f"run-{rid}-preds.csv")
    assert info["files"][0]["source"] == str(preds)
    from expbook.media.artifacts import download

    out = download(st, info, tmp_path / "got")
    assert (Path(out) / "preds.csv").read_text() == "y,pred\n1,1\n"
    assert not (Path(st.files_dir) / "artifacts").exists()  # nothing was copied in


def test_deleting_a_run_keeps_its_artifacts(store_path, cli_run) -> None:
    write("w.bin", "w")
    with expbook.init(project="p", store=store_path) as run:
        run.log_artifact("w.bin", type="model")
    code, _, err = cli_run("rm", run.id, "--yes")
    assert code == 0, err
    info = SQLiteStore(store_path).get_artifact("w.bin")
    assert info is not None and info["created_by"] is None
    assert os.path.isfile(Path(SQLiteStore(store_path).files_dir) / info["files"][0]["blob"])
