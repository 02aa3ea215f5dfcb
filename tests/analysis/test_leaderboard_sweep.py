"""Leaderboard edge cases, pivots, seed aggregation, and the pinned JSON shapes."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys

import pytest

from expbook.analysis import MemoryRun, leaderboard, pivot, seed_groups, winners
from expbook.analysis.sweep import aggregate


def run(name, loss=None, cfg=None, summary=None, **kw):
    series = {"loss": loss} if loss is not None else {}
    return MemoryRun(name, series=series, config=cfg or {}, summary=summary or {}, **kw)


@pytest.fixture
def board_runs():
    return [
        run("a", [(0, 3.0), (10, 1.0), (20, 2.0)], {"lr": 0.1}),
        run("b", [(0, 2.0), (10, 1.5)], {"lr": 0.01}),
        run("c", None, {"lr": 0.3}, {"loss": 0.5}),  # summary only
        run("d", None, {"lr": 0.2}),  # no loss at all
        run("e", [(0, math.nan), (10, math.nan)], {"lr": 1.0}),  # diverged
    ]


def test_leaderboard_rows_and_order(board_runs):
    t = leaderboard(board_runs, "loss", at_step=10, params=["lr"])
    recs = t.to_records()
    assert [r["run"] for r in recs] == ["c", "a", "b", "e", "d"]
    assert [r["rank"] for r in recs] == [1, 2, 3, None, None]
    a = recs[1]
    assert (a["best"], a["best_step"], a["last"], a["last_step"], a["at_value"], a["points"]) == (
        1.0,
        10,
        2.0,
        20,
        1.0,
        3,
    )
    assert a["lr"] == 0.1 and a["source"] == "series" and a["note"] is None
    c = recs[0]
    assert (c["best"], c["last"], c["best_step"], c["points"], c["source"]) == (
        0.5,
        0.5,
        None,
        0,
        "summary",
    )
    assert c["at_value"] is None and c["note"] == "no point at step 10 (summary value only)"
    assert recs[3]["note"] == "every value is NaN"
    assert math.isnan(recs[3]["last"])
    assert recs[4]["note"] == "no 'loss'" and recs[4]["source"] is None
    assert t.notes == ["1 run has no 'loss' (listed last)", "1 run has no point at step 10"]


def test_leaderboard_modes_sorts_and_top(board_runs):
    t = leaderboard(board_runs, "loss", mode="max", top=2)
    assert [r["run"] for r in t.to_records()] == ["a", "b"]
    assert t.column("best") == [3.0, 2.0]
    t = leaderboard(board_runs, "loss", sort="last")
    assert [r["run"] for r in t.to_records()][:3] == ["c", "b", "a"]
    t = leaderboard(board_runs, "loss", at_step=20, sort="at")
    assert [r["run"] for r in t.to_records()] == ["a", "b", "c", "e", "d"]
    assert "3 runs have no value to sort by (listed last)" in t.notes
    with pytest.raises(ValueError):
        leaderboard(board_runs, "loss", mode="best")
    with pytest.raises(ValueError):
        leaderboard(board_runs, "loss", sort="at")


def test_leaderboard_on_a_derived_metric(board_runs):
    t = leaderboard(board_runs, "double", derive=["double=best(loss) * 2"])
    recs = t.to_records()
    assert [(r["run"], r["best"], r["source"]) for r in recs[:3]] == [
        ("c", 1.0, "derived"),
        ("a", 2.0, "derived"),
        ("b", 3.0, "derived"),
    ]
    # other derived columns are shown next to the metric
    t = leaderboard(board_runs, "loss", derive=["ppl=exp(loss)"])
    assert t.columns[-1] == "ppl"
    assert t.to_records()[0]["ppl"] == pytest.approx(math.exp(0.5))


def test_leaderboard_json_shape_is_pinned(board_runs):
    t = leaderboard(board_runs[:2], "loss", at_step=10, params=["lr"])
    data = json.loads(json.dumps(t.to_jsonable()))
    assert data == {
        "kind": "leaderboard",
        "metric": "loss",
        "mode": "min",
        "sort": "best",
        "at_step": 10,
        "top": None,
        "columns": [
            "rank",
            "run",
            "id",
            "status",
            "best",
            "best_step",
            "last",
            "last_step",
            "at_value",
            "points",
            "source",
            "note",
            "lr",
        ],
        "rows": [
            {
                "rank": 1,
                "run": "a",
                "id": board_runs[0].id,
                "status": "finished",
                "best": 1.0,
                "best_step": 10,
                "last": 2.0,
                "last_step": 20,
                "at_value": 1.0,
                "points": 3,
                "source": "series",
                "note": None,
                "lr": 0.1,
            },
            {
                "rank": 2,
                "run": "b",
                "id": board_runs[1].id,
                "status": "finished",
                "best": 1.5,
                "best_step": 10,
                "last": 1.5,
                "last_step": 10,
                "at_value": 1.5,
                "points": 2,
                "source": "series",
                "note": None,
                "lr": 0.01,
            },
        ],
        "notes": [],
    }


def test_renderings(board_runs):
    t = leaderboard(board_runs[:2], "loss", params=["lr"])
    text = t.to_text().splitlines()
    assert text[0] == "loss (min, sorted by best)"
    assert text[1].split() == [
        "rank", "run", "id", "status", "best", "loss", "best_step", "last", "loss",
        "last_step", "points", "source", "note", "lr",
    ]  # fmt: skip
    md = t.to_markdown().splitlines()
    assert md[1].startswith("|---:|---|---|---|---:|")
    assert md[2].startswith("| 1 | a |")
    csv_lines = t.to_csv().splitlines()
    assert csv_lines[0].startswith("rank,run,id,status,best,best_step")
    assert csv_lines[1].endswith(",3,series,,0.1")


# -- pivot and aggregation ---------------------------------------------------------------------


def test_aggregate():
    vals = [3.0, None, 1.0, math.nan, "x", 2.0]
    assert aggregate(vals, "min") == 1.0
    assert aggregate(vals, "max") == 3.0
    assert aggregate(vals, "mean") == 2.0
    assert aggregate(vals, "median") == 2.0
    assert aggregate(vals, "std") == pytest.approx(1.0)
    assert aggregate(vals, "count") == 5
    assert aggregate(vals, "first") == 3.0
    assert aggregate(vals, "last") == 2.0
    assert aggregate([None], "mean") is None
    with pytest.raises(ValueError):
        aggregate([1], "sum")


def test_pivot_sorting_labels_and_missing_cells():
    runs = [
        run("r1", cfg={"layers": 16, "opt": "adam", "bs": 32}, summary={"acc": 0.9}),
        run("r2", cfg={"layers": 2, "opt": "adam", "bs": 64}, summary={"acc": 0.7}),
        run("r3", cfg={"layers": 2, "opt": "sgd", "bs": 32}, summary={"acc": 0.6}),
        run("r4", cfg={"layers": 2, "opt": "sgd", "bs": 32}, summary={"acc": 0.8}),
        run("r5", cfg={"opt": "sgd", "bs": 32}, summary={"acc": 0.5}),
    ]
    t = pivot(runs, rows=["layers"], cols=["opt", "bs"], value="acc", agg="mean")
    assert t.columns == ["layers", "adam / 32", "adam / 64", "sgd / 32"]
    assert t.rows == [
        [2, None, 0.7, pytest.approx(0.7)],
        [16, 0.9, None, None],
        [None, None, None, 0.5],
    ]
    assert t.meta["col_values"] == [["adam", 32], ["adam", 64], ["sgd", 32]]
    c = pivot(runs, rows=["opt"], value="acc", agg="count")
    assert c.columns == ["opt", "acc"] and c.rows == [["adam", 2], ["sgd", 3]]
    with pytest.raises(ValueError):
        pivot(runs, rows=[], value="acc")


# -- repeated seeds ------------------------------------------------------------------------------


@pytest.fixture
def seeded():
    out = []
    data = {("jax", 0.01): [1.0, 1.2, 1.4], ("jax", 0.1): [0.9, 2.1], ("torch", 0.01): [1.6]}
    for (fw, lr), values in data.items():
        for seed, v in enumerate(values):
            out.append(
                run(
                    f"{fw}_{lr}_s{seed}",
                    cfg={"framework": fw, "lr": lr, "seed": seed, "out_dir": f"/r/{fw}{lr}{seed}"},
                    summary={"mse": v, "train": v / 10},
                )
            )
    return out


def test_seed_groups(seeded):
    t = seed_groups(seeded, "mse", metrics=["train"])
    assert t.columns == [
        "rank", "run", "n", "framework", "lr", "mean", "std", "min", "max", "train", "runs",
    ]  # fmt: skip
    recs = t.to_records()
    assert [(r["framework"], r["lr"], r["n"]) for r in recs] == [
        ("jax", 0.01, 3),
        ("jax", 0.1, 2),
        ("torch", 0.01, 1),
    ]
    first = recs[0]
    assert first["mean"] == pytest.approx(1.2)
    assert first["std"] == pytest.approx(statistics.stdev([1.0, 1.2, 1.4]))
    assert (first["min"], first["max"], first["run"]) == (1.0, 1.4, "jax_0.01_s0")
    assert first["train"] == pytest.approx(0.12)
    assert first["runs"] == ["jax_0.01_s0", "jax_0.01_s1", "jax_0.01_s2"]
    assert recs[2]["std"] is None


def test_winners_aggregate_seeds(seeded):
    # jax lr=0.1 has the single best run (0.9) but the worse mean (1.5)
    t = winners(seeded, "mse", by=["framework"])
    recs = t.to_records()
    assert [r["scope"] for r in recs] == ["overall", "framework=jax", "framework=torch"]
    assert (recs[0]["lr"], recs[0]["n"], recs[0]["run"]) == (0.01, 3, "jax_0.01_s0")
    assert recs[0]["value"] == pytest.approx(1.2)
    assert recs[0]["std"] == pytest.approx(0.2)
    assert (recs[2]["framework"], recs[2]["value"], recs[2]["n"]) == ("torch", 1.6, 1)
    t = winners(seeded, "mse", mode="max")
    assert t.to_records()[0]["lr"] == 0.01 and t.to_records()[0]["framework"] == "torch"
    # without ignoring seeds every run is its own group
    t = winners(seeded, "mse", ignore=["out_dir"])
    assert t.to_records()[0]["run"] == "jax_0.1_s0"


def test_winners_json_shape(seeded):
    data = json.loads(json.dumps(winners(seeded[:1], "mse").to_jsonable()))
    assert data == {
        "kind": "winners",
        "metric": "mse",
        "mode": "min",
        "by": [],
        "columns": ["scope", "run", "n", "value", "std"],
        "rows": [{"scope": "overall", "run": "jax_0.01_s0", "n": 1, "value": 1.0, "std": None}],
        "notes": [],
    }


def test_pandas_only_in_df_functions():
    code = (
        "import sys\n"
        "from expbook.analysis import MemoryRun, leaderboard, pivot, winners, compare\n"
        "rs = [MemoryRun(f'r{i}', series={'loss': [(0, i)]}, config={'a': i % 2}) "
        "for i in range(5)]\n"
        "leaderboard(rs, 'loss'); pivot(rs, ['a'], value='loss'); winners(rs, 'loss')\n"
        "compare(rs[:2]).to_text()\n"
        "assert 'pandas' not in sys.modules, 'pandas imported'\n"
        "df = leaderboard(rs, 'loss').to_df()\n"
        "assert 'pandas' in sys.modules and list(df['run'])[0] == 'r0'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _config_groups_run_by_run(runs, metric, ignore):
    """The obvious reference: every run's items counted one run at a time."""
    from expbook.analysis.keys import getter
    from expbook.analysis.sweep import _flat_items, _ignorer, _num

    ignored, vget = _ignorer(ignore), getter(metric, "metric")
    groups, seen, present, n, missing = {}, {}, {}, 0, 0
    for r in runs:
        v = vget(r)
        if not _num(v):
            missing += 1
            continue
        n += 1
        items = []
        _flat_items(r.config, "", ignored, items)
        for k, fx in items:
            seen.setdefault(k, set()).add(fx)
            present[k] = present.get(k, 0) + 1
        groups.setdefault(tuple(sorted(items)), []).append(r.name)
    varying = [k for k, s in seen.items() if len(s) > 1 or present[k] < n]
    return list(groups.values()), varying, missing


def test_config_groups_match_a_run_by_run_count() -> None:
    # keys that appear late, in different orders, nested, only in some runs, ignored seeds
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from expbook.analysis.sweep import DEFAULT_IGNORE, _config_groups

    key = st.sampled_from(["lr", "opt", "seed", "model.depth", "bs", "act"])
    value = st.one_of(st.integers(0, 2), st.sampled_from(["a", "b"]), st.none())
    config = st.dictionaries(key, value, max_size=5).map(
        lambda d: {k: ({"depth": v} if k == "model.depth" else v) for k, v in d.items()}
    )
    loss = st.one_of(st.none(), st.floats(0, 5), st.just(math.nan))

    @given(st.lists(st.tuples(config, loss), max_size=25))
    @settings(max_examples=150, deadline=None)
    def check(specs):
        runs = [
            run(
                f"r{i}", None if v is None else [(0, v)], {k.split(".")[0]: x for k, x in c.items()}
            )
            for i, (c, v) in enumerate(specs)
        ]
        groups, varying, missing = _config_groups(runs, "loss", DEFAULT_IGNORE)
        want_groups, want_varying, want_missing = _config_groups_run_by_run(
            runs, "loss", DEFAULT_IGNORE
        )
        assert [[r.name for r in g.members] for g in groups] == want_groups
        assert varying == want_varying  # same keys, same order
        assert missing == want_missing

    check()
