"""Write real PyTorch Lightning CSVLogger folders for the importer tests.

    python tests/data/make_lightning.py             # refresh the committed copy in lightning/
    python tests/data/make_lightning.py OUT ckpt    # what the tests run (into a temp folder)

Two ``Trainer.fit`` runs of a tiny linear model on CPU, logged by ``CSVLogger`` into
``OUT/lightning_logs/version_0`` and ``version_1``: ``train_loss`` on every second step,
``val_loss`` once per epoch (on rows of its own), hparams with a tuple (written by Lightning as
``!!python/tuple``). With ``ckpt`` the default ModelCheckpoint also writes ``checkpoints/*.ckpt``
(not committed). ``README.md`` records the versions.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))


def main(out: str, checkpoints: bool = False) -> None:
    import lightning as L
    import torch
    from lightning.pytorch.loggers import CSVLogger
    from torch import nn

    class Model(L.LightningModule):
        def __init__(self, lr: float = 0.05, hidden: tuple[int, ...] = (8, 4), opt: str = "sgd"):
            super().__init__()
            self.save_hyperparameters()
            self.layer = nn.Linear(4, 1)

        def training_step(self, batch, _):  # type: ignore[no-untyped-def]
            x, y = batch
            loss = nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, _):  # type: ignore[no-untyped-def]
            x, y = batch
            self.log("val_loss", nn.functional.mse_loss(self.layer(x), y))

        def configure_optimizers(self):  # type: ignore[no-untyped-def]
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    loader = torch.utils.data.DataLoader(data, batch_size=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "few dataloader workers" and the like
        for lr in (0.05, 0.01):
            torch.manual_seed(0)
            trainer = L.Trainer(
                max_epochs=3,
                logger=CSVLogger(out, name="lightning_logs"),
                log_every_n_steps=2,
                enable_progress_bar=False,
                enable_model_summary=False,
                enable_checkpointing=checkpoints,
                accelerator="cpu",
                devices=1,
            )
            trainer.fit(Model(lr=lr), loader, loader)

    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(
            f"Written by tests/data/make_lightning.py with lightning=={L.__version__}, "
            f"torch=={torch.__version__}, Python {platform.python_version()}.\n"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1], checkpoints=len(sys.argv) > 2 and sys.argv[2] == "ckpt")
    else:
        main(os.path.join(HERE, "lightning"))
