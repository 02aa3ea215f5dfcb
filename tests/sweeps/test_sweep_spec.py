"""A bad sweep spec is one line and an exit status of 1, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from expbook.sweeps.spec import SpecError, parse_spec

BASE = {"name": "s", "command": "python t.py --a {a}", "params": {"a": [1, 2]}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"method": "bayes"}, "unknown method 'bayes'"),
        ({"params": {"a": []}}, "params.a: an empty list (an empty grid)"),
        ({"params": {}}, "params: an empty grid"),
        ({"command": "python t.py --a {a} --b {b}"}, "command: placeholder {b} names no param"),
        ({"function": "m:f"}, "give exactly one of command"),
        ({"params": {"a": {"log_uniform": [1e-4, 1e-2]}}}, "a grid takes lists of values"),
        ({"method": "random"}, "method random needs trials"),
        ({"method": "optuna", "trials": 3}, "method optuna needs metric"),
        ({"prune": {"after_step": 3}}, "prune needs metric"),
        ({"workerz": 2}, "unknown field 'workerz' (did you mean 'workers'?)"),
        ({"name": "a b"}, "name must be a word"),
        ({"executor": "slurm"}, "unknown executor 'slurm'"),
        (
            {"method": "random", "trials": 2, "params": {"a": {"log_uniform": [0, 1]}}},
            "log_uniform needs low > 0",
        ),
    ],
)
def test_bad_spec_is_one_error(change: dict, message: str) -> None:
    data = {**BASE, **change}
    with pytest.raises(SpecError) as e:
        parse_spec(data)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_bad_spec_on_the_cli_runs_nothing(cli_run, tmp_path: Path, store_path: str) -> None:
    (tmp_path / "bad.yaml").write_text(
        yaml.safe_dump({**BASE, "command": "touch ran-{a} {missing}"})
    )
    code, _, err = cli_run("sweep", "bad.yaml")
    assert code == 1
    assert err == (
        "expbook: error: bad.yaml: command: placeholder {missing} names no param; params: a\n"
    )
    assert not list(tmp_path.glob("ran-*")) and not Path(store_path).exists()
    code, _, err = cli_run("sweep", "nope.yaml")
    assert code == 1 and err.startswith("expbook: error: cannot read sweep spec nope.yaml")
    code, _, err = cli_run("sweep", store=False)
    assert code == 2 and err == (
        "expbook: error: expbook sweep SPEC.yaml runs a sweep; also: status [NAME], stop NAME "
        "(-h: help)\n"
    )
    code, _, err = cli_run("sweep", "status", "nosuch")
    assert code == 1 and err.startswith("expbook: error: no expbook store")


def test_command_placeholders_are_quoted() -> None:
    spec = parse_spec(
        {**BASE, "command": "run --a {a} --n {sweep}-{trial} {{x}}", "params": {"a": ["x y", "z"]}}
    )
    assert spec.format_command({"a": "x y"}, 3) == "run --a 'x y' --n s-3 {x}"
    assert spec.total == 2 and spec.varying == ["a"]


def test_random_trials_are_the_same_on_every_run() -> None:
    from expbook.sweeps.methods import random_point

    spec = parse_spec(
        {
            **BASE,
            "method": "random",
            "trials": 5,
            "seed": 7,
            "params": {
                "a": [1, 2, 3],
                "lr": {"log_uniform": [1e-4, 1e-2]},
                "n": {"int_uniform": [1, 4]},
            },
        }
    )
    pts = [random_point(spec, i) for i in range(5)]
    assert pts == [random_point(spec, i) for i in range(5)]
    assert all(
        1e-4 <= p["lr"] <= 1e-2 and p["n"] in (1, 2, 3, 4) and p["a"] in (1, 2, 3) for p in pts
    )
    assert len({p["lr"] for p in pts}) == 5
