"""The pushed-down leaderboard and pivot (``expbook.analysis.pushdown``: the store ranks and
groups its runs itself) give exactly the general path's output, the analysis functions over
every run, on every store kind: SQLite, PostgreSQL and the team server's remote store.

The runs are made to catch what a shortcut gets wrong: ties in value and in creation time,
NaN points and all-NaN keys, summary-only values (numbers, NaN, strings), explicit summary
values next to logged keys, runs without the metric, crashed runs, two projects, config
values that compare equal while they print differently (1, 1.0, true), nulls, lists."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from expbook._output import to_json
from expbook._read import Store
from expbook._views import load_runs
from expbook.analysis import AGGS, leaderboard, pivot
from expbook.analysis.pushdown import leaderboard_pushdown, pivot_pushdown
from expbook.errors import UnknownKey
from expbook.store import PointBatch

T0 = 1.7e9


def _populate(backend: Any, seed: int = 14) -> None:
    rng = random.Random(seed)
    for i in range(90):
        project = "p1" if i % 3 else "p2"
        lr = rng.choice([1e-3, 3e-4, 1e-2]) if project == "p1" else rng.choice([1, 1.0, True])
        config: dict[str, Any] = {"lr": lr, "batch": rng.choice([32, 64, "auto"]), "seed": i}
        if project == "p2":
            config["batch"] = rng.choice([None, [1, 2], 16])
        if i % 17 == 5:
            config["arch"] = {"depth": rng.randint(1, 3)}
        if i == 10:
            config["noise"] = math.nan  # JSON PostgreSQL cannot read: configs decoded here
        created = T0 + (i // 2) * 10  # pairs of runs created at the same time: ties
        run = backend.create_run(
            name=f"run-{i:03d}", project=project, config=config, created_at=created
        )
        kind = i % 9
        batches = {}
        if kind != 0:  # kind 0: no val_loss at all
            steps = [0, 10, 20, 30]
            vals = [round(rng.uniform(0.1, 0.5), 1) for _ in steps]  # many ties
            if kind == 4:
                vals[2] = math.nan
            if kind == 5:
                vals = [math.nan] * len(steps)  # every value NaN: no best
            if kind == 6:
                vals[-1] = math.nan  # last value NaN
            batches["val_loss"] = PointBatch(steps, [T0] * len(steps), vals)
        if kind in (2, 3, 7):
            n = rng.randint(1, 3)
            batches["acc"] = PointBatch(list(range(n)), [T0] * n, [rng.random() for _ in range(n)])
        if project == "p2" and kind in (3, 6):
            batches["p2_only"] = PointBatch([0], [T0], [float(i)])
        if batches:
            backend.append_points(run.id, batches)
        if kind == 0 and i % 2:
            backend.update_run(run.id, summary={"val_loss": rng.choice([0.2, 0.3, math.nan])})
        elif kind == 0 and i % 4 == 0:
            backend.update_run(run.id, summary={"val_loss": "diverged", "test": 1})
        elif kind == 3:
            backend.update_run(run.id, summary={"val_loss": 0.2, "acc": 1})  # over the logged
        if i % 10 == 3:
            backend.update_run(run.id, status="failed")
        elif i % 10 != 7:  # i % 10 == 7 stays running with no heartbeat: crashed
            backend.update_run(run.id, status="finished", finished_at=created + 5)


def _out(table: Any) -> tuple[str, str, str]:
    """What --format json, csv and table print from a result."""
    return to_json(table.to_jsonable()), table.to_csv(), table.to_text()


LEADERBOARD_CASES = [
    {"mode": mode, "sort": sort, "top": top, "project": project}
    for mode in ("min", "max")
    for sort in ("best", "last")
    for top in (1, 4, 25, 500)
    for project in (None, "p1", "p2")
]


@pytest.fixture
def store(pair: tuple[Any, Any]) -> Any:
    writer, reader = pair
    _populate(writer)
    return reader


def test_leaderboard_pushdown_matches_the_general_path(store: Any) -> None:
    book = Store(store)
    used = 0
    for case in LEADERBOARD_CASES:
        general = leaderboard(
            load_runs(store, case["project"]),
            "val_loss",
            mode=case["mode"],
            sort=case["sort"],
            top=case["top"],
            params=["lr", "batch"],
            columns=["acc"],
        )
        pushed = leaderboard_pushdown(
            store,
            "val_loss",
            project=case["project"],
            mode=case["mode"],
            sort=case["sort"],
            top=case["top"],
            params=["lr", "batch"],
            columns=["acc"],
        )
        assert pushed is not None, case
        used += 1
        assert _out(pushed) == _out(general), case
        # and what the command runs (Store.leaderboard) is the same
        via_book = book.leaderboard(
            "val_loss",
            project=case["project"],
            mode=case["mode"],
            sort=case["sort"],
            top=case["top"],
            params="lr,batch",
            columns="acc",
        )
        assert _out(via_book) == _out(general), case
    assert used == len(LEADERBOARD_CASES)
    # a column only some runs' explicit summaries hold: pushed down or not, the same answer
    # (or the same error, where no run of the project has it)
    for project in (None, "p1", "p2"):
        try:
            want: Any = _out(
                leaderboard(load_runs(store, project), "val_loss", top=3, columns=["test"])
            )
        except UnknownKey as e:
            want = str(e)
        try:
            got: Any = _out(book.leaderboard("val_loss", project=project, top=3, columns="test"))
        except UnknownKey as e:
            got = str(e)
        assert got == want, project
    # the notes count runs that were never read
    notes = leaderboard(load_runs(store), "val_loss", top=1, sort="last").notes
    assert any("no 'val_loss'" in n for n in notes)
    assert any("no value to sort by" in n for n in notes)


def test_leaderboard_falls_back_where_the_store_cannot_rank(store: Any) -> None:
    book = Store(store)
    # options the pushdown does not express: filters, names, a step, derived columns, no top
    for kwargs in (
        {"filter": "lr < 0.005", "top": 3},
        {"runs": ["run-00*"], "top": 3},
        {"at_step": 10, "top": 3},
        {"derive": ["d=val_loss*2"], "top": 3},
        {},
    ):
        got = book.leaderboard("val_loss", **kwargs)
        runs = load_runs(store)
        if "filter" in kwargs:
            from expbook.analysis import select_runs

            runs = select_runs(runs, filter=kwargs["filter"])
        if "runs" in kwargs:
            runs = [r for r in runs if r.name.startswith("run-00")]
        rest = {k: v for k, v in kwargs.items() if k not in ("filter", "runs")}
        if "at_step" in rest:
            from expbook._views import prefetch_values_at

            prefetch_values_at(runs, "val_loss", 10)
        assert _out(got) == _out(leaderboard(runs, "val_loss", **rest)), kwargs
    # a key no run has: the general path's error, with its suggestion
    assert leaderboard_pushdown(store, "val_los", top=3) is None
    with pytest.raises(UnknownKey, match="did you mean 'val_loss'"):
        book.leaderboard("val_los", top=3)
    assert leaderboard_pushdown(store, "val_loss", top=3, params=["nope"]) is None
    with pytest.raises(UnknownKey):
        book.leaderboard("val_loss", top=3, params="nope")


@pytest.mark.parametrize("agg", AGGS)
def test_pivot_pushdown_matches_the_general_path(store: Any, agg: str) -> None:
    book = Store(store)
    for rows, cols, value, project, expect_pushed in (
        (["lr"], ["batch"], "val_loss", "p1", True),
        (["batch"], [], "acc", "p1", True),
        (["lr", "batch"], ["seed"], "val_loss", "p1", True),
        (["lr"], ["batch"], "val_loss", "p2", None),  # 1, 1.0 and true: maybe not on each
        (["lr"], ["batch"], "val_loss", None, None),
        (["lr"], ["arch"], "val_loss", None, False),  # not in every config: general path
        (["lr"], [], "test", None, None),
    ):
        general = pivot(load_runs(store, project), rows, cols, value=value, agg=agg)
        pushed = pivot_pushdown(store, rows, cols, value, agg, project=project)
        case = (rows, cols, value, project, agg)
        if expect_pushed is True:
            assert pushed is not None, case
        elif expect_pushed is False:
            assert pushed is None, case
        if pushed is not None:
            assert _out(pushed) == _out(general), case
        via_book = book.pivot(rows, cols, value, agg=agg, project=project)
        assert _out(via_book) == _out(general), case


def test_rank_runs_contract(store: Any) -> None:
    """The store method itself: counts partition the runs; top is ordered by value, then
    creation time, then creation order; every list is bounded by limit but candidates."""
    runs = load_runs(store, "p1")
    got = store.rank_runs("val_loss", "min", project="p1", limit=5)
    assert got["total"] == len(runs)
    logged = [r for r in runs if r.metrics.get("val_loss") is not None]
    good = [r for r in logged if r.metrics["val_loss"].min_value is not None]
    assert got["scored"] == len(good)
    assert got["unscored"] == len(logged) - len(good)
    want = sorted(good, key=lambda r: r.metrics["val_loss"].min_value)[:5]  # stable: run order
    assert got["top"] == [r.id for r in want]
    assert len(got["plain_first"]) <= 5 and len(got["unscored_first"]) <= 5
    assert got["plain"] + len(got["candidates"]) + len(logged) == len(runs)
    desc = store.rank_runs("val_loss", "max", desc=True, project="p1", limit=3)
    want = sorted(good, key=lambda r: -r.metrics["val_loss"].max_value)[:3]
    assert desc["top"] == [r.id for r in want]
    # get_runs: the records of those ids in the store's run order
    ids = [r.id for r in runs]
    assert [r.id for r in store.get_runs(list(reversed(ids)))] == ids
    assert store.get_runs([]) == []
    assert [r.id for r in store.get_runs([ids[0], "no-such-run"])] == [ids[0]]


def test_pivot_of_a_key_only_another_project_logged(store: Any) -> None:
    """The key is known to the store, but no run of the project has it: the general path's
    error, not an empty pivot."""
    assert pivot_pushdown(store, ["lr"], [], "p2_only", "min", project="p1") is None
    with pytest.raises(UnknownKey, match="p2_only"):
        pivot(load_runs(store, "p1"), ["lr"], value="p2_only")
    with pytest.raises(UnknownKey, match="p2_only"):
        Store(store).pivot("lr", value="p2_only", project="p1")
    got = pivot_pushdown(store, ["batch"], [], "p2_only", "mean", project="p2")
    assert got is not None
    assert _out(got) == _out(pivot(load_runs(store, "p2"), ["batch"], value="p2_only", agg="mean"))
