"""wandb's semantics where real clients rely on them: define_metric, modes, reinit, exit codes,
run identity, watch, and the calls accepted for compatibility."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import expbook
from expbook.errors import UsageError
from expbook.store import connect


def _series(store_path: str, run_id: str) -> dict[str, list[list[float]]]:
    return expbook.open_store(store_path).series_records(run_id)


# -- define_metric ----------------------------------------------------------------------------
def test_step_metric_moves_points_to_the_clients_step(store_path: str) -> None:
    # what transformers' WandbCallback does
    run = expbook.init(store=store_path)
    expbook.define_metric("train/global_step")
    expbook.define_metric("*", step_metric="train/global_step", step_sync=True)
    for gs in (5, 10, 15):
        expbook.log({"train/loss": 1.0 / gs, "train/global_step": gs})
    expbook.log({"eval/loss": 0.5, "train/global_step": 15})
    expbook.log({"eval/acc": 0.75})  # no step metric in the row: its last value
    run.finish()
    h = _series(store_path, run.id)
    assert [s for s, _ in h["train/loss"]] == [5, 10, 15]
    assert h["eval/loss"] == [[15, 0.5]] and h["eval/acc"] == [[15, 0.75]]
    assert [v for _, v in h["train/global_step"]] == [5.0, 10.0, 15.0, 15.0]
    rec = connect(store_path).get_run(run.id)
    assert {"name": "*", "step_metric": "train/global_step"} in rec.meta["metrics"]


def test_exact_rule_wins_over_a_glob_and_rows_before_the_rule_keep_their_steps(
    store_path: str,
) -> None:
    run = expbook.init(store=store_path)
    run.log({"val/loss": 9.0})  # step 0, before any rule
    run.define_metric("val/*", step_metric="epoch")
    run.define_metric("val/special", step_metric="batch")
    run.log({"val/loss": 1.0, "val/special": 2.0, "epoch": 3, "batch": 700})
    run.log({"val/loss": 0.5, "epoch": 4.5})  # not a whole number: the row's own step
    run.finish()
    h = _series(store_path, run.id)
    assert h["val/loss"] == [[0, 9.0], [2, 0.5], [3, 1.0]]
    assert h["val/special"] == [[700, 2.0]]


@pytest.mark.parametrize("pure", [False, True])
def test_step_metric_last_value_survives_between_writes(
    store_path: str, monkeypatch: pytest.MonkeyPatch, pure: bool
) -> None:
    run = expbook.init(store=store_path)
    if pure:  # the pure-Python buffer, as without the C extension
        monkeypatch.setattr(run, "_logger", None)
        monkeypatch.setattr(run, "log", expbook.Run.log.__get__(run))
    run.define_metric("val/*", step_metric="epoch")
    run.log({"epoch": 7})
    run._writer.drain(run)  # the writer takes the row holding the step metric
    run.log({"val/loss": 0.25})  # a later take: the last value is remembered
    run.finish()
    assert _series(store_path, run.id)["val/loss"] == [[7, 0.25]]


@pytest.mark.parametrize(
    "summary, goal, expected",
    [
        ("min", None, 1.0),
        ("max", None, 4.0),
        ("mean", None, 2.5),
        ("first", None, 2.0),
        ("last", None, 3.0),
        ("best", "maximize", 4.0),
        ("best", "minimize", 1.0),
        ("min,max", None, {"min": 1.0, "max": 4.0}),
    ],
)
def test_summary_modes(store_path: str, summary: str, goal: str | None, expected: object) -> None:
    run = expbook.init(store=store_path)
    run.define_metric("loss", summary=summary, goal=goal)
    for v in (2.0, 1.0, 4.0, 3.0):
        run.log({"loss": v})
    run.finish()
    assert connect(store_path).get_run(run.id).summary["loss"] == expected


def test_summary_set_by_hand_wins_over_a_rule(store_path: str) -> None:
    run = expbook.init(store=store_path)
    run.define_metric("loss", summary="min")
    run.log({"loss": 2.0})
    run.log({"loss": 1.0})
    run.summary["loss"] = 42.0
    run.finish()
    assert connect(store_path).get_run(run.id).summary["loss"] == 42.0


def test_bad_define_metric_is_a_usage_error(store_path: str) -> None:
    run = expbook.init(store=store_path)
    with pytest.raises(UsageError, match="summary"):
        run.define_metric("loss", summary="median")
    with pytest.raises(UsageError, match="goal"):
        run.define_metric("loss", goal="up")
    with pytest.raises(UsageError, match="name"):
        run.define_metric("")
    run.finish()


# -- modes, reinit, identity ------------------------------------------------------------------
def test_disabled_mode_writes_nothing(tmp_path: Path) -> None:
    store = tmp_path / "never"
    run = expbook.init(store=str(store), mode="disabled", config={"lr": 0.1})
    run.log({"loss": 1.0})
    expbook.log({"loss": 2.0})
    run.config.update({"b": 2})
    run.summary["x"] = 1
    run.define_metric("loss", summary="min")
    run.watch(object())
    assert run.config["lr"] == 0.1 and run.disabled
    assert expbook.run is run
    run.finish()
    assert expbook.run is None
    assert not store.exists()


def test_disabled_by_environment_and_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPBOOK_MODE", "disabled")
    expbook.init(store=str(tmp_path / "a")).finish()
    monkeypatch.delenv("EXPBOOK_MODE")
    expbook.init(store=str(tmp_path / "b"), settings=expbook.Settings(mode="disabled")).finish()
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(UsageError, match="mode must be"):
        expbook.init(store=str(tmp_path / "c"), mode="cloud")
    run = expbook.init(store=str(tmp_path / "d"), mode="offline")
    run.log({"a": 1.0})
    run.finish()
    assert connect(str(tmp_path / "d")).get_run(run.id).meta["init_kwargs"]["mode"] == "offline"


@pytest.mark.parametrize("reinit", [True, "finish_previous", None])
def test_reinit_finishes_the_previous_run(store_path: str, reinit: object) -> None:
    first = expbook.init(store=store_path)
    second = expbook.init(store=store_path, reinit=reinit)
    assert first.finished and expbook.run is second
    assert connect(store_path).get_run(first.id).status == "finished"
    second.finish()


def test_reinit_create_new_and_return_previous(store_path: str) -> None:
    first = expbook.init(store=store_path)
    assert expbook.init(store=store_path, reinit="return_previous") is first
    second = expbook.init(store=store_path, reinit="create_new")
    assert not first.finished and expbook.run is second
    second.finish()
    assert expbook.run is first
    first.finish()


def test_name_tags_notes_set_on_the_run_are_stored(store_path: str) -> None:
    run = expbook.init(store=store_path, name="before", tags=["a"])
    run.name = "after"
    run.tags = ("x", "y")
    run.notes = "why this run"
    run.log({"a": 1.0})
    run.finish()
    rec = connect(store_path).get_run(run.id)
    assert (rec.name, rec.tags, rec.notes) == ("after", ["x", "y"], "why this run")


def test_run_properties_and_compat_calls(store_path: str) -> None:
    run = expbook.init(store=store_path, project="proj", job_type="train")
    assert run.path.endswith(f"/proj/{run.id}") and run.url.endswith(f"/runs/{run.id}")
    assert run.entity and run.project == "proj" and run.job_type == "train"
    assert run.resumed is False and run.offline is True and run.sweep_id is None
    assert expbook.login(key="x") is True
    assert expbook.setup() is None and expbook.require("service") is None
    expbook.termlog("hello")
    expbook.mark_preempting()
    with pytest.raises(UsageError, match="open_store"):
        expbook.Api()
    run.finish()
    assert connect(store_path).get_run(run.id).meta["preempting"] is True
    resumed = expbook.init(store=store_path, id=run.id, resume="allow")
    assert resumed.resumed is True
    resumed.finish()


# -- exit codes -------------------------------------------------------------------------------
def _script(tmp_path: Path, body: str, store: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(body))
    env = {**os.environ, "EXPBOOK_STORE": str(store)}
    return subprocess.run(
        [sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "exit_call, status, code",
    [
        ("sys.exit(3)", "failed", 3),
        ("sys.exit(0)", "finished", 0),
        ("sys.exit('bye')", "failed", 1),
    ],
)
def test_sys_exit_without_finish_sets_the_status(
    tmp_path: Path, exit_call: str, status: str, code: int
) -> None:
    store = tmp_path / "store"
    p = _script(
        tmp_path,
        f"""
        import sys, expbook
        run = expbook.init()
        run.log({{"loss": 1.0}})
        {exit_call}
        """,
        store,
    )
    assert p.returncode == code
    (rec,) = connect(str(store)).list_runs()
    assert (rec.status, rec.exit_code) == (status, code)


# -- watch ------------------------------------------------------------------------------------
def test_watch_logs_layer_norms_on_logging_steps_only(store_path: str) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = expbook.init(store=store_path)
    expbook.watch(model, log="all", log_freq=3)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    for _ in range(7):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()})
    expected_grad = model[0].weight.grad.norm().item()
    run.finish()
    h = _series(store_path, run.id)
    assert [s for s, _ in h["gradients/norm/0.weight"]] == [0, 3, 6]
    assert [s for s, _ in h["parameters/norm/2.bias"]] == [0, 3, 6]
    assert h["gradients/norm/0.weight"][-1][1] == pytest.approx(expected_grad, rel=1e-5)
    total = h["gradients/norm/_total"][0][1]
    parts = [v[0][1] for k, v in h.items() if k.startswith("gradients/norm/") and "_total" not in k]
    assert total == pytest.approx(sum(p * p for p in parts) ** 0.5)
    # the hooks are off after finish: another forward pass logs nothing and raises nothing
    model(x).sum().backward()
    assert model._forward_pre_hooks == {}


def test_unwatch_removes_the_hooks(store_path: str) -> None:
    model = torch.nn.Linear(2, 1)
    run = expbook.init(store=store_path)
    run.watch(model, log="parameters", log_freq=1)
    model(torch.ones(1, 2))
    run.unwatch(model)
    model(torch.ones(1, 2))
    run.log({"x": 1.0})
    run.finish()
    assert [s for s, _ in _series(store_path, run.id)["parameters/norm/weight"]] == [0]
    with pytest.raises(UsageError, match="watch"):
        expbook.init(store=store_path).watch(["not a model"])


# -- history --------------------------------------------------------------------------------
def test_history_json_has_the_values_that_are_not_numbers(store_path: str) -> None:
    from click.testing import CliRunner

    from expbook.cli import cli

    run = expbook.init(store=store_path)
    run.log({"loss": 1.0, "sample": "a cat"})
    run.log({"loss": 0.5, "sample": "a dog", "shape": [2, 3]})
    run.finish()
    out = CliRunner().invoke(cli, ["history", run.id, "--store", store_path, "--format", "json"])
    assert out.exit_code == 0, out.output
    got = json.loads(out.output)
    assert got["sample"] == [[0, "a cat"], [1, "a dog"]] and got["shape"] == [[1, [2, 3]]]
    assert got["loss"] == [[0, 1.0], [1, 0.5]]
    one = CliRunner().invoke(
        cli, ["history", run.id, "sample", "--store", store_path, "--format", "json"]
    )
    assert json.loads(one.output) == {"sample": [[0, "a cat"], [1, "a dog"]]}
