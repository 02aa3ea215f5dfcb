"""An unmodified Lightning Trainer with ``WandbLogger()``: a linear model on random data.
Run by tests/shim/test_clients.py with the shim installed; prints the run id."""

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger, WandbLogger


class Tiny(L.LightningModule):
    def __init__(self, lr: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def main(out: str) -> None:
    torch.manual_seed(0)
    x, y = torch.randn(32, 4), torch.randn(32, 1)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=4)
    logger = WandbLogger(project="lightning-tiny", save_dir=out)
    # Lightning's own CSV of the same metrics, each row with its step: the test's reference
    csv_logger = CSVLogger(out, name="csv", version=0)
    trainer = L.Trainer(
        max_epochs=2,
        logger=[logger, csv_logger],
        log_every_n_steps=2,
        default_root_dir=out,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.fit(Tiny(), data, data)
    print("RUN_ID", logger.experiment.id)
    logger.experiment.finish()


if __name__ == "__main__":
    import sys

    main(sys.argv[1])
