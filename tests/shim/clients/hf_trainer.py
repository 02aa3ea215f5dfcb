"""An unmodified Hugging Face Trainer reporting to wandb: a tiny BERT on random tokens.
Run by tests/shim/test_clients.py with the shim installed; prints the run id."""

import json

import torch
import wandb
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments


class Random(torch.utils.data.Dataset):
    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, 64, (n, 8), generator=g)
        self.labels = torch.randint(0, 2, (n,), generator=g)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def main(out: str) -> None:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=64,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=2,
    )
    args = TrainingArguments(
        output_dir=out,
        report_to=["wandb"],
        logging_steps=2,
        eval_strategy="steps",
        eval_steps=3,
        max_steps=6,
        per_device_train_batch_size=4,
        use_cpu=True,
        save_strategy="no",
        run_name="hf-tiny",
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=BertForSequenceClassification(config),
        args=args,
        train_dataset=Random(32, 0),
        eval_dataset=Random(8, 1),
    )
    trainer.train()
    trainer.evaluate()
    # what the Trainer itself recorded, each log with its global step: the test's reference
    with open(f"{out}/log_history.json", "w") as f:
        json.dump(trainer.state.log_history, f)
    print("RUN_ID", wandb.run.id if wandb.run is not None else None)
    wandb.finish()


if __name__ == "__main__":
    import sys

    main(sys.argv[1])
