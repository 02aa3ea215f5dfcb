"""The workspace's JSON endpoints (/api/workspace/series and /api/workspace/groups), the
runs table's group aggregates and the store's batched overview read, checked against the
points in the store."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

from expbook.store import PointBatch, SQLiteStore
from expbook.web import create_app

from .conftest import spike_series
from .workspace_store import workspace_store


@pytest.fixture
def wstore(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    path = tmp_path / "store"
    return path, workspace_store(path)


@pytest.fixture
def wclient(wstore):
    with TestClient(create_app(wstore[0])) as c:
        yield c


def _vision(ids: dict[str, str]) -> list[str]:
    return [v for k, v in ids.items() if k.startswith("vision")]


def test_series_are_the_stored_points(wstore, wclient) -> None:
    path, ids = wstore
    runs = _vision(ids)
    r = wclient.get(
        "/api/workspace/series", params={"ids": ",".join(runs), "keys": "train/loss,val/acc"}
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["x"] == "step"
    got = {(c["run"], c["key"]): c for c in d["curves"]}
    assert set(got) == {(rid, k) for rid in runs for k in ("train/loss", "val/acc")}
    # in the order asked for: runs, then keys
    assert [(c["run"], c["key"]) for c in d["curves"]][:2] == [
        (runs[0], "train/loss"),
        (runs[0], "val/acc"),
    ]
    with SQLiteStore(path, readonly=True) as st:
        for (rid, key), c in got.items():
            s = st.read_series(rid, [key])[key]
            assert c["x"] == s.steps.tolist()  # 100 points: all of them, steps exact
            assert np.allclose(c["y"], s.values, rtol=1e-5, atol=0)


def test_long_series_come_from_the_sketches_with_their_extremes(tmp_path: Path) -> None:
    n = 50_000
    v, up, down = spike_series(n, seed=3)
    with SQLiteStore(tmp_path / "s") as st:
        rec = st.create_run(name="long", project="p", status="finished")
        steps = np.arange(n)
        st.append_points(rec.id, {"loss": PointBatch(steps, 1000.0 + steps * 0.1, v)})
    with TestClient(create_app(tmp_path / "s")) as c:
        d = c.get(
            "/api/workspace/series", params={"ids": rec.id, "keys": "loss", "max_points": 150}
        ).json()
    (curve,) = d["curves"]
    assert 100 <= len(curve["y"]) <= 150
    assert max(curve["y"]) == 50.0 and min(curve["y"]) == -50.0
    i = curve["y"].index(50.0)
    assert curve["x"][i] == up and curve["x"][curve["y"].index(-50.0)] == down
    assert curve["x"] == sorted(curve["x"]) and curve["x"][-1] == n - 1


def test_x_axis_wall_time_and_another_metric(wstore, wclient) -> None:
    _, ids = wstore
    rid = ids["vision-2"]
    base = {"ids": f"{rid},{ids['text-0']}", "keys": "train/loss"}
    wall = wclient.get("/api/workspace/series", params={**base, "x": "wall"}).json()
    (c,) = wall["curves"]  # text-0 has no train/loss
    assert c["x"][:3] == [0, 1, 2] and c["x"][-1] == 99  # seconds since the first point
    epoch = wclient.get("/api/workspace/series", params={**base, "x": "epoch"}).json()
    (c,) = epoch["curves"]
    assert wall["curves"][0]["y"] == c["y"]
    assert c["x"] == [s // 10 for s in range(100)]  # epoch logged at every step: s // 10
    # a run that never logged the x metric has no curve against it
    none = wclient.get(
        "/api/workspace/series",
        params={"ids": ids["text-0"], "keys": "loss", "x": "epoch"},
    ).json()
    assert none["curves"] == []


def test_x_metric_logged_on_fewer_steps_is_interpolated(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s") as st:
        rec = st.create_run(name="r", project="p", status="finished")
        steps = list(range(0, 101))
        st.append_points(
            rec.id,
            {
                "loss": PointBatch(steps, [0.0] * 101, [float(s) for s in steps]),
                # tokens counted every 25 steps only
                "tokens": PointBatch([0, 25, 50, 75, 100], [0.0] * 5, [0, 250, 500, 750, 1000]),
            },
        )
    with TestClient(create_app(tmp_path / "s")) as c:
        d = c.get(
            "/api/workspace/series", params={"ids": rec.id, "keys": "loss", "x": "tokens"}
        ).json()
    (curve,) = d["curves"]
    assert curve["x"] == [10.0 * s for s in range(101)]


def test_nan_and_inf_are_null(client, ids) -> None:
    d = client.get("/api/workspace/series", params={"ids": ids["run-3"], "keys": "loss"}).json()
    (c,) = d["curves"]
    assert c["y"][10] is None and c["y"][20] is None and c["y"][11] is not None


@pytest.mark.parametrize(
    "params",
    [
        {"keys": "loss"},
        {"ids": "", "keys": "loss"},
        {"ids": "x"},
        {"ids": "x", "keys": ""},
        {"ids": "x", "keys": "loss", "max_points": "2"},
        {"ids": ",".join(f"r{i}" for i in range(201)), "keys": "loss"},
    ],
)
def test_bad_series_requests_are_400(client, params) -> None:
    r = client.get("/api/workspace/series", params=params)
    assert r.status_code == 400 and r.json()["status"] == 400


def test_unknown_runs_and_keys_have_no_curves(client, ids) -> None:
    d = client.get(
        "/api/workspace/series", params={"ids": f"nope,{ids['run-0']}", "keys": "loss,absent"}
    ).json()
    assert [(c["run"], c["key"]) for c in d["curves"]] == [(ids["run-0"], "loss")]


def test_groups_are_mean_min_max_of_their_runs(wstore, wclient) -> None:
    path, _ = wstore
    r = wclient.get(
        "/api/workspace/groups",
        params={"project": "vision", "group": "config.depth", "keys": "val/acc", "max_points": 100},
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["group"] == ["config.depth"] and d["runs"] == 4 and not d["truncated"]
    labels = {g["label"]: g for g in d["groups"]}
    assert set(labels) == {"config.depth = 18", "config.depth = 50"}
    assert all(g["n"] == 2 for g in d["groups"])
    with SQLiteStore(path, readonly=True) as st:
        for c in d["curves"]:
            g = d["groups"][c["group"]]
            vals = np.array(
                [st.read_series(rid, ["val/acc"])["val/acc"].values for rid in g["runs"]]
            )
            assert c["n"] == 2 and c["x"] == [float(s) for s in range(100)]
            assert np.allclose(c["mean"], vals.mean(axis=0), rtol=1e-5)
            assert np.allclose(c["min"], vals.min(axis=0), rtol=1e-5)
            assert np.allclose(c["max"], vals.max(axis=0), rtol=1e-5)
            assert np.allclose(c["std"], vals.std(axis=0), rtol=1e-4, atol=1e-9)
            assert c["count"] == [2] * 100


def test_groups_by_several_columns_and_seeds_averaged(client, wclient) -> None:
    two = wclient.get(
        "/api/workspace/groups",
        params={"project": "vision", "group": "config.depth,config.lr", "keys": "train/loss"},
    ).json()
    assert sorted(g["label"] for g in two["groups"]) == [
        "depth=18, lr=0.01",
        "depth=18, lr=0.1",
        "depth=50, lr=0.01",
        "depth=50, lr=0.1",
    ]
    assert all(g["n"] == 1 for g in two["groups"])
    # the seeded store: lr is one of three values, seed differs on every run; grouping by lr
    # averages the seeds of each lr (both fixtures write tmp_path/"store": the seeded runs
    # are those of projects demo and other)
    seeded_only = 'loss > 0 and (project == "demo" or project == "other")'
    d = client.get(
        "/api/workspace/groups",
        params={"group": "config.lr", "keys": "loss", "filter": seeded_only},
    ).json()
    ns = {g["label"]: g["n"] for g in d["groups"]}
    assert ns == {"config.lr = 0.1": 2, "config.lr = 0.01": 2, "config.lr = 0.001": 2}


def test_groups_follow_the_filter_and_refuse_bad_queries(client) -> None:
    d = client.get(
        "/api/workspace/groups",
        params={
            "group": "config.lr",
            "keys": "loss",
            "project": "demo",
            "filter": "config.seed < 2",
        },
    ).json()
    assert d["runs"] == 2
    assert client.get("/api/workspace/groups", params={"keys": "loss"}).status_code == 400
    bad = client.get("/api/workspace/groups", params={"group": "lr", "keys": "loss"})
    assert bad.status_code == 400
    r = client.get(
        "/api/workspace/groups", params={"group": "config.lr", "keys": "loss", "filter": "lr <"}
    )
    assert r.status_code == 400 and "\n" not in r.json()["error"]


def test_table_group_rows_aggregate_every_run_of_the_group(wstore, wclient) -> None:
    _ = wstore
    page = wclient.get(
        "/api/runs",
        params={"project": "vision", "group": "config.depth", "columns": "summary.val/acc"},
    ).json()
    groups = {g["label"]: g for g in page["groups"]}
    # val/acc ends at 0.5 + 0.004 * 99 + 0.01 * i for run i
    last = [0.5 + 0.396 + 0.01 * i for i in range(4)]
    assert groups["config.depth = 18"]["n"] == 2
    assert math.isclose(
        groups["config.depth = 18"]["mean"]["summary.val/acc"], (last[0] + last[1]) / 2
    )
    assert math.isclose(
        groups["config.depth = 50"]["mean"]["summary.val/acc"], (last[2] + last[3]) / 2
    )
    # a page cut inside a group still aggregates the whole group
    first = wclient.get(
        "/api/runs",
        params={
            "project": "vision",
            "group": "config.depth",
            "columns": "summary.val/acc",
            "limit": 1,
        },
    ).json()
    assert [g["n"] for g in first["groups"]] == [2]
    html = wclient.get("/?project=vision&group=config.depth&col=summary.val/acc").text
    assert html.count('class="grouprow"') == 2 and "n=2" in html
    assert f"{(last[0] + last[1]) / 2:.5g}" in html


def test_read_overviews_match_one_by_one_reads(tmp_path: Path) -> None:
    v, _, _ = spike_series(30_000, seed=5)
    with SQLiteStore(tmp_path / "s") as st:
        a = st.create_run(name="a", project="p", status="finished")
        b = st.create_run(name="b", project="p", status="finished")
        steps = np.arange(30_000)
        st.append_points(a.id, {"loss": PointBatch(steps, steps * 1.0, v)})
        st.append_points(b.id, {"loss": PointBatch(steps[:50], steps[:50] * 1.0, v[:50])})
        # written out of order: chunks overlap in steps
        st.append_points(b.id, {"acc": PointBatch([5, 6, 7], [0.0] * 3, [1.0, 2.0, 3.0])})
        st.append_points(b.id, {"acc": PointBatch([1, 2, 9], [0.0] * 3, [4.0, 5.0, 6.0])})
        got = st.read_overviews([a.id, b.id, "nope"], ["loss", "acc", "absent"])
        assert set(got) == {(a.id, "loss"), (b.id, "loss"), (b.id, "acc")}
        one, covered = st.read_overview(a.id, "loss")
        assert covered == 30_000 and len(got[a.id, "loss"]) < 30_000 // 10
        assert np.array_equal(got[a.id, "loss"].values, one.values)
        assert np.array_equal(got[b.id, "loss"].values, v[:50])  # a short chunk: every point
        assert got[b.id, "acc"].steps.tolist() == [1, 2, 5, 6, 7, 9]


def test_the_runs_page_draws_the_chosen_panels(wclient) -> None:
    html = wclient.get("/?project=vision").text
    # default: the metrics of the table's columns, in sections by prefix
    assert 'data-spec="train/loss"' in html and 'data-spec="val/acc"' in html
    assert 'data-section="train"' in html and 'data-section="val"' in html
    chosen = wclient.get("/?project=vision&wk=train/loss|val/acc&wk=lr&wx=epoch").text
    assert 'data-spec="train/loss|val/acc"' in chosen and 'data-spec="lr"' in chosen
    assert 'data-spec="val/acc"' not in chosen
    assert '<option value="epoch" selected>' in chosen
    # a project switch forgets the previous project's panels
    r = wclient.get(
        "/?project=text&shown_project=vision&wk=train/loss&wx=epoch", follow_redirects=False
    )
    assert r.status_code == 303 and "wk=" not in r.headers["location"]
    assert "wx=" not in r.headers["location"]


def test_downsampling_many_curves_at_once_equals_one_by_one() -> None:
    from expbook.web._workspace import downsample_many
    from expbook.web.downsample import downsample_indices

    rng = np.random.default_rng(7)
    curves = [rng.normal(0, 1, n) for n in (5, 150, 151, 1000, 4097, 30)]
    curves[3][17] = 99.0
    curves[4][::7] = np.nan
    curves[4][100] = np.inf
    got = downsample_many(curves, 150)
    for v, idx in zip(curves, got):
        assert idx.tolist() == downsample_indices(v, 150).tolist()
    assert downsample_many([], 150) == []
    with pytest.raises(ValueError):
        downsample_many(curves, 3)


def test_group_by_config_with_seeds_averaged(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s") as st:
        for i in range(6):
            rec = st.create_run(
                name=f"r{i}",
                project="p",
                status="finished",
                config={"lr": [0.1, 0.01][i % 2], "seed": i, "out_dir": f"/x/{i}", "opt": "adam"},
            )
            st.append_points(rec.id, {"loss": PointBatch([0, 1], [0.0, 1.0], [float(i), 0.0])})
    with TestClient(create_app(tmp_path / "s")) as c:
        c.app.state.ui.snapshots.get()
        html = c.get("/?project=p").text
        # seeds and folders are never grouping keys here: the option groups by lr alone
        assert 'value="config.lr" title="group by config.lr" id="group-seedless"' in html
        d = c.get(
            "/api/workspace/groups", params={"project": "p", "group": "config.lr", "keys": "loss"}
        ).json()
        means = {d["groups"][cv["group"]]["label"]: cv["mean"][0] for cv in d["curves"]}
        assert means == {"config.lr = 0.1": 2.0, "config.lr = 0.01": 3.0}  # (0+2+4)/3, (1+3+5)/3
        page = c.get("/?project=p&group=config.lr").text
        assert page.count('class="grouprow"') == 2 and page.count("n=3") == 2


def test_groups_beyond_the_cap_are_left_out_and_said(client, monkeypatch) -> None:
    import expbook.web.app as web_app

    monkeypatch.setattr(web_app, "MAX_GROUPS", 2)
    d = client.get(
        "/api/workspace/groups",
        params={"group": "config.seed", "keys": "loss", "filter": "loss > 0"},
    ).json()
    assert d["more_groups"] is True and len(d["groups"]) == 2 and d["runs"] == 6
    assert {c["group"] for c in d["curves"]} == {0, 1}
    monkeypatch.setattr(web_app, "MAX_GROUPS", 100)
    d = client.get(
        "/api/workspace/groups",
        params={"group": "config.seed", "keys": "loss", "filter": "loss > 0"},
    ).json()
    assert d["more_groups"] is False and len(d["groups"]) == 6


def test_curves_drawn_again_follow_new_points(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with SQLiteStore(path) as st:
        rec = st.create_run(name="live", project="p", status="running")
        st.append_points(rec.id, {"loss": PointBatch([0, 1], [0.0, 1.0], [5.0, 4.0])})
    with TestClient(create_app(path)) as c:
        params = {"ids": rec.id, "keys": "loss"}
        first = c.get("/api/workspace/series", params=params).json()["curves"][0]
        assert first["y"] == [5.0, 4.0]
        again = c.get("/api/workspace/series", params=params).json()["curves"][0]
        assert again == first  # from the app's cache of views: the same curve
        with SQLiteStore(path) as st:
            st.append_points(rec.id, {"loss": PointBatch([2, 3], [2.0, 3.0], [3.0, 2.0])})
        later = c.get("/api/workspace/series", params=params).json()["curves"][0]
        assert later["x"] == [0, 1, 2, 3] and later["y"] == [5.0, 4.0, 3.0, 2.0]
        grouped = c.get(
            "/api/workspace/groups",
            params={"group": "status", "keys": "loss", "max_points": 4},
        ).json()
        assert grouped["curves"][0]["mean"] == [5.0, 4.0, 3.0, 2.0]


def test_read_overviews_of_runs_far_apart_and_close_together(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s") as st:
        ids = []
        for i in range(12):
            rec = st.create_run(name=f"r{i}", project="p", status="finished")
            st.append_points(rec.id, {"loss": PointBatch([0, 1], [0.0, 1.0], [float(i), 0.5])})
            ids.append(rec.id)
        # far apart (a seek per run) and close together (one range scan): only those asked
        for chosen in ([ids[0], ids[11]], ids[3:6], [ids[4], ids[5], ids[7]]):
            got = st.read_overviews(chosen, ["loss"])
            assert sorted(got) == sorted((rid, "loss") for rid in chosen)
            for rid in chosen:
                assert got[rid, "loss"].values.tolist() == [float(ids.index(rid)), 0.5]


def test_the_page_names_and_preloads_its_one_curves_request(wstore, wclient) -> None:
    """The runs page carries the URL of its panels' curves (data-src) and preloads it from
    its head; that URL answers every panel's key; no plotly.js on the page."""
    import html
    import re

    _, ids = wstore
    text = wclient.get("/?project=vision&wk=train/loss&wk=val/acc|lr&wx=epoch").text
    src = html.unescape(re.search(r'data-src="([^"]+)"', text).group(1))
    assert f'<link rel="preload" href="{html.escape(src)}" as="fetch"' in text
    assert "plotly" not in text.split("</main>")[1]
    d = wclient.get(src).json()
    assert d["keys"] == ["train/loss", "val/acc", "lr"] and d["x"] == "epoch"
    assert {c["run"] for c in d["curves"]} == set(_vision(ids))
    # grouped: the groups endpoint, with the page's filter and without its paging
    text = wclient.get("/?project=vision&group=config.depth&offset=0&limit=2&q=vision").text
    src = html.unescape(re.search(r'data-src="([^"]+)"', text).group(1))
    assert src.startswith("/api/workspace/groups?") and "limit" not in src
    g = wclient.get(src).json()
    assert g["runs"] == 4 and sorted(x["n"] for x in g["groups"]) == [2, 2]


def test_plotly_is_served_under_a_versioned_url_kept_by_the_browser(wclient, wstore) -> None:
    import re

    import plotly

    _, ids = wstore
    page = wclient.get(f"/runs/{ids['vision-1']}").text
    url = re.search(r'<script src="(/static/plotly\.min\.js\?v=[^"]+)"', page).group(1)
    assert url.endswith("v=" + plotly.__version__)
    r = wclient.get(url)
    assert r.status_code == 200 and len(r.content) > 1_000_000
    assert (
        "immutable" in r.headers["cache-control"]
        and "max-age=31536000" in r.headers["cache-control"]
    )
    # any other version (an older page's link): served, but checked again next time
    other = wclient.get("/static/plotly.min.js?v=0.0.1")
    assert other.status_code == 200 and other.headers["cache-control"] == "no-cache"


def test_answers_kept_while_the_store_is_unchanged(tmp_path: Path) -> None:
    """The same workspace request answers the same bytes from the app's answer cache until
    a run it draws gets points (or a group another run); then it is drawn afresh."""
    path = tmp_path / "s"
    with SQLiteStore(path) as st:
        a = st.create_run(name="a", project="p", status="running", config={"lr": 0.1})
        b = st.create_run(name="b", project="p", status="finished", config={"lr": 0.1})
        for rec, v in ((a, 1.0), (b, 3.0)):
            st.append_points(rec.id, {"loss": PointBatch([0, 1], [0.0, 1.0], [v, v])})
    app = create_app(path)
    with TestClient(app) as c:
        series = {"ids": f"{a.id},{b.id}", "keys": "loss"}
        groups = {"project": "p", "group": "config.lr", "keys": "loss", "max_points": 4}
        s1, g1 = (
            c.get("/api/workspace/series", params=series),
            c.get("/api/workspace/groups", params=groups),
        )
        assert c.get("/api/workspace/series", params=series).content == s1.content
        assert c.get("/api/workspace/groups", params=groups).content == g1.content
        assert g1.status_code == 200, g1.text
        assert len(app.state.ui.answers._items) == 2
        assert g1.json()["curves"][0]["mean"] == [2.0] * 4  # (1 + 3) / 2 on a grid of 4
        # the same ids in another order: another answer (curves come in the order asked)
        other = c.get("/api/workspace/series", params={"ids": f"{b.id},{a.id}", "keys": "loss"})
        assert [cv["run"] for cv in other.json()["curves"]] == [b.id, a.id]
        with SQLiteStore(path) as st:
            st.append_points(a.id, {"loss": PointBatch([2], [2.0], [0.0])})
        s2 = c.get("/api/workspace/series", params=series).json()
        assert s2["curves"][0]["x"] == [0, 1, 2] and s2["curves"][0]["y"] == [1.0, 1.0, 0.0]
        # a third run joins the group: the snapshot is rebuilt, the group answer follows
        with SQLiteStore(path) as st:
            new = st.create_run(name="c", project="p", status="finished", config={"lr": 0.1})
            st.append_points(new.id, {"loss": PointBatch([0, 1], [0.0, 1.0], [5.0, 5.0])})
        app.state.ui.snapshots.fresh()
        g2 = c.get("/api/workspace/groups", params={**groups, "max_points": 5}).json()
        assert g2["groups"][0]["n"] == 3 and g2["runs"] == 3
