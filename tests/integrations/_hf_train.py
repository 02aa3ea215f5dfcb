"""A tiny BERT trained by ``transformers.Trainer`` with ExpbookCallback (no downloads).

Run as a script (``python _hf_train.py STORE [raise_at]``) by the failure test: a forward that
raises at step ``raise_at`` ends the process with the exception, as a training script would.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
import transformers

from expbook.integrations.transformers import ExpbookCallback


class RandomTokens(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Random token ids with random binary labels."""

    def __init__(self, n: int, length: int = 8, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 50, (n, length), generator=g)
        self.labels = torch.randint(0, 2, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def tiny_bert() -> Any:
    config = transformers.BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        max_position_embeddings=16,
    )
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(config)


class Breaks(torch.nn.Module):
    """Wraps a model; its forward raises from the ``at``-th call on."""

    def __init__(self, model: Any, at: int) -> None:
        super().__init__()
        self.model = model
        self.config = model.config
        self.at = at
        self.calls = 0

    def forward(self, input_ids: Any, labels: Any = None) -> Any:
        self.calls += 1
        if self.calls >= self.at:
            raise RuntimeError(f"forward broke at call {self.calls}")
        return self.model(input_ids=input_ids, labels=labels)


def make_trainer(
    out: str, callback: Any, model: Any = None, max_steps: int = 6, **args: Any
) -> Any:
    kwargs: dict[str, Any] = dict(
        output_dir=out,
        max_steps=max_steps,
        per_device_train_batch_size=4,
        per_device_eval_batch_size=4,
        learning_rate=3e-4,
        logging_steps=2,
        eval_strategy="steps",
        eval_steps=3,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    kwargs.update(args)
    return transformers.Trainer(
        model=model if model is not None else tiny_bert(),
        args=transformers.TrainingArguments(**kwargs),
        train_dataset=RandomTokens(32),
        eval_dataset=RandomTokens(8, seed=1),
        callbacks=[callback],
    )


if __name__ == "__main__":
    store, raise_at = sys.argv[1], int(sys.argv[2])
    cb = ExpbookCallback(project="hf", name="breaks", store=store)
    make_trainer(store + "-out", cb, model=Breaks(tiny_bert(), raise_at)).train()
