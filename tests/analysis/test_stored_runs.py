"""The store's runs as analysis sees them (``expbook._views``): lazily decoded records, lazy
summaries, and values at a step read ahead for many runs in one query."""

from __future__ import annotations

import json
import math

from expbook._views import load_runs, prefetch_values_at
from expbook.analysis import leaderboard, select_runs
from expbook.store import PointBatch, connect

NAN = float("nan")


def _store(path: str):
    store = connect(path)

    def run(name: str, points: dict[str, list[tuple[int, float]]], **kw) -> str:
        rec = store.create_run(name=name, project="p", **kw)
        for key, pts in points.items():
            store.append_points(
                rec.id,
                {key: PointBatch([s for s, _ in pts], [1.0] * len(pts), [v for _, v in pts])},
            )
        return rec.id

    run("dense", {"k": [(s, 10.0 - s / 100) for s in range(300)]}, config={"lr": 0.1})
    run("gaps", {"k": [(s, 5.0 + s) for s in range(0, 300, 7)]}, config={"lr": 0.2})
    rid = run("rewritten", {"k": [(s, float(s)) for s in range(300)]}, config={"lr": 0.3})
    store.append_points(rid, {"k": PointBatch([70, 140], [1.0, 1.0], [NAN, -3.0])})
    run("short", {"k": [(0, 1.0), (1, 0.5)]}, config={"lr": 0.4})
    run("other", {"j": [(s, 1.0) for s in range(300)]}, tags=["t"])
    store.update_run(run("summary-only", {}), summary={"k": 0.25})
    return store


def _dump(table) -> str:
    return json.dumps(table.to_jsonable(), allow_nan=True)


def test_prefetched_values_give_the_same_leaderboard(store_path: str) -> None:
    store = _store(store_path)
    for step in (0, 1, 70, 140, 141, 150, 154, 299, 300, 10**6):
        plain = load_runs(store)
        want = _dump(leaderboard(plain, "k", at_step=step, sort="at"))
        assert any(r._series for r in plain) or step in (0, 1, 299, 300, 10**6)
        runs = load_runs(store)
        prefetch_values_at(runs, "k", step)
        got = _dump(leaderboard(runs, "k", at_step=step, sort="at"))
        assert got == want, step
        assert all(not r._series for r in runs)  # no series was read
    runs = {r.name: r for r in load_runs(store)}
    prefetch_values_at(list(runs.values()), "k", 70)
    assert math.isnan(runs["rewritten"].prefetched_values[("k", 70)])
    assert runs["dense"].prefetched_values == {("k", 70): 9.3}
    assert runs["gaps"].prefetched_values == {("k", 70): 75.0}
    assert runs["short"].prefetched_values is None  # its summary answers (no point inside)


def test_runs_read_their_json_only_when_asked(store_path: str) -> None:
    store = _store(store_path)
    runs = load_runs(store)
    assert all("config" not in vars(r.record) for r in runs)
    t = leaderboard(runs, "k")
    assert [row[1] for row in t.rows][:3] == ["rewritten", "summary-only", "short"]
    assert all("config" not in vars(r.record) for r in runs)  # ranking decoded no config
    by_name = {r.name: r for r in runs}
    assert by_name["dense"].config == {"lr": 0.1}
    assert by_name["other"].tags == ["t"]
    assert by_name["summary-only"].summary["k"] == 0.25
    assert by_name["summary-only"].summary.get("k") == 0.25
    assert by_name["dense"].summary.get("k") == by_name["dense"].metrics["k"].last_value
    assert by_name["dense"].summary.get("nope", 1) == 1
    assert by_name["dense"].metrics.get("nope") is None
    assert by_name["dense"].metrics.get(3) is None
    chosen = select_runs(runs, filter="config.lr > 0.15 and k > 100")
    assert [r.name for r in chosen] == ["gaps", "rewritten"]
