"""Seed 004 (PINN journal): final/best losses, first crossing, threshold passes, and the
journal's claim syntax evaluated with the same parser and a journal-style function table."""

from __future__ import annotations

import pytest
from seeds import expected

from expbook.analysis import apply_derived, leaderboard, select_runs
from expbook.analysis.derive import best_value, last_value
from expbook.expr import Arg, Function, Glob, compile_expr


@pytest.fixture(scope="module")
def exp():
    return expected("seed004")


def test_final_best_last_step_for_every_run(seed004_runs, exp):
    t = leaderboard(list(seed004_runs.values()), "loss")
    got = {r["run"]: r for r in t.to_records()}
    assert len(got) == len(exp["runs"]) == 57
    for name, e in exp["runs"].items():
        r = got[name]
        assert (r["last"], r["best"], r["last_step"], r["points"]) == (
            e["final_loss"],
            e["best_loss"],
            e["last_step"],
            e["n_points"],
        )


def _claims(exp, prefix):
    return [c for c in exp["claims"] if c["id"].startswith(prefix)]


def test_first_below(seed004_runs, exp):
    runs = apply_derived(
        list(seed004_runs.values()),
        [
            "fb6=first_below(loss, 1e-6)",
            "fb3=first_below(loss, 1e-3)",
            "fa=first_above(loss, 1e-3)",
        ],
    )
    by = {r.name: r.derived for r in runs}
    for c in _claims(exp, "c11_"):
        run = c["expr"].split("(")[1].split(",")[0]
        assert by[run]["fb6"] == c["value"]
    assert by["exp22_transformer_d128_L2_hermite"]["fb3"] == 688  # c16
    assert by["exp23_width_d128_L2_hermite"]["fb3"] == 1178  # c21
    assert by["exp23_depth_d64_L8_hermite"]["fb3"] is None  # c22: never
    # it went back above 1e-3 once, at epoch 698, after first crossing at 688
    width = seed004_runs["exp22_transformer_d128_L2_hermite"]
    steps, values, _ = width.series("loss").steps, width.series("loss").values, None
    above_after = [s for s, v in zip(steps, values) if s > 688 and v > 1e-3]
    assert above_after == [698]
    assert by["exp22_transformer_d128_L2_hermite"]["fa"] == 1  # first point is above


def test_passes_and_count(seed004_runs, exp):
    runs = list(seed004_runs.values())
    derived = {r.name: r.derived["p"] for r in apply_derived(runs, ["p=passes(loss, 1e-6)"])}
    for c in _claims(exp, "c09_") + _claims(exp, "c25") + _claims(exp, "c26"):
        run = c["expr"].split("(")[1].split(",")[0]
        assert derived[run] is c["holds"]
    passing = select_runs(runs, names=["exp20_*"], filter="passes(loss, 1e-6)")
    assert len(passing) == next(c["value"] for c in exp["claims"] if c["id"] == "c10") == 4
    assert len(select_runs(runs, names=["exp20_*"])) == 12


def test_elapsed_and_time_ratio(seed004_runs, exp):
    runs = {r.name: r for r in apply_derived(list(seed004_runs.values()), ["t=last(elapsed_s)"])}
    c19 = next(c for c in exp["claims"] if c["id"] == "c19")
    assert runs["exp22_transformer_d128_L2_hermite"].derived["t"] == c19["value"]
    for c in _claims(exp, "c13_"):
        b, a = c["expr"][len("time_ratio(") : -1].split(", ")
        assert runs[b].derived["t"] / runs[a].derived["t"] == pytest.approx(c["value"])


# -- the journal's claim language on the shared parser ------------------------------------------


def _journal_functions(runs):
    """What a journal engine plugs into expbook.expr: run names as key arguments, globs
    expanding to lists, and a raw argmin that evaluates its first argument per run."""

    def expand(name):
        if isinstance(name, Glob):
            return [r for n, r in sorted(runs.items()) if name.matches(n)]
        return runs[name]

    def over(fn):
        def impl(run, *args):
            target = expand(run)
            if isinstance(target, list):
                return [fn(r, *args) for r in target]
            return fn(target, *args)

        return impl

    def final(run, metric):
        return last_value(run, metric)

    def passes(run, metric, t):
        return final(run, metric) < t

    def factor(a, b, metric):
        return final(expand(a), metric) / final(expand(b), metric)

    def argmin(env, args: list[Arg]):
        metric_call = args[0].node  # final(loss): applied to each candidate
        metric = metric_call.args[0].name
        return min((a.key() for a in args[1:]), key=lambda n: final(runs[n], metric))

    key = {"key_params": (0,)}
    return {
        "final": Function(over(final), ("run", "metric"), 2, key_params=(0, 1)),
        "best": Function(over(lambda r, m: best_value(r, m)), ("run", "metric"), 2, **key),
        "passes": Function(over(passes), ("run", "metric", "t"), 3, key_params=(0, 1)),
        "factor": Function(factor, ("a", "b", "metric"), 3, key_params=(0, 1, 2)),
        "count": Function(lambda xs: sum(bool(x) for x in xs), ("values",), 1),
        "round": Function(round, ("x",), 1),
        "argmin": Function(argmin, ("f", "runs"), 2, variadic=True, raw=True),
    }


def test_journal_claims_with_a_plugged_function_table(seed004_runs, exp):
    funcs = _journal_functions(seed004_runs)
    checked = 0
    for c in exp["claims"]:
        head = c["expr"].split("(")[0]
        if head not in ("final", "factor", "passes", "count", "round", "argmin"):
            continue
        value = compile_expr(c["expr"], functions=funcs)()
        if "holds" in c:
            assert value is c["holds"], c["id"]
        elif isinstance(c["value"], str):
            assert value == c["value"], c["id"]
        else:
            assert value == pytest.approx(c["value"], rel=1e-12), c["id"]
        checked += 1
    assert checked >= 20
