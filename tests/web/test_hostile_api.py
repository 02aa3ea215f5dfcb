"""The API against what /openapi.json promises, new keys, and stores that cannot be read."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from expbook.store import PointBatch, SQLiteStore
from expbook.web import create_app


def _param(doc: dict, path: str, name: str) -> dict:
    params = doc["paths"][path]["get"]["parameters"]
    return next(p for p in params if p["name"] == name)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE"])
@pytest.mark.parametrize("path", ["/api/runs", "/api/columns", "/api/runs/x", "/openapi.json", "/"])
def test_405_names_the_allowed_methods(client, method: str, path: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 405
    assert "GET" in [m.strip() for m in r.headers["allow"].split(",")]
    if path != "/":
        assert r.json() == {"error": "Method Not Allowed", "status": 405}


@pytest.mark.parametrize(
    "query",
    ["offset=", "limit=", "order=", "offset=&limit=10"],
)
def test_empty_values_of_typed_runs_parameters_are_400(client, query: str) -> None:
    r = client.get("/api/runs?" + query)
    assert r.status_code == 400, r.text
    assert r.json()["status"] == 400


@pytest.mark.parametrize("query", ["max_points=", "step_min=", "step_max=", "after_step="])
def test_empty_values_of_series_parameters_are_400(client, ids, query: str) -> None:
    r = client.get(f"/api/runs/{ids['run-0']}/series/loss?{query}")
    assert r.status_code == 400 and r.json()["status"] == 400


@pytest.mark.parametrize("name", ["sort", "group", "columns"])
@pytest.mark.parametrize(
    "value",
    [
        "",
        "name",
        "created_at",
        "config.lr",
        "config.model.width",
        "summary.val/acc",
        "config.nothing",
        "foo",
        "config.",
        "summary.loss.",
        "config.lr,name",
        "config.lr,foo",
        "config.lr,",
        "name,config.lr",
        " name , config.lr ",
        "config.lr.,name",
        "config.lr. ",
        "lr",
    ],
)
def test_column_parameters_accept_what_the_schema_allows(client, name: str, value: str) -> None:
    doc = client.get("/openapi.json").json()
    pattern = _param(doc, "/api/runs", name)["schema"]["pattern"]
    valid = re.search(pattern, value) is not None
    r = client.get("/api/runs", params={name: value})
    assert r.status_code == (200 if valid else 400), (value, r.text)


def test_compare_documents_its_required_ids(client, ids) -> None:
    doc = client.get("/openapi.json").json()
    spec = _param(doc, "/api/compare", "ids")
    assert spec["required"] is True
    for value in ("", ",", " , "):
        assert re.search(spec["schema"]["pattern"], value) is None
        assert client.get("/api/compare", params={"ids": value}).status_code == 400
    assert client.get("/api/compare", params={"ids": ids["run-0"]}).status_code == 200


def test_integer_parameters_document_their_bounds(client, ids) -> None:
    doc = client.get("/openapi.json").json()
    path = "/api/runs/{run_id}/series/{key}"
    for name in ("step_min", "step_max", "after_step"):
        schema = _param(doc, path, name)["schema"]
        for v in (schema["minimum"], schema["maximum"]):
            r = client.get(f"/api/runs/{ids['run-0']}/series/loss", params={name: v})
            assert r.status_code == 200, (name, v, r.text)
    offset = _param(doc, "/api/runs", "offset")["schema"]
    assert client.get("/api/runs", params={"offset": offset["maximum"]}).status_code == 200


@pytest.mark.parametrize(
    "query",
    ["step_min=10&step_max=5", "after_step=150&step_max=100", "after_step=0&step_max=0"],
)
def test_an_empty_step_range_is_an_empty_series(client, ids, query: str) -> None:
    r = client.get(f"/api/runs/{ids['run-0']}/series/loss?{query}")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["steps"] == got["values"] == got["walls"] == []
    assert got["total"] == got["returned"] == 0 and got["downsampled"] is False
    assert got["last_step"] == 199


def test_unknown_metric_in_an_empty_range_is_still_404(client, ids) -> None:
    r = client.get(f"/api/runs/{ids['run-0']}/series/nope?step_min=10&step_max=5")
    assert r.status_code == 404


# -- keys that appear while the dashboard runs ------------------------------------------------
def _add_run_with_new_key(path: Path) -> str:
    with SQLiteStore(path) as st:
        rec = st.create_run(
            name="newcomer", project="demo", status="finished", config={"brand_new": 7}
        )
        st.append_points(rec.id, {"fresh_key": PointBatch([0, 1], [0.0, 1.0], [5.0, 9.0])})
    return rec.id


def test_a_filter_on_a_key_that_just_appeared_works_at_once(client, seeded) -> None:
    # the snapshot is built (and checked) before the key exists
    assert client.get("/api/runs?filter=summary.loss%20%3E%200").status_code == 200
    new_id = _add_run_with_new_key(seeded[0])
    r = client.get("/api/runs", params={"filter": "fresh_key > 6"})
    assert r.status_code == 200, r.text
    assert [run["id"] for run in r.json()["runs"]] == [new_id]
    r = client.get("/api/runs", params={"filter": "config.brand_new == 7"})
    assert r.status_code == 200 and r.json()["total"] == 1


def test_a_sort_on_a_key_that_just_appeared_works_at_once(client, seeded) -> None:
    assert client.get("/api/runs?q=run").status_code == 200  # snapshot taken
    new_id = _add_run_with_new_key(seeded[0])
    r = client.get(
        "/api/runs", params={"sort": "summary.fresh_key", "order": "desc", "q": "new"}
    )
    assert r.status_code == 200
    page = r.json()
    assert [run["id"] for run in page["runs"]] == [new_id]
    query = {"sort": "summary.fresh_key", "columns": "summary.fresh_key"}
    r = client.get("/api/runs", params=query)
    first = r.json()["runs"][0]
    assert first["id"] == new_id and first["values"] == {"summary.fresh_key": 9.0}


def test_a_filter_on_a_key_no_run_has_is_still_400(client) -> None:
    r = client.get("/api/runs", params={"filter": "nowhere_key > 1"})
    assert r.status_code == 400 and "nowhere_key" in r.json()["error"]


# -- stores that cannot be read ----------------------------------------------------------------
def _damage(db: Path, statement: str) -> None:
    conn = sqlite3.connect(db)
    conn.execute(statement)
    conn.commit()
    conn.close()


def _assert_json_500(r) -> None:
    assert r.status_code == 500, r.text
    body = r.json()
    assert body["status"] == 500 and body["error"]
    assert "Traceback" not in r.text and "\n" not in body["error"]


def test_a_damaged_store_answers_json_500s(seeded) -> None:
    path, ids = seeded
    db = path / "expbook.db"
    _damage(db, f"UPDATE runs SET config = '{{bad' WHERE id = '{ids['run-1']}'")
    rid = f"(SELECT rid FROM runs WHERE id = '{ids['run-2']}')"
    _damage(db, f"UPDATE chunks SET data = x'00ff' WHERE rid = {rid}")
    app = create_app(path)  # opens: the damage is in the rows
    with TestClient(app, raise_server_exceptions=False) as c:
        _assert_json_500(c.get(f"/api/runs/{ids['run-1']}"))
        _assert_json_500(c.get(f"/api/runs/{ids['run-2']}/series/loss"))
        _assert_json_500(c.get("/api/runs?filter=summary.loss%20%3E%200"))
        _assert_json_500(c.get(f"/api/compare?ids={ids['run-0']},{ids['run-1']}"))
        assert "damaged" in c.get(f"/api/runs/{ids['run-1']}").json()["error"]
        # what is intact still answers
        assert c.get(f"/api/runs/{ids['run-0']}").status_code == 200
        page = c.get(f"/runs/{ids['run-1']}")
        assert page.status_code == 500 and "Traceback" not in page.text


def test_text_that_is_not_utf8_answers_a_json_500(seeded) -> None:
    path, ids = seeded
    _damage(
        path / "expbook.db",
        f"UPDATE runs SET name = CAST(x'61ff' AS TEXT) WHERE id = '{ids['run-3']}'",
    )
    app = create_app(path)
    with TestClient(app, raise_server_exceptions=False) as c:
        _assert_json_500(c.get("/api/runs"))
        assert "UTF-8" in c.get("/api/runs").json()["error"]


def test_an_unexpected_error_is_a_json_500_without_a_traceback(client, monkeypatch) -> None:
    from starlette.testclient import TestClient

    ui = client.app.state.ui

    def broken(*args, **kwargs):
        raise RuntimeError("boom at /secret/path")

    monkeypatch.setattr(ui.backend, "reports", broken)
    with TestClient(client.app, raise_server_exceptions=False) as c:
        r = c.get("/api/reports")
        _assert_json_500(r)
        assert "/secret/path" not in r.text
