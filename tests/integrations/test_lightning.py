"""ExpbookLogger on a real ``lightning.pytorch.Trainer`` (a Linear layer on random data)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset

import expbook
from expbook.integrations.lightning import ExpbookLogger
from expbook.store import connect

# lightning 2.6 with torch 2.13: a deprecation between the two, not ours
pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning")


class Linear(L.LightningModule):
    def __init__(self, lr: float = 0.05, hidden: int = 4, break_at: int | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(hidden, 1)

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        if self.hparams.break_at is not None and self.global_step >= self.hparams.break_at:
            raise RuntimeError(f"training broke at step {self.global_step}")
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("test_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def data(n: int = 32) -> DataLoader:  # type: ignore[type-arg]
    g = torch.Generator().manual_seed(0)
    return DataLoader(
        TensorDataset(torch.randn(n, 4, generator=g), torch.randn(n, 1, generator=g)), batch_size=4
    )


def trainer(logger: Any, tmp_path: Path, **kwargs: Any) -> L.Trainer:
    args: dict[str, Any] = dict(
        max_epochs=2,
        logger=logger,
        log_every_n_steps=2,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        default_root_dir=str(tmp_path),
    )
    args.update(kwargs)
    return L.Trainer(**args)


def series(store_path: str, run_id: str) -> dict[str, tuple[list[int], list[float]]]:
    return {
        k: (v.steps, v.values) for k, v in connect(store_path).read_series_lists(run_id).items()
    }


def test_fit_and_test_are_logged(store_path: str, tmp_path: Path) -> None:
    logger = ExpbookLogger(project="pl", name="linear", store=store_path)
    csv_logger = CSVLogger(str(tmp_path / "csv"))  # what Lightning's own logger records
    t = trainer([logger, csv_logger], tmp_path)
    model = Linear(lr=0.05)
    t.fit(model, data(), data(8))
    run = logger.experiment
    assert isinstance(run, expbook.Run)
    assert logger.version == run.id and logger.name == "linear"
    assert logger.save_dir == store_path
    rec = connect(store_path).get_run(run.id)
    assert rec.status == "finished"
    assert rec.config["lr"] == 0.05 and rec.config["hidden"] == 4
    got = series(store_path, run.id)
    # 8 batches an epoch, 2 epochs: logged every 2 steps at the trainer's global step
    # 8 batches an epoch, 2 epochs, every 2nd logged: at the step Lightning gives loggers
    # (the batches stepped before this one), the same points as its CSVLogger's
    assert got["train_loss"][0] == [1, 3, 5, 7, 9, 11, 13, 15]
    assert got["val_loss"][0] == [7, 15]  # at the end of each epoch
    with open(Path(csv_logger.log_dir) / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for key in ("train_loss", "val_loss"):
        points = [(int(r["step"]), pytest.approx(float(r[key]))) for r in rows if r[key]]
        assert list(zip(*got[key])) == points
    assert got["epoch"][1][0] == 0 and got["epoch"][1][-1] == 1
    assert t.global_step == 16

    t.test(model, data(8))  # after fit: the same run again, finished again
    rec = connect(store_path).get_run(run.id)
    assert rec.status == "finished"
    assert series(store_path, run.id)["test_loss"][0] == [16]
    assert "test_loss" in connect(store_path).metric_summaries([run.id])[run.id]
    assert len(connect(store_path).list_runs()) == 1
    assert expbook.run is None


def test_failed_fit_marks_the_run_failed(store_path: str, tmp_path: Path) -> None:
    logger = ExpbookLogger(project="pl", store=store_path)
    with pytest.raises(RuntimeError, match="training broke at step 3"):
        trainer(logger, tmp_path).fit(Linear(break_at=3), data(), data(8))
    rec = connect(store_path).get_run(logger.version)
    assert rec.status == "failed"
    assert series(store_path, rec.id)["train_loss"][0] == [1]  # logged before the break


def test_reuses_the_current_run(store_path: str, tmp_path: Path) -> None:
    run = expbook.init(project="mine", store=store_path, config={"seed": 1})
    logger = ExpbookLogger(project="ignored")
    trainer(logger, tmp_path, max_epochs=1).fit(Linear(), data(), data(8))
    assert logger.experiment is run and not run.finished  # left to the script
    run.finish()
    rec = connect(store_path).get_run(run.id)
    assert rec.project == "mine" and rec.config["seed"] == 1 and rec.config["lr"] == 0.05
    assert series(store_path, run.id)["train_loss"][0] == [1, 3, 5, 7]


def test_pytorch_lightning_package(store_path: str, tmp_path: Path) -> None:
    import pytorch_lightning as pl

    from expbook.integrations.lightning import PLExpbookLogger

    assert isinstance(PLExpbookLogger(), pl.loggers.Logger)
    assert not isinstance(ExpbookLogger(), pl.loggers.Logger)
    logger = PLExpbookLogger(project="old", store=store_path)
    logger.log_hyperparams({"lr": 0.1})
    logger.log_metrics({"loss": 0.5}, step=3)
    logger.finalize("success")
    rec = connect(store_path).get_run(logger.version)
    assert (rec.project, rec.status, rec.config) == ("old", "finished", {"lr": 0.1})
    assert series(store_path, rec.id)["loss"] == ([3], [0.5])
