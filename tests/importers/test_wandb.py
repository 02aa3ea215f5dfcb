"""W&B importer on real offline run folders.

Written by ``wandb.init(mode="offline")`` (``tests/data/make_wandb.py``; wandb must be installed)
live, and kept committed in ``tests/data/wandb/``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _libsamples import DATA, make

from expbook.importers import wandb as wb
from expbook.importers.model import ImportedRun, ParseError


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make("make_wandb.py", tmp_path_factory.mktemp("wandb") / "out", "big")


def by_id(runs: list[ImportedRun]) -> dict[str, ImportedRun]:
    return {str(r.external_id): r for r in runs}


def run_dir(root: Path, run_id: str) -> Path:
    [d] = (root / "wandb").glob(f"*-{run_id}")
    return d


def check_first_runs(runs: dict[str, ImportedRun], root: Path) -> None:
    first = runs["expb0001"]
    assert first.format == "wandb"
    assert first.name == "lr-0.01"
    assert first.source == str(run_dir(root, "expb0001"))
    assert first.project == "expbook-demo"
    assert first.tags == ["baseline", "cnn"]
    assert first.notes == "first try"
    assert first.group == "sweep-a"
    assert first.status == "finished"
    assert first.config == {
        "lr": 0.01,
        "optimizer": {"name": "adam", "betas": [0.9, 0.999]},
        "layers": 4,
        "extra": "late",
    }
    assert first.summary == {
        "train/loss": pytest.approx(1 / 30),
        "grad.norm": pytest.approx(2.0 - 29 / 30),
        "val/acc": 0.75,
        "best_acc": 0.75,
    }
    loss = first.series["train/loss"]
    assert [p[:2] for p in loss] == [(s, 1.0 / (s + 1)) for s in range(30)]
    assert all(isinstance(p[2], float) for p in loss)
    assert [p[0] for p in first.series["val/acc"]] == [0, 5, 10, 15, 20, 25]
    assert len(first.series["grad.norm"]) == 30
    assert set(first.series) == {"train/loss", "val/acc", "grad.norm"}
    assert first.warnings == ["skipped non-numeric values (media, tables, text): weights"]
    assert first.created_at is not None and first.finished_at is not None
    assert first.created_at <= loss[0][2] <= loss[-1][2] <= first.finished_at

    failed = runs["expb0002"]
    assert failed.name == "diverged"
    assert failed.status == "failed"
    assert failed.tags == [] and failed.group is None and failed.notes is None
    assert [p[:2] for p in failed.series["train/loss"]] == [(0, 1.0), (1, 10.0), (2, 100.0)]


def test_offline_runs(live: Path) -> None:
    runs = by_id(wb.parse(str(live / "wandb"), None))
    assert set(runs) == {"expb0001", "expb0002", "expb0003"}
    check_first_runs(runs, live)


def test_records_spanning_blocks(live: Path) -> None:
    folder = run_dir(live, "expb0003")
    assert (folder / "run-expb0003.wandb").stat().st_size > 3 * 32 * 1024
    [run] = wb.parse(str(folder), None)
    assert run.notes == "x" * 70_000  # one record in a FIRST, MIDDLE and LAST fragment
    assert [p[0] for p in run.series["train/loss"]] == list(range(3000))
    assert run.series["lr"][-1][:2] == (2999, 0.001)
    assert run.warnings == []


def test_file_path_and_claims(live: Path, tmp_path: Path) -> None:
    folder = run_dir(live, "expb0001")
    log = folder / "run-expb0001.wandb"
    [run] = wb.parse(str(log), None)
    assert run.source == str(folder)
    assert [f.path for f in run.files] == [str(log)]
    assert wb.claim_dir(str(folder))
    assert not wb.claim_dir(str(live / "wandb"))
    assert not wb.claim_dir(str(tmp_path))
    assert wb.sniff_file(str(log), log.read_bytes()[:65536]) == 100
    assert wb.sniff_file(str(tmp_path / "x.txt"), b"hello") == 0


def test_committed_copy() -> None:
    root = DATA / "wandb"
    assert "wandb==" in (root / "README.md").read_text()
    runs = by_id(wb.parse(str(root), None))
    assert set(runs) == {"expb0001", "expb0002"}
    check_first_runs(runs, root)


def test_files_folder_fills_what_the_log_lacks(tmp_path: Path) -> None:
    folder = tmp_path / "offline-run-20240101_000000-abc"
    shutil.copytree(run_dir(DATA / "wandb", "expb0002"), folder)
    (folder / "files").mkdir(exist_ok=True)
    (folder / "files" / "config.yaml").write_text(
        "wandb_version: 1\n_wandb:\n  value: {cli_version: 0.16.0}\n"
        "lr:\n  desc: null\n  value: 0.3\n"
    )
    (folder / "files" / "wandb-summary.json").write_text(json.dumps({"final_acc": 0.5}))
    [run] = wb.parse(str(folder), None)
    assert run.config == {"lr": 0.3}
    assert run.summary["final_acc"] == 0.5
    assert run.summary["train/loss"] == 100  # the log wins over the file
    assert len(run.files) == 3


# ---------------------------------------------------------------- bad input


def copy_log(live: Path, run_id: str, tmp_path: Path) -> Path:
    folder = tmp_path / f"offline-run-20240101_000000-{run_id}"
    folder.mkdir()
    src = run_dir(live, run_id) / f"run-{run_id}.wandb"
    shutil.copy(src, folder / src.name)
    return folder / src.name


def test_truncated_log_gives_partial_run(live: Path, tmp_path: Path) -> None:
    log = copy_log(live, "expb0003", tmp_path)
    data = log.read_bytes()
    log.write_bytes(data[: len(data) // 2])
    [run] = wb.parse(str(log.parent), None)
    n = len(run.series["train/loss"])
    assert 100 < n < 3000
    assert [p[0] for p in run.series["train/loss"]] == list(range(n))
    assert run.status == "crashed"
    assert any("the rest is ignored" in w for w in run.warnings)
    assert any("no exit record" in w for w in run.warnings)


def test_corrupt_byte_is_a_checksum_mismatch(live: Path, tmp_path: Path) -> None:
    log = copy_log(live, "expb0003", tmp_path)
    data = bytearray(log.read_bytes())
    data[len(data) // 3] ^= 0x55
    log.write_bytes(bytes(data))
    [run] = wb.parse(str(log.parent), None)
    assert 0 < len(run.series["train/loss"]) < 3000
    assert any("checksum mismatch" in w or "bad record header" in w for w in run.warnings)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"hello world, this is text", "not a W&B transaction log"),
        (b":W&B\x00\x00\x00", "unsupported W&B log"),
        (b":W&B\xe1\xbe\x00", "no readable W&B records"),
    ],
)
def test_unreadable_logs(tmp_path: Path, content: bytes, message: str) -> None:
    folder = tmp_path / "offline-run-20240101_000000-bad"
    folder.mkdir()
    (folder / "run-bad.wandb").write_bytes(content)
    with pytest.raises(ParseError, match=message):
        wb.parse(str(folder), None)


def test_every_truncation_is_parse_error_or_partial(tmp_path: Path) -> None:
    src = run_dir(DATA / "wandb", "expb0002") / "run-expb0002.wandb"
    data = src.read_bytes()
    folder = tmp_path / "offline-run-20240101_000000-cut"
    folder.mkdir()
    log = folder / "run-cut.wandb"
    for cut in range(0, len(data), 23):
        log.write_bytes(data[:cut])
        try:
            runs = wb.parse(str(folder), None)
        except ParseError:
            continue
        assert runs[0].status in ("crashed", "failed")


def test_folder_without_runs(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="no W&B run folders"):
        wb.parse(str(tmp_path), None)


def test_registered_under_its_name_and_alias() -> None:
    from expbook.importers import registry

    info = registry.resolve("w&b")
    assert info.available and info.name == "wandb"
    assert info.can_claim_dir and info.can_sniff
