"""MLflow importer on a real file store and a real SQLite tracking database.

Both are written by ``mlflow.MlflowClient`` (``tests/data/make_mlflow.py``; mlflow-skinny and
sqlalchemy/alembic must be installed) live, and kept committed in ``tests/data/mlflow/``.
"""

from __future__ import annotations

import gzip
import math
import shutil
import sqlite3
from pathlib import Path

import pytest
from _libsamples import DATA, make

from expbook.importers import mlflow as ml
from expbook.importers.model import ImportedRun, ParseError

T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make("make_mlflow.py", tmp_path_factory.mktemp("mlflow") / "out")


@pytest.fixture(scope="module")
def committed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("committed") / "mlflow.db"
    with gzip.open(DATA / "mlflow" / "mlflow.db.gz") as src, open(db, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return db


def by_name(runs: list[ImportedRun]) -> dict[str, ImportedRun]:
    out = {r.name: r for r in runs}
    assert len(out) == len(runs)
    return out


def check_content(runs: list[ImportedRun]) -> None:
    """What make_mlflow.py wrote, whichever store it went to."""
    named = by_name(runs)
    assert set(named) == {"sweep", "child-lr0.01", "child-lr0.1", "killed-run", "still-running"}
    assert [r.name for r in runs][:3] == ["sweep", "child-lr0.01", "child-lr0.1"]  # by start
    assert {r.project for r in runs} == {"mnist-sweep"}
    assert {r.format for r in runs} == {"mlflow"}
    assert len({r.external_id for r in runs}) == 5

    sweep, ok, bad = named["sweep"], named["child-lr0.01"], named["child-lr0.1"]
    assert [sweep.status, ok.status, bad.status] == ["finished", "finished", "failed"]
    assert named["killed-run"].status == "killed"
    assert named["still-running"].status == "running"
    assert named["still-running"].finished_at is None
    assert ok.parent == sweep.external_id and bad.parent == sweep.external_id
    assert sweep.parent is None

    assert ok.config == {
        "lr": 0.01,
        "batch_size": 64,
        "optimizer": "adam",
        "use_bn": True,
        "hidden": "[64, 32]",
        "run_code": "007",
    }
    assert sweep.config == {"search": "grid"}
    assert sweep.tags == ["team=vision"]
    assert ok.tags == ["baseline"]
    assert ok.notes == "lr=0.01"
    assert (ok.created_at, ok.finished_at) == (T0 + 60, T0 + 90)
    assert (sweep.created_at, sweep.finished_at) == (T0, T0 + 200)

    loss = ok.series["loss"]
    assert [p[0] for p in loss] == list(range(20))
    assert loss[3] == (3, pytest.approx(0.26), T0 + 63.0)
    assert ok.series["val/acc"] == [(s, 0.5 + s / 40, T0 + 60 + s + 0.5) for s in range(0, 20, 5)]
    assert math.isnan(bad.series["loss"][-1][1])
    assert bad.series["grad_norm"][0][1] == math.inf
    assert all(r.warnings == [] for r in runs)


def test_file_store(live: Path) -> None:
    store = live / "mlruns"
    runs = ml.parse(str(store), None)
    check_content(runs)
    ok = by_name(runs)["child-lr0.01"]
    run_dir = Path(ok.source)
    assert run_dir.parent.parent == store
    assert run_dir.name == ok.external_id
    paths = {f.path for f in ok.files}
    assert str(run_dir / "meta.yaml") in paths
    assert str(run_dir / "metrics" / "val" / "acc") in paths
    assert str(run_dir / "params" / "lr") in paths


def test_sqlite_database(live: Path) -> None:
    db = live / "mlflow.db"
    runs = ml.parse(str(db), None)
    check_content(runs)
    assert {r.source for r in runs} == {str(db)}
    assert all([f.path for f in r.files] == [str(db)] for r in runs)


def test_both_stores_agree(live: Path) -> None:
    a = by_name(ml.parse(str(live / "mlruns"), None))
    b = by_name(ml.parse(str(live / "mlflow.db"), None))
    for name in a:
        x, y = a[name], b[name]
        assert (x.status, x.config, x.tags, x.notes) == (y.status, y.config, y.tags, y.notes)
        assert x.series.keys() == y.series.keys()
        for key in x.series:
            assert str(x.series[key]) == str(y.series[key])  # str: nan == nan


def test_experiment_run_and_meta_paths(live: Path) -> None:
    store = live / "mlruns"
    runs = by_name(ml.parse(str(store), None))
    run_dir = Path(runs["child-lr0.1"].source)
    [one] = ml.parse(str(run_dir), None)
    assert one.name == "child-lr0.1" and one.project == "mnist-sweep"
    assert ml.parse(str(run_dir / "meta.yaml"), None)[0].external_id == one.external_id
    assert len(ml.parse(str(run_dir.parent), None)) == 5


def test_claim_and_sniff(live: Path, tmp_path: Path) -> None:
    store = live / "mlruns"
    run_dir = Path(by_name(ml.parse(str(store), None))["sweep"].source)
    assert ml.claim_dir(str(store))
    assert ml.claim_dir(str(run_dir.parent))
    assert ml.claim_dir(str(run_dir))
    assert not ml.claim_dir(str(run_dir / "params"))
    assert not ml.claim_dir(str(tmp_path))
    db = live / "mlflow.db"
    assert ml.sniff_file(str(db), db.read_bytes()[:65536]) == 95
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("create table runs (x)")
    conn.close()
    assert ml.sniff_file(str(other), other.read_bytes()) == 0
    assert ml.sniff_file(str(tmp_path / "x.csv"), b"a,b\n1,2\n") == 0


def test_deleted_runs_are_skipped(live: Path) -> None:
    store = live / "mlruns"
    deleted = [
        p.parent for p in store.glob("*/*/meta.yaml") if "lifecycle_stage: deleted" in p.read_text()
    ]
    assert len(deleted) == 1
    with pytest.raises(ParseError, match="deleted"):
        ml.parse(str(deleted[0]), None)


def test_committed_copy(committed_db: Path) -> None:
    assert "mlflow-skinny==" in (DATA / "mlflow" / "README.md").read_text()
    check_content(ml.parse(str(DATA / "mlflow" / "mlruns"), None))
    check_content(ml.parse(str(committed_db), None))


def test_coerce_param() -> None:
    assert ml.coerce_param("1e-3") == 0.001
    assert ml.coerce_param("-5") == -5
    assert ml.coerce_param("0") == 0
    assert ml.coerce_param("0.50") == 0.5
    assert ml.coerce_param("007") == "007"
    assert ml.coerce_param("False") is False
    assert ml.coerce_param("None") is None
    assert ml.coerce_param("nan") == "nan"
    assert ml.coerce_param("relu") == "relu"
    assert ml.coerce_param("(100,)") == "(100,)"


# ---------------------------------------------------------------- bad input


def test_sqlite_that_is_not_mlflow(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("create table runs (id)")
    conn.close()
    with pytest.raises(ParseError, match="not an MLflow tracking database"):
        ml.parse(str(db), None)


@pytest.mark.parametrize(
    "content", [b"", b"not a database\n", b"SQLite format 3\x00" + b"\x00" * 50]
)
def test_not_a_database(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "mlflow.db"
    f.write_bytes(content)
    with pytest.raises(ParseError):
        ml.parse(str(f), None)


def test_truncated_database(live: Path, tmp_path: Path) -> None:
    data = (live / "mlflow.db").read_bytes()
    f = tmp_path / "cut.db"
    for cut in (100, 4096, 20_000, len(data) // 2):
        f.write_bytes(data[:cut])
        try:
            ml.parse(str(f), None)
        except ParseError:
            pass


def test_malformed_metric_lines_are_counted(live: Path, tmp_path: Path) -> None:
    store = tmp_path / "mlruns"
    shutil.copytree(live / "mlruns", store)
    run_dir = next(
        p.parent for p in store.glob("*/*/meta.yaml") if (p.parent / "metrics" / "loss").exists()
    )
    with open(run_dir / "metrics" / "loss", "a") as f:
        f.write("garbage line\n12 x 3\n")
    [run] = ml.parse(str(run_dir), None)
    assert run.skipped_lines == 2
    assert run.warnings == ["2 malformed metric lines skipped"]


def test_folder_without_mlflow_data(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ParseError, match="no MLflow"):
        ml.parse(str(tmp_path), None)
    with pytest.raises(ParseError):
        ml.parse(str(tmp_path / "missing"), None)


def test_registered_under_its_name_and_alias() -> None:
    from expbook.importers import registry

    info = registry.resolve("mlruns")
    assert info.available and info.name == "mlflow"
    assert info.can_claim_dir and info.can_sniff


def test_options_override_project_and_single_name(live: Path) -> None:
    from expbook.importers.registry import ParseOptions

    runs = ml.parse(str(live / "mlflow.db"), ParseOptions(project="mine", name="ignored"))
    assert {r.project for r in runs} == {"mine"}
    assert "ignored" not in {r.name for r in runs}  # many runs: no forced name
    run_dir = by_name(ml.parse(str(live / "mlruns"), None))["sweep"].source
    [one] = ml.parse(run_dir, ParseOptions(name="renamed"))
    assert one.name == "renamed" and one.project == "mnist-sweep"
