"""The logging API: init/log/finish, wandb-style calls, config and summary."""

from __future__ import annotations

import math

import numpy as np
import pytest

import expbook
from expbook import MetricError, UsageError
from expbook.store import connect


def history(store_path: str, run_id: str) -> dict:
    return expbook.open_store(store_path).series_records(run_id)


def test_log_and_read_back(store_path: str) -> None:
    run = expbook.init(project="p", name="first", config={"lr": 0.1}, store=store_path)
    for i in range(5):
        run.log({"loss": 1.0 / (i + 1), "acc": i / 10})
    run.finish()
    h = history(store_path, run.id)
    assert h["loss"] == [[i, 1.0 / (i + 1)] for i in range(5)]
    assert [s for s, _ in h["acc"]] == [0, 1, 2, 3, 4]
    rec = expbook.open_store(store_path).run("first")
    assert rec.status == "finished" and rec.config == {"lr": 0.1} and rec.project == "p"


def test_wandb_step_semantics(store_path: str) -> None:
    run = expbook.init(store=store_path)
    run.log({"a": 1.0})  # step 0
    run.log({"b": 2.0}, commit=False)  # step 1, not committed
    run.log({"c": 3.0})  # still step 1
    run.log({"a": 4.0}, step=10)  # step 10, left open (wandb)
    run.log({"d": 5.0})  # still 10, now committed
    run.log({"a": 5.5})  # 11
    with pytest.warns(UserWarning, match=r"'a' logged at step 3, below the run's current step 12"):
        run.log({"a": 6.0}, step=3)  # out of order: stored, cursor unchanged, said once
    run.log({"a": 7.0})  # 12
    run.log({"a": 8.0}, step=1)  # said once only: no second warning (filterwarnings=error)
    run.finish()
    h = history(store_path, run.id)
    assert h["a"] == [[0, 1.0], [1, 8.0], [3, 6.0], [10, 4.0], [11, 5.5], [12, 7.0]]
    assert h["b"] == [[1, 2.0]] and h["c"] == [[1, 3.0]] and h["d"] == [[10, 5.0]]


def test_explicit_step_twice_then_no_step_lands_on_it(store_path: str) -> None:
    run = expbook.init(store=store_path)
    run.log({"x": 1.0}, step=10)
    run.log({"y": 2.0}, step=10)
    run.log({"z": 3.0})  # wandb: 10, not 11
    run.log({"z": 4.0})  # 11
    run.log({"w": 5.0}, step=20, commit=True)  # committed: the next row goes to 21
    run.log({"w": 6.0})
    run.finish()
    h = history(store_path, run.id)
    assert h["x"] == [[10, 1.0]] and h["y"] == [[10, 2.0]]
    assert h["z"] == [[10, 3.0], [11, 4.0]] and h["w"] == [[20, 5.0], [21, 6.0]]


def test_repeated_step_replaces_value(store_path: str) -> None:
    run = expbook.init(store=store_path)
    run.log({"x": 1.0}, step=5)
    run.log({"x": 2.0}, step=5)
    run.finish()
    book = expbook.open_store(store_path)
    assert book.series_records(run.id)["x"] == [[5, 2.0]]
    s = book.metric_summary(run.id, "x")
    assert s["count"] == 1 and s["last_value"] == 2.0 and s["min_value"] == 2.0


class FakeTensor:
    """Quacks like a torch scalar tensor, so the test needs no torch install."""

    __module__ = "torch"

    def __init__(self, v: float, n: int = 1) -> None:
        self.v, self.n = v, n
        self.shape = () if n == 1 else (n,)

    def numel(self) -> int:
        return self.n

    def item(self) -> float:
        return self.v


def test_accepts_numbers_of_many_kinds(store_path: str) -> None:
    run = expbook.init(store=store_path)
    run.log(
        {
            "py_int": 3,
            "py_bool": True,
            "np_f32": np.float32(0.5),
            "np_i64": np.int64(7),
            "zero_d": np.array(2.5),
            "tensor": FakeTensor(1.25),
            "nested": {"inner": 4.0},
        }
    )
    run.finish()
    h = history(store_path, run.id)
    assert h["py_int"] == [[0, 3.0]] and h["py_bool"] == [[0, 1.0]]
    assert h["np_f32"] == [[0, 0.5]] and h["np_i64"] == [[0, 7.0]]
    assert h["zero_d"] == [[0, 2.5]] and h["tensor"] == [[0, 1.25]]
    assert h["nested/inner"] == [[0, 4.0]]


@pytest.mark.parametrize(
    "value, needle",
    [
        ("high", "str"),
        (None, "NoneType"),
        ([1, 2], "list"),
        (np.ones(3), "shape (3,)"),
        (FakeTensor(1.0, n=4), "tensor of shape (4,)"),
    ],
)
def test_strict_mode_names_the_key_of_a_value_that_is_not_a_number(
    store_path: str, value: object, needle: str
) -> None:
    run = expbook.init(store=store_path, strict=True)
    with pytest.raises(MetricError) as e:
        run.log({"ok": 1.0, "bad_key": value})
    assert "bad_key" in str(e.value) and needle in str(e.value)
    run.log({"ok": 2.0})
    run.finish()
    # the rejected call logged nothing, not even its good key
    assert history(store_path, run.id) == {"ok": [[0, 2.0]]}


def test_values_that_are_not_numbers_are_kept_beside_the_scalars(store_path: str) -> None:
    run = expbook.init(store=store_path)
    run.log({"ok": 1.0, "text": "high", "none": None, "list": [1, 2], "arr": np.ones(3)})
    run.log({"ok": 2.0, "cfg": {"name": "x", "n": 3}})  # a dict with a non-number leaf
    with pytest.warns(UserWarning, match="cannot store 'fn'"):
        run.log({"ok": 3.0, "fn": print})  # only what cannot be stored is left out
    run.log({"fn": print})  # said once per key
    run.finish()
    assert history(store_path, run.id) == {
        "ok": [[0, 1.0], [1, 2.0], [2, 3.0]],
        "cfg/n": [[1, 3.0]],
    }
    got = {(k, step): v for k, step, _, v in connect(store_path).read_values(run.id)}
    assert got == {
        ("text", 0): "high",
        ("none", 0): None,
        ("list", 0): [1, 2],
        ("arr", 0): [1.0, 1.0, 1.0],
        ("cfg/name", 1): "x",
    }


def test_log_requires_a_mapping_and_integer_step(store_path: str) -> None:
    run = expbook.init(store=store_path)
    with pytest.raises(MetricError, match="dict"):
        run.log([1, 2])  # type: ignore[arg-type]
    with pytest.raises(MetricError, match="step"):
        run.log({"a": 1.0}, step=1.5)
    with pytest.raises(MetricError, match="strings"):
        run.log({1: 1.0})  # type: ignore[dict-item]
    run.finish()


def test_log_before_init_is_a_clear_error() -> None:
    with pytest.raises(UsageError, match="init"):
        expbook.log({"loss": 1.0})
    with pytest.raises(UsageError, match="init"):
        expbook.config["lr"]
    assert expbook.run is None
    expbook.finish()  # a no-op without a run


def test_module_level_api_follows_the_current_run(store_path: str) -> None:
    run = expbook.init(project="m", config={"lr": 0.1}, store=store_path)
    assert expbook.run is run
    expbook.config.update({"batch": 32})
    expbook.log({"loss": 2.0})
    expbook.log({"loss": 1.0})
    assert expbook.summary["loss"] == 1.0
    expbook.summary["best"] = 0.5
    expbook.finish()
    assert expbook.run is None
    rec = expbook.open_store(store_path).run(run.id)
    assert rec.config == {"lr": 0.1, "batch": 32}
    assert rec.summary == {"best": 0.5}
    assert expbook.open_store(store_path).run_records()[0]["summary"] == {"loss": 1.0, "best": 0.5}


def test_config_access_styles(store_path: str) -> None:
    import argparse

    ns = argparse.Namespace(lr=0.01, opt={"name": "adam", "betas": [0.9, 0.99]})
    run = expbook.init(config=ns, store=store_path)
    assert run.config.lr == 0.01 and run.config["lr"] == 0.01
    assert run.config.opt.name == "adam" and run.config["opt"]["betas"] == [0.9, 0.99]
    run.config.opt.name = "sgd"
    run.config["epochs"] = 3
    run.config.update({"seed": np.int64(1)}, allow_val_change=True)
    assert "epochs" in run.config and len(run.config) == 4
    with pytest.raises(AttributeError):
        _ = run.config.missing
    run.finish()
    rec = expbook.open_store(store_path).run(run.id)
    assert rec.config == {
        "lr": 0.01,
        "opt": {"name": "sgd", "betas": [0.9, 0.99]},
        "epochs": 3,
        "seed": 1,
    }


def test_summary_last_value_unless_set(store_path: str) -> None:
    run = expbook.init(store=store_path)
    run.log({"loss": 3.0})
    run.log({"loss": float("nan")})
    assert math.isnan(run.summary["loss"])
    run.summary["loss"] = 0.25
    assert run.summary["loss"] == 0.25 and run.summary.loss == 0.25
    run.finish()


def test_unknown_wandb_keywords_are_accepted(store_path: str) -> None:
    run = expbook.init(
        project="p",
        entity="team",
        job_type="train",
        mode="offline",
        reinit=True,
        save_code=False,
        settings=object(),
        store=store_path,
    )
    run.finish()
    meta = expbook.open_store(store_path).run(run.id).meta
    assert meta["init_kwargs"]["entity"] == "team" and meta["init_kwargs"]["job_type"] == "train"
    assert meta["pid"] > 0 and meta["host"] and meta["python"]


def test_context_manager_marks_failure(store_path: str) -> None:
    with pytest.raises(ZeroDivisionError), expbook.init(store=store_path) as run:
        run.log({"a": 1.0})
        1 / 0  # noqa: B018
    rec = expbook.open_store(store_path).run(run.id)
    assert rec.status == "failed" and rec.exit_code == 1
    assert history(store_path, run.id) == {"a": [[0, 1.0]]}


def test_log_after_finish_is_an_error(store_path: str) -> None:
    run = expbook.init(store=store_path)
    run.finish()
    with pytest.raises(UsageError, match="finished"):
        run.log({"a": 1.0})


def test_finish_with_exit_code_marks_failed(store_path: str) -> None:
    run = expbook.init(store=store_path)
    run.finish(exit_code=3)
    rec = expbook.open_store(store_path).run(run.id)
    assert rec.status == "failed" and rec.exit_code == 3


def test_resume(store_path: str) -> None:
    run = expbook.init(id="abc12345", config={"a": 1}, store=store_path)
    run.log({"x": 1.0})
    run.log({"x": 2.0})
    run.finish()
    with pytest.raises(UsageError, match="resume"):
        expbook.init(id="abc12345", store=store_path)
    with pytest.raises(UsageError, match="no run"):
        expbook.init(id="zzz99999", resume="must", store=store_path)
    again = expbook.init(id="abc12345", resume="must", config={"b": 2}, store=store_path)
    assert again.step == 2
    again.log({"x": 3.0})
    again.finish()
    book = expbook.open_store(store_path)
    assert book.series_records("abc12345")["x"] == [[0, 1.0], [1, 2.0], [2, 3.0]]
    assert book.run("abc12345").config == {"a": 1, "b": 2}
    new = expbook.init(id="new00001", resume="allow", store=store_path)
    assert new.id == "new00001"
    new.finish()


def test_reinit_finishes_previous_run(store_path: str) -> None:
    a = expbook.init(store=store_path)
    a.log({"v": 1.0})
    b = expbook.init(store=store_path)
    assert a.finished and expbook.run is b
    b.finish()
    assert expbook.open_store(store_path).run(a.id).status == "finished"


def test_dir_argument_names_the_store_as_store_does(tmp_path) -> None:
    run = expbook.init(dir=str(tmp_path / "work"))
    run.finish()
    assert (tmp_path / "work" / "expbook.db").exists()  # as --store work would
    (tmp_path / "proj" / ".expbook").mkdir(parents=True)
    expbook.init(dir=str(tmp_path / "proj")).finish()  # a folder holding .expbook/ uses it
    assert (tmp_path / "proj" / ".expbook" / "expbook.db").exists()


def test_default_store_is_nearest_dot_expbook(tmp_path, monkeypatch) -> None:
    (tmp_path / "proj" / ".expbook").mkdir(parents=True)
    (tmp_path / "proj" / "sub" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "proj" / "sub" / "deeper")
    run = expbook.init()
    run.finish()
    assert (tmp_path / "proj" / ".expbook" / "expbook.db").exists()
    monkeypatch.setenv("EXPBOOK_STORE", str(tmp_path / "elsewhere"))
    run = expbook.init()
    run.finish()
    assert (tmp_path / "elsewhere" / "expbook.db").exists()


def test_runs_dataframe(store_path: str) -> None:
    for lr in (0.1, 0.2):
        with expbook.init(
            project="df", config={"lr": lr, "opt": {"name": "adam"}}, tags=["t"], store=store_path
        ) as run:
            run.log({"loss": lr * 10})
    df = expbook.open_store(store_path).runs(project="df")
    assert list(df["config.lr"]) == [0.1, 0.2]
    assert list(df["config.opt.name"]) == ["adam", "adam"]
    assert list(df["summary.loss"]) == [1.0, 2.0]
    assert set(df["status"]) == {"finished"}
    h = expbook.open_store(store_path).history(run.id)
    assert list(h["loss"]) == [2.0] and "_time" in h.columns


def test_int_too_large_for_a_float_fails_at_the_call(store_path: str) -> None:
    run = expbook.init(store=store_path)
    with pytest.raises(MetricError, match="'huge'"):
        run.log({"huge": 10**400, "y": 1.0}, step=0)
    run.log({"y": 2.0}, step=1)
    run.log({"i": 3}, step=2)
    run.finish()
    assert history(store_path, run.id) == {"y": [[1, 2.0]], "i": [[2, 3.0]]}
