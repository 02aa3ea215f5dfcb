"""/api/sweep and /sweep over a grid sweep whose metric depends on lr far more than on
anything else (tests/web/sweep_store.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from expbook.web import create_app
from expbook.web._sweep import correlation_ratio, guess_goal, importance, spearman

from .sweep_store import DEPTHS, LRS, OPTIMIZERS, SEEDS, sweep_store


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    path = tmp_path_factory.mktemp("sweep") / "store"
    return path, sweep_store(path)


@pytest.fixture(scope="module")
def sclient(grid):
    with TestClient(create_app(grid[0])) as c:
        yield c


def test_the_params_that_vary_and_the_metric_per_run(sclient, grid) -> None:
    _, runs = grid
    d = sclient.get("/api/sweep", params={"project": "grid", "metric": "val_loss"}).json()
    assert d["metric"] == "val_loss" and d["goal"] == "min" and d["reduce"] == "best"
    assert d["goal_from"].startswith("guessed")
    assert len(d["runs"]) == len(LRS) * len(DEPTHS) * len(OPTIMIZERS) * len(SEEDS)
    kinds = {p["key"]: p["kind"] for p in d["params"]}
    # batch is the same everywhere: not a swept param
    assert kinds == {
        "config.lr": "numeric",
        "config.model.depth": "numeric",
        "config.optimizer": "categorical",
        "config.out_dir": "categorical",
        "config.seed": "numeric",
    }
    by_key = {p["key"]: p for p in d["params"]}
    assert by_key["config.lr"]["log"] is True and by_key["config.model.depth"]["log"] is False
    assert by_key["config.optimizer"]["categories"] == ["adam", "sgd"]
    assert by_key["config.out_dir"]["per_run"] is True
    assert by_key["config.optimizer"]["per_run"] is False
    for i, r in enumerate(d["runs"]):
        want = runs[r["name"]]
        assert r["id"] == want["id"]
        assert r["metric"] == pytest.approx(want["best"])  # the series' minimum
        assert by_key["config.lr"]["values"][i] == want["lr"]
        assert by_key["config.model.depth"]["values"][i] == want["depth"]
        assert by_key["config.optimizer"]["values"][i] == want["optimizer"]
        assert r["metrics"]["acc"] == pytest.approx(0.5 + 0.1 * np.log10(want["lr"] / 1e-4))
    assert d["metrics"][0] == "val_loss" and set(d["metrics"]) == {"val_loss", "acc"}


def test_last_value_and_a_summary_only_metric(sclient, grid) -> None:
    _, runs = grid
    d = sclient.get("/api/sweep?project=grid&metric=val_loss&reduce=last").json()
    assert d["reduce"] == "last" and "summary value" in d["value"]
    for r in d["runs"]:
        assert r["metric"] == pytest.approx(runs[r["name"]]["last"])
        assert r["metric"] > runs[r["name"]]["best"]
    d = sclient.get("/api/sweep?project=grid&metric=summary.acc").json()
    assert d["metric"] == "acc" and d["goal"] == "max"
    assert [r["metric"] for r in d["runs"]] == [r["metrics"]["acc"] for r in d["runs"]]
    d = sclient.get("/api/sweep?project=grid&metric=acc&goal=min").json()
    assert d["goal"] == "min" and d["goal_from"] == "given"


def test_importance_ranks_lr_first_with_the_right_sign(sclient) -> None:
    d = sclient.get("/api/sweep?project=grid&metric=val_loss").json()
    imp = d["importance"]
    assert imp["model"] == "random_forest_permutation"
    assert "random forest" in imp["method"] and "scikit-learn" in imp["method"]
    assert imp["runs"] == 60
    ranked = [p["key"] for p in imp["params"]]
    assert ranked[0] == "config.lr"
    assert "config.out_dir" not in ranked  # differs on every run: says nothing
    by = {p["key"]: p for p in imp["params"]}
    assert by["config.lr"]["correlation"] < -0.9  # higher lr, lower loss
    assert by["config.lr"]["measure"] == "spearman"
    assert by["config.model.depth"]["correlation"] > 0  # deeper, a little worse
    assert by["config.optimizer"]["measure"] == "eta"
    assert 0 < by["config.optimizer"]["correlation"] < 0.5
    assert by["config.lr"]["importance"] > 10 * by["config.model.depth"]["importance"]
    assert by["config.model.depth"]["importance"] > by["config.seed"]["importance"]
    # accuracy rises with lr: the sign turns
    acc = sclient.get("/api/sweep?project=grid&metric=acc").json()["importance"]
    assert {p["key"]: p for p in acc["params"]}["config.lr"]["correlation"] > 0.9


def test_the_runs_page_filter_narrows_the_sweep(sclient) -> None:
    d = sclient.get("/api/sweep", params={"project": "grid", "filter": "config.lr >= 0.001"})
    d = d.json()
    assert len(d["runs"]) == 3 * len(DEPTHS) * len(OPTIMIZERS) * len(SEEDS)
    assert min(p for p in next(p for p in d["params"] if p["key"] == "config.lr")["values"]) == 1e-3
    d = sclient.get("/api/sweep", params={"project": "grid", "q": "-sgd-"}).json()
    # every run left has sgd: the optimizer no longer varies
    assert "config.optimizer" not in {p["key"] for p in d["params"]}
    assert len(d["runs"]) == 30


def test_too_few_runs_for_a_model(sclient) -> None:
    d = sclient.get("/api/sweep?project=other").json()
    assert d["metric"] == "score" and d["goal"] == "max"
    assert d["importance"]["model"] is None
    assert d["importance"]["method"] == "correlation only"
    assert "too few runs" in d["importance"]["note"]


def test_without_scikit_learn_correlation_only(monkeypatch) -> None:
    import expbook.web._sweep as sw

    monkeypatch.setattr(sw, "_have_sklearn", lambda: False)
    params = [{"key": "config.x", "kind": "numeric", "values": [float(i) for i in range(10)]}]
    got = importance(params, [float(-i) for i in range(10)])
    assert got["model"] is None and got["method"] == "correlation only"
    assert "scikit-learn is not installed" in got["note"]
    assert got["params"][0]["correlation"] == pytest.approx(-1.0)
    assert "importance" not in got["params"][0]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("project=grid&metric=nope", "metric: no run here has a numeric value for 'nope'"),
        ("project=grid&goal=up", "goal must be 'min' or 'max'"),
        ("project=grid&reduce=mean", "reduce must be 'best' or 'last'"),
        ("project=grid&filter=config.lr+%3C", "expected a value"),
    ],
)
def test_bad_queries_are_a_400_with_a_reason(sclient, query, message) -> None:
    r = sclient.get("/api/sweep?" + query)
    assert r.status_code == 400
    assert message in r.json()["error"]
    page = sclient.get("/sweep?" + query)
    assert page.status_code == 400
    assert message.replace("'", "&#39;") in page.text and "Traceback" not in page.text


def test_the_page_and_its_choosers(sclient) -> None:
    r = sclient.get("/sweep?project=grid")
    assert r.status_code == 200
    assert 'id="parcoords"' in r.text and "/static/sweep.js" in r.text
    assert '<option value="val_loss" selected>' in r.text
    assert '<option value="acc">' in r.text
    assert '<option value="min" selected>' in r.text
    r = sclient.get("/sweep?project=grid&metric=acc")
    assert '<option value="acc" selected>' in r.text and '<option value="max" selected>' in r.text
    # the runs page links to it, keeping the project
    runs = sclient.get("/?project=grid").text
    assert 'href="/sweep?project=grid" id="nav-sweep"' in runs
    assert sclient.get("/static/sweep.js").status_code == 200
    assert sclient.get("/static/sweep.css").status_code == 200


def test_in_the_openapi_document(sclient) -> None:
    doc = sclient.get("/openapi.json").json()
    op = doc["paths"]["/api/sweep"]["get"]
    names = {p["name"] for p in op["parameters"]}
    assert {"project", "metric", "goal", "reduce", "filter", "q"} <= names
    assert "200" in op["responses"] and "400" in op["responses"]


def test_correlation_helpers() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert spearman(x, x**3) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)
    assert spearman(x, np.ones(5)) is None
    y = np.array([1.0, 1.0, 5.0, 5.0, 5.0])
    assert correlation_ratio(["a", "a", "b", "b", "b"], y) == pytest.approx(1.0)
    assert correlation_ratio(["a", "b", "a", "b", "a"], np.array([1.0, 1, 2, 2, 3])) < 0.5
    assert guess_goal("val/loss") == "min" and guess_goal("eval/accuracy") == "max"
