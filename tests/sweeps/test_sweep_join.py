"""``expbook.init()`` in a process started by a sweep joins the trial's run."""

from __future__ import annotations

import json

import pytest

import expbook
from expbook.store import connect


def test_init_joins_the_trial_run(monkeypatch: pytest.MonkeyPatch, store_path: str) -> None:
    monkeypatch.setenv("EXPBOOK_STORE", store_path)
    monkeypatch.setenv("EXPBOOK_SWEEP", "abl")
    monkeypatch.setenv("EXPBOOK_SWEEP_TRIAL", "4")
    monkeypatch.setenv("EXPBOOK_SWEEP_RUN", "trial4id")
    monkeypatch.setenv("EXPBOOK_SWEEP_PARAMS", json.dumps({"lr": 0.1, "pool": "sum"}))
    run = expbook.init(config={"pool": "mean-from-script", "steps": 3}, tags=["mine"])
    assert run.id == "trial4id" and run.sweep_id == "abl"
    assert expbook.init() is run  # a second init in the trial is the same run
    run.log({"loss": 1.0})
    run.finish()
    b = connect(store_path)
    rec = b.get_run("trial4id")
    b.close()
    assert rec.config == {"lr": 0.1, "pool": "mean-from-script", "steps": 3}
    assert set(rec.tags) == {"mine", "sweep:abl"} and rec.group == "abl"
    assert rec.meta["sweep"] == "abl" and rec.meta["sweep_trial"] == 4
    assert "resumed" not in rec.meta and rec.status == "finished"


def test_without_the_sweep_environment_nothing_changes(store_path: str) -> None:
    run = expbook.init(store=store_path, config={"a": 1})
    run.finish()
    b = connect(store_path)
    rec = b.get_run(run.id)
    b.close()
    assert rec.tags == [] and rec.group is None and "sweep" not in rec.meta
