"""The dashboard's JSON API and pages, in-process (starlette's TestClient) on a seeded store."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from expbook._read import run_record_json
from expbook.store import SQLiteStore


def names(page: dict) -> list[str]:
    return [r["name"] for r in page["runs"]]


# -- /api/runs -------------------------------------------------------------------------------
def test_runs_lists_every_run_newest_first(client) -> None:
    page = client.get("/api/runs").json()
    assert page["total"] == 7
    assert names(page) == ["empty", "run-5", "run-4", "run-3", "run-2", "run-1", "run-0"]
    # two projects shown: a project column first, then the params that vary
    assert page["columns"][:4] == ["project", "config.lr", "config.model.width", "config.seed"]


def test_run_rows_have_the_documented_shape(client, seeded) -> None:
    page = client.get("/api/runs?q=run-2&columns=config.lr,summary.loss").json()
    (row,) = page["runs"]
    with SQLiteStore(seeded[0], readonly=True) as st:
        rec = st.get_run("run-2")
        want = run_record_json(rec, st.metric_summaries([rec.id])[rec.id])
    assert {k: v for k, v in row.items() if k != "values"} == want
    assert row["values"] == {"config.lr": 0.001, "summary.loss": want["summary"]["loss"]}


def test_paging(client) -> None:
    first = client.get("/api/runs?limit=3&sort=name&order=asc").json()
    second = client.get("/api/runs?limit=3&offset=3&sort=name&order=asc").json()
    assert names(first) == ["empty", "run-0", "run-1"]
    assert names(second) == ["run-2", "run-3", "run-4"]
    assert first["total"] == second["total"] == 7


def test_sort_by_a_param_puts_missing_values_last(client) -> None:
    asc = names(client.get("/api/runs?sort=config.model.width&order=asc").json())
    desc = names(client.get("/api/runs?sort=config.model.width&order=desc").json())
    assert asc == ["run-0", "run-1", "run-2", "run-3", "run-4", "run-5", "empty"]
    assert desc == ["run-5", "run-4", "run-3", "run-2", "run-1", "run-0", "empty"]


def test_filter_uses_the_cli_language(client) -> None:
    page = client.get("/api/runs", params={"filter": 'config.lr < 0.05 and "odd" in tags'})
    assert sorted(names(page.json())) == ["run-1", "run-5"]
    page = client.get("/api/runs", params={"filter": "loss < 0.1", "project": "demo"})
    assert sorted(names(page.json())) == ["run-0", "run-1"]


def test_search_and_project(client) -> None:
    assert names(client.get("/api/runs?q=EMP").json()) == ["empty"]
    assert names(client.get("/api/runs?q=odd&sort=name&order=asc").json()) == [
        "run-1",
        "run-3",
        "run-5",
    ]
    assert sorted(names(client.get("/api/runs?project=other").json())) == ["run-4", "run-5"]


def test_group_by_a_param_keeps_the_sort_inside_groups(client) -> None:
    page = client.get("/api/runs?group=config.lr&sort=name&order=asc").json()
    got = [(r["group_value"], r["name"]) for r in page["runs"]]
    assert got == [
        (0.001, "run-2"),
        (0.001, "run-5"),
        (0.01, "run-1"),
        (0.01, "run-4"),
        (0.1, "run-0"),
        (0.1, "run-3"),
        (0.5, "empty"),
    ]


def test_columns_endpoint(client) -> None:
    cols = client.get("/api/columns").json()
    assert "config.model.width" in cols["params"]
    assert cols["metrics"] == ["summary.loss", "summary.val/acc"]
    assert cols["projects"] == ["demo", "other"]


@pytest.mark.parametrize(
    "query, message",
    [
        ("limit=0", "limit"),
        ("limit=abc", "limit must be an integer"),
        ("offset=-1", "offset"),
        ("order=sideways", "order"),
        ("sort=nope", "unknown column 'nope'"),
        ("columns=config.lr,bogus", "unknown column 'bogus'"),
        ("group=nope", "unknown column"),
        ("filter=lr%20%3C%3C%202", "column"),
        ("filter=test_mes%20%3C%202", "test_mes"),
    ],
)
def test_bad_runs_queries_are_400_with_a_message(client, query: str, message: str) -> None:
    r = client.get("/api/runs?" + query)
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == 400 and message in body["error"]


# -- /api/runs/{id} --------------------------------------------------------------------------
def test_one_run_with_metric_summaries(client, ids) -> None:
    run = client.get(f"/api/runs/{ids['run-1']}").json()
    assert run["name"] == "run-1" and run["config"]["model"] == {"width": 64}
    assert set(run["metrics"]) == {"loss", "val/acc"}
    assert run["metrics"]["loss"]["count"] == 200
    assert client.get("/api/runs/run-1").json()["id"] == ids["run-1"]  # by name too


def test_running_run_is_running(client, ids) -> None:
    assert client.get(f"/api/runs/{ids['run-5']}").json()["status"] == "running"


@pytest.mark.parametrize("path", ["/api/runs/nope", "/api/runs/nope/series/loss"])
def test_unknown_run_is_404_json(client, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.json() == {"error": "no run matches 'nope'", "status": 404}


# -- series ----------------------------------------------------------------------------------
def test_series_whole_and_downsampled(client, ids) -> None:
    rid = ids["run-0"]
    whole = client.get(f"/api/runs/{rid}/series/loss").json()
    assert whole["total"] == whole["returned"] == 200 and not whole["downsampled"]
    assert whole["steps"] == list(range(200))
    assert whole["walls"][0] == 1000.0 and whole["first_wall"] == 1000.0
    small = client.get(f"/api/runs/{rid}/series/loss?max_points=40").json()
    assert small["downsampled"] and small["returned"] <= 40
    assert small["steps"][0] == 0 and small["steps"][-1] == 199


def test_series_key_with_a_slash(client, ids) -> None:
    r = client.get(f"/api/runs/{ids['run-0']}/series/val/acc")
    assert r.status_code == 200 and r.json()["key"] == "val/acc"


def test_series_step_range_and_after_step(client, ids) -> None:
    rid = ids["run-1"]
    got = client.get(f"/api/runs/{rid}/series/loss?step_min=50&step_max=59").json()
    assert got["steps"] == list(range(50, 60)) and got["total"] == 10
    new = client.get(f"/api/runs/{rid}/series/loss?after_step=195").json()
    assert new["steps"] == [196, 197, 198, 199]
    assert client.get(f"/api/runs/{rid}/series/loss?after_step=199").json()["steps"] == []


def test_non_finite_values_are_null(client, ids) -> None:
    got = client.get(f"/api/runs/{ids['run-3']}/series/loss?step_min=10&step_max=20").json()
    assert got["values"][0] is None and got["values"][10] is None
    assert isinstance(got["values"][1], float)


def test_unknown_key_is_404(client, ids) -> None:
    r = client.get(f"/api/runs/{ids['run-0']}/series/nope")
    assert r.status_code == 404
    assert r.json()["error"] == "run 'run-0' has no metric 'nope'"
    r = client.get(f"/api/runs/{ids['empty']}/series/loss")
    assert r.status_code == 404


@pytest.mark.parametrize(
    "query, message",
    [
        ("max_points=3", "max_points must be between 4"),
        ("max_points=x", "max_points must be an integer"),
        ("after_step=1.5", "after_step must be an integer"),
        ("step_min=99999999999999999999999", "step_min must be between"),
        ("after_step=9223372036854775807", "after_step must be between"),
    ],
)
def test_bad_series_queries_are_400(client, ids, query: str, message: str) -> None:
    r = client.get(f"/api/runs/{ids['run-0']}/series/loss?{query}")
    assert r.status_code == 400
    assert message in r.json()["error"]


def test_series_keeps_a_spike(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from expbook.store import PointBatch
    from expbook.web import create_app

    from .conftest import spike_series

    v, up, down = spike_series(200_000)
    steps = list(range(len(v)))
    with SQLiteStore(tmp_path / "s") as st:
        rid = st.create_run(name="big", project="p", status="finished").id
        st.append_points(rid, {"loss": PointBatch(steps, [0.0] * len(v), v.tolist())})
    with TestClient(create_app(tmp_path / "s")) as c:
        got = c.get(f"/api/runs/{rid}/series/loss").json()
    assert got["returned"] <= 2000 and got["total"] == len(v)
    assert max(got["values"]) == 50.0 and min(got["values"]) == -50.0
    assert up in got["steps"] and down in got["steps"]


# -- compare ---------------------------------------------------------------------------------
def test_compare(client, ids) -> None:
    got = client.get(f"/api/compare?ids={ids['run-0']},{ids['run-1']}").json()
    assert got["kind"] == "compare" and got["baseline"] == "run-0"
    diff = {d["key"]: d["values"] for d in got["config_diff"]}
    assert diff["lr"] == [0.1, 0.01]
    assert {m["key"] for m in got["metrics"]} >= {"loss", "val/acc"}
    assert got["keys"] == ["loss", "val/acc"]


def test_compare_errors(client, ids) -> None:
    assert client.get("/api/compare").status_code == 400
    assert client.get("/api/compare?ids=").status_code == 400
    r = client.get(f"/api/compare?ids={ids['run-0']},nope")
    assert r.status_code == 404 and "nope" in r.json()["error"]


# -- OpenAPI, pages, safety ------------------------------------------------------------------
def test_openapi_describes_every_api_route(client) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    routes = {getattr(r, "path", "") for r in client.app.routes}
    api = {p.replace("{key:path}", "{key}") for p in routes if p.startswith("/api/")}
    assert {"/api/reports/{report_id}", "/api/sweep"} <= api and len(api) == 10
    assert set(doc["paths"]) == api


def test_pages_render(client, ids) -> None:
    page = client.get("/?sort=name&order=asc")
    assert page.status_code == 200 and "run-3" in page.text and 'class="pick"' in page.text
    run = client.get(f"/runs/{ids['run-2']}")
    assert run.status_code == 200 and "model.width" in run.text and "val/acc" in run.text
    comp = client.get(f"/compare?ids={ids['run-0']},{ids['run-2']}")
    assert comp.status_code == 200 and "config-diff" in comp.text and "model.width" in comp.text
    assert client.get("/?group=config.lr").status_code == 200


def test_page_errors_are_pages(client) -> None:
    bad = client.get("/", params={"filter": "lr <"})
    assert bad.status_code == 400 and 'id="error"' in bad.text and "column" in bad.text
    missing = client.get("/runs/nope")
    assert missing.status_code == 404 and "no run matches" in missing.text


def test_pages_escape_what_runs_carry(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from expbook.web import create_app

    with SQLiteStore(tmp_path / "s") as st:
        st.create_run(
            name="<script>alert(1)</script>", project="p", status="finished", config={"<b>": "<i>"}
        )
    with TestClient(create_app(tmp_path / "s")) as c:
        text = c.get("/").text
        assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text


def test_static_files_and_plotly_are_local(client) -> None:
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert client.get("/static/app.js").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2f..%2fstore%2fexpbook.db",
        "/api/runs/..%2f..%2fetc%2fpasswd",
        "/api/runs/x/series/..%2f..%2f..%2fetc%2fpasswd",
    ],
)
def test_paths_cannot_reach_other_files(client, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert b"import" not in r.content and b"root:" not in r.content


def test_the_store_is_never_written(seeded) -> None:
    from starlette.testclient import TestClient

    from expbook.web import create_app

    path, ids = seeded
    db = path / "expbook.db"

    def digest() -> str:
        return hashlib.sha256(db.read_bytes()).hexdigest()

    before, mtime = digest(), os.stat(db).st_mtime_ns
    app = create_app(path)
    assert app.state.ui.backend.readonly
    with TestClient(app) as c:
        for url in [
            "/",
            "/api/runs",
            f"/api/runs/{ids['run-0']}",
            f"/runs/{ids['run-0']}",
            f"/api/runs/{ids['run-0']}/series/loss",
            "/compare?ids=run-0,run-1",
            "/reports",
            "/api/reports",
        ]:
            assert c.get(url).status_code == 200
        for method in ("post", "put", "delete"):
            assert getattr(c, method)("/api/runs").status_code == 405
    assert digest() == before and os.stat(db).st_mtime_ns == mtime


def test_trusted_hosts(seeded) -> None:
    from starlette.testclient import TestClient

    from expbook.web import create_app

    app = create_app(seeded[0], allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        assert c.get("/api/runs").status_code == 200
        assert c.get("/api/runs", headers={"host": "evil.example"}).status_code == 400


# -- the command -----------------------------------------------------------------------------
def test_ui_command_help_and_missing_store(cli_run, tmp_path: Path) -> None:
    code, out, _ = cli_run("ui", "--help", store=False)
    assert code == 0 and "--port" in out and "--host" in out
    code, _, err = cli_run("ui", "--store", str(tmp_path / "none"), store=False)
    assert code == 1 and err.startswith("expbook: error: no expbook store")


def test_ui_command_serves(cli_run, seeded, monkeypatch) -> None:
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw, app=app))
    import socket

    with socket.socket() as s:  # a port free on this machine (the command checks it first)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = cli_run("ui", "--store", str(seeded[0]), "--port", str(port), store=False)
    assert code == 0, err
    assert seen["host"] == "127.0.0.1" and seen["port"] == port
    assert f"http://127.0.0.1:{port}/" in out and "only this machine" in out
    code, out, _ = cli_run(
        "ui", "--store", str(seeded[0]), "--host", "0.0.0.0", "--port", str(port), store=False
    )
    assert code == 0 and "WARNING" in out and "no authentication" in out


@pytest.mark.parametrize(
    "query",
    [
        "sort=created_at&order=desc",
        "sort=created_at&order=asc",
        "sort=name&order=asc&limit=3&offset=2",
        "sort=name&order=desc",
        "sort=id&order=asc&project=demo",
        "project=other",
    ],
)
def test_sql_pages_match_the_in_memory_path(client, query: str) -> None:
    # without a filter the page comes straight from SQL; `filter=true` takes the snapshot path
    fast = client.get("/api/runs?" + query).json()
    slow = client.get("/api/runs?filter=true&" + query).json()
    assert fast == slow


def test_default_columns_follow_the_page(client) -> None:
    one = client.get("/api/runs?q=run-1").json()
    assert one["columns"] == [
        "config.lr",
        "config.model.width",
        "config.seed",
        "summary.val/acc",  # held-out metrics first
        "summary.loss",
    ]


def test_cached_series_follow_new_points(client, seeded, ids) -> None:
    from expbook.store import PointBatch

    url = f"/api/runs/{ids['run-5']}/series/loss"
    assert client.get(url).json()["total"] == 200
    assert client.get(url + "?step_min=190").json()["steps"] == list(range(190, 200))
    with SQLiteStore(seeded[0]) as st:
        st.append_points(ids["run-5"], {"loss": PointBatch([200, 201], [0.0, 0.0], [0.5, 0.4])})
    got = client.get(url).json()
    assert got["total"] == 202 and got["values"][-2:] == [0.5, 0.4]
    assert client.get(url + "?after_step=199").json()["steps"] == [200, 201]
    assert client.get(url + "?step_min=199&step_max=200").json()["steps"] == [199, 200]


def test_runs_snapshot_is_rebuilt_in_the_background_when_the_store_changes(seeded) -> None:
    from expbook.web._runs import SnapshotCache

    path, _ = seeded
    cache = SnapshotCache(str(path / "expbook.db"), ttl_s=0.0)
    try:
        assert len(cache.get().runs) == 7
        with SQLiteStore(path) as st:
            st.create_run(name="late", project="demo", status="finished")
        stale = cache.get()  # answers at once with what it has, rebuilds behind
        assert len(stale.runs) == 7
        deadline = time.monotonic() + 10
        while len(cache.get().runs) != 8:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert "late" in [r.name for r in cache.get().runs]
    finally:
        cache.close()


def test_runs_page_links_keep_the_query_and_columns(client) -> None:
    import html
    import re

    text = client.get("/?limit=2&sort=name&order=asc&filter=config.lr%20%3C%201").text
    (nxt,) = re.findall(r'href="([^"]+)" id="next"', text)
    nxt = html.unescape(nxt)
    assert "offset=2" in nxt and "col=config.lr" in nxt and "filter=config.lr" in nxt
    page2 = client.get(nxt)
    assert page2.status_code == 200 and 'id="prev"' in page2.text


def test_a_wide_view_of_a_long_series_reads_only_the_sketches(tmp_path: Path, monkeypatch) -> None:
    from starlette.testclient import TestClient

    from expbook.store import PointBatch
    from expbook.web import create_app

    from .conftest import spike_series

    v, up, down = spike_series(400_000)
    steps = list(range(len(v)))
    with SQLiteStore(tmp_path / "s") as st:
        rid = st.create_run(name="big", project="p", status="finished").id
        st.append_points(rid, {"loss": PointBatch(steps, [0.0] * len(v), v.tolist())})
    app = create_app(tmp_path / "s")

    def no_full_reads(*a, **k):
        raise AssertionError("read every point")

    with TestClient(app) as c:
        monkeypatch.setattr(app.state.ui.backend, "read_series", no_full_reads)
        got = c.get(f"/api/runs/{rid}/series/loss").json()
        half = c.get(f"/api/runs/{rid}/series/loss?step_min=1000&step_max=390000").json()
        monkeypatch.undo()
        narrow = c.get(f"/api/runs/{rid}/series/loss?step_min=1000&step_max=1999").json()
    assert got["returned"] <= 2000 and got["total"] == len(v) and got["downsampled"]
    assert max(got["values"]) == 50.0 and min(got["values"]) == -50.0
    assert up in got["steps"] and down in got["steps"]
    assert got["steps"][0] == 0 and got["steps"][-1] == len(v) - 1
    assert half["total"] == 389_001 and half["steps"][0] == 1000 and half["steps"][-1] == 390000
    assert max(half["values"]) == 50.0  # the spike is inside the range
    assert narrow["total"] == 1000 and narrow["returned"] == 1000  # every point
