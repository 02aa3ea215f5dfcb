"""Tokens and the server's access rules, through Starlette's TestClient."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from expbook.server._auth import hash_secret
from expbook.server.app import create_server
from expbook.store import SQLiteStore

from .conftest import make_token


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def client(store_dir: Path, seeded: dict[str, list[str]]):
    with TestClient(create_server(store_dir)) as c:
        yield c


def test_store_keeps_tokens_hashed(store_dir: Path) -> None:
    info, secret = make_token(store_dir, "vision", "write")
    assert secret.startswith("eb_") and len(secret) > 40
    with SQLiteStore(store_dir) as s:
        listed = s.tokens()
        assert [t["id"] for t in listed] == [info["id"]]
        assert set(listed[0]) == {
            "id",
            "project",
            "scope",
            "name",
            "created_at",
            "revoked_at",
            "last_used_at",
        }
        assert secret not in repr(listed) and hash_secret(secret) not in repr(listed)
        # only the hash is on disk: the secret is in no column
        rows = s._q("SELECT * FROM tokens")
        assert secret not in repr(rows) and hash_secret(secret) in repr(rows)
        got = s.token_by_hash(hash_secret(secret))
        assert got is not None and got["scope"] == "write" and got["revoked_at"] is None
        assert s.token_by_hash(hash_secret(secret + "x")) is None
        s.touch_token(info["id"], 123.0)
        assert s.tokens()[0]["last_used_at"] == 123.0
        assert s.revoke_token(info["id"]) is True
        assert s.token_by_hash(hash_secret(secret))["revoked_at"] is not None
        assert s.revoke_token("tok_nope") is False


def test_no_tokens_no_check_then_every_request_needs_one(
    client: TestClient, store_dir: Path
) -> None:
    assert client.get("/api/v1/store/runs").status_code == 200
    assert client.get("/").status_code == 200
    _, secret = make_token(store_dir, "*", "read")
    time.sleep(1.1)  # the server looks for tokens at most once a second
    r = client.get("/api/v1/store/runs")
    assert r.status_code == 401 and "needs a token" in r.json()["error"]
    assert client.get("/api/runs").status_code == 401
    page = client.get("/runs/x", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
    assert client.get("/api/v1/store/runs", headers=bearer(secret)).status_code == 200
    assert client.get("/", headers=bearer(secret)).status_code == 200
    # bad tokens: unknown, not ours, a malformed header
    for headers in (bearer("eb_" + "x" * 43), bearer("abc"), {"Authorization": "Basic eA=="}):
        assert client.get("/api/v1/store/runs", headers=headers).status_code == 401
    # the document and static files need no token
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_revoked_token_gets_401(client: TestClient, store_dir: Path) -> None:
    info, secret = make_token(store_dir, "*", "read")
    assert client.get("/api/v1/store/runs", headers=bearer(secret)).status_code == 200
    with SQLiteStore(store_dir) as s:
        s.revoke_token(info["id"])
    r = client.get("/api/v1/store/runs", headers=bearer(secret))
    assert r.status_code == 401 and "revoked" in r.json()["error"]


def test_last_used_is_recorded(client: TestClient, store_dir: Path) -> None:
    _info, secret = make_token(store_dir, "*", "read")
    client.get("/api/v1/store", headers=bearer(secret))
    with SQLiteStore(store_dir) as s:
        assert s.tokens()[0]["last_used_at"] is not None


def test_another_projects_token_cannot_read(
    client: TestClient, store_dir: Path, seeded: dict[str, list[str]]
) -> None:
    _, nlp = make_token(store_dir, "nlp", "read")
    h = bearer(nlp)
    vision_run = seeded["vision"][0]
    # lists: filtered to the token's project
    runs = client.get("/api/v1/store/runs", headers=h).json()["runs"]
    assert sorted(r[0] for r in runs) == sorted(seeded["nlp"])
    assert client.get("/api/v1/store", headers=h).json()["projects"] == ["nlp"]
    # another project named outright: 403
    assert client.get("/api/v1/store/runs?project=vision", headers=h).status_code == 403
    body = {"project": "vision"}
    assert client.post("/api/v1/store/summaries", json=body, headers=h).status_code == 403
    # a run of another project does not exist for this token
    for path in (
        f"/api/v1/store/run?ref={vision_run}",
        f"/api/v1/store/runs/{vision_run}/series",
        f"/api/v1/store/runs/{vision_run}/keys",
        f"/api/runs/{vision_run}",
        f"/api/runs/{vision_run}/series/loss",
        f"/runs/{vision_run}",
        f"/api/compare?ids={vision_run}",
    ):
        assert client.get(path, headers=h).status_code == 404, path
    sums = client.post("/api/v1/store/summaries", json={"run_ids": [vision_run]}, headers=h)
    assert sums.status_code == 200 and sums.json()["runs"] == []
    values = client.post(
        "/api/v1/store/values_at", json={"key": "loss", "step": 3}, headers=h
    ).json()["values"]
    assert sorted(values) == sorted(seeded["nlp"])
    # the dashboard's table is confined to the project; pages across projects refused
    table = client.get("/api/runs?limit=100", headers=h).json()
    assert {r["project"] for r in table["runs"]} == {"nlp"} and table["total"] == 2
    assert client.get("/api/runs?project=vision", headers=h).status_code == 403
    assert client.get("/reports", headers=h).status_code == 403
    # its own runs are readable
    own = seeded["nlp"][0]
    assert client.get(f"/api/v1/store/run?ref={own}", headers=h).status_code == 200
    assert client.get(f"/runs/{own}", headers=h).status_code == 200
    # a token for every project sees both
    _, every = make_token(store_dir, "*", "read")
    runs = client.get("/api/v1/store/runs", headers=bearer(every)).json()["runs"]
    assert len(runs) == 5


def _write_probe(authorize) -> Starlette:
    # what a write route does (contract 5): authorize(request, "write", project)
    def write(request: Request) -> JSONResponse:
        authorize(request, "write", request.path_params["project"])
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/w/{project}", write, methods=["POST"])])


def test_read_token_cannot_write_and_scopes_rank(store_dir: Path, seeded) -> None:
    from expbook.server._auth import Authorizer, authorize_function

    backend = SQLiteStore(store_dir)
    try:
        auth = authorize_function(Authorizer(lambda: backend))
        _, read = make_token(store_dir, "vision", "read")
        _, write = make_token(store_dir, "vision", "write")
        _, admin = make_token(store_dir, "*", "admin")
        with TestClient(_write_probe(auth), raise_server_exceptions=False) as c:
            r = c.post("/w/vision", headers=bearer(read))
            assert r.status_code == 403
            assert c.post("/w/vision", headers=bearer(write)).status_code == 200
            assert c.post("/w/nlp", headers=bearer(write)).status_code == 403
            assert c.post("/w/nlp", headers=bearer(admin)).status_code == 200
            assert c.post("/w/nlp").status_code == 401
    finally:
        backend.close()


def test_write_routes_refuse_a_read_token(client: TestClient, store_dir: Path) -> None:
    """When the write API is installed, a read token is refused on it."""
    from expbook.server.app import _write_api

    routes, _ = _write_api()
    paths = {r.path for r in client.app.routes if hasattr(r, "path")}
    assert (routes is not None) == ("/api/v1/runs/{run_id}" in paths)
    if routes is None:
        return
    _, read = make_token(store_dir, "vision", "read")
    body = {"project": "vision", "name": "x", "status": "running"}
    r = client.put("/api/v1/runs/abc123", json=body, headers=bearer(read))
    assert r.status_code == 403


def test_login_sets_a_strict_httponly_cookie(client: TestClient, store_dir: Path) -> None:
    _, secret = make_token(store_dir, "*", "read")
    time.sleep(1.1)
    form = client.get("/login")
    assert form.status_code == 200 and 'name="token"' in form.text
    bad = client.post("/login", data={"token": "eb_wrong"}, follow_redirects=False)
    assert bad.status_code == 401 and "set-cookie" not in bad.headers
    r = client.post("/login", data={"token": secret, "next": "/reports"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/reports"
    cookie = r.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
    assert "secure" not in cookie.lower()  # plain http: a Secure cookie would not come back
    assert client.get("/", cookies={"expbook_token": secret}).status_code == 200
    # never a redirect to another site
    r = client.post(
        "/login", data={"token": secret, "next": "//evil.example/"}, follow_redirects=False
    )
    assert r.headers["location"] == "/"
    r = client.post(
        "/login", data={"token": secret, "next": "https://evil.example/"}, follow_redirects=False
    )
    assert r.headers["location"] == "/"


def test_login_over_https_sets_a_secure_cookie(store_dir: Path, seeded) -> None:
    _, secret = make_token(store_dir, "*", "read")
    with TestClient(create_server(store_dir), base_url="https://testserver") as c:
        r = c.post("/login", data={"token": secret}, follow_redirects=False)
        assert r.status_code == 303
        assert "secure" in r.headers["set-cookie"].lower()


def test_off_loopback_a_token_is_needed_even_without_tokens(store_dir: Path, seeded) -> None:
    with TestClient(create_server(store_dir, require_token=True)) as c:
        assert c.get("/api/v1/store/runs").status_code == 401
        assert c.get("/api/runs").status_code == 401


def test_loopback_host_check(store_dir: Path, seeded) -> None:
    app = create_server(store_dir, allowed_hosts=["127.0.0.1", "localhost"])
    with TestClient(app, base_url="http://127.0.0.1") as c:
        assert c.get("/api/v1/store").status_code == 200
        # DNS rebinding: a page of another site naming this server
        assert c.get("/api/v1/store", headers={"host": "evil.example"}).status_code == 400


def test_body_limit_is_a_413_json_error(client: TestClient) -> None:
    big = b"[" + b"0," * (8 * 1024 * 1024 + 10) + b"0]"
    r = client.post(
        "/api/v1/store/summaries", content=big, headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and "16 MiB" in r.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/api/v1/store/page?limit=0", {}),
        ("GET", "/api/v1/store/page?order=name;drop", {}),
        ("GET", "/api/v1/store/run", {}),
        ("GET", "/api/v1/store/runs/x/overview", {}),
        ("GET", "/api/v1/store/runs/x/series?step_min=a", {}),
        ("POST", "/api/v1/store/summaries", {"content": b"{nope"}),
        ("POST", "/api/v1/store/summaries", {"json": [1, 2]}),
        ("POST", "/api/v1/store/summaries", {"json": {"run_ids": "abc"}}),
        ("POST", "/api/v1/store/values_at", {"json": {"key": "loss", "step": "3"}}),
        ("POST", "/api/v1/store/overviews", {"json": {"keys": [1]}}),
        ("POST", "/login", {"content": b"x", "headers": {"content-type": "text/plain"}}),
    ],
)
def test_bad_input_is_a_4xx_json_error(client: TestClient, method, path, kwargs) -> None:
    r = client.request(method, path, **kwargs)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert isinstance(r.json()["error"], str)


def test_media_route_reaches_no_file_outside_media(client: TestClient, store_dir: Path) -> None:
    (store_dir / "secret.txt").write_text("no")
    for path in ("/files/../secret.txt", "/files/%2e%2e/secret.txt", "/files/media/../../x"):
        assert client.get(path).status_code == 404
