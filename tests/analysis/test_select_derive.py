"""Run selection (--filter, names, globs, project) and derived metrics (--derive)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expbook.analysis import MemoryRun, apply_derived, parse_derive, select_runs
from expbook.analysis.derive import RUN_FUNCTIONS, Derived, DerivedRun, compile_run_expr, value_at
from expbook.analysis.keys import config_get, getter
from expbook.errors import RunNotFound
from expbook.expr import ExprError


@pytest.fixture
def runs():
    return [
        MemoryRun(
            "gen_jax_a",
            config={"framework": "jax", "model": {"layers": 2, "dims": [32, 64]}, "seed": 0},
            summary={"test_mse": 1.5},
            series={"loss": [(1, 3.0), (2, 2.0), (3, 2.5)], "operator/loss": [(1, 0.5)]},
            tags=["jax", "gen"],
        ),
        MemoryRun(
            "gen_torch_b",
            config={"framework": "torch", "model": {"layers": 4}},
            summary={"test_mse": 3.0},
            series={"loss": [(1, 4.0), (2, 1.0)]},
            tags=["torch"],
            status="failed",
            project="other",
        ),
        MemoryRun(
            "abl_jax_c",
            config={"framework": "jax", "model": {"layers": 2}, "a.b": "literal"},
            series={"loss": [(1, 5.0)]},
        ),
    ]


def names(rs):
    return [r.name for r in rs]


# -- key resolution ---------------------------------------------------------------------------


def test_config_paths():
    cfg = {"a": {"b": {"c": 1}}, "x.y": 2, "l": [10, {"k": 3}]}
    assert config_get(cfg, "a.b.c") == 1
    assert config_get(cfg, "x.y") == 2
    assert config_get(cfg, "l.0") == 10
    assert config_get(cfg, "l.1.k") == 3
    assert config_get(cfg, "a.zz") is None
    assert config_get(cfg, "l.9") is None


def test_getter_preferences(runs):
    r = runs[0]
    assert getter("config.framework")(r) == "jax"
    assert getter("framework")(r) == "jax"
    assert getter("model.layers", "param")(r) == 2
    assert getter("summary.test_mse")(r) == 1.5
    assert getter("loss")(r) == 2.5  # last logged value
    assert getter("name")(r) == "gen_jax_a"
    assert getter("run.status")(runs[1]) == "failed"
    assert getter("tags")(r) == ["jax", "gen"]
    clash = MemoryRun("c", config={"lr": 0.1}, series={"lr": [(1, 0.05)]})
    assert getter("lr", "metric")(clash) == 0.05
    assert getter("lr", "param")(clash) == 0.1


# -- selection --------------------------------------------------------------------------------


def test_filters(runs):
    assert names(select_runs(runs, 'config.framework == "jax" and test_mse < 2')) == ["gen_jax_a"]
    assert names(select_runs(runs, '"jax" in tags')) == ["gen_jax_a"]
    assert names(select_runs(runs, 'status == "failed"')) == ["gen_torch_b"]
    assert names(select_runs(runs, "model.layers >= 2 and loss < 3")) == [
        "gen_jax_a",
        "gen_torch_b",
    ]
    assert names(select_runs(runs, "test_mse == null")) == ["abl_jax_c"]
    assert names(select_runs(runs, "test_mse != 1.5")) == ["gen_torch_b"]  # null is not != 1.5
    assert names(select_runs(runs, "best(loss) < 2")) == ["gen_torch_b"]
    assert names(select_runs(runs, "`operator/loss` < 1")) == ["gen_jax_a"]
    assert names(select_runs(runs, 'matches(name, "gen_*")')) == ["gen_jax_a", "gen_torch_b"]
    assert names(select_runs(runs, "config.model.dims == [32, 64]")) == ["gen_jax_a"]
    assert names(select_runs(runs, 'config.`a.b` == "literal"')) == ["abl_jax_c"]


def test_names_globs_ids_and_project(runs):
    assert names(select_runs(runs, names=["gen_*"])) == ["gen_jax_a", "gen_torch_b"]
    assert names(select_runs(runs, names=[runs[2].id, "gen_jax_a"])) == ["gen_jax_a", "abl_jax_c"]
    assert names(select_runs(runs, project="default")) == ["gen_jax_a", "abl_jax_c"]
    assert names(select_runs(runs, names=["*_jax_*"], filter="loss > 3")) == ["abl_jax_c"]
    with pytest.raises(RunNotFound, match="no run named 'nope'"):
        select_runs(runs, names=["nope", "gen_*"])
    assert select_runs(runs, names=["zzz*"]) == []


def test_filter_errors(runs):
    with pytest.raises(ExprError, match=r"no run has 'test_mes' \(did you mean 'test_mse'\?\)"):
        select_runs(runs, "test_mes < 2")
    with pytest.raises(ExprError, match="a filter must be a condition"):
        select_runs(runs, "test_mse + 1")
    with pytest.raises(ExprError) as info:
        select_runs(runs, "operator/loss < 1")
    assert "'operator/loss' is a key: write it in backquotes, `operator/loss`" in str(info.value)
    assert info.value.column == 1
    with pytest.raises(ExprError, match="--filter: use '=='"):
        select_runs(runs, "framework = 'jax'")
    # not strict: unknown names are simply null
    assert select_runs(runs, "test_mes < 2", strict=False) == []


# -- derived metrics ----------------------------------------------------------------------------


def test_parse_derive():
    assert parse_derive("ppl=exp(val_loss)") == Derived("ppl", "exp(val_loss)")
    assert parse_derive(" a.b = x == 1 ") == Derived("a.b", "x == 1")
    for bad in ("exp(val_loss)", "=x", "1a=x", "a==b", "a="):
        with pytest.raises(ExprError):
            parse_derive(bad)


def test_derived_functions(runs):
    specs = [
        "last_loss=last(loss)",
        "first_loss=first(loss)",
        "best_loss=best(loss)",
        "worst=best(loss, 'max')",
        "best_at=best_step(loss)",
        "n=count(loss)",
        "at2=at(loss, 2)",
        "at9=at(loss, 9)",
        "fb=first_below(loss, 2.5)",
        "fa=first_above(loss, 4.5)",
        "ok=passes(loss, 2.6)",
        "st=steady(loss, warmup=1)",
        "mean0=mean(loss)",
        "scaled=loss * 2",
        "chained=scaled + 1",
        "summary_best=best(test_mse)",
    ]
    a, b, c = apply_derived(runs, specs)
    assert isinstance(a, DerivedRun)
    assert a.derived == {
        "last_loss": 2.5,
        "first_loss": 3.0,
        "best_loss": 2.0,
        "worst": 3.0,
        "best_at": 2,
        "n": 3,
        "at2": 2.0,
        "at9": None,
        "fb": 2,
        "fa": None,
        "ok": True,
        "st": 2.25,
        "mean0": 2.5,
        "scaled": 5.0,
        "chained": 6.0,
        "summary_best": 1.5,
    }
    assert b.derived["fb"] == 2 and b.derived["ok"] is True
    assert c.derived["summary_best"] is None and c.derived["st"] is None
    assert c.derived["ok"] is False
    # derived values live in the summary, usable as metrics; the base run is untouched
    assert a.summary["scaled"] == 5.0 and "scaled" not in runs[0].summary
    assert a.name == "gen_jax_a" and a.series("loss").steps == [1, 2, 3]
    # derived names work in filters and later derives
    assert names(select_runs(apply_derived(runs, ["s=loss*2"]), "s > 5")) == ["abl_jax_c"]


def test_derive_errors(runs):
    with pytest.raises(ExprError, match=r"--derive x: no run has 'los' \(did you mean 'loss'\?\)"):
        apply_derived(runs, ["x=best(los)"])
    with pytest.raises(ExprError, match="must be a key"):
        apply_derived(runs, ["x=best(loss + 1)"])
    with pytest.raises(ExprError, match='mode must be "min" or "max"'):
        apply_derived(runs, ["x=best(loss, 'maximum')"])
    with pytest.raises(ExprError, match="warmup must be"):
        apply_derived(runs, ["x=steady(loss, -1)"])
    with pytest.raises(
        ExprError, match=r"unknown function stedy\(\) \(did you mean steady\(\)\?\)"
    ):
        apply_derived(runs, ["x=stedy(loss)"])


def test_nan_handling():
    r = MemoryRun("nan", series={"loss": [(1, 2.0), (2, math.nan), (3, 1.0), (4, math.nan)]})
    [d] = apply_derived(
        [r], ["b=best(loss)", "l=last(loss)", "s=steady(loss, 0)", "p=passes(loss, 5)"]
    )
    assert d.derived["b"] == 1.0
    assert math.isnan(d.derived["l"])  # a diverged run keeps its NaN
    assert d.derived["s"] == 1.5
    assert d.derived["p"] is False
    assert r.metrics["loss"].nan_count == 2


def test_value_at_uses_summary_fast_paths():
    calls = []

    class Counting(MemoryRun):
        __slots__ = ()

        def series(self, key):
            calls.append(key)
            return super().series(key)

    r = Counting("x", series={"loss": [(s, float(s)) for s in range(0, 100, 10)]})
    assert value_at(r, "loss", 90) == 90.0
    assert value_at(r, "loss", 0) == 0.0
    assert value_at(r, "loss", 500) is None
    assert calls == []
    assert value_at(r, "loss", 50) == 50.0
    assert value_at(r, "loss", 55) is None
    assert calls == ["loss", "loss"]


_ARGS = st.one_of(
    st.sampled_from(["loss", "`operator/loss`", "test_mse", "nope", "_time", "'loss'", "gen_*"]),
    st.sampled_from(["0", "1", "2.5", "-1", "1e308", "1e400", "-1e400", "null", "true", "'max'"]),
    st.sampled_from(["'min'", "[1, 2]", "(0 - 1) ** 0.5", "9 ** 9 ** 9", "1 / 0"]),
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(sorted(RUN_FUNCTIONS)), st.lists(_ARGS, min_size=0, max_size=4))
def test_run_functions_raise_only_expr_error(runs, func, args):
    text = f"{func}({', '.join(args)})"
    try:
        fn = compile_run_expr(text)
    except ExprError:
        return
    for r in runs:
        try:
            fn(r)
        except ExprError:
            pass
