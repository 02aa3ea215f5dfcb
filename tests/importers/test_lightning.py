"""Lightning importer on real ``CSVLogger`` folders.

Written by ``lightning.Trainer.fit`` with ``CSVLogger`` (``tests/data/make_lightning.py``;
torch and lightning must be installed) live, and kept committed in ``tests/data/lightning/``.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from _libsamples import DATA, make

from expbook.importers import lightning as pl
from expbook.importers.model import ImportedRun, ParseError


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make("make_lightning.py", tmp_path_factory.mktemp("pl") / "out", "ckpt")


def check_runs(runs: list[ImportedRun], root: Path) -> None:
    assert [r.name for r in runs] == ["lightning_logs/version_0", "lightning_logs/version_1"]
    for run, lr in zip(runs, (0.05, 0.01)):
        folder = root / "lightning_logs" / run.name.split("/")[1]
        assert run.format == "lightning"
        assert run.source == str(folder)
        assert run.status == "finished"
        assert run.config == {"lr": lr, "hidden": [8, 4], "opt": "sgd"}
        assert set(run.series) == {"epoch", "step", "train_loss", "val_loss"} - {"step"}
        assert run.warnings == []
        # every filled cell of metrics.csv is a point (epoch once per step)
        with open(folder / "metrics.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        for key in ("train_loss", "val_loss"):
            expected = [(int(r["step"]), float(r[key]), None) for r in rows if r[key]]
            assert run.series[key] == expected
        assert len(run.series["val_loss"]) == 3  # one per epoch
        assert sorted({p[1] for p in run.series["epoch"]}) == [0.0, 1.0, 2.0]
        steps = [p[0] for p in run.series["epoch"]]
        assert len(steps) == len(set(steps))
        assert {f.path for f in run.files} == {
            str(folder / "metrics.csv"),
            str(folder / "hparams.yaml"),
        }


def test_csvlogger_versions(live: Path) -> None:
    runs = pl.parse(str(live / "lightning_logs"), None)
    check_runs(runs, live)
    # ModelCheckpoint's files are listed, never read
    assert [(Path(a.path).name, a.kind) for a in runs[0].artifacts] == [
        ("epoch=2-step=24.ckpt", "checkpoint")
    ]
    assert pl.parse(str(live), None)[1].name == "lightning_logs/version_1"


def test_single_version_and_file(live: Path) -> None:
    folder = live / "lightning_logs" / "version_1"
    [run] = pl.parse(str(folder), None)
    assert run.config["lr"] == 0.01
    [same] = pl.parse(str(folder / "metrics.csv"), None)
    assert same.series == run.series and same.source == run.source


def test_claim_and_sniff(live: Path, tmp_path: Path) -> None:
    folder = live / "lightning_logs" / "version_0"
    assert pl.claim_dir(str(folder))
    assert not pl.claim_dir(str(live / "lightning_logs"))
    metrics = folder / "metrics.csv"
    assert pl.sniff_file(str(metrics), metrics.read_bytes()) == 85
    # a metrics.csv of another tool: no step column, no hparams.yaml, not version_N
    other = tmp_path / "results" / "run1"
    other.mkdir(parents=True)
    (other / "metrics.csv").write_text("epoch,train_mse\n0,1.5\n")
    assert not pl.claim_dir(str(other))
    assert pl.sniff_file(str(other / "metrics.csv"), b"epoch,train_mse\n") == 0


def test_committed_copy() -> None:
    root = DATA / "lightning"
    assert "lightning==" in (root / "README.md").read_text()
    check_runs(pl.parse(str(root), None), root)


# ---------------------------------------------------------------- hand-made edge cases


@pytest.fixture
def version(live: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "lightning_logs" / "version_7"
    shutil.copytree(live / "lightning_logs" / "version_0", folder)
    return folder


def test_incomplete_last_line_is_dropped(version: Path) -> None:
    metrics = version / "metrics.csv"
    full = pl.parse(str(version), None)[0]
    metrics.write_bytes(metrics.read_bytes() + b"2,25,0.01")  # cut while being written
    [run] = pl.parse(str(version), None)
    assert run.series == full.series
    assert run.warnings == [
        "metrics.csv: dropped an incomplete last line (file still being written?)"
    ]


def test_non_numeric_cells_are_counted(version: Path) -> None:
    (version / "metrics.csv").write_text("epoch,step,train_loss\n0,1,0.5\n0,2,oops\n0,x,0.3\n")
    [run] = pl.parse(str(version), None)
    assert run.series["train_loss"] == [(1, 0.5, None)]
    assert run.skipped_lines == 1
    assert run.warnings == ["metrics.csv: 1 non-numeric cells skipped"]


def test_python_tags_in_hparams_are_read_as_data(version: Path) -> None:
    (version / "hparams.yaml").write_text(
        "act: !!python/name:torch.nn.ReLU ''\n"
        "opt: !!python/object:argparse.Namespace\n  lr: 0.1\n"
        "shape: !!python/tuple [1, 2]\n"
        "when: 2024-01-02\n"
    )
    [run] = pl.parse(str(version), None)
    assert run.config == {
        "act": "torch.nn.ReLU",
        "opt": {"lr": 0.1},
        "shape": [1, 2],
        "when": "2024-01-02",
    }


def test_bad_hparams_is_a_warning(version: Path) -> None:
    (version / "hparams.yaml").write_text("a: [1, 2\nb: {\n")
    [run] = pl.parse(str(version), None)
    assert run.config == {}
    assert run.warnings and "not valid YAML" in run.warnings[0]
    assert run.series


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00\x01binary", "not UTF-8|binary"),
        (b"a\x00b\n", "binary"),
        (b"epoch,loss\n0,1.0\n", "no 'step' column"),
    ],
)
def test_unreadable_metrics(version: Path, content: bytes, message: str) -> None:
    (version / "metrics.csv").write_bytes(content)
    with pytest.raises(ParseError, match=message):
        pl.parse(str(version), None)


def test_folder_without_versions(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="no Lightning CSVLogger folders"):
        pl.parse(str(tmp_path), None)
    with pytest.raises(ParseError):
        pl.parse(str(tmp_path / "nope.csv"), None)


def test_registered_under_its_name_and_alias() -> None:
    from expbook.importers import registry

    info = registry.resolve("pytorch-lightning")
    assert info.available and info.name == "lightning"
    assert info.can_claim_dir and info.can_sniff
