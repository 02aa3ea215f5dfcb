"""Summary files, config files and Hydra folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from expbook.importers import configs, summary
from expbook.importers.model import ParseError


def test_summary_text_key_value_and_colon(tmp_path: Path) -> None:
    p = tmp_path / "summary.txt"
    p.write_text(
        "run=gen_x\nframework=jax\nepochs=20\ntrain_mse=0.150344\n"
        "Test Acc: 0.91\nloss: nan\nmissing=-\n# comment\nelapsed: 12.5s\n"
    )
    (run,) = summary.parse(str(p))
    assert run.summary["run"] == "gen_x"
    assert run.summary["framework"] == "jax"
    assert run.summary["epochs"] == 20
    assert run.summary["train_mse"] == 0.150344
    assert run.summary["test_acc"] == 0.91
    assert run.summary["elapsed"] == 12.5
    assert run.summary["loss"] != run.summary["loss"]  # nan
    assert "missing" not in run.summary
    assert not run.config
    assert run.name == tmp_path.name  # "summary" is a generic stem: the folder names the run


def test_summary_json_special_keys(tmp_path: Path) -> None:
    p = tmp_path / "run.json"
    p.write_text(
        json.dumps(
            {
                "run_id": "abc",
                "status": "finished",
                "gpu": "A100",
                "gpu_hourly_usd": 2.05,
                "train_wall_clock_minutes": 315.4,
                "started_at": "2025-09-03T08:02:41Z",
                "test": {"acc": 0.9, "f1": 0.8},
                "ok": True,
                "tags": ["x"],
            }
        )
    )
    res = summary.read(str(p))
    assert res.summary == {
        "run_id": "abc",
        "gpu": "A100",
        "gpu_hourly_usd": 2.05,
        "train_wall_clock_minutes": 315.4,
        "test/acc": 0.9,
        "test/f1": 0.8,
        "ok": True,
    }
    assert res.status == "finished"
    assert res.created_at == 1756886561.0


@pytest.mark.parametrize(
    ("name", "content", "msg"),
    [
        ("s.txt", b"no separators here\n", "no key=value"),
        ("s.json", b"[1, 2]", "must be an object"),
        ("s.json", b'{"a": ', "invalid JSON"),
        ("s.txt", b"", "empty"),
    ],
)
def test_bad_summaries(tmp_path: Path, name: str, content: bytes, msg: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(ParseError, match=msg):
        summary.parse(str(p))


def test_config_yaml_nested_and_json(tmp_path: Path) -> None:
    y = tmp_path / "config.yaml"
    y.write_text("model:\n  latent_dim: 32\n  channels: [32, 64]\ntraining:\n  amp: true\n")
    (run,) = configs.parse(str(y))
    assert run.config == {
        "model": {"latent_dim": 32, "channels": [32, 64]},
        "training": {"amp": True},
    }
    j = tmp_path / "hparams.json"
    j.write_text('{"lr": 0.001, "layers": 2}')
    assert configs.load_config(str(j)) == {"lr": 0.001, "layers": 2}
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ParseError, match="invalid YAML at line"):
        configs.parse(str(bad))
    lst = tmp_path / "list.yaml"
    lst.write_text("- a\n- b\n")
    with pytest.raises(ParseError, match="must be a mapping"):
        configs.parse(str(lst))


def test_hydra_folder(tmp_path: Path) -> None:
    run_dir = tmp_path / "outputs" / "2024-01-01" / "12-00-00"
    hd = run_dir / ".hydra"
    hd.mkdir(parents=True)
    (hd / "config.yaml").write_text("optimizer:\n  lr: 0.01\nseed: 1\n")
    (hd / "overrides.yaml").write_text("- optimizer.lr=0.01\n- seed=1\n")
    (hd / "hydra.yaml").write_text(
        "hydra:\n  job:\n    name: train\n  runtime:\n    choices:\n      model: resnet\n"
        "      hydra/launcher: basic\n"
    )
    (run,) = configs.parse(str(run_dir))
    assert run.config["optimizer"] == {"lr": 0.01}
    assert run.config["hydra"] == {
        "overrides": ["optimizer.lr=0.01", "seed=1"],
        "job_name": "train",
        "choices": {"model": "resnet"},
    }
    assert run.tags == ["optimizer.lr=0.01", "seed=1"]
    assert len(run.files) == 3
