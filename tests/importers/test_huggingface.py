"""Hugging Face importer on a real ``Trainer`` output folder.

Written by a tiny CPU ``transformers.Trainer`` run (``tests/data/make_huggingface.py``; torch,
transformers and accelerate must be installed) live, and kept committed (binaries removed) in
``tests/data/huggingface/``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _libsamples import DATA, make

from expbook.importers import huggingface as hf
from expbook.importers.model import ImportedRun, ParseError


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make("make_huggingface.py", tmp_path_factory.mktemp("hf") / "out")


def check_run(run: ImportedRun, folder: Path) -> None:
    state = json.loads((folder / "trainer_state.json").read_text())
    assert run.format == "huggingface"
    assert run.name == "toy-regression"
    assert run.source == str(folder)
    assert run.status == "finished"
    assert run.warnings == []
    history = state["log_history"]
    train = [e for e in history if "loss" in e]
    assert run.series["loss"] == [(e["step"], e["loss"], None) for e in train]
    assert [p[0] for p in run.series["loss"]] == list(range(2, 25, 2))
    assert run.series["learning_rate"][0] == (2, train[0]["learning_rate"], None)
    assert run.series["grad_norm"][-1][1] == train[-1]["grad_norm"]
    evals = [e for e in history if "eval_loss" in e]
    assert len(evals) == 4  # one per epoch, and trainer.evaluate() at the end
    assert run.series["eval_loss"] == [(e["step"], e["eval_loss"], None) for e in evals]
    assert "eval_runtime" in run.series
    epochs = run.series["epoch"]
    assert len({p[0] for p in epochs}) == len(epochs)
    assert epochs[-1][:2] == (24, 3.0)
    # the closing train entry goes to the summary, with the state's own numbers
    closing = next(e for e in history if "train_runtime" in e)
    assert "train_runtime" not in run.series and "train_loss" not in run.series
    assert run.summary["train_loss"] == closing["train_loss"]
    assert run.summary["train_runtime"] == closing["train_runtime"]
    assert run.summary["global_step"] == 24
    assert run.summary["epoch"] == 3.0
    assert run.summary["best_metric"] == state["best_metric"]
    assert run.summary["best_global_step"] == 24
    assert run.summary["best_model_checkpoint"].endswith("checkpoint-24")
    assert run.summary["eval_samples_per_second"] > 0  # from eval_results.json
    assert {k: run.config[k] for k in ("train_batch_size", "num_train_epochs", "max_steps")} == {
        "train_batch_size": 8,
        "num_train_epochs": 3,
        "max_steps": 24,
    }
    assert run.config["logging_steps"] == 2
    assert run.config["model"]["model_type"] == "bert"
    assert run.config["model"]["hidden_size"] == 16
    names = sorted(Path(f.path).name for f in run.files)
    assert names == [
        "all_results.json",
        "config.json",
        "eval_results.json",
        "train_results.json",
        "trainer_state.json",
    ]


def test_output_folder(live: Path) -> None:
    folder = live / "toy-regression"
    [run] = hf.parse(str(folder), None)
    check_run(run, folder)
    assert [r.source for r in hf.parse(str(live), None)] == [str(folder)]
    assert hf.parse(str(folder / "trainer_state.json"), None)[0].series == run.series


def test_checkpoint_folder_is_an_unfinished_run(live: Path) -> None:
    ckpt = live / "toy-regression" / "checkpoint-16"
    [run] = hf.parse(str(ckpt), None)
    assert run.name == "toy-regression"
    assert run.source == str(ckpt)
    assert run.status == "running"
    assert run.warnings == [
        "training had not finished at step 16 of 24 (still running, or stopped)"
    ]
    assert run.summary["global_step"] == 16
    assert run.series["loss"][-1][0] == 16
    assert "train_loss" not in run.summary


def test_most_advanced_checkpoint_wins(live: Path, tmp_path: Path) -> None:
    folder = tmp_path / "toy-regression"
    shutil.copytree(live / "toy-regression", folder)
    (folder / "trainer_state.json").unlink()
    [run] = hf.parse(str(folder), None)
    assert run.files[0].path == str(folder / "checkpoint-24" / "trainer_state.json")
    assert run.summary["global_step"] == 24
    assert len(run.series["eval_loss"]) == 3  # evaluate() ran after the last checkpoint


def test_claim_and_sniff(live: Path, tmp_path: Path) -> None:
    folder = live / "toy-regression"
    assert hf.claim_dir(str(folder))
    assert hf.claim_dir(str(folder / "checkpoint-24"))
    assert not hf.claim_dir(str(live))
    assert not hf.claim_dir(str(tmp_path))
    state = folder / "trainer_state.json"
    assert hf.sniff_file(str(state), state.read_bytes()[:65536]) == 95
    assert hf.sniff_file(str(folder / "config.json"), (folder / "config.json").read_bytes()) == 0


def test_committed_copy() -> None:
    root = DATA / "huggingface"
    assert "transformers==" in (root / "README.md").read_text()
    [run] = hf.parse(str(root), None)
    check_run(run, root / "toy-regression")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not valid JSON"),
        (b'{"log_history": [{"loss": 1.0, "st', "not valid JSON"),
        (b"\xff\xfe\xfa", "not UTF-8"),
        (b'{"global_step": 3}', "no log_history"),
        (b"[1, 2]", "no log_history"),
    ],
)
def test_unreadable_state(tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "trainer_state.json").write_bytes(content)
    with pytest.raises(ParseError, match=message):
        hf.parse(str(tmp_path), None)


def test_corrupt_top_state_falls_back_to_a_checkpoint(live: Path, tmp_path: Path) -> None:
    folder = tmp_path / "toy-regression"
    shutil.copytree(live / "toy-regression", folder)
    (folder / "trainer_state.json").write_text('{"log_history": [')
    [run] = hf.parse(str(folder), None)
    assert run.summary["global_step"] == 24
    assert run.warnings[0].startswith("skipped a state file: trainer_state.json is not valid JSON")


def test_odd_entries_are_skipped(tmp_path: Path) -> None:
    state = {
        "global_step": 4,
        "max_steps": 4,
        "log_history": [
            {"loss": 1.0, "step": 2, "epoch": 0.5, "note": "text"},
            "junk",
            {"loss": 2.0},
            {"loss": 0.5, "step": 4, "flag": True},
        ],
    }
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    [run] = hf.parse(str(tmp_path), None)
    assert run.series == {"loss": [(2, 1.0, None), (4, 0.5, None)], "epoch": [(2, 0.5, None)]}
    assert run.skipped_lines == 2
    assert run.status == "finished"


def test_folder_without_state(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"no trainer_state\.json"):
        hf.parse(str(tmp_path), None)


def test_registered_under_its_name_and_alias() -> None:
    from expbook.importers import registry

    info = registry.resolve("hf")
    assert info.available and info.name == "huggingface"
    assert info.can_claim_dir and info.can_sniff
