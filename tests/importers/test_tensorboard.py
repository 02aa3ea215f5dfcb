"""TensorBoard importer on real event files.

The files are written by torch's ``SummaryWriter`` and TensorBoard's own writers, live (through
``tests/data/make_tensorboard.py``; torch and tensorboard must be installed) and from the
committed copy in ``tests/data/tensorboard/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _libsamples import DATA, make

from expbook.importers import tensorboard as tb
from expbook.importers.model import ImportedRun, ParseError

STEPS = 12_000  # more than TensorBoard's default reservoir of 10,000 scalars per tag


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make("make_tensorboard.py", tmp_path_factory.mktemp("tb") / "logs", str(STEPS))


def by_name(runs: list[ImportedRun]) -> dict[str, ImportedRun]:
    return {r.name: r for r in runs}


def event_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if "tfevents" in p.name)


def test_torch_run_keeps_every_point_of_every_file(live: Path) -> None:
    [run] = tb.parse(str(live / "torch_run"), None)
    assert run.format == "tensorboard"
    assert run.name == "torch_run"
    assert run.source == str(live / "torch_run")
    assert run.status == "finished"
    loss = run.series["train/loss"]
    # two event files (the writer was reopened half way) make one series, no sampling
    assert [p[0] for p in loss] == list(range(STEPS))
    assert loss[0][1] == 1.0
    assert loss[2][1] == pytest.approx(1 / 3, rel=1e-7)
    assert loss[2][1] == 0.33333334  # float32 on disk, shortest decimal
    assert all(isinstance(p[2], float) for p in loss)
    assert [p[0] for p in run.series["val/acc"]] == list(range(STEPS // 2, STEPS, 10))
    # add_scalars sub-folders lr_group0/ and lr_group1/ hold tag "lr"
    assert len(run.series["lr/group0"]) == 20
    assert run.series["lr/group1"][0][1] == 0.01
    # add_hparams: hparams and its metric from a timestamp-named sub-folder
    assert run.config == {"lr": 0.1, "optimizer": "adam", "layers": 3}
    assert run.series["hparam/best_acc"] == [(0, 0.9, run.series["hparam/best_acc"][0][2])]
    assert run.warnings == [
        "kept scalars and hparams only; skipped histograms (1 tag), text (1 tag)"
    ]
    assert {f.path for f in run.files} == {str(p) for p in event_files(live / "torch_run")}
    assert len(run.files) == 5
    assert run.created_at is not None and run.finished_at is not None
    assert run.created_at <= loss[0][2] <= loss[-1][2] <= run.finished_at


def test_native_writer_tensor_scalars_and_hparams(live: Path) -> None:
    [run] = tb.parse(str(live / "native_run"), None)
    assert run.config == {"dropout": 0.25, "activation": "gelu", "use_bias": True}
    assert [p[:2] for p in run.series["loss"]] == [
        (s, v) for s, v in enumerate([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    ]
    assert run.warnings == []


def test_keras_split_folders_are_one_run(live: Path) -> None:
    assert tb.claim_dir(str(live / "keras_style"))
    [run] = tb.parse(str(live / "keras_style"), None)
    assert sorted(run.series) == ["train/epoch_loss", "validation/epoch_loss"]
    assert [p[1] for p in run.series["validation/epoch_loss"]][:2] == [1.05, 0.55]


def test_parent_folder_gives_each_run(live: Path) -> None:
    assert not tb.claim_dir(str(live))
    runs = by_name(tb.parse(str(live), None))
    assert set(runs) == {"torch_run", "native_run", "keras_style"}
    assert len(runs["torch_run"].series["train/loss"]) == STEPS


def test_claim_and_sniff(live: Path, tmp_path: Path) -> None:
    assert tb.claim_dir(str(live / "torch_run"))
    assert not tb.claim_dir(str(tmp_path))
    f = event_files(live / "native_run")[0]
    assert tb.sniff_file(str(f), f.read_bytes()[:65536]) == 100
    renamed = tmp_path / "run.bin"
    shutil.copy(f, renamed)
    assert tb.sniff_file(str(renamed), renamed.read_bytes()) == 100
    other = tmp_path / "notes.txt"
    other.write_text("loss=1\n")
    assert tb.sniff_file(str(other), other.read_bytes()) == 0


def test_single_event_file(live: Path) -> None:
    f = event_files(live / "native_run")[-1]
    [run] = tb.parse(str(f), None)
    assert run.source == str(f)
    assert run.name == "native_run"
    assert len(run.series["loss"]) == 10


def test_committed_copy() -> None:
    root = DATA / "tensorboard"
    assert "tensorboard==" in (root / "README.md").read_text()
    runs = by_name(tb.parse(str(root), None))
    assert set(runs) == {"torch_run", "native_run", "keras_style"}
    torch_run = runs["torch_run"]
    assert [p[0] for p in torch_run.series["train/loss"]] == list(range(40))
    assert torch_run.config == {"lr": 0.1, "optimizer": "adam", "layers": 3}
    assert runs["native_run"].config["activation"] == "gelu"


# ---------------------------------------------------------------- bad input


@pytest.fixture
def one_file(live: Path, tmp_path: Path) -> Path:
    """A copy of torch_run's main first event file alone in a folder."""
    folder = tmp_path / "run"
    folder.mkdir()
    src = sorted((live / "torch_run").glob("events.out.tfevents.*"))[0]
    shutil.copy(src, folder / src.name)
    return folder / src.name


def test_truncated_file_gives_partial_run_with_warning(one_file: Path) -> None:
    full = tb.parse(str(one_file.parent), None)[0]
    data = one_file.read_bytes()
    one_file.write_bytes(data[: len(data) * 2 // 3])
    [run] = tb.parse(str(one_file.parent), None)
    n, n_full = len(run.series["train/loss"]), len(full.series["train/loss"])
    assert 0 < n < n_full
    assert run.series["train/loss"] == full.series["train/loss"][:n]
    assert any("truncated or corrupt" in w for w in run.warnings)


def test_corrupt_byte_stops_at_the_bad_record(one_file: Path) -> None:
    data = bytearray(one_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    one_file.write_bytes(bytes(data))
    [run] = tb.parse(str(one_file.parent), None)
    assert 0 < len(run.series["train/loss"]) < STEPS // 2
    assert any("truncated or corrupt" in w for w in run.warnings)


@pytest.mark.parametrize("content", [b"", b"hello, not an event file\n" * 10, bytes(range(256))])
def test_unreadable_event_file_is_a_parse_error(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "events.out.tfevents.123.host"
    f.write_bytes(content)
    with pytest.raises(ParseError, match="no readable TensorBoard events"):
        tb.parse(str(tmp_path), None)
    with pytest.raises(ParseError):
        tb.parse(str(f), None)


def test_a_bad_file_beside_good_ones_is_a_warning(one_file: Path) -> None:
    (one_file.parent / "events.out.tfevents.999.host.1.9").write_bytes(b"garbage" * 100)
    [run] = tb.parse(str(one_file.parent), None)
    assert len(run.series["train/loss"]) == STEPS // 2
    assert any("events.out.tfevents.999" in w for w in run.warnings)


def test_every_truncation_is_parse_error_or_partial(live: Path, tmp_path: Path) -> None:
    src = event_files(live / "native_run")
    data = b"".join(p.read_bytes() for p in src)
    f = tmp_path / "events.out.tfevents.1.h"
    for cut in range(0, len(data), 37):
        f.write_bytes(data[:cut])
        try:
            tb.parse(str(tmp_path), None)
        except ParseError:
            pass


def test_missing_path_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError):
        tb.parse(str(tmp_path / "nope"), None)
    with pytest.raises(ParseError, match="no TensorBoard event files"):
        tb.parse(str(tmp_path), None)


def test_module_does_not_import_tensorboard_at_import_time() -> None:
    code = (
        "import sys, expbook.importers.tensorboard as m; "
        "assert 'tensorboard' not in sys.modules, 'tensorboard imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


def test_lightning_hparams_yaml_beside_events(live: Path, tmp_path: Path) -> None:
    folder = tmp_path / "version_0"
    shutil.copytree(live / "keras_style" / "train", folder)
    (folder / "hparams.yaml").write_text("lr: 0.01\nhidden: !!python/tuple [8, 4]\n")
    [run] = tb.parse(str(folder), None)
    assert run.config == {"lr": 0.01, "hidden": [8, 4]}
    assert str(folder / "hparams.yaml") in {f.path for f in run.files}


def test_registered_under_its_name_and_alias() -> None:
    from expbook.importers import registry

    info = registry.resolve("tb")
    assert info.available and info.name == "tensorboard"
    assert info.can_claim_dir and info.can_sniff
