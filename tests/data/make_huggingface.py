"""Write a real Hugging Face ``Trainer`` output folder for the importer tests.

    python tests/data/make_huggingface.py        # refresh the committed copy in huggingface/
    python tests/data/make_huggingface.py OUT    # what the tests run (into a temp folder)

A tiny ``Trainer`` run on CPU (a linear regression ``nn.Module``, 64 samples, 3 epochs,
``logging_steps=2``, evaluation and a checkpoint every epoch, best model by ``eval_loss``), then
``trainer.evaluate()``, ``save_metrics`` (``*_results.json``) and ``save_state``
(``trainer_state.json``) into ``OUT/toy-regression/``. The module is not a ``PreTrainedModel``,
so a small ``BertConfig`` is saved beside it to stand for the ``config.json`` that
``save_model`` writes for Hub models. Binary files (weights, optimizer, ``training_args.bin``)
are removed from the committed copy. ``README.md`` records the versions.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
BINARY = (".safetensors", ".pt", ".pth", ".bin")


def main(out: str, keep_binaries: bool = True) -> None:
    import torch
    import transformers
    from torch import nn
    from transformers import BertConfig, Trainer, TrainingArguments

    class Data(torch.utils.data.Dataset):  # type: ignore[type-arg]
        def __init__(self, n: int, seed: int) -> None:
            g = torch.Generator().manual_seed(seed)
            self.x = torch.randn(n, 4, generator=g)
            self.y = self.x.sum(1, keepdim=True)

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            return {"x": self.x[i], "labels": self.y[i]}

    class Regressor(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = nn.Linear(4, 1)

        def forward(self, x, labels=None):  # type: ignore[no-untyped-def]
            pred = self.layer(x)
            return {"loss": nn.functional.mse_loss(pred, labels), "logits": pred}

    shutil.rmtree(out, ignore_errors=True)
    run_dir = os.path.join(out, "toy-regression")
    torch.manual_seed(0)
    args = TrainingArguments(
        output_dir=run_dir,
        num_train_epochs=3,
        per_device_train_batch_size=8,
        learning_rate=0.05,
        logging_steps=2,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        report_to="none",
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = Trainer(
            model=Regressor(), args=args, train_dataset=Data(64, 0), eval_dataset=Data(16, 1)
        )
        result = trainer.train()
        trainer.save_metrics("train", result.metrics)
        trainer.save_metrics("eval", trainer.evaluate())
        trainer.save_state()
    BertConfig(
        vocab_size=100, hidden_size=16, num_hidden_layers=2, num_attention_heads=2
    ).save_pretrained(run_dir)

    if not keep_binaries:
        for dirpath, _, names in os.walk(out):
            for name in names:
                if name.endswith(BINARY):
                    os.remove(os.path.join(dirpath, name))
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(
            "Written by tests/data/make_huggingface.py with "
            f"transformers=={transformers.__version__}, torch=={torch.__version__}, "
            f"Python {platform.python_version()}.\n"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        main(os.path.join(HERE, "huggingface"), keep_binaries=False)
